"""A seed decides every number: global seeding, chapter streams, named streams, sign-fixed frames."""
import numpy as np
import pytest
import torch

import ebcore
from ebcore import seeding


def test_chapter_stream_is_seed_sequence_of_chapter_and_book_seed(monkeypatch):
    monkeypatch.setenv("EBCORE_SEED", "3")
    seeds = ebcore.chapter_seeds(5)
    expected = np.random.default_rng(np.random.SeedSequence([5, 3])).standard_normal(4)
    np.testing.assert_array_equal(seeds.rng.standard_normal(4), expected)
    monkeypatch.setenv("EBCORE_SEED", "4")
    assert ebcore.chapter_seeds(5).seed("x") != seeds.seed("x")


def test_named_streams_are_independent_of_order_and_of_each_other(monkeypatch):
    monkeypatch.delenv("EBCORE_SEED", raising=False)
    a = seeding.ChapterSeeds(2)
    first = a.generator("check-a").standard_normal(3)
    a.rng.standard_normal(100)  # draws elsewhere do not move a named stream
    np.testing.assert_array_equal(a.generator("check-a").standard_normal(3), first)
    assert not np.array_equal(a.generator("check-b").standard_normal(3), first)
    assert seeding.ChapterSeeds(2).seed("s") == a.seed("s") and 0 <= a.seed("s") < 2**31
    assert ebcore.book_seed("ensembles") == seeding.ChapterSeeds(0).seed("ensembles")


def test_name_words_are_stable():
    # SHA-256 based: fixed across processes and machines (Python's hash() of a str is not)
    assert seeding.name_words("ensembles") == seeding.name_words("ensembles")
    assert seeding.name_words("abc")[0] == int.from_bytes(bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")[:4], "little")


@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_bad_book_seed_is_refused(monkeypatch, value):
    monkeypatch.setenv("EBCORE_SEED", value)
    with pytest.raises(ValueError, match="EBCORE_SEED"):
        ebcore.chapter_seeds(1)


@pytest.mark.parametrize("bad", [-1, 1.0, True, "2"])
def test_bad_chapter_is_refused(bad):
    with pytest.raises(ValueError, match="chapter"):
        seeding.ChapterSeeds(bad)


def _gram_schmidt(a):
    q = np.zeros_like(a)
    for j in range(a.shape[1]):
        v = a[:, j] - q[:, :j] @ (q[:, :j].T @ a[:, j])
        v = v - q[:, :j] @ (q[:, :j].T @ v)
        q[:, j] = v / np.linalg.norm(v)
    return q


def test_random_frame_is_the_unique_positive_qr_factor():
    # Gram-Schmidt gives the Q with positive diag(R) without any sign choice of a LAPACK build.
    frame = seeding.random_orthonormal(7, 4, np.random.default_rng(11))
    draw = np.random.default_rng(11).standard_normal((7, 4))
    np.testing.assert_allclose(frame, _gram_schmidt(draw), atol=1e-12)
    np.testing.assert_allclose(frame.T @ frame, np.eye(4), atol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: seeding.random_orthonormal(0, 1, 0), ValueError, "n"),
    (lambda: seeding.random_orthonormal(3, 4, 0), ValueError, "k"),
    (lambda: seeding.random_orthonormal(3, 2.0, 0), TypeError, "k"),
    (lambda: seeding.random_orthonormal(3, 2, "seed"), TypeError, "rng"),
    (lambda: seeding.name_words(""), ValueError, "name"),
    (lambda: seeding.name_words(3), ValueError, "name"),
    (lambda: seeding.ChapterSeeds(1, seed=-2), ValueError, "seed"),
    (lambda: seeding.ChapterSeeds(1).generator(""), ValueError, "name"),
    (lambda: ebcore.book_seed(None), ValueError, "name"),
])
def test_seeding_helpers_name_the_bad_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_seed_everything_makes_runs_repeat():
    first = ebcore.seed_everything(3)
    a = (first.standard_normal(3), np.random.rand(2), torch.rand(2))
    second = ebcore.seed_everything(3)
    b = (second.standard_normal(3), np.random.rand(2), torch.rand(2))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    with pytest.raises(ValueError, match="seed"):
        ebcore.seed_everything(-1)
    with pytest.raises(TypeError, match="rng"):
        ebcore.as_generator(1.5)
