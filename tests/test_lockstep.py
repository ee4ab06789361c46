"""The lockstep ensemble engine (chapter 9): a member of a batched block is the member trained alone."""
import numpy as np
import pytest
import torch

from ebcore import ensembles, lockstep, nets, training

#: Float64 rounding of the batched kernels against the solo ones, grown over 5 epochs, is about 1e-13
#: relative (measured: at most 4e-14 over the four networks and two optimizers); 1e-8 leaves five orders
#: of magnitude, while a member that took another step length (a flipped line-search comparison, a
#: wrong member's data or memory) differs by 1e-3 or more.
SAME_RUN = 1e-8


@pytest.mark.parametrize("optimizer", ["lbfgs_gss", "sgd"])
@pytest.mark.parametrize("architecture", nets.ARCHITECTURES)
def test_a_member_of_a_block_follows_its_solo_run(architecture, optimizer):
    task = nets.DigitsTask(architecture, dtype=torch.float64)
    spec = ensembles.optimizer_spec(architecture, optimizer)
    seeds = [3, 4, 5]
    block = lockstep.train_block(task, spec, seeds, epochs=5, cache=False, progress=False)
    for seed, member in zip(seeds, block):
        alone = training.train(task.make_model(seed), task, spec, epochs=5, seed=seed, cache=False, progress=False)
        for kind in ("final", "train"):
            a, b = member.solutions[kind], alone.solutions[kind]
            assert np.linalg.norm(a - b) <= SAME_RUN * np.linalg.norm(b), (seed, kind)
        assert member.evaluations == alone.evaluations, seed
        np.testing.assert_allclose(member.curves["train"], alone.curves["train"], rtol=SAME_RUN)
        assert member.best_epoch == alone.best_epoch


def test_the_line_searches_really_run_in_lockstep():
    # the equivalence above means something for L-BFGS-GSS only if members' searches end at
    # different rounds: the FCP's seeds 3, 4, 5 take 35, 35 and 33 evaluations in 5 epochs
    task = nets.DigitsTask("fcp")
    block = lockstep.train_block(task, ensembles.optimizer_spec("fcp", "lbfgs_gss"), [3, 4, 5], epochs=5,
                                 cache=False, progress=False)
    assert len({run.evaluations["loss"] for run in block}) > 1


def test_a_block_resumes_exactly_from_its_checkpoint(isolated_cache, monkeypatch):
    task = nets.DigitsTask("autoencoder")
    spec = ensembles.optimizer_spec("autoencoder", "lbfgs_gss")
    whole = lockstep.train_block(task, spec, [0, 1], epochs=4, cache=False, progress=False)

    original = lockstep._Block._record

    def crash_after_epoch_3(self, epoch):
        original(self, epoch)
        if epoch == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(lockstep._Block, "_record", crash_after_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        lockstep.train_block(task, spec, [0, 1], epochs=4, cache=isolated_cache, checkpoint_every=1, progress=False)
    monkeypatch.setattr(lockstep._Block, "_record", original)
    epochs_run = []
    lbfgs_epoch = lockstep._Block._lbfgs_epoch
    monkeypatch.setattr(lockstep._Block, "_lbfgs_epoch", lambda self: (epochs_run.append(1), lbfgs_epoch(self)))
    resumed = lockstep.train_block(task, spec, [0, 1], epochs=4, cache=isolated_cache, checkpoint_every=1,
                                   progress=False)
    assert len(epochs_run) == 2  # the crash came before epoch 3 was checkpointed: epochs 1 and 2 were loaded
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a.solutions["final"], b.solutions["final"])
        assert a.evaluations == b.evaluations
    loaded = lockstep.train_block(task, spec, [0, 1], epochs=4, cache=isolated_cache, progress=False)
    assert all(run.from_cache for run in loaded)
    np.testing.assert_array_equal(loaded[1].solutions["final"], whole[1].solutions["final"])


def test_blocks_not_workers_decide_the_numbers(isolated_cache):
    one = ensembles.train_ensemble("fcp", "sgd", n_runs=4, n_keep=4, epochs=1, block_size=2, n_jobs=1)
    isolated_cache.clear()
    two = ensembles.train_ensemble("fcp", "sgd", n_runs=4, n_keep=4, epochs=1, block_size=2, n_jobs=2)
    np.testing.assert_array_equal(one.seeds, two.seeds)
    np.testing.assert_allclose(one.solutions["final"], two.solutions["final"], rtol=1e-12, atol=0)


def test_the_optimizers_ensembles_share_no_initialisation(isolated_cache):
    lbfgs = ensembles.train_ensemble("fcp", "lbfgs_gss", n_runs=2, n_keep=2, epochs=1, n_jobs=1)
    sgd = ensembles.train_ensemble("fcp", "sgd", n_runs=2, n_keep=2, epochs=1, n_jobs=1)
    assert not set(lbfgs.seeds) & set(sgd.seeds)
    shared = ensembles.train_ensemble("fcp", "sgd", n_runs=2, n_keep=2, epochs=1, n_jobs=1, seed_offset=0)
    np.testing.assert_array_equal(shared.seeds, lbfgs.seeds)


def test_train_block_refuses_what_it_cannot_batch():
    task = nets.DigitsTask("fcp")
    with pytest.raises(ValueError, match="spec"):
        lockstep.train_block(task, training.adam(), [0], epochs=1, cache=False)
    with pytest.raises(ValueError, match="seeds"):
        lockstep.train_block(task, training.sgd(0.1), [0, 0], epochs=1, cache=False)
    with pytest.raises(ValueError, match="seeds"):
        lockstep.train_block(task, training.sgd(0.1), [], epochs=1, cache=False)
    with pytest.raises(TypeError, match="seeds"):
        lockstep.train_block(task, training.sgd(0.1), "01", epochs=1, cache=False)


def test_an_ensemble_trained_on_a_dask_cluster_equals_the_local_one(isolated_cache):
    import distributed  # a requirement: a missing install fails here rather than skipping
    local = ensembles.train_ensemble("autoencoder", "sgd", n_runs=4, n_keep=3, epochs=2, block_size=2, n_jobs=1)
    isolated_cache.clear()
    # worker processes on this machine, loopback only, no dashboard; they inherit EBCORE_CACHE (the
    # temporary cache the fixture set), so the cluster's runs land in the cache this test reads
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        remote = ensembles.train_ensemble("autoencoder", "sgd", n_runs=4, n_keep=3, epochs=2, block_size=2,
                                          n_jobs=2, backend="dask")
    np.testing.assert_array_equal(local.seeds, remote.seeds)
    np.testing.assert_allclose(remote.solutions["final"], local.solutions["final"], rtol=1e-12, atol=0)
    assert len(list(isolated_cache.root.rglob("*.npz"))) >= 4  # each member stored by a worker
