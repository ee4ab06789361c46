"""A seed decides every number: chapter streams, sign-fixed frames, Gaussian samples."""
import numpy as np
import pytest
import scipy.linalg
import torch

import ebcore
from ebcore import priors, seeding


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


def test_gaussian_samples_do_not_depend_on_the_eigenbasis():
    # cov = 2 I has one eigenvalue of multiplicity 4: any rotation is an eigenbasis, the samples
    # must be mean + sqrt(2) z all the same.
    g = priors.Gaussian(np.ones(4), 2 * np.eye(4))
    z = np.random.default_rng(5).standard_normal((6, 4))
    np.testing.assert_allclose(g.sample(6, 5), 1 + np.sqrt(2) * z, rtol=1e-13)
    a = np.random.default_rng(1).standard_normal((5, 5))
    cov = a @ a.T
    g = priors.Gaussian(np.zeros(5), cov)
    z = np.random.default_rng(2).standard_normal((3, 5))
    np.testing.assert_allclose(g.sample(3, 2), z @ np.real(scipy.linalg.sqrtm(cov)), rtol=1e-9, atol=1e-12)


def test_subspace_samples_come_through_the_defining_basis():
    p = priors.Subspace(6, 2, 1.5, np.random.default_rng(0))
    z = np.random.default_rng(9).standard_normal((4, 2))
    np.testing.assert_allclose(p.sample(4, 9), 1.5 * z @ p.basis.T, rtol=1e-14)
    np.testing.assert_allclose(p.basis, seeding.random_orthonormal(6, 2, np.random.default_rng(0)))


def test_monte_carlo_min_ess_redraws_tail_queries():
    prior = priors.Gaussian(np.zeros(2), np.eye(2))
    y = np.array([[0.0, 0.0], [4.0, 4.0]])  # the second is far in the tail
    _, _, ess = priors.monte_carlo_posterior_mean(prior, y, 1.0, 2_000, 0)
    assert ess[1] < 100
    est, se, ess = priors.monte_carlo_posterior_mean(prior, y, 1.0, 2_000, 0, min_ess=100, max_doublings=8)
    assert ess.min() >= 100
    z = (est - prior.posterior_mean(y, 1.0)) / se
    assert np.abs(z).max() < 5
    with pytest.raises(ValueError, match="min_ess"):
        priors.monte_carlo_posterior_mean(prior, y, 0.3, 2_000, 0, min_ess=0.0)


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


@pytest.mark.parametrize("call, error, match", [
    (lambda: ebcore.validation.check_scale(0.0, "bandwidth"), ValueError, "bandwidth"),
    (lambda: ebcore.validation.check_scale(float("nan"), "sigma"), ValueError, "sigma"),
    (lambda: ebcore.validation.check_scale("1", "sigma"), TypeError, "sigma"),
    (lambda: ebcore.validation.check_int_sequence("123", "sizes"), TypeError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([1, 2.0], "sizes"), TypeError, r"sizes\[1\]"),
    (lambda: ebcore.validation.check_int_sequence(np.ones((2, 2), int), "sizes"), ValueError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([], "sizes"), ValueError, "sizes"),
    (lambda: ebcore.validation.check_int_sequence([1], "sizes", minimum=2), ValueError, r"sizes\[0\]"),
    (lambda: ebcore.validation.check_seed(-1), ValueError, "seed"),
    (lambda: ebcore.validation.check_seed([0, 0.5]), TypeError, r"seed\[1\]"),
])
def test_validation_helpers_name_the_bad_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_validation_helpers_return_clean_values():
    assert ebcore.validation.check_scale(np.float32(0.5), "h") == 0.5
    assert ebcore.validation.check_int_sequence(np.array([2, 3]), "sizes") == [2, 3]
    assert ebcore.validation.check_seed([1, 2]) == [1, 2] and ebcore.validation.check_seed(3) == 3


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
