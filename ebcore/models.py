r"""Trainable attention-only denoisers, and the tasks they are trained on.

:class:`AttentionDenoiser` is the minimal transformer of Part I: ``depth`` residual attention
layers over the noisy tokens (Stage 1) and a final attention step whose query is the noisy input,
brought back by a long skip connection (Stage 2). Its parameters are the query, key and value maps
and the residual step of each layer; :meth:`AttentionDenoiser.from_theory` sets them to the
construction of {prf:ref}`thm-stage-two`, where the model computes
:func:`ebcore.dynamics.two_stage_denoise` exactly. :class:`OneLayerDenoiser` is the predecessor paper's model
(clean context, noisy query). :class:`CorruptionTask` and :class:`CleanContextTask` are tasks for
:func:`ebcore.training.train`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .cache import array_digest
from .optim import NonFiniteLossError
from .priors import Prior
from .seeding import as_generator
from .validation import as_float_array, check_array, check_choice, check_int, check_int_sequence, check_positive, check_scale

__all__ = ["ATTENTION_KERNELS", "AttentionDenoiser", "OneLayerDenoiser", "CorruptionTask", "CleanContextTask",
           "family_task", "predecessor_family_task", "build", "train_many", "scaled_identity_fit", "attention_invariants",
           "theory_grid_search", "denoising_report", "scaled_identity_loss", "LandscapeTask", "rotation_path", "align_rotation",
           "per_token_mse"]

#: Attention weights :class:`AttentionDenoiser` can use.
ATTENTION_KERNELS = ("gaussian", "softmax")


def _attend(queries, keys, query_map, key_map, value_map, kernel):
    """One attention step: softmax over keys of the scores, values ``value_map @ key``."""
    q = queries @ query_map.transpose(-1, -2)
    k = keys @ key_map.transpose(-1, -2)
    scores = q @ k.transpose(-1, -2)
    if kernel == "gaussian":
        # -|q - k|^2/2 without the query's own |q|^2/2, which the softmax over keys cancels
        scores = scores - 0.5 * (k * k).sum(-1).unsqueeze(-2)
    weights = torch.softmax(scores, dim=-1)
    return (weights @ keys) @ value_map.transpose(-1, -2)


class AttentionDenoiser(nn.Module):
    r"""``depth`` residual attention layers and a final attention step fed by a long skip connection.

    Layer :math:`\ell` maps the tokens :math:`p` to :math:`p + \eta_\ell\,(V_\ell\,
    \mathrm{Attn}(p) - p)` with :math:`\mathrm{Attn}_i(p) = \sum_j w_{ij} p_j`; the weights are
    :math:`\operatorname{softmax}_j(-|Q_\ell p_i - K_\ell p_j|^2/2)` for ``kernel="gaussian"`` and
    :math:`\operatorname{softmax}_j(\langle Q_\ell p_i, K_\ell p_j\rangle)` for ``"softmax"``. The
    output for token :math:`i` is :math:`V\sum_j w_{ij} p^{(L)}_j` with weights from the query
    :math:`Q y_i` (the noisy input, with ``skip=True``; the refined token :math:`p^{(L)}_i` with
    ``skip=False``) and keys :math:`K p^{(L)}_j`. ``tied=True`` shares one set of layer parameters
    across all layers. Input and output: ``(N, dim)`` or ``(B, N, dim)``.
    """

    def __init__(self, dim: int, depth: int, *, kernel: str = "gaussian", tied: bool = False, skip: bool = True,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.depth = check_int(depth, "depth", minimum=0)
        self.kernel = check_choice(kernel, "kernel", ATTENTION_KERNELS)
        if not isinstance(tied, bool) or not isinstance(skip, bool):
            raise TypeError("tied and skip must be bools")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.tied, self.skip = tied, skip
        n_layers = min(self.depth, 1) if tied else self.depth
        gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))

        def random_maps(count):
            scale = 1.0 / math.sqrt(self.dim)
            return nn.Parameter(torch.randn(count, self.dim, self.dim, generator=gen, dtype=dtype) * scale)

        self.layer_query = random_maps(n_layers)
        self.layer_key = random_maps(n_layers)
        self.layer_value = random_maps(n_layers)
        self.layer_step = nn.Parameter(torch.full((n_layers,), 0.1, dtype=dtype))
        self.final_query = nn.Parameter(random_maps(1).detach()[0])
        self.final_key = nn.Parameter(random_maps(1).detach()[0])
        self.final_value = nn.Parameter(random_maps(1).detach()[0])

    @classmethod
    def from_theory(cls, depth: int, bandwidth, step, query_bandwidth, dim: int, *, kernel: str = "gaussian",
                    tied: bool = False, dtype: torch.dtype = torch.float64) -> "AttentionDenoiser":
        r"""The Stage 1 / Stage 2 construction: :math:`Q_\ell = K_\ell = I/h`, :math:`V_\ell = I`,
        :math:`\eta_\ell = \eta`; final :math:`Q = K = I/h_q`, :math:`V = I`, with the skip
        connection. With the Gaussian kernel it computes
        ``ebcore.two_stage_denoise(y, bandwidth, step, depth, query_bandwidth)`` ({prf:ref}`thm-stage-two`).
        """
        h = check_scale(bandwidth, "bandwidth")
        eta = check_positive(step, "step")
        hq = check_scale(query_bandwidth, "query_bandwidth")
        model = cls(dim, depth, kernel=kernel, tied=tied, skip=True, dtype=dtype)
        eye = torch.eye(model.dim, dtype=dtype)
        with torch.no_grad():
            model.layer_query.copy_(eye / h)
            model.layer_key.copy_(eye / h)
            model.layer_value.copy_(eye)
            model.layer_step.fill_(eta)
            model.final_query.copy_(eye / hq)
            model.final_key.copy_(eye / hq)
            model.final_value.copy_(eye)
        return model

    def extra_repr(self) -> str:
        return f"dim={self.dim}, depth={self.depth}, kernel={self.kernel!r}, tied={self.tied}, skip={self.skip}"

    def _check_tokens(self, tokens):
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch tensor, got {type(tokens).__name__}")
        if tokens.ndim not in (2, 3) or tokens.shape[-1] != self.dim:
            raise ValueError(f"tokens must have shape (N, {self.dim}) or (B, N, {self.dim}), got {tuple(tokens.shape)}")
        if tokens.dtype != self.final_query.dtype:
            raise TypeError(f"tokens must have dtype {self.final_query.dtype}, got {tokens.dtype}")
        check_array(tokens, "tokens")

    def refine(self, tokens: torch.Tensor) -> torch.Tensor:
        """Stage 1 only: the tokens after the ``depth`` residual layers."""
        self._check_tokens(tokens)
        return self._refine(tokens)

    def _refine(self, tokens):
        p = tokens
        for layer in range(self.depth):
            i = 0 if self.tied else layer
            attended = _attend(p, p, self.layer_query[i], self.layer_key[i], self.layer_value[i], self.kernel)
            p = p + self.layer_step[i] * (attended - p)
        return p

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self._check_tokens(tokens)
        refined = self._refine(tokens)
        queries = tokens if self.skip else refined
        return _attend(queries, refined, self.final_query, self.final_key, self.final_value, self.kernel)


class OneLayerDenoiser(nn.Module):
    r"""The predecessor paper's one-layer model: clean context tokens, one noisy query.

    Input ``(B, L + 1, n)``: ``L`` context tokens followed by the noisy query :math:`y`. Softmax
    attention returns :math:`W_{PV}\sum_t \operatorname{softmax}_t(\langle x_t, W_{KQ}\,y\rangle)\, x_t`;
    linear attention returns :math:`W_{PV}\,\frac1L \sum_t x_t \langle x_t, W_{KQ}\, y\rangle`. The
    predecessor's optima are :math:`W_{PV} = aI`, :math:`W_{KQ} = bI`. Output ``(B, n)``.
    """

    def __init__(self, dim: int, *, attention: str = "softmax", seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.attention = check_choice(attention, "attention", ("softmax", "linear"))
        gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
        scale = 1.0 / math.sqrt(self.dim)
        self.value = nn.Parameter(torch.randn(self.dim, self.dim, generator=gen, dtype=dtype) * scale)
        self.key_query = nn.Parameter(torch.randn(self.dim, self.dim, generator=gen, dtype=dtype) * scale)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, attention={self.attention!r}"

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor):
            raise TypeError(f"tokens must be a torch tensor, got {type(tokens).__name__}")
        if tokens.ndim != 3 or tokens.shape[-1] != self.dim or tokens.shape[1] < 2:
            raise ValueError(f"tokens must have shape (B, L + 1, {self.dim}) with L >= 1, got {tuple(tokens.shape)}")
        if tokens.dtype != self.key_query.dtype:
            raise TypeError(f"tokens must have dtype {self.key_query.dtype} (the model's), got {tokens.dtype}")
        check_array(tokens, "tokens")
        context, query = tokens[:, :-1], tokens[:, -1]
        scores = context @ (self.key_query @ query.unsqueeze(-1))  # (B, L, 1)
        if self.attention == "softmax":
            read = (torch.softmax(scores, dim=1) * context).sum(1)
        else:
            read = (scores * context).mean(1)
        return read @ self.value.T


def per_token_mse(outputs, targets):
    """Mean over tokens of the squared error summed over coordinates (the unit of ``Prior.bayes_mse``).

    Raises :class:`ebcore.optim.NonFiniteLossError` (a ``ValueError``) when ``outputs`` hold a NaN
    or an infinity, or when the loss overflows: training reads it as divergence, and
    :class:`ebcore.optim.LBFGSGSS` as "step back" at a line-search trial point.
    """
    check_array(outputs, "outputs", finite=False)
    check_array(targets, "targets")
    if isinstance(outputs, torch.Tensor) != isinstance(targets, torch.Tensor):
        raise TypeError(f"outputs and targets must both be torch tensors or both numpy arrays, got "
                        f"{type(outputs).__name__} and {type(targets).__name__}")
    if tuple(outputs.shape) != tuple(targets.shape):
        raise ValueError(f"outputs and targets must have the same shape, got {tuple(outputs.shape)} and "
                         f"{tuple(targets.shape)}")
    loss = ((outputs - targets) ** 2).sum(-1).mean()
    try:
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    except RuntimeError:
        # Inside a function transform (torch.func.vmap in ebcore.landscape.BatchedLoss) no value can
        # be read; BatchedLoss checks the batched losses itself.
        return loss
    if not math.isfinite(value):
        raise NonFiniteLossError(f"outputs: the loss is not finite ({value}); the model diverged")
    return loss


class CorruptionTask:
    """All-token corruption: contexts of ``n_tokens`` noisy tokens, targets the clean tokens.

    ``prior`` is one :class:`~ebcore.priors.Prior` shared by every context, or a family: a callable
    ``rng -> Prior`` called once per context (e.g. ``lambda g: priors.random_prior("mixture", g)``),
    so that the prior must be inferred from each context. Each split holds a fixed set of contexts
    drawn once from ``seed`` (so the training loss is a fixed function of the parameters: a
    landscape). ``data(split)`` returns ``(noisy, clean)``, both ``(n_contexts, n_tokens, dim)``.
    The clean tokens are used only as the training target; the model only ever sees noisy tokens.
    """

    def __init__(self, prior, sigma, n_tokens: int, *, n_contexts=(256, 32, 64), seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        if not isinstance(prior, Prior) and not callable(prior):
            raise TypeError(f"prior must be an ebcore.priors.Prior or a callable rng -> Prior, got {type(prior).__name__}")
        self.prior = prior
        self.sigma = check_scale(sigma, "sigma")
        self.n_tokens = check_int(n_tokens, "n_tokens", minimum=2)
        counts = tuple(check_int_sequence(n_contexts, "n_contexts", minimum=1))
        if len(counts) != 3:
            raise ValueError(f"n_contexts must give (train, validation, test) counts, got {len(counts)} numbers")
        self.seed = check_int(seed, "seed", minimum=0)
        self.dtype = dtype
        gen = as_generator(self.seed)
        self._data, self._priors = {}, {}
        for split, count in zip(("train", "validation", "test"), counts):
            if isinstance(prior, Prior):
                self._priors[split] = [prior] * count
            else:
                self._priors[split] = [prior(gen) for _ in range(count)]
                if not all(isinstance(p, Prior) for p in self._priors[split]):
                    raise TypeError("the prior family must return ebcore.priors.Prior objects")
            clean = np.stack([p.sample(self.n_tokens, gen) for p in self._priors[split]])
            noisy = clean + self.sigma * gen.standard_normal(clean.shape)
            self._data[split] = (noisy, clean)
        self.dim = self._priors["train"][0].dim
        self._digest = array_digest(*(a for pair in self._data.values() for a in pair))

    def data(self, split: str):
        check_choice(split, "split", tuple(self._data))
        noisy, clean = self._data[split]
        return torch.as_tensor(noisy, dtype=self.dtype), torch.as_tensor(clean, dtype=self.dtype)

    def bayes(self, split: str):
        """The Bayes denoiser of each context's own prior on a split's noisy tokens (numpy)."""
        check_choice(split, "split", tuple(self._data))
        return np.stack([p.posterior_mean(y, self.sigma) for p, y in zip(self._priors[split], self._data[split][0])])

    def loss(self, outputs, targets):
        return per_token_mse(outputs, targets)

    def config(self) -> dict:
        return {"task": "all-token-corruption", "data": self._digest, "sigma": self.sigma, "dtype": str(self.dtype)}


class CleanContextTask(CorruptionTask):
    """The predecessor's task: ``n_tokens`` clean context tokens and one noisy query per sequence.

    ``data(split)`` returns ``(sequence, clean_query)`` with ``sequence`` of shape
    ``(n_contexts, n_tokens + 1, dim)``: the clean context followed by the noisy query.
    """

    def __init__(self, prior: Prior, sigma, n_tokens: int, *, n_contexts=(512, 64, 256), seed: int = 0,
                 dtype: torch.dtype = torch.float64):
        super().__init__(prior, sigma, check_int(n_tokens, "n_tokens", minimum=1) + 1, n_contexts=n_contexts, seed=seed,
                         dtype=dtype)
        for split, (noisy, clean) in self._data.items():
            sequence = clean.copy()
            sequence[:, -1] = noisy[:, -1]
            self._data[split] = (sequence, clean[:, -1])
        self._digest = array_digest(*(a for pair in self._data.values() for a in pair))

    def bayes(self, split: str):
        check_choice(split, "split", tuple(self._data))
        return np.stack([p.posterior_mean(y[-1:], self.sigma)[0]
                         for p, y in zip(self._priors[split], self._data[split][0])])

    def config(self) -> dict:
        return {**super().config(), "task": "clean-context"}


def family_task(family: str, *, n_tokens: int = 64, n_contexts=(512, 64, 256), seed: int = 0,
                dtype: torch.dtype = torch.float32) -> CorruptionTask:
    """All-token corruption with a fresh prior per context from :func:`ebcore.priors.random_prior`,
    at the family's noise level (:data:`ebcore.priors.FAMILIES`)."""
    from .priors import FAMILIES, random_prior

    check_choice(family, "family", tuple(FAMILIES))
    return CorruptionTask(lambda g: random_prior(family, g), FAMILIES[family], n_tokens, n_contexts=n_contexts,
                          seed=seed, dtype=dtype)


