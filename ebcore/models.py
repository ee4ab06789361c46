"""Former home of Part I's trainable models and their tasks; the names now live in one module per idea.

* :mod:`ebcore.denoisers`: :class:`~ebcore.denoisers.AttentionDenoiser`,
  :class:`~ebcore.denoisers.OneLayerDenoiser`;
* :mod:`ebcore.tasks`: :class:`~ebcore.tasks.CorruptionTask`, :class:`~ebcore.tasks.CleanContextTask`,
  :func:`~ebcore.tasks.family_task`, :func:`~ebcore.tasks.predecessor_family_task`,
  :func:`~ebcore.tasks.per_token_mse` and the task protocol;
* :mod:`ebcore.jobs`: :class:`~ebcore.jobs.TrainingJob`, :func:`~ebcore.jobs.build`,
  :func:`~ebcore.jobs.train_many`, :class:`~ebcore.jobs.LandscapeTask`;
* :mod:`ebcore.denoiser_analysis`: what trained denoisers learned;
* :mod:`ebcore.alignment`: :func:`~ebcore.alignment.rotation_path`, :func:`~ebcore.alignment.align_rotation`.

Every name keeps working from here.
"""
from .alignment import align_rotation, rotation_path
from .denoiser_analysis import (
                                attention_invariants,
                                denoising_report,
                                own_input_jacobian,
                                query_sensitivity,
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
           "align_rotation", "per_token_mse", "TrainingJob", "own_input_jacobian", "query_sensitivity"]
