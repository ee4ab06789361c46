"""One seed for every random number generator the book uses.

A chapter's numbers are decided by two integers: the chapter's number ``c`` and the book seed
``k`` (``EBCORE_SEED``, default 0, which gives the published numbers). :func:`chapter_seeds`
turns them into a :class:`ChapterSeeds`, whose main generator draws from
``SeedSequence([c, k])`` and whose named streams (one per check cell, one per library call that
takes a seed) draw from ``SeedSequence([c, k, *words(name)])``: adding a draw in one cell never
changes the numbers of another. Results shared between chapters (Part II's ensembles) use
``c = 0``, :func:`book_seed`.

Samples never depend on an arbitrary choice of an implementation: random frames come from QR
with the signs fixed (:func:`random_orthonormal`), Gaussians from their symmetric square root
(see :mod:`ebcore.priors`).
"""
from __future__ import annotations

import hashlib
import numbers
import os
import random

import numpy as np
import torch

__all__ = ["seed_everything", "as_generator", "current_seed", "chapter_seeds", "ChapterSeeds",
           "book_seed", "name_words", "random_orthonormal"]


def current_seed() -> int:
    """The book seed ``k`` from ``EBCORE_SEED`` (default 0, the published numbers)."""
    value = os.environ.get("EBCORE_SEED", "0").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"EBCORE_SEED must be a non-negative integer, got {value!r}")
    return int(value)


def name_words(name: str) -> list[int]:
    """A stream name as four 32-bit words (SHA-256): stable across machines, Python versions and runs.

    Python's ``hash`` of a string changes from process to process, so it cannot name a stream.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


class ChapterSeeds:
    """The random streams of one chapter (see the module docstring).

    ``rng`` is the chapter's main generator; ``generator(name)`` a fresh generator of the named
    stream; ``seed(name)`` an integer seed of the named stream for library functions that take one.
    """

    def __init__(self, chapter: int, seed: int | None = None):
        if isinstance(chapter, bool) or not isinstance(chapter, (numbers.Integral, np.integer)) or chapter < 0:
            raise ValueError(f"chapter must be a non-negative integer, got {chapter!r}")
        if seed is None:
            seed = current_seed()
        if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.chapter, self.book_seed = int(chapter), int(seed)
        self.rng = np.random.default_rng(np.random.SeedSequence([self.chapter, self.book_seed]))

    def _sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.chapter, self.book_seed, *name_words(name)])

    def generator(self, name: str) -> np.random.Generator:
        """A generator of the stream ``name``, independent of every other stream.

        Parameters
        ----------
        name : str
            The stream's name (non-empty), e.g. the check's label.

        Returns
        -------
        numpy.random.Generator
            A fresh generator drawing from ``SeedSequence([c, k, *words(name)])``: the same name gives
            the same numbers at every call.

        Raises
        ------
        ValueError
            If ``name`` is not a non-empty string.
        """
        return np.random.default_rng(self._sequence(name))

    def seed(self, name: str) -> int:
        """An integer seed (0 <= seed < 2**31) of the stream ``name``, for a library call.

        Parameters
        ----------
        name : str
            The stream's name (non-empty).

        Returns
        -------
        int
            A seed in ``[0, 2**31)``, the same for the same name.

        Raises
        ------
        ValueError
            If ``name`` is not a non-empty string.
        """
        return int(self._sequence(name).generate_state(1, np.uint32)[0] >> 1)

    def __repr__(self) -> str:
        return f"ChapterSeeds(chapter={self.chapter}, seed={self.book_seed})"


def chapter_seeds(chapter: int) -> ChapterSeeds:
    """The streams of chapter ``chapter`` under the book seed ``EBCORE_SEED``; also seeds the global generators.

    Seeding Python's, numpy's and torch's global state too keeps any code that still reads it
    (a plotting helper, torch's default initialisation) decided by the same two numbers.

    Parameters
    ----------
    chapter : int >= 0
        The chapter's number ``c``.

    Returns
    -------
    ChapterSeeds
        The chapter's streams: ``rng``, ``generator(name)`` and ``seed(name)``.

    Raises
    ------
    ValueError
        If ``chapter`` is not a non-negative integer, or ``EBCORE_SEED`` is not a non-negative
        integer.
    """
    seeds = ChapterSeeds(chapter)
    seed_everything(int(seeds._sequence("global state").generate_state(1, np.uint32)[0]))
    return seeds


def book_seed(name: str) -> int:
    """An integer seed for a result that several chapters share (``c = 0``), e.g. Part II's ensembles.

    Parameters
    ----------
    name : str
        The shared stream's name (non-empty).

    Returns
    -------
    int
        A seed in ``[0, 2**31)``, decided by ``name`` and ``EBCORE_SEED`` alone.

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty string, or ``EBCORE_SEED`` is not a non-negative integer.
    """
    return ChapterSeeds(0).seed(name)


def random_orthonormal(n: int, k: int, rng) -> np.ndarray:
    """``k`` orthonormal columns in R^n spanning a uniformly random subspace, shape ``(n, k)``.

    QR of a Gaussian matrix with the signs of ``R``'s diagonal made positive: that factorisation is
    unique, so the frame depends only on the draws (not on the LAPACK build's sign choices), and its
    law is exactly Haar (Mezzadri 2007).

    Parameters
    ----------
    n : int >= 1
        The ambient dimension.
    k : int, 1 <= k <= n
        The number of columns.
    rng : numpy.random.Generator or int
        Source of the Gaussian matrix (a generator, or a non-negative integer seed).

    Returns
    -------
    numpy.ndarray, shape (n, k)
        The orthonormal frame.

    Raises
    ------
    TypeError
        If ``n`` or ``k`` is not an integer, or ``rng`` is neither a numpy Generator nor an integer
        seed.
    ValueError
        If ``n < 1``, ``k`` is outside ``[1, n]``, or ``rng`` is a negative seed.
    """
    from .validation import check_int

    n = check_int(n, "n", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=n)
    q, r = np.linalg.qr(as_generator(rng).standard_normal((n, k)))
    signs = np.sign(np.diag(r))
    return q * np.where(signs == 0, 1.0, signs)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, numpy's and torch's global generators; return a fresh numpy Generator.

    Chapters call this once in their import cell, so every executed cell is reproducible.
    Library functions never rely on the global state: they take an ``rng`` argument.
    """
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """Coerce ``rng`` (a numpy Generator or a non-negative integer seed) to a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be a numpy Generator or an integer seed, got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative integer seed, got {rng}")
    return np.random.default_rng(int(rng))