def predecessor_family_task(name: str, *, n_tokens: int = 500, n: int = 16, n_contexts=(512, 64, 256), seed: int = 0,
                            dtype: torch.dtype = torch.float32) -> CleanContextTask:
    """The predecessor's clean-context task with a fresh random subspace, sphere or set of centres per
    sequence (:func:`ebcore.incontext.predecessor_task`), at that task's noise level."""
    from .incontext import TASKS, predecessor_task

    check_choice(name, "name", TASKS)
    sigma = predecessor_task(name, 0, n)[1]
    return CleanContextTask(lambda g: predecessor_task(name, g, n)[0], sigma, n_tokens, n_contexts=n_contexts,
                            seed=seed, dtype=dtype)


def _build(kind: str, task_options: dict, model_options: dict):
    if kind == "attention":
        task = family_task(**task_options)
        model = AttentionDenoiser(task.dim, dtype=task.dtype, **model_options)
    elif kind == "one_layer":
        task = predecessor_family_task(**task_options)
        model = OneLayerDenoiser(task.dim, dtype=task.dtype, **model_options)
    else:
        raise ValueError(f"kind must be 'attention' or 'one_layer', got {kind!r}")
    return task, model


def build(job: dict):
    """The task and the freshly initialised model of a training job (see :func:`train_many`)."""
    if not isinstance(job, dict):
        raise TypeError(f"job must be a dict, got {type(job).__name__}")
    if "kind" not in job:
        raise ValueError(f"job must name its 'kind' ('attention' or 'one_layer'); got the keys {sorted(job)}")
    for key in ("task", "model"):
        if not isinstance(job.get(key, {}), dict):
            raise TypeError(f"job[{key!r}] must be a dict, got {type(job[key]).__name__}")
    return _build(job["kind"], dict(job.get("task", {})), dict(job.get("model", {})))


