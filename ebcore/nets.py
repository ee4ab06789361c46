"""The four classic architectures of Yu and Morozov (2026), sized for scikit-learn's digits.

The paper trains on MNIST (28 x 28). The book ships no downloads, so it uses the 1,797
handwritten digits (8 x 8, 17 grey levels, 10 classes) that come with scikit-learn, split once
into stratified train / validation / test sets (60 / 20 / 20 %, seed 0). Pixels are scaled to
``[0, 1]``. The networks keep the paper's structure with the input sizes scaled down:

``fcp``
    fully connected 64-50-50-10 without biases, softplus activations (the paper says ReLU, its
    notebooks use softplus; softplus keeps the landscape smooth for L-BFGS and for paths).
``lenet``
    LeNet-style, with LeNet-5's unpadded ("valid") convolutions: conv 1->6 (3 x 3) -> softplus
    -> average pool 2 (8 -> 6 -> 3); conv 6->16 (2 x 2) -> softplus -> average pool 2
    (3 -> 2 -> 1); then 16 -> 120 -> 84 -> 10 with softplus (LeNet-5's 5 x 5 kernels do not fit
    twice into 8 x 8 pixels).
``lstm``
    the 64 pixels permuted once (seed 0) and read as 8 steps of 8 features; one LSTM layer with
    48 hidden units; a linear 10-way head without bias on the last hidden state.
``autoencoder``
    64-32-32 encoder and 32-32-64 decoder without biases, softplus inside, sigmoid output,
    mean-squared reconstruction loss: the paper's widths (784-32-32 / 32-32-784, no narrower
    bottleneck) with the digits' 64 inputs.

The classifiers use the mean cross-entropy. Models are float64 (losses near the paper's
``1e-8`` train losses are resolved, and the golden-section search sees the tiny loss changes of
the first steps from a flat initialisation, which float32 rounds away for the CNN), except the
LSTM, which is float32 (three times faster on a CPU; its L-BFGS runs still reach ``1e-8``):
:data:`DEFAULT_DTYPES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from .validation import check_choice, check_int, check_int_sequence

__all__ = ["ARCHITECTURES", "DEFAULT_DTYPES", "SPLITS", "digits", "make_net", "parameter_count", "parameter_counts",
           "DigitsTask", "FullyConnected", "LeNet8", "PixelLSTM", "Autoencoder", "DISPLAY_NAMES"]

ARCHITECTURES = ("fcp", "lenet", "lstm", "autoencoder")
#: How the chapters name each architecture in tables and figures.
DISPLAY_NAMES = {"fcp": "FCP", "lenet": "LeNet", "lstm": "LSTM", "autoencoder": "autoencoder"}
#: The floating-point type each architecture trains in (see the module docstring).
DEFAULT_DTYPES = {"fcp": torch.float64, "lenet": torch.float64, "lstm": torch.float32,
                  "autoencoder": torch.float64}
SPLITS = ("train", "validation", "test")
_SPLIT_SEED = 0
_PERMUTATION_SEED = 0


@lru_cache(maxsize=1)
def _digits_numpy():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float64)
    y = data.target.astype(np.int64)
    index = np.arange(len(y))
    train, rest = train_test_split(index, train_size=0.6, stratify=y, random_state=_SPLIT_SEED)
    validation, test = train_test_split(rest, train_size=0.5, stratify=y[rest], random_state=_SPLIT_SEED)
    return x, y, {"train": np.sort(train), "validation": np.sort(validation), "test": np.sort(test)}


def digits(split: str, dtype: torch.dtype = torch.float64):
    """Images ``(n, 64)`` in ``[0, 1]`` and labels ``(n,)`` of one split of the digits data.

    The split is fixed (stratified, seed 0): 1,078 train, 359 validation, 360 test images.
    """
    check_choice(split, "split", SPLITS)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    x, y, index = _digits_numpy()
    rows = index[split]
    return torch.tensor(x[rows], dtype=dtype), torch.tensor(y[rows])


class FullyConnected(nn.Module):
    """64-50-50-10 without biases, softplus activations."""

    def __init__(self, sizes=(64, 50, 50, 10)):
        sizes = check_int_sequence(sizes, "sizes", minimum=1, min_length=2)
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = nn.functional.softplus(layer(x))
        return self.layers[-1](x)


class LeNet8(nn.Module):
    """A LeNet-style CNN for 8 x 8 images (see the module docstring for the sizes)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=3)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=2)
        self.fc1 = nn.Linear(16, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        # PyTorch's default initialisation shrinks the signal by about 3x per layer here (fan-ins
        # of 9 to 120, softplus slope 1/2 at 0), so every logit starts equal and SGD sits on the
        # plateau at log(10). He initialisation (variance 2 / fan-in, zero biases) keeps it alive.
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2, self.fc3):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        act = nn.functional.softplus
        x = x.reshape(-1, 1, 8, 8)
        x = nn.functional.avg_pool2d(act(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(act(self.conv2(x)), 2)
        x = act(self.fc1(x.flatten(1)))
        x = act(self.fc2(x))
        return self.fc3(x)


def _is_batched(tensor) -> bool:
    """Whether ``tensor`` is one of torch.func.vmap's batched tensors (inside a vmapped function)."""
    return bool(torch._C._functorch.is_batchedtensor(tensor))


class PixelLSTM(nn.Module):
    """Permuted pixels as 8 steps of 8 features, LSTM with 48 hidden units, bias-free head."""

    def __init__(self, hidden: int = 48):
        super().__init__()
        permutation = np.random.default_rng(_PERMUTATION_SEED).permutation(64)
        self.register_buffer("permutation", torch.as_tensor(permutation), persistent=False)
        self.lstm = nn.LSTM(input_size=8, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10, bias=False)

    def forward(self, x):
        x = x[:, self.permutation].reshape(-1, 8, 8)
        lstm = self.lstm
        if not (_is_batched(lstm.weight_ih_l0) or _is_batched(x)):
            _, (h, _) = lstm(x)  # one network: PyTorch's fused kernel (1.6 times faster on a CPU)
            return self.head(h[-1])
        # Under torch.func.vmap (many parameter vectors: path points, lockstep ensemble members) the
        # recurrence is written out, PyTorch's gate order i, f, g, o with its parameters: vmap has no
        # batching rule for aten::lstm. The two agree to rounding (5e-17 in float64).
        hidden = lstm.hidden_size
        inputs = x @ lstm.weight_ih_l0.T + (lstm.bias_ih_l0 + lstm.bias_hh_l0)
        recurrent = lstm.weight_hh_l0.T
        # the first step has h = c = 0
        i, f, g, o = inputs[:, 0].split(hidden, dim=1)
        c = torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        for step in range(1, inputs.shape[1]):
            gates = inputs[:, step] + h @ recurrent
            i, f, g, o = gates.split(hidden, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return self.head(h)


class Autoencoder(nn.Module):
    """64-32-32 / 32-32-64 without biases (the paper's widths), softplus inside, sigmoid output."""

    def __init__(self, sizes=(64, 32, 32)):
        sizes = check_int_sequence(sizes, "sizes", minimum=1, min_length=2)
        super().__init__()
        enc = list(sizes)
        dec = enc[::-1]
        self.encoder = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(enc[:-1], enc[1:]))
        self.decoder = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dec[:-1], dec[1:]))

    def forward(self, x):
        for layer in self.encoder:
            x = nn.functional.softplus(layer(x))
        for layer in self.decoder[:-1]:
            x = nn.functional.softplus(layer(x))
        return torch.sigmoid(self.decoder[-1](x))


