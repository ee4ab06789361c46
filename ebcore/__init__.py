"""ebcore: the library behind the executable book *Attention as in-context empirical Bayes*
and *How the optimizer shapes the landscape*.

Every algorithm of the book lives here once; the chapters call it, the tests check it, and
:mod:`ebcore.book.audit` records which function implements which labelled statement.
"""
from . import (
               audit,
               barriers,
               cache,
               diffusion,
               ensembles,
               horizon,
               incontext,
               landscape,
               models,
               nets,
               optim,
               paths,
               potentials,
               priors,
               recovery,
               stats,
               sure,
               training,
)
from .arrays import default_device, to_torch
from .book import check
from .book.reporting import glue
from .book.style import PALETTE, use_book_style
from .cache import ResultsCache, cached, cached_call, code_version
from .corruption import corrupt
from .dynamics import energy, flow_depth, flow_time, particle_flow, query_energy, two_stage_denoise
from .kernel import linear_attention, posterior_mean, rbf_as_softmax, smoothed_log_density, softmax_attention
from .numerics import finite_difference_gradient
from .scale import at_scale, current_scale
from .seeding import as_generator, book_seed, chapter_seeds, seed_everything
from .tweedie import tweedie_denoise

__version__ = "0.3.0"

__all__ = [
    "__version__", "audit", "barriers", "paths", "potentials", "cache", "diffusion", "ensembles", "horizon", "incontext", "landscape", "models", "nets", "optim", "recovery",
    "priors", "stats", "sure", "training",
    "default_device", "to_torch", "ResultsCache", "cached", "cached_call", "code_version", "corrupt",
    "energy", "flow_depth", "flow_time", "particle_flow", "query_energy", "two_stage_denoise",
    "linear_attention", "posterior_mean", "rbf_as_softmax", "smoothed_log_density", "softmax_attention",
    "finite_difference_gradient", "tweedie_denoise", "glue", "at_scale", "current_scale", "as_generator", "seed_everything",
    "chapter_seeds", "book_seed", "check",
    "PALETTE", "use_book_style",
]