class LandscapeTask:
    """A training job's task bound to its model: the interface the landscape and barrier code uses.

    ``data(split)``, ``loss`` and ``config()`` come from the task (the config also names the model),
    ``make_model(seed)`` builds the job's model, ``dtype`` is the task's. Lets
    :func:`ebcore.landscape.batched_loss` and :func:`ebcore.barriers.pair_barriers` work on the
    attention denoiser as they do on the digits networks.
    """

    def __init__(self, job: dict):
        self.job = job
        self.task, model = build(job)
        self.dtype = self.task.dtype
        self._model_repr = repr(model)

    def data(self, split: str):
        return self.task.data(split)

    def loss(self, outputs, targets):
        return self.task.loss(outputs, targets)

    def make_model(self, seed: int) -> nn.Module:
        return _build(self.job["kind"], dict(self.job.get("task", {})), {**self.job.get("model", {}), "seed": seed})[1]

    def config(self) -> dict:
        return {**self.task.config(), "model": self._model_repr}


def _optimizer(job: dict):
    from .training import adam, lbfgs_gss, sgd

    name = job.get("optimizer", "adam")
    if name == "adam":
        return adam(job.get("lr", 1e-2), batch_size=job.get("batch_size", 32))
    if name == "sgd":
        return sgd(job.get("lr", 1e-2), momentum=job.get("momentum", 0.0), batch_size=job.get("batch_size", 32))
    if name == "lbfgs_gss":
        return lbfgs_gss()
    raise ValueError(f"optimizer must be 'adam', 'sgd' or 'lbfgs_gss', got {name!r}")


