"""Former home of the views of trained solutions as points in parameter space; the names now live in
one module per idea.

* :mod:`ebcore.weight_statistics`: :func:`~ebcore.weight_statistics.weight_statistics` (chapter 9);
* :mod:`ebcore.batched_loss`: :class:`~ebcore.batched_loss.BatchedLoss`,
  :func:`~ebcore.batched_loss.batched_loss` (chapters 10 to 13);
* :mod:`ebcore.kernel_pca`: :func:`~ebcore.kernel_pca.kernel_pca` and the two-cloud model (chapter 12);
* :mod:`ebcore.alignment`: :func:`~ebcore.alignment.align_to` (weight matching, chapters 11 and 12);
* :mod:`ebcore.training`: :func:`~ebcore.training.flat_parameters`,
  :func:`~ebcore.training.set_flat_parameters`.

Every name keeps working from here.
"""
from .alignment import ALIGNABLE, align_to
from .batched_loss import BatchedLoss, batched_loss
from .kernel_pca import (
                         KERNELS,
                         TwoCloud,
                         centroid_midpoint_distances,
                         kernel_pca,
                         label_r2,
                         two_cloud_critical_size,
                         two_cloud_fit,
                         two_cloud_points,
                         two_cloud_spectrum,
)
from .training import flat_parameters, set_flat_parameters
from .weight_statistics import WEIGHT_STATISTICS, weight_statistics

__all__ = ["flat_parameters", "set_flat_parameters", "weight_statistics", "WEIGHT_STATISTICS", "BatchedLoss",
           "batched_loss", "KERNELS", "kernel_pca", "centroid_midpoint_distances", "label_r2", "TwoCloud",
           "two_cloud_fit", "two_cloud_spectrum", "two_cloud_critical_size", "two_cloud_points", "ALIGNABLE", "align_to"]
