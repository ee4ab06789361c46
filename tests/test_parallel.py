"""The one parallel map: same results in order whatever the number of workers."""
import functools

import pytest

from ebcore import parallel


def _power(exponent, base):
    import torch

    return base ** exponent, torch.get_num_threads()


def test_parallel_map_keeps_order_and_gives_workers_one_thread():
    items = list(range(7))
    here = parallel.parallel_map(functools.partial(_power, 3), items, n_jobs=1, progress=False)
    there = parallel.parallel_map(functools.partial(_power, 3), items, n_jobs=2, progress=False)
    assert [v for v, _ in here] == [v for v, _ in there] == [i ** 3 for i in items]
    assert {threads for _, threads in there} == {1}


def test_parallel_map_refuses_bad_arguments_naming_them():
    with pytest.raises(TypeError, match="function"):
        parallel.parallel_map(None, [1])
    with pytest.raises(ValueError, match="n_jobs"):
        parallel.parallel_map(abs, [1], n_jobs=0)
    with pytest.raises(TypeError, match="backend"):
        parallel.parallel_map(abs, [1], n_jobs=2, backend=3)
    assert parallel.default_workers(0) == 1
