"""Gaussian-kernel attention as a posterior mean under the empirical measure of the context.

Implements {prf:ref}`thm-attention-posterior-mean` (one RBF attention step is the posterior
mean of a particle drawn from the weighted empirical measure, observed through Gaussian noise
of standard deviation ``bandwidth``), {prf:ref}`cor-empirical-tweedie` (through
:func:`smoothed_log_density`) and {prf:ref}`prop-rbf-softmax` (:func:`rbf_as_softmax`).

Every function is written once in torch: numpy in gives numpy out, torch in gives torch out
(any float dtype, CPU or CUDA, differentiable in every argument). Queries are processed in
chunks so that the ``N x M`` kernel matrix never exists at once when no gradient is needed.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .arrays import to_torch
from .registry import implements
from .validation import check_array, check_int, check_positive, check_probability_weights, check_scale

__all__ = ["posterior_mean", "softmax_attention", "rbf_as_softmax", "linear_attention",
           "smoothed_log_density", "SoftmaxForm", "logit_precision", "LOGIT_ERROR", "chunk_rows",
           "needs_differences", "pairwise_squared_distances"]

#: Bytes allowed for one chunk of attention logits (the memory bound of the kernels). On CPU, small
#: enough that a chunk stays in the last-level cache between the matmul, the exp and the second
#: matmul; on CUDA, large enough that kernel launches do not dominate.
CHUNK_BYTES = 8 * 2**20
CUDA_CHUNK_BYTES = 256 * 2**20

_LOG2_E = 1.0 / math.log(2.0)
#: Keys whose logits bound each query's largest logit from below (see _rbf_expanded).
_PROBE_KEYS = 32
#: Dtypes of the fast no-grad path (half precisions go through the general softmax path).
_FAST_DTYPES = (torch.float32, torch.float64)
#: The largest absolute error allowed in a logit computed from expanded inner products,
#: ``z.p/h^2 - |z|^2/2h^2 - |p|^2/2h^2``. That form cancels: its error is about
#: ``eps * (|z - c|^2 + |p - c|^2) / h^2`` (``c`` the centre), which grows without bound as the
#: bandwidth shrinks against the spread of the points. Above this bound the logits are computed
#: in float64 or, beyond float64's reach too, from the coordinate differences themselves, whose
#: error is relative to each distance (see :func:`logit_precision`).
LOGIT_ERROR = 1e-3


def _check_bandwidth(bandwidth, name="bandwidth"):
    check_scale(bandwidth, name)
    return bandwidth


def _as_batched(queries, keys, values, qname, kname, vname):
    """Validate (N, n)/(M, n) or (B, N, n)/(B, M, n) inputs; return batched views and a flag."""
    check_array(queries, qname, ndim=(2, 3))
    check_array(keys, kname, ndim=(2, 3))
    if values is not None:
        check_array(values, vname, ndim=(2, 3))
    if keys.ndim != queries.ndim:
        raise ValueError(f"{qname} and {kname} must both be unbatched (2-D) or both batched (3-D); "
                         f"got {queries.ndim}-D and {keys.ndim}-D")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"{qname} has dimension {queries.shape[-1]} but {kname} has dimension {keys.shape[-1]}")
    if values is not None:
        if values.ndim != keys.ndim or values.shape[:-1] != keys.shape[:-1]:
            raise ValueError(f"{vname} must have the same leading shape as {kname}: "
                             f"got {tuple(values.shape)} and {tuple(keys.shape)}")
    batched = queries.ndim == 3
    if batched and queries.shape[0] != keys.shape[0]:
        raise ValueError(f"{qname} and {kname} must have the same batch size, got {queries.shape[0]} "
                         f"and {keys.shape[0]}")
    return batched


def _check_weights(weights, particles, batched, name="weights"):
    if weights is None:
        return None
    check_probability_weights(weights, name, size=particles.shape[-2])
    if weights.ndim == 2 and (not batched or weights.shape[0] != particles.shape[0]):
        raise ValueError(f"{name} of shape {tuple(weights.shape)} does not match particles of shape "
                         f"{tuple(particles.shape)}: use (M,) or (B, M)")
    return weights


def _unify(*tensors):
    """Promote tensors (None allowed) to one floating dtype and the device of the first."""
    present = [t for t in tensors if isinstance(t, torch.Tensor)]
    dtype = present[0].dtype
    for t in present[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = present[0].device
    return [t.to(device=device, dtype=dtype) if isinstance(t, torch.Tensor) else t for t in tensors]


def chunk_rows(n_keys: int, batch: int, itemsize: int, device=None) -> int:
    """How many query rows to take at once so that a ``(batch, rows, n_keys)`` block of ``itemsize``-byte
    numbers stays within the memory budget (``CHUNK_BYTES``, or ``CUDA_CHUNK_BYTES`` on a GPU)."""
    n_keys = check_int(n_keys, "n_keys", minimum=0)
    batch = check_int(batch, "batch", minimum=0)
    itemsize = check_int(itemsize, "itemsize", minimum=1)
    budget = CUDA_CHUNK_BYTES if device is not None and torch.device(device).type == "cuda" else CHUNK_BYTES
    return max(1, budget // max(1, n_keys * batch * itemsize))


def logit_precision(spread_sq: float, inv_h2: float, dtype: torch.dtype, dim: int) -> str:
    """How to compute RBF logits accurately: ``"expanded"``, ``"expanded-float64"`` or ``"differences"``.

    ``spread_sq`` bounds ``|z - c|^2 + |p - c|^2`` over queries and particles (``c`` the centre the
    points are taken around), ``inv_h2`` is ``1/h^2`` and ``dim`` the points' dimension. The
    expanded logit is a dot product of length ``dim + 2`` whose terms have absolute values summing
    to at most ``spread_sq * inv_h2``, so its rounding error is at most
    ``(dim + 2) eps spread_sq inv_h2`` (the standard bound for a floating-point dot product,
    Higham 2002, section 3.1), times ``log2(e)`` for the base-2 logits. The expansion is used in
    ``dtype`` when that bound is below :data:`LOGIT_ERROR`, in float64 when float64 gets it there,
    and otherwise the logits come from ``|z - p|^2`` summed over coordinate differences, whose error
    is relative to each distance (exact ties stay exact ties, so the limit ``h -> 0`` averages the
    particles nearest to each query). A logit error of at most ``delta`` changes each normalised
    weight by a factor within ``exp(+-2 delta)``, so the output moves by at most about
    ``2 delta`` times the diameter of the points.
    """
    from .validation import check_int, check_nonnegative

    spread_sq = check_nonnegative(spread_sq, "spread_sq")
    inv_h2 = check_positive(inv_h2, "inv_h2")
    dim = check_int(dim, "dim", minimum=1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}")
    bound = (dim + 2) * _LOG2_E * spread_sq * inv_h2
    if bound * torch.finfo(dtype).eps <= LOGIT_ERROR:
        return "expanded"
    if bound * torch.finfo(torch.float64).eps <= LOGIT_ERROR:
        return "expanded-float64"
    return "differences"


def _squared_distances(q, k):
    """``|q_i - k_j|^2`` from coordinate differences, ``(B, n, m)``: no cancellation between large terms."""
    return (q.unsqueeze(2) - k.unsqueeze(1)).square().sum(-1)


def _check_batched_pair(queries, keys):
    for name, t in (("queries", queries), ("keys", keys)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(t).__name__}")
        check_array(t, name, ndim=3)
    if queries.shape[0] != keys.shape[0] or queries.shape[-1] != keys.shape[-1] or queries.dtype != keys.dtype:
        raise ValueError(f"queries and keys must be (B, n, d) and (B, m, d) of one dtype, got {tuple(queries.shape)} "
                         f"{queries.dtype} and {tuple(keys.shape)} {keys.dtype}")


def needs_differences(queries, keys, inv_h2: float) -> bool:
    """Whether ``|q - k|^2`` must come from coordinate differences rather than from inner products.

    The inner-product form (one matmul, as in ``torch.cdist``) loses the small distances that dominate
    an RBF kernel when the bandwidth is small against the points' spread (:func:`logit_precision`).
    ``queries`` and ``keys`` are batched tensors ``(B, n, d)`` and ``(B, m, d)`` taken around a common
    centre; ``inv_h2`` is ``1/h^2``.
    """
    _check_batched_pair(queries, keys)
    inv_h2 = check_positive(inv_h2, "inv_h2")
    with torch.no_grad():
        spread_sq = float(queries.detach().square().sum(-1).max()) + float(keys.detach().square().sum(-1).max())
    return logit_precision(spread_sq, inv_h2, queries.dtype, queries.shape[-1]) != "expanded"


def pairwise_squared_distances(queries, keys, differences: bool):
    """``|q_i - k_j|^2`` for batched tensors, ``(B, n, m)``: by ``torch.cdist`` or, with ``differences``, exactly."""
    _check_batched_pair(queries, keys)
    if not isinstance(differences, bool):
        raise TypeError(f"differences must be a bool, got {type(differences).__name__}")
    if differences:
        return _squared_distances(queries, keys)
    return torch.cdist(queries, keys).square()


def _attend(queries, keys, values, scale, key_bias, center: bool):
    """softmax(scale * q.k + key_bias) @ values for batched tensors, chunked over queries.

    With ``center`` the chunk's query mean is subtracted from queries and keys, and the RBF key
    bias ``-|k - c|^2 * scale / 2`` is recomputed around it (``key_bias`` then holds only
    ``log w``): the softmax is unchanged (a per-row constant), but the dot products no longer
    carry the common offset of the points, which is where float rounding would bite. Where the
    bandwidth is so small against the points' spread that even the centred expansion loses the
    logits (:func:`logit_precision`), they are computed from squared differences instead.
    """
    batch, n_queries, dim = queries.shape
    need_grad = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in (queries, keys, values, scale, key_bias))
    differences = False
    if center:
        with torch.no_grad():
            inv_h2 = float((scale.detach() if isinstance(scale, torch.Tensor) else torch.as_tensor(scale)).max())
            lo = torch.minimum(queries.amin(dim=(0, 1)), keys.amin(dim=(0, 1)))
            hi = torch.maximum(queries.amax(dim=(0, 1)), keys.amax(dim=(0, 1)))
            spread_sq = float(((hi - lo) ** 2).sum())
        differences = logit_precision(2.0 * spread_sq, inv_h2, queries.dtype, dim) != "expanded"
    rows = chunk_rows(keys.shape[1] * (dim if differences else 1), batch, keys.element_size(), keys.device)
    outputs = []
    for start in range(0, n_queries, rows):
        q = queries[:, start:start + rows]
        if differences:
            logits = -0.5 * scale * _squared_distances(q, keys)
            if key_bias is not None:
                logits = logits + key_bias.unsqueeze(1)
        else:
            if center:
                c = q.mean(dim=1, keepdim=True)
                q = q - c
                k = keys - c
                bias = -0.5 * scale * (k * k).sum(-1)
                if key_bias is not None:
                    bias = bias + key_bias
            else:
                k, bias = keys, key_bias
            if bias is None:
                logits = torch.bmm(q, k.transpose(1, 2)) * scale
            elif need_grad or isinstance(scale, torch.Tensor):
                logits = torch.bmm(q, k.transpose(1, 2)) * scale + bias.unsqueeze(1)
            else:
                logits = torch.baddbmm(bias.unsqueeze(1), q, k.transpose(1, 2), alpha=scale)
        if need_grad:
            out = torch.bmm(torch.softmax(logits, dim=-1), values)
        else:
            # in place: one N_chunk x M buffer instead of three
            logits.sub_(logits.amax(dim=-1, keepdim=True)).exp_()
            out = torch.bmm(logits, values).div_(logits.sum(dim=-1, keepdim=True))
        outputs.append(out)
    return torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]


def _rbf_attend_no_grad(queries, particles, inv_h2: float, log_w):
    """RBF attention without autograd, in three passes per chunk of queries.

    Around the particles' mean ``c`` the logit ``-|z - p|^2 / 2h^2`` is one inner product of augmented
    vectors ``[z/h^2, -|z|^2/2h^2, 1] . [p, 1, -|p|^2/2h^2 + log w]``; appending a column of ones to
    the values gives the normaliser from the same matmul. Those logits are at most 0 (the weights
    are normalised to max 1), so ``exp`` cannot overflow; where a chunk's sums could underflow, each
    query's largest logit is subtracted first (the log-sum-exp shift), so the largest weight is 1
    whatever the bandwidth. The expansion cancels when the bandwidth is small against the
    points' spread, so :func:`logit_precision` decides per call whether the logits are computed in
    the input dtype, in float64, or from coordinate differences; the result is cast back.
    """
    out_dtype = queries.dtype
    centre = particles.mean(dim=1, keepdim=True)
    p_all = particles - centre
    spread_sq = float(p_all.square().sum(-1).max()) + float((queries - centre).square().sum(-1).max())
    mode = logit_precision(spread_sq, inv_h2, out_dtype, queries.shape[-1])
    if mode != "expanded":
        queries, p_all, centre = queries.double(), p_all.double(), centre.double()
        log_w = None if log_w is None else log_w.double()
    if mode == "differences":
        result = _rbf_from_differences(queries - centre, p_all, inv_h2, log_w)
    else:
        result = _rbf_expanded(queries - centre, p_all, inv_h2, log_w)
    return (result + centre).to(out_dtype)


def _rbf_from_differences(z_all, p_all, inv_h2: float, log_w):
    """Base-e logits ``-|z - p|^2 / 2h^2 + log w`` from differences, max-shifted, chunked over queries."""
    batch, n_queries, dim = z_all.shape
    rows = chunk_rows(p_all.shape[1] * dim, batch, p_all.element_size(), p_all.device)
    result = torch.empty_like(z_all)
    for start in range(0, n_queries, rows):
        z = z_all[:, start:start + rows]
        logits = _squared_distances(z, p_all).mul_(-0.5 * inv_h2)
        if log_w is not None:
            logits.add_(log_w.unsqueeze(1))
        logits.sub_(logits.amax(dim=-1, keepdim=True)).exp_()
        result[:, start:start + z.shape[1]] = torch.bmm(logits, p_all).div_(logits.sum(dim=-1, keepdim=True))
    return result


def _rbf_expanded(z_all, p_all, inv_h2: float, log_w):
    batch, n_queries, dim = z_all.shape
    n_keys = p_all.shape[1]
    dtype, device = z_all.dtype, z_all.device
    per_context = chunk_rows(n_keys, 1, p_all.element_size(), p_all.device)
    # Chunks hold whole contexts when they fit (many small contexts share one batched matmul),
    # otherwise blocks of query rows of one context; either way one buffer of the chunk budget.
    rows = min(per_context, n_queries)
    group = max(1, per_context // n_queries) if per_context >= n_queries else 1
    key_col = -0.5 * inv_h2 * (p_all * p_all).sum(-1, keepdim=True)
    if log_w is not None:
        key_col = key_col + (log_w - log_w.amax(dim=1, keepdim=True)).unsqueeze(-1)
    # base-2 exponent below which a sum of weights could lose precision or underflow
    floor = -100.0 if dtype == torch.float32 else -1000.0
    ones_k = torch.ones((batch, n_keys, 1), dtype=dtype, device=device)
    # Transposed layout (keys along rows): both matmuls then have a long inner or outer dimension,
    # which BLAS handles far better than an N x M by M x (d + 1) product with small d. Base-2 logits:
    # exp2 is about twice as fast as exp on CPU, and the factor log2(e) is folded into the keys.
    keys_aug = torch.cat([p_all, ones_k, key_col], dim=2).mul_(_LOG2_E)                  # (B, M, d + 2)
    values_aug_t = torch.cat([p_all, ones_k], dim=2).transpose(1, 2).contiguous()        # (B, d + 1, M)
    buffer = torch.empty((min(group, batch), n_keys, rows), dtype=dtype, device=device)
    result = torch.empty_like(z_all)
    for b0 in range(0, batch, group):
        b1 = min(batch, b0 + group)
        for start in range(0, n_queries, rows):
            z = z_all[b0:b1, start:start + rows]                                          # (g, r, d)
            n_rows = z.shape[1]
            query_aug_t = torch.cat([z * inv_h2, -0.5 * inv_h2 * (z * z).sum(-1, keepdim=True),
                                     torch.ones((b1 - b0, n_rows, 1), dtype=dtype, device=device)],
                                    dim=2).transpose(1, 2).contiguous()                   # (g, d + 2, r)
            logits_t = buffer[:b1 - b0, :, :n_rows]
            torch.bmm(keys_aug[b0:b1], query_aug_t, out=logits_t)
            # The true logits are <= 0 and their error is below LOGIT_ERROR, so exp2 cannot overflow;
            # it can underflow, when every particle is far from a query. The largest logit of a few
            # keys bounds each query's largest logit from below: when that bound keeps every sum far
            # from underflow, the shift is not needed (the common case, no extra pass); otherwise the
            # chunk is shifted by its rows' largest logits before exp2 (the log-sum-exp shift).
            if float(logits_t[:, :_PROBE_KEYS].amax(dim=1).min()) < floor:
                logits_t.sub_(logits_t.amax(dim=1, keepdim=True))
            logits_t.exp2_()
            summed = torch.bmm(values_aug_t[b0:b1], logits_t)                             # (g, d + 1, r)
            result[b0:b1, start:start + n_rows] = (summed[:, :dim] / summed[:, dim:]).transpose(1, 2)
    return result


@implements("thm-attention-posterior-mean", "cor-empirical-tweedie", "prop-snis-consistency", "prop-query-energy")
def posterior_mean(queries, particles, bandwidth, weights=None):
    r"""Gaussian-kernel (RBF) attention: the posterior mean under the empirical measure.

    For each query :math:`z` returns
    :math:`A_h(z) = \sum_j w_j p_j e^{-|z-p_j|^2/2h^2} / \sum_j w_j e^{-|z-p_j|^2/2h^2}`,
    which by {prf:ref}`thm-attention-posterior-mean` equals :math:`E[X \mid X + h\xi = z]` for
    :math:`X \sim \sum_j w_j \delta_{p_j} / \sum_j w_j` and :math:`\xi \sim N(0, I)`.

    Parameters
    ----------
    queries : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The query points :math:`z`, floating point (B independent contexts when batched).
    particles : numpy.ndarray or torch.Tensor, shape (M, n) or (B, M, n)
        Keys and values at once (the context), of the same kind as ``queries``.
    bandwidth : float or 0-d tensor, > 0
        The kernel bandwidth :math:`h` (the noise level of the implied observation model).
    weights : numpy.ndarray or torch.Tensor, shape (M,) or (B, M), optional
        Non-negative particle weights with a positive sum (uniform if omitted).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The attention outputs, of the queries' shape and of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``queries``, ``particles`` or ``weights`` is not a floating-point numpy array or torch
        tensor, if numpy and torch inputs are mixed, or if ``bandwidth`` is not a real number.
    ValueError
        If ``queries`` or ``particles`` is not 2-D or 3-D, is empty or holds a non-finite value, if
        their dimensions, batchedness or batch sizes disagree, if ``bandwidth`` is not a finite number
        in ``[1e-150, 1e150]``, or if ``weights`` does not match the particles, has a negative entry
        or sums to zero.

    Notes
    -----
    Computed as a softmax over :math:`-|z - p_j|^2/2h^2 + \log w_j` with the log-sum-exp shift,
    after centring each chunk of queries, so that tiny bandwidths give the nearest particle
    rather than NaN and a common offset of all points costs no precision.
    """
    (q, p, w), back = to_torch(queries=queries, particles=particles, weights=weights)
    batched = _as_batched(q, p, None, "queries", "particles", None)
    _check_bandwidth(bandwidth)
    _check_weights(w, p, batched)
    h = bandwidth
    if isinstance(h, np.ndarray):
        h = float(h)
    q, p, w, h = _unify(q, p, w, h) if isinstance(h, torch.Tensor) else (*_unify(q, p, w), h)
    if not batched:
        q, p = q.unsqueeze(0), p.unsqueeze(0)
    if w is not None:
        w = w.expand(p.shape[0], -1) if w.ndim == 1 else w
        log_w = torch.log(w)
    else:
        log_w = None
    need_grad = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in (q, p, w, h))
    if not need_grad and q.dtype in _FAST_DTYPES:
        out = _rbf_attend_no_grad(q, p, 1.0 / float(h) ** 2, log_w)
    else:
        out = _attend(q, p, p, 1.0 / (h * h), log_w, center=True)
    return back(out if batched else out.squeeze(0))


@implements("prop-rbf-softmax", "prop-softmax-tilt")
def softmax_attention(queries, keys, values, scale, key_bias=None):
    r"""Dot-product (softmax) attention :math:`\mathrm{softmax}_j(s\, q \cdot k_j + b_j)\, v_j`.

    Parameters
    ----------
    queries : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The queries :math:`q`, floating point.
    keys : numpy.ndarray or torch.Tensor, shape (M, n) or (B, M, n)
        The keys :math:`k_j`, batched like ``queries``.
    values : numpy.ndarray or torch.Tensor, shape (M, e) or (B, M, e)
        The values :math:`v_j`, one per key.
    scale : float > 0
        The inverse temperature :math:`s` (``W_KQ = s I``).
    key_bias : numpy.ndarray or torch.Tensor, shape (M,) or (B, M), optional
        A per-key additive bias :math:`b_j` on the logits.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, e) or (B, N, e)
        The attention outputs, of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``queries``, ``keys``, ``values`` or ``key_bias`` is not a floating-point numpy array or
        torch tensor (``values`` ``None`` included), if numpy and torch inputs are mixed, or if
        ``scale`` is not a real number.
    ValueError
        If an array is not 2-D or 3-D (``key_bias`` 1-D or 2-D), is empty or holds a non-finite
        value, if the shapes of ``queries``, ``keys``, ``values`` and ``key_bias`` do not match, or if
        ``scale`` is not a finite number > 0.
    """
    if values is None:
        raise TypeError("values must be a numpy array or a torch tensor, got NoneType")
    (q, k, v, b), back = to_torch(queries=queries, keys=keys, values=values, key_bias=key_bias)
    batched = _as_batched(q, k, v, "queries", "keys", "values")
    scale = check_positive(scale, "scale")
    if b is not None:
        check_array(b, "key_bias", ndim=(1, 2))
        if b.shape[-1] != k.shape[-2] or (b.ndim == 2 and (not batched or b.shape[0] != k.shape[0])):
            raise ValueError(f"key_bias of shape {tuple(b.shape)} does not match keys of shape {tuple(k.shape)}")
    q, k, v, b = _unify(q, k, v, b)
    if not batched:
        q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
    if b is not None and b.ndim == 1:
        b = b.expand(k.shape[0], -1)
    if isinstance(scale, np.ndarray):
        scale = float(scale)
    out = _attend(q, k, v, scale, b, center=False)
    return back(out if batched else out.squeeze(0))


class SoftmaxForm(NamedTuple):
    """Arguments of :func:`softmax_attention` that reproduce an RBF attention step."""

    queries: object
    keys: object
    values: object
    scale: float
    key_bias: object


@implements("prop-rbf-softmax")
def rbf_as_softmax(queries, particles, bandwidth, weights=None) -> SoftmaxForm:
    r"""Rewrite RBF attention as softmax attention ({prf:ref}`prop-rbf-softmax`).

    :math:`-|z-p_j|^2/2h^2 = z \cdot p_j / h^2 - |p_j|^2/2h^2 - |z|^2/2h^2`; the last term is the
    same for every key and cancels in the softmax. Hence
    ``softmax_attention(*rbf_as_softmax(q, p, h, w)) == posterior_mean(q, p, h, w)`` with keys =
    values = particles, ``scale = 1/h^2`` and ``key_bias = -|p_j|^2/2h^2 + log w_j``. When all keys
    have the same norm and the weights are equal, the bias is constant and plain softmax attention
    with ``W_KQ = I/h^2`` is exact.

    Parameters
    ----------
    queries : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The queries, floating point.
    particles : numpy.ndarray or torch.Tensor, shape (M, n) or (B, M, n)
        The context (keys and values at once).
    bandwidth : float > 0
        The kernel bandwidth :math:`h`.
    weights : numpy.ndarray or torch.Tensor, shape (M,) or (B, M), optional
        Non-negative particle weights with a positive sum (uniform if omitted).

    Returns
    -------
    SoftmaxForm
        ``(queries, keys, values, scale, key_bias)``: the arguments of :func:`softmax_attention`,
        arrays of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``queries``, ``particles`` or ``weights`` is not a floating-point numpy array or torch
        tensor, if numpy and torch inputs are mixed, or if ``bandwidth`` is not a real number.
    ValueError
        If ``queries`` or ``particles`` is not 2-D or 3-D, is empty or holds a non-finite value, if
        their shapes disagree, if ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``, or if
        ``weights`` does not match the particles, has a negative entry or sums to zero.
    """
    (q, p, w), back = to_torch(queries=queries, particles=particles, weights=weights)
    batched = _as_batched(q, p, None, "queries", "particles", None)
    h = check_scale(bandwidth, "bandwidth")
    _check_weights(w, p, batched)
    bias = -0.5 * (p * p).sum(-1) / h**2
    if w is not None:
        bias = bias + torch.log(w.to(bias.dtype))
    return SoftmaxForm(back(q), back(p), back(p), 1.0 / h**2, back(bias))


@implements("prop-linear-attention-subspace")
def linear_attention(queries, keys, values, scale):
    r"""Linear attention :math:`F(z) = \frac{s}{M} \sum_j v_j\, (k_j \cdot z)` (no softmax).

    With keys = values = a clean context and :math:`s = 1/(s_0^2 + \sigma^2)` this is the
    plug-in Bayes denoiser of the linear-subspace task ({prf:ref}`prop-linear-attention-subspace`).
    """
    if values is None:
        raise TypeError("values must be a numpy array or a torch tensor, got NoneType")
    (q, k, v), back = to_torch(queries=queries, keys=keys, values=values)
    _as_batched(q, k, v, "queries", "keys", "values")  # checks the shapes agree
    s = check_positive(scale, "scale")
    q, k, v = _unify(q, k, v)
    gram = v.transpose(-1, -2) @ k / k.shape[-2]
    return back(s * q @ gram.transpose(-1, -2))


@implements("cor-empirical-tweedie")
def smoothed_log_density(z, particles, bandwidth, weights=None):
    r"""Log density of the smoothed empirical measure :math:`\mu_N * N(0, h^2 I)` at each point of ``z``.

    :math:`\log \sum_j \tilde w_j (2\pi h^2)^{-n/2} e^{-|z-p_j|^2/2h^2}` with normalised weights.
    Its gradient times :math:`h^2` is :math:`A_h(z) - z` ({prf:ref}`cor-empirical-tweedie`).

    Parameters
    ----------
    z : numpy.ndarray or torch.Tensor, shape (N, n) or (B, N, n)
        The points at which the density is evaluated, floating point.
    particles : numpy.ndarray or torch.Tensor, shape (M, n) or (B, M, n)
        The atoms :math:`p_j` of the empirical measure.
    bandwidth : float or 0-d tensor, > 0
        The smoothing bandwidth :math:`h`.
    weights : numpy.ndarray or torch.Tensor, shape (M,) or (B, M), optional
        Non-negative particle weights with a positive sum (uniform if omitted; normalised here).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N,) or (B, N)
        The log densities, of the caller's type (numpy or torch).

    Raises
    ------
    TypeError
        If ``z``, ``particles`` or ``weights`` is not a floating-point numpy array or torch tensor, if
        numpy and torch inputs are mixed, or if ``bandwidth`` is not a real number.
    ValueError
        If ``z`` or ``particles`` is not 2-D or 3-D, is empty or holds a non-finite value, if their
        shapes disagree, if ``bandwidth`` is not a finite number in ``[1e-150, 1e150]``, or if
        ``weights`` does not match the particles, has a negative entry or sums to zero.
    """
    (q, p, w), back = to_torch(z=z, particles=particles, weights=weights)
    batched = _as_batched(q, p, None, "z", "particles", None)
    _check_bandwidth(bandwidth)
    _check_weights(w, p, batched)
    h = float(bandwidth) if not isinstance(bandwidth, torch.Tensor) else bandwidth
    q, p, w = _unify(q, p, w)
    if not batched:
        q, p = q.unsqueeze(0), p.unsqueeze(0)
    if w is None:
        log_w = torch.full(p.shape[:2], -math.log(p.shape[1]), dtype=p.dtype, device=p.device)
    else:
        w = w.expand(p.shape[0], -1) if w.ndim == 1 else w
        log_w = torch.log(w) - torch.log(w.sum(-1, keepdim=True))
    d = q.shape[-1]
    centre = p.mean(dim=1, keepdim=True)
    differences = needs_differences(q - centre, p - centre, 1.0 / float(h) ** 2)
    rows = chunk_rows(p.shape[1] * (d if differences else 1), p.shape[0], p.element_size(), p.device)
    pieces = []
    for start in range(0, q.shape[1], rows):
        chunk = q[:, start:start + rows]
        if differences:  # from the coordinates as given: subtracting a centre would round them first
            diff2 = pairwise_squared_distances(chunk, p, differences)
        else:
            c = chunk.mean(dim=1, keepdim=True)  # centring: see _attend
            diff2 = pairwise_squared_distances(chunk - c, p - c, differences)
        pieces.append(torch.logsumexp(log_w.unsqueeze(1) - diff2 / (2 * h * h), dim=-1))
    out = torch.cat(pieces, dim=1) - 0.5 * d * torch.log(torch.as_tensor(2 * math.pi, dtype=q.dtype) * h * h)
    return back(out if batched else out.squeeze(0))
