r"""Trainable attention-only denoisers (chapter 8).

:class:`AttentionDenoiser` is the minimal transformer of Part I: ``depth`` residual attention
layers over the noisy tokens (Stage 1) and a final attention step whose query is the noisy input,
brought back by a long skip connection (Stage 2). Its parameters are the query, key and value maps
and the residual step of each layer; :meth:`AttentionDenoiser.from_theory` sets them to the
construction of {prf:ref}`thm-stage-two`, where the model computes
:func:`ebcore.dynamics.two_stage_denoise` exactly. :class:`OneLayerDenoiser` is the predecessor
paper's model (clean context, noisy query). The tasks they are trained on are in :mod:`ebcore.tasks`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import implements
from .validation import check_array, check_choice, check_int, check_positive, check_scale

__all__ = ['ATTENTION_KERNELS', 'AttentionDenoiser', 'OneLayerDenoiser']


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

    Parameters
    ----------
    dim : int >= 1
        The tokens' dimension.
    depth : int >= 0
        The number of residual layers (Stage 1).
    kernel : str
        One of :data:`ATTENTION_KERNELS`: ``"gaussian"`` or ``"softmax"``.
    tied : bool
        Share one set of layer parameters across all layers.
    skip : bool
        Feed the noisy input to the final step as its query (the long skip connection).
    seed : int >= 0
        Seeds the random initial maps (each entry :math:`N(0, 1/\text{dim})`; every step 0.1).
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``.

    Raises
    ------
    TypeError
        If ``dim``, ``depth`` or ``seed`` is not an integer, ``tied`` or ``skip`` is not a bool, or
        ``dtype`` is neither ``torch.float32`` nor ``torch.float64``.
    ValueError
        If ``dim < 1``, ``depth < 0``, ``kernel`` is unknown, or ``seed`` is negative.
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

    @implements("prop-theory-setting")
    @classmethod
    def from_theory(cls, depth: int, bandwidth, step, query_bandwidth, dim: int, *, kernel: str = "gaussian",
                    tied: bool = False, dtype: torch.dtype = torch.float64) -> "AttentionDenoiser":
        r"""The Stage 1 / Stage 2 construction: :math:`Q_\ell = K_\ell = I/h`, :math:`V_\ell = I`,
        :math:`\eta_\ell = \eta`; final :math:`Q = K = I/h_q`, :math:`V = I`, with the skip
        connection. With the Gaussian kernel it computes
        ``ebcore.two_stage_denoise(y, bandwidth, step, depth, query_bandwidth)`` ({prf:ref}`thm-stage-two`).

        Parameters
        ----------
        depth : int >= 0
            The number of residual layers.
        bandwidth : float > 0
            Stage 1's bandwidth :math:`h`.
        step : float > 0
            The residual step :math:`\eta` of every layer.
        query_bandwidth : float > 0
            Stage 2's bandwidth :math:`h_q`.
        dim : int >= 1
            The tokens' dimension.
        kernel : str
            One of :data:`ATTENTION_KERNELS`.
        tied : bool
            Share one set of layer parameters across all layers.
        dtype : torch.dtype
            ``torch.float32`` or ``torch.float64``.

        Returns
        -------
        AttentionDenoiser
            The model with the theory's parameters.

        Raises
        ------
        TypeError
            If ``bandwidth``, ``step`` or ``query_bandwidth`` is not a real number, ``depth`` or ``dim`` is
            not an integer, ``tied`` is not a bool, or ``dtype`` is neither ``torch.float32`` nor
            ``torch.float64``.
        ValueError
            If ``bandwidth`` or ``query_bandwidth`` is not a finite number in ``[1e-150, 1e150]``, ``step``
            is not a finite number > 0, ``depth < 0``, ``dim < 1``, or ``kernel`` is unknown.
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
        """Denoise the tokens with Stage 1's ``depth`` layers, then the final attention step.

        Parameters
        ----------
        tokens : torch.Tensor, shape (N, dim) or (B, N, dim)
            The noisy tokens, of the model's dtype.

        Returns
        -------
        torch.Tensor
            The denoised tokens, shaped like ``tokens``.

        Raises
        ------
        TypeError
            If ``tokens`` is not a torch tensor of the model's dtype.
        ValueError
            If ``tokens`` is not of shape ``(N, dim)`` or ``(B, N, dim)``, is empty or holds a non-finite
            value.
        """
        self._check_tokens(tokens)
        refined = self._refine(tokens)
        queries = tokens if self.skip else refined
        return _attend(queries, refined, self.final_query, self.final_key, self.final_value, self.kernel)


@implements("prop-attention-symmetries")
class OneLayerDenoiser(nn.Module):
    r"""The predecessor paper's one-layer model: clean context tokens, one noisy query.

    Input ``(B, L + 1, n)``: ``L`` context tokens followed by the noisy query :math:`y`. Softmax
    attention returns :math:`W_{PV}\sum_t \operatorname{softmax}_t(\langle x_t, W_{KQ}\,y\rangle)\, x_t`;
    linear attention returns :math:`W_{PV}\,\frac1L \sum_t x_t \langle x_t, W_{KQ}\, y\rangle`. The
    predecessor's optima are :math:`W_{PV} = aI`, :math:`W_{KQ} = bI`. Output ``(B, n)``.

    Parameters
    ----------
    dim : int >= 1
        The tokens' dimension ``n``.
    attention : str
        ``"softmax"`` or ``"linear"``.
    seed : int >= 0
        Seeds the random initial ``value`` and ``key_query`` maps (entries :math:`N(0, 1/n)`).
    dtype : torch.dtype
        The parameters' floating dtype.

    Raises
    ------
    TypeError
        If ``dim`` or ``seed`` is not an integer.
    ValueError
        If ``dim < 1``, ``attention`` is unknown, or ``seed`` is negative.
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
        """Estimate each sequence's clean query from its context and its noisy query.

        Parameters
        ----------
        tokens : torch.Tensor, shape (B, L + 1, dim)
            ``L >= 1`` clean context tokens followed by the noisy query, of the model's dtype.

        Returns
        -------
        torch.Tensor, shape (B, dim)
            The estimates of the clean queries.

        Raises
        ------
        TypeError
            If ``tokens`` is not a torch tensor of the model's dtype.
        ValueError
            If ``tokens`` is not of shape ``(B, L + 1, dim)`` with ``L >= 1``, or holds a non-finite value.
        """
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