def _train_job(job: dict, threads: int):
    from .training import train

    torch.set_num_threads(threads)
    task, model = build(job)
    return train(model, task, _optimizer(job), epochs=job["epochs"], seed=job.get("seed", 0), progress=False)


def train_many(jobs, *, n_jobs: int | None = None, progress: bool | None = None):
    """Train several models, one process per core, each run through the results cache.

    A job is a dict: ``kind`` (``"attention"`` for :class:`AttentionDenoiser` on :func:`family_task`,
    ``"one_layer"`` for :class:`OneLayerDenoiser` on :func:`predecessor_family_task`), ``task`` and
    ``model`` (keyword arguments), ``epochs``, ``seed``, and ``optimizer`` (``"adam"``, the default,
    or ``"sgd"``, both with ``lr`` and ``batch_size``; or ``"lbfgs_gss"``, full batch). Returns the
    :class:`ebcore.training.TrainingRun` of each job, in order; finished runs load from the cache.
    """
    import os

    from joblib import Parallel, delayed

    from .progress import progress_bar

    jobs = list(jobs)
    for index, job in enumerate(jobs):
        if not isinstance(job, dict) or "kind" not in job or "epochs" not in job:
            raise ValueError(f"job {index} must be a dict with at least 'kind' and 'epochs'")
        _optimizer(job)  # fail before any training on an unknown optimizer
    if n_jobs is None:
        n_jobs = max(1, min(os.cpu_count() or 1, len(jobs)))
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    if n_jobs == 1:
        return [_train_job(job, torch.get_num_threads()) for job in progress_bar(jobs, desc="training", progress=progress)]
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    return list(progress_bar(parallel(delayed(_train_job)(job, 1) for job in jobs), total=len(jobs), desc="training",
                             progress=progress))


