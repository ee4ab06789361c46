"""Benchmark cases for training ensembles in lockstep (chapter 9, :mod:`ebcore.lockstep`).

For each architecture and optimizer, a few epochs of 48 members trained as one block
(:func:`ebcore.lockstep.train_block`, stacked parameters, batched losses) against the same epochs of
one member alone through the same engine. The ratio is time(one member) / time(48 members); the
targets: 48 FCP members in at most 4x one member's time for SGD (ratio >= 0.25) and at most 8x for
L-BFGS-GSS (ratio >= 0.125; its float64 FLOP bound is about 6x). They assume that one member's
epoch is bound by per-call overhead while 48 members are bound by arithmetic, as expected on a GPU (not measured); on two
CPU cores one member is already bound by arithmetic and neither target is met (README, Benchmarks).
The other architectures are reported against no target: their single member already fills the
cores better (LeNet's convolutions, the LSTM's 8-step recurrence), so batching gains less.
No results cache is used, so every repeat trains.
"""
from __future__ import annotations

import functools

from .runner import Case

N_MEMBERS = 48
EPOCHS = {"sgd": 2, "lbfgs_gss": 2}
TARGETS = {("fcp", "sgd"): 0.25, ("fcp", "lbfgs_gss"): 0.125}


def _inputs(architecture, optimizer, n_members):
    from ebcore import ensembles, nets

    task = nets.DigitsTask(architecture)
    spec = ensembles.optimizer_spec(architecture, optimizer)
    seeds = [ensembles.SEED_OFFSETS[optimizer] + k for k in range(n_members)]
    return task, spec, seeds, EPOCHS[optimizer]


def _setup(architecture, optimizer, n_members):
    # a partial of a module-level function: each case runs in a spawned process, which pickles it
    return functools.partial(_inputs, architecture, optimizer, n_members)


def _train(inputs):
    from ebcore import lockstep

    task, spec, seeds, epochs = inputs
    return lockstep.train_block(task, spec, seeds, epochs=epochs, cache=False, progress=False)


CASES = []
for _arch in ("fcp", "autoencoder", "lenet", "lstm"):
    for _opt in ("sgd", "lbfgs_gss"):
        _one = f"{_arch} {_opt}: 1 member, {EPOCHS[_opt]} epochs"
        _target = TARGETS.get((_arch, _opt))
        _repeats = 3 if _arch in ("fcp", "autoencoder") else 1
        CASES += [
            Case(_one, _setup(_arch, _opt, 1), _train, repeats=_repeats),
            Case(f"{_arch} {_opt}: {N_MEMBERS} members in lockstep vs 1", _setup(_arch, _opt, N_MEMBERS), _train,
                 repeats=_repeats, baseline=_one,
                 target=(f"at most {1 / _target:.0f}x one member (>= {_target:g}x)" if _target
                         else "report"),
                 min_speedup=_target),
        ]
