"""Former home of Part I's trainable models and their tasks; the names now live in one module per idea.

* :mod:`ebcore.denoisers`: :class:`AttentionDenoiser`, :class:`OneLayerDenoiser`;
* :mod:`ebcore.tasks`: :class:`CorruptionTask`, :class:`CleanContextTask`, :func:`family_task`,
  :func:`predecessor_family_task`, :func:`per_token_mse` and the task protocol;
* :mod:`ebcore.jobs`: :class:`TrainingJob`, :func:`build`, :func:`train_many`, :class:`LandscapeTask`;
* :mod:`ebcore.denoiser_analysis`: what trained denoisers learned;
* :mod:`ebcore.alignment`: :func:`rotation_path`, :func:`align_rotation`.

Every name keeps working from here.
"""
from .alignment import align_rotation, rotation_path
from .denoiser_analysis import (
                                attention_invariants,
                                denoising_report,
                                scaled_identity_fit,
                                scaled_identity_loss,
                                theory_grid_search,
)
from .denoisers import ATTENTION_KERNELS, AttentionDenoiser, OneLayerDenoiser
from .jobs import LandscapeTask, TrainingJob, build, train_many
from .tasks import CleanContextTask, CorruptionTask, family_task, per_token_mse, predecessor_family_task

__all__ = ["ATTENTION_KERNELS", "AttentionDenoiser", "OneLayerDenoiser", "CorruptionTask", "CleanContextTask",
           "family_task", "predecessor_family_task", "build", "train_many", "scaled_identity_fit", "attention_invariants",
           "theory_grid_search", "denoising_report", "scaled_identity_loss", "LandscapeTask", "rotation_path",
           "align_rotation", "per_token_mse", "TrainingJob"]