_CLASSES = {"fcp": FullyConnected, "lenet": LeNet8, "lstm": PixelLSTM, "autoencoder": Autoencoder}


def make_net(architecture: str, seed: int, dtype: torch.dtype | None = None) -> nn.Module:
    """A freshly initialised network under ``seed`` (PyTorch's default initialisation; He initialisation for the LeNet)."""
    check_choice(architecture, "architecture", ARCHITECTURES)
    seed = check_int(seed, "seed", minimum=0)
    dtype = DEFAULT_DTYPES[architecture] if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _CLASSES[architecture]()
    return model.to(dtype)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_counts() -> dict:
    """``{architecture: number of parameters}`` for the four networks.

    Returns
    -------
    dict
        ``{architecture: int}`` for each of ``ARCHITECTURES`` (``"fcp"``, ``"lenet"``, ``"lstm"``,
        ``"autoencoder"``), in order: the trainable parameters of a freshly built network.
    """
    return {name: parameter_count(make_net(name, 0)) for name in ARCHITECTURES}


@dataclass(frozen=True)
class DigitsTask:
    """One architecture's learning problem on the digits data, for :func:`ebcore.training.train`.

    ``inputs(split)`` and ``targets(split)`` give the tensors of a split; ``loss(outputs,
    targets)`` is the mean cross-entropy for the classifiers and the mean squared
    reconstruction error for the autoencoder (whose targets are its inputs).

    Parameters
    ----------
    architecture : str
        One of ``ARCHITECTURES`` (``"fcp"``, ``"lenet"``, ``"lstm"``, ``"autoencoder"``).
    dtype : torch.dtype, optional
        ``torch.float32`` or ``torch.float64``; by default the architecture's
        (:data:`DEFAULT_DTYPES`).

    Raises
    ------
    TypeError
        If ``dtype`` is neither ``torch.float32`` nor ``torch.float64``.
    ValueError
        If ``architecture`` is not one of ``ARCHITECTURES``.

    Notes
    -----
    The split's tensors come from ``data(split)``, which returns ``(inputs, targets)``: images
    ``(n, 64)`` and labels ``(n,)`` for the classifiers, the images twice for the autoencoder.
    """

    architecture: str
    dtype: torch.dtype | None = None

    def __post_init__(self):
        check_choice(self.architecture, "architecture", ARCHITECTURES)
        if self.dtype is None:
            object.__setattr__(self, "dtype", DEFAULT_DTYPES[self.architecture])
        if self.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")

    def data(self, split: str):
        x, y = digits(split, self.dtype)
        return (x, x) if self.architecture == "autoencoder" else (x, y)

    def loss(self, outputs, targets):
        if self.architecture == "autoencoder":
            return nn.functional.mse_loss(outputs, targets)
        return nn.functional.cross_entropy(outputs, targets)

    def make_model(self, seed: int) -> nn.Module:
        """A freshly initialised network of the task's architecture and dtype (see :func:`make_net`).

        Parameters
        ----------
        seed : int >= 0
            The initialisation seed (PyTorch's default initialisation under it; He initialisation for the LeNet).

        Returns
        -------
        torch.nn.Module
            The network.

        Raises
        ------
        TypeError
            If ``seed`` is not an integer.
        ValueError
            If ``seed`` is negative.
        """
        return make_net(self.architecture, seed, self.dtype)

    def config(self) -> dict:
        return {"task": "digits", "architecture": self.architecture, "dtype": str(self.dtype),
                "split_seed": _SPLIT_SEED}