def scaled_identity_fit(matrix):
    """Nearest multiple of the identity: ``(c, residual)`` with ``c = tr(W)/n`` and the relative
    Frobenius residual ``|W - cI| / |W|`` (0 for an exact scaled identity)."""
    W = np.asarray(check_array(matrix, "matrix", ndim=2), dtype=np.float64)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"matrix must be square, got {W.shape}")
    c = np.trace(W) / W.shape[0]
    norm = np.linalg.norm(W)
    return float(c), float(np.linalg.norm(W - c * np.eye(W.shape[0])) / norm) if norm > 0 else 0.0


def attention_invariants(model: AttentionDenoiser) -> list[dict]:
    r"""What the loss of a Gaussian-kernel layer can see, per layer and for the final step.

    The scores :math:`-|Qz - Kp|^2/2` up to terms the softmax cancels are
    :math:`z^\top Q^\top K p - |Kp|^2/2`, unchanged when :math:`Q` and :math:`K` are both rotated
    by the same orthogonal matrix. So the identifiable quantities are the metric :math:`K^\top K`
    (theory :math:`I/h^2`), the cross map :math:`Q^\top K` (theory :math:`I/h^2`), the value map
    :math:`V` (theory :math:`I`) and the step. Returns one dict per layer (``"final"`` last) with
    ``bandwidths`` (:math:`1/\sqrt{\lambda}` of the metric's eigenvalues) and the scaled-identity
    fits of ``cross`` and ``value``.
    """
    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    rows = []
    n_layers = model.layer_key.shape[0]
    maps = [(f"layer {i + 1}", model.layer_query[i], model.layer_key[i], model.layer_value[i], model.layer_step[i])
            for i in range(n_layers)]
    maps.append(("final", model.final_query, model.final_key, model.final_value, None))
    for name, Q, K, V, step in maps:
        Q, K, V = (m.detach().double().numpy() for m in (Q, K, V))
        metric = np.linalg.eigvalsh(K.T @ K)
        rows.append({"layer": name, "bandwidths": 1.0 / np.sqrt(np.maximum(metric, 1e-300)),
                     "cross": scaled_identity_fit(Q.T @ K), "value": scaled_identity_fit(V),
                     "step": None if step is None else float(step.detach())})
    return rows


