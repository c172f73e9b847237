"""n_threads semantics (DESIGN.md section 4)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import turborec
from turborec import _native
from turborec._threads import blas_single_thread, cpu_count, resolve_n_threads


def test_none_is_openmp_max_and_honours_threadpoolctl():
    assert resolve_n_threads(None) == _native.max_threads() >= 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert resolve_n_threads(None) == 1


def test_minus_one_is_all_cores_and_positive_is_exact():
    assert resolve_n_threads(-1) == cpu_count()
    assert resolve_n_threads(3) == 3
    assert resolve_n_threads(np.int64(2)) == 2


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_bad_values_name_the_argument(bad, error):
    with pytest.raises(error, match="n_threads"):
        resolve_n_threads(bad)
    with pytest.raises(error, match="n_threads"):
        turborec.topk(np.zeros((2, 2)), 1, n_threads=bad)


def test_config_context_sets_the_default():
    with turborec.config_context(n_threads=1):
        assert resolve_n_threads(None) == 1
        assert resolve_n_threads(2) == 2


def test_blas_is_pinned_to_one_thread_inside_kernels():
    with blas_single_thread():
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_more_threads_than_rows_is_fine():
    scores = np.arange(6, dtype=np.float32).reshape(2, 3)
    ids, _ = turborec.topk(scores, 2, n_threads=8, backend="native")
    np.testing.assert_array_equal(ids, [[2, 1], [2, 1]])