def theory_grid_search(task: CorruptionTask, depth: int, bandwidths, steps, *, split: str = "train",
                       max_contexts: int | None = 128, cache: bool = True):
    """Best Stage 1 bandwidth and step for :meth:`AttentionDenoiser.from_theory` on a task, by grid search.

    The query bandwidth is the task's noise level (the theory's choice). The grid is evaluated on
    ``split`` (the training contexts by default, so that the test split stays unseen). Returns
    ``(bandwidth, step, loss, losses)`` with ``losses`` of shape ``(len(bandwidths), len(steps))``.
    """
    if not isinstance(task, CorruptionTask):
        raise TypeError(f"task must be a CorruptionTask, got {type(task).__name__}")
    hs = as_float_array(bandwidths, "bandwidths")
    etas = as_float_array(steps, "steps")
    for name, grid in (("bandwidths", hs), ("steps", etas)):
        if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or (grid <= 0).any():
            raise ValueError(f"{name} must be a non-empty 1-D array of positive numbers")
    depth = check_int(depth, "depth", minimum=0)
    x, t = task.data(split)
    if max_contexts is not None:
        x, t = x[:check_int(max_contexts, "max_contexts", minimum=1)], t[:max_contexts]
    x, t = x.double(), t.double()

    def compute():
        losses = np.empty((hs.size, etas.size))
        with torch.no_grad():
            for i, h in enumerate(hs):
                for j, eta in enumerate(etas):
                    model = AttentionDenoiser.from_theory(depth, float(h), float(eta), task.sigma, task.dim)
                    losses[i, j] = float(task.loss(model(x), t))
        return {"losses": losses}, {}

    if cache:
        from .cache import cached

        config = {"task": task.config(), "depth": depth, "bandwidths": hs.tolist(), "steps": etas.tolist(),
                  "split": split, "contexts": int(x.shape[0])}
        losses = cached("theory-grid", config, compute).arrays["losses"]
    else:
        losses = compute()[0]["losses"]
    i, j = np.unravel_index(np.argmin(losses), losses.shape)
    return float(hs[i]), float(etas[j]), float(losses[i, j]), losses


def denoising_report(model: nn.Module, task: CorruptionTask, split: str = "test") -> dict:
    """Test MSE, Bayes MSE and excess of a model on a task's split, with standard errors over contexts.

    Returns ``{name: (mean, standard error)}`` for ``mse``, ``bayes`` (the Bayes denoiser's MSE on
    the same tokens), ``gap`` (their difference, paired by context) and ``excess``, the mean of
    :math:`|f(y) - E[x \\mid y]|^2`, each context judged against the Bayes denoiser of its own prior.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch module, got {type(model).__name__}")
    if not isinstance(task, CorruptionTask):
        raise TypeError(f"task must be a CorruptionTask or CleanContextTask, got {type(task).__name__}")
    x, t = task.data(split)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        out = model(x.to(dtype)).double().numpy()
    clean = t.double().numpy()
    bayes = task.bayes(split)
    axes = tuple(range(1, out.ndim - 1)) or None

    def per_context(a, b):
        v = ((a - b) ** 2).sum(-1)
        return v.mean(axis=axes) if axes else v

    rows = {"mse": per_context(out, clean), "bayes": per_context(bayes, clean), "excess": per_context(out, bayes)}
    rows["gap"] = rows["mse"] - rows["bayes"]
    n = len(rows["mse"])
    return {k: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))) for k, v in rows.items()}


def scaled_identity_loss(task: CleanContextTask, attention: str, a_values, b_values, *, split: str = "test"):
    """Loss of :class:`OneLayerDenoiser` with ``W_PV = aI`` and ``W_KQ = bI`` on a grid: shape ``(len(a), len(b))``."""
    if not isinstance(task, CleanContextTask):
        raise TypeError(f"task must be a CleanContextTask, got {type(task).__name__}")
    a_grid = as_float_array(a_values, "a_values")
    b_grid = as_float_array(b_values, "b_values")
    if a_grid.ndim != 1 or b_grid.ndim != 1 or not (np.isfinite(a_grid).all() and np.isfinite(b_grid).all()):
        raise ValueError("a_values and b_values must be finite 1-D arrays")
    x, t = task.data(split)
    x, t = x.double(), t.double()
    model = OneLayerDenoiser(task.dim, attention=attention, dtype=torch.float64)
    eye = torch.eye(task.dim, dtype=torch.float64)
    out = np.empty((a_grid.size, b_grid.size))
    with torch.no_grad():
        for j, b in enumerate(b_grid):
            model.key_query.copy_(float(b) * eye)
            model.value.copy_(eye)
            base = model(x)
            for i, a in enumerate(a_grid):
                out[i, j] = float(task.loss(float(a) * base, t))
    return out


def rotation_path(model: AttentionDenoiser, angle, n_points: int = 51) -> np.ndarray:
    r"""Flat parameter vectors along a rotation orbit of a planar attention denoiser ({prf:ref}`prop-rotation-orbit`).

    Point :math:`k` replaces every :math:`(Q, K)` pair (each layer's and the final one) by
    :math:`(R(\theta_k) Q, R(\theta_k) K)` with :math:`R(\theta)` the rotation of the plane by
    :math:`\theta_k = \text{angle} \cdot k/(n_\text{points} - 1)`; by {prf:ref}`prop-attention-symmetries`
    every point computes the same function. Returns ``(n_points, n_params)`` (float64).
    """
    from .training import flat_parameters, set_flat_parameters

    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    if model.dim != 2:
        raise ValueError(f"rotation_path is defined for planar models (dim 2), got dim {model.dim}")
    theta = float(as_float_array(angle, "angle"))
    if not np.isfinite(theta):
        raise ValueError(f"angle must be finite, got {angle!r}")
    n_points = check_int(n_points, "n_points", minimum=2)
    original = flat_parameters(model)
    copy = AttentionDenoiser(model.dim, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip,
                             dtype=model.final_query.dtype)
    out = []
    for t in np.linspace(0.0, 1.0, n_points):
        c, s_ = np.cos(t * theta), np.sin(t * theta)
        rotation = torch.tensor([[c, -s_], [s_, c]], dtype=model.final_query.dtype)
        set_flat_parameters(copy, original)
        with torch.no_grad():
            for q, k in ((copy.layer_query, copy.layer_key), (copy.final_query, copy.final_key)):
                q.copy_(rotation @ q)
                k.copy_(rotation @ k)
        out.append(flat_parameters(copy))
    return np.stack(out)


def align_rotation(reference, solution, model: AttentionDenoiser) -> np.ndarray:
    r"""Rotate the query-key pairs of ``solution`` to match ``reference``: the continuous analogue of weight matching.

    For each layer (and the final step) independently, the rotation :math:`R` of the plane that
    minimises :math:`|Q_\text{ref} - RQ|^2 + |K_\text{ref} - RK|^2` (orthogonal Procrustes restricted
    to rotations: :math:`\theta = \operatorname{atan2}(M_{10} - M_{01}, M_{00} + M_{11})` with
    :math:`M = Q_\text{ref}Q^\top + K_\text{ref}K^\top`) is applied to that pair; by
    {prf:ref}`prop-attention-symmetries` the function is unchanged. ``model`` supplies the layout
    (any :class:`AttentionDenoiser` of the right shape). Returns the aligned flat vector.
    """
    from .training import flat_parameters, set_flat_parameters

    if not isinstance(model, AttentionDenoiser):
        raise TypeError(f"model must be an AttentionDenoiser, got {type(model).__name__}")
    if model.dim != 2:
        raise ValueError(f"align_rotation is defined for planar models (dim 2), got dim {model.dim}")
    size = flat_parameters(model).size
    vectors = []
    for name, v in (("reference", reference), ("solution", solution)):
        v = np.asarray(check_array(v, name, ndim=1), dtype=np.float64)
        if v.size != size:
            raise ValueError(f"{name} must have {size} entries for this model, got {v.size}")
        vectors.append(v)
    ref_model = AttentionDenoiser(2, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip)
    out_model = AttentionDenoiser(2, model.depth, kernel=model.kernel, tied=model.tied, skip=model.skip)
    set_flat_parameters(ref_model, vectors[0])
    set_flat_parameters(out_model, vectors[1])
    pairs = [(ref_model.layer_query[i], ref_model.layer_key[i], out_model.layer_query[i], out_model.layer_key[i])
             for i in range(ref_model.layer_query.shape[0])]
    pairs.append((ref_model.final_query, ref_model.final_key, out_model.final_query, out_model.final_key))
    with torch.no_grad():
        for q_ref, k_ref, q, k in pairs:
            m = (q_ref @ q.T + k_ref @ k.T).numpy()
            theta = np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])
            rotation = torch.tensor([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], dtype=q.dtype)
            q.copy_(rotation @ q)
            k.copy_(rotation @ k)
    return flat_parameters(out_model)
