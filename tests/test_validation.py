"""Bad arguments get a clear error naming the argument; never a crash or a silent wrong answer."""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import _native
from turborec.selection import dot_plan, row_plan


@pytest.fixture(params=["native", "numpy"])
def name(request):
    return request.param


@pytest.mark.parametrize("k, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (None, TypeError), (True, TypeError)])
def test_bad_k(name, k, error):
    with pytest.raises(error, match="k: expected a positive int"):
        turborec.topk(np.zeros((2, 3)), k, backend=name)
    with pytest.raises(error, match="k: expected a positive int"):
        turborec.topk_dot(np.zeros((2, 3)), np.zeros((4, 3)), k, backend=name)


@pytest.mark.parametrize("scores, error, match", [
    (np.zeros((2, 3), np.int64), TypeError, "scores: expected dtype float32 or float64, got int64"),
    (np.zeros((2, 3), np.float16), TypeError, "float16"),
    (np.zeros(3), ValueError, "scores: expected a 2-D array, got shape \\(3,\\)"),
    ("abc", TypeError, "scores: expected a 2-D array"),
])
def test_bad_scores(name, scores, error, match):
    with pytest.raises(error, match=match):
        turborec.topk(scores, 1, backend=name)


def test_bad_exclude(name):
    scores = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="exclude: expected shape \\(2, 3\\), got \\(3, 3\\)"):
        turborec.topk(scores, 1, exclude=sp.csr_matrix((3, 3)), backend=name)
    with pytest.raises(TypeError, match="exclude: expected a scipy.sparse matrix"):
        turborec.topk(scores, 1, exclude=np.zeros((2, 3)), backend=name)
    bad = sp.csr_matrix((np.ones(1), np.array([7]), np.array([0, 1, 1])), shape=(2, 3))
    with pytest.raises(IndexError, match="exclude: column index 7 out of range \\[0, 3\\)"):
        turborec.topk(scores, 1, exclude=bad, backend=name)
    negative = sp.csr_matrix((np.ones(1), np.array([0]), np.array([0, 1, 1])), shape=(2, 3))
    negative.indices[0] = -1
    with pytest.raises(IndexError, match="column index -1"):
        turborec.topk(scores, 1, exclude=negative, backend=name)


def test_non_csr_exclude_is_converted(name):
    scores = np.arange(6, dtype=np.float32).reshape(2, 3)
    ids, _ = turborec.topk(scores, 1, exclude=sp.coo_matrix(([1.0], ([0], [2])), shape=(2, 3)), backend=name)
    np.testing.assert_array_equal(ids[:, 0], [1, 2])


def test_bad_topk_dot_arguments(name):
    q, x = np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="items: expected 3 columns like queries, got shape \\(4, 2\\)"):
        turborec.topk_dot(q, np.zeros((4, 2), np.float32), 1, backend=name)
    with pytest.raises(TypeError, match="items: expected dtype float32 like queries, got float64"):
        turborec.topk_dot(q, x.astype(np.float64), 1, backend=name)
    with pytest.raises(ValueError, match="exclude: expected shape \\(2, 4\\)"):
        turborec.topk_dot(q, x, 1, exclude=sp.csr_matrix((2, 3)), backend=name)
    with pytest.raises(IndexError, match="candidates: item id 4 out of range \\[0, 4\\)"):
        turborec.topk_dot(q, x, 1, candidates=[0, 4], backend=name)
    with pytest.raises(TypeError, match="candidates: expected integer item ids"):
        turborec.topk_dot(q, x, 1, candidates=[0.5], backend=name)
    with pytest.raises(ValueError, match="candidates: expected a 1-D array"):
        turborec.topk_dot(q, x, 1, candidates=[[0]], backend=name)


def test_largest_must_be_bool(name):
    with pytest.raises(TypeError, match="largest: expected a bool"):
        turborec.topk(np.zeros((1, 2)), 1, largest="yes", backend=name)


# The binding is the last line of defence: no silent forcecast, clear errors, no crash.


def _outs(n, k, dtype=np.float32):
    return np.empty((n, k), np.int32), np.empty((n, k), dtype)


def _topk(scores, k, ids, values, exclude=(None, None), n_threads=1):
    """The raw binding with the plan the public function would pass."""
    plan = row_plan(k)
    _native.topk(scores, *exclude, k, True, plan.chunk, plan.capacity, n_threads, ids, values)


def test_binding_rejects_wrong_dtype_layout_and_readonly_outputs():
    scores = np.zeros((3, 4), np.float32)
    ids, values = _outs(3, 2)
    with pytest.raises(TypeError, match="out_values: expected dtype float32, got float64"):
        _topk(scores, 2, ids, values.astype(np.float64))
    with pytest.raises(ValueError, match="scores: expected a C-contiguous array"):
        _topk(np.zeros((4, 3), np.float32).T, 2, ids, values)
    with pytest.raises(TypeError, match="out_ids: expected dtype int32"):
        _topk(scores, 2, ids.astype(np.int64), values)
    values.flags.writeable = False
    with pytest.raises(ValueError, match="out_values: array is read-only"):
        _topk(scores, 2, ids, values)
    with pytest.raises(ValueError, match="out_ids/out_values: expected shape"):
        _topk(scores, 2, *_outs(3, 3))
    with pytest.raises(ValueError, match="k must be in"):
        _topk(scores, 5, *_outs(3, 5))
    with pytest.raises(ValueError, match="n_threads"):
        _topk(scores, 2, *_outs(3, 2), n_threads=0)
    with pytest.raises(ValueError, match="exclude.indptr: expected length"):
        _topk(scores, 2, *_outs(3, 2), exclude=(np.zeros(2, np.int32), np.zeros(0, np.int32)))
    unsorted = np.array([0, 2, 2, 2], np.int32), np.array([3, 1], np.int32)
    with pytest.raises(ValueError, match="exclude.indices: must be sorted within each row"):
        _topk(scores, 2, *_outs(3, 2), exclude=unsorted)
    decreasing = np.array([0, 2, 1, 2], np.int32), np.array([1, 3], np.int32)
    with pytest.raises(ValueError, match="exclude.indptr: must never decrease"):
        _topk(scores, 2, *_outs(3, 2), exclude=decreasing)
    plan = dot_plan(3, 2, np.float32)
    with pytest.raises(ValueError, match="items: expected the same number of columns"):
        _native.topk_dot(scores, np.zeros((5, 3), np.float32), None, None, None, None, 2, *plan, 1, *_outs(3, 2))


def test_binding_accepts_unpickled_arrays():
    """Regression: a dtype descriptor that went through pickle is equal, not identical."""
    import pickle

    scores = pickle.loads(pickle.dumps(np.arange(12, dtype=np.float32).reshape(3, 4)))
    ids, values = _outs(3, 2)
    _topk(scores, 2, ids, values)
    np.testing.assert_array_equal(ids, [[3, 2]] * 3)


def test_exclude_with_short_indptr_is_an_error_on_every_backend(name):
    """Regression (review): numba crashed and numpy ignored rows past a too-short indptr."""
    exclude = sp.csr_matrix(np.eye(4))
    exclude.indptr = np.array([0, 1, 2], dtype=exclude.indptr.dtype)
    with pytest.raises(ValueError, match="exclude: malformed CSR, indptr has 3 entries for 4 rows"):
        turborec.topk(np.ones((4, 4)), 2, exclude=exclude, backend=name)


def test_cosine_of_large_float32_vectors_does_not_overflow(name):
    """Regression (review): squared norms overflowed float32 and cosines came out 0."""
    ids, values = turborec.topk_dot(np.array([[3e19, 4e19]], np.float32), np.eye(2, dtype=np.float32), 2,
                                    normalize=True, backend=name)
    np.testing.assert_allclose(values, [[0.8, 0.6]], rtol=1e-6)


def test_n_threads_beyond_any_machine_is_a_named_error():
    with pytest.raises(ValueError, match="n_threads: expected a positive int up to"):
        turborec.topk(np.zeros((2, 2)), 1, n_threads=2**31)


def test_ids_beyond_int32_are_errors_not_wraps(name):
    """Issue 7: item ids are int32; a catalogue they cannot name is refused, never narrowed."""
    wide = np.zeros((0, 2**31 + 1), np.float32)  # no bytes: only the shape is huge
    with pytest.raises(ValueError, match="scores: 2147483649 columns do not fit the int32 ids"):
        turborec.topk(wide, 1, backend=name)
    with pytest.raises(ValueError, match="items: 2147483649 rows do not fit the int32 ids"):
        turborec.topk_dot(np.zeros((0, 0), np.float32), wide.T, 1, backend=name)


def test_binding_refuses_ids_beyond_int32():
    wide = np.zeros((0, 2**31 + 1), np.float32)
    with pytest.raises(ValueError, match="scores: 2147483649 ids do not fit int32"):
        _topk(wide, 1, *_outs(0, 1))
    plan = dot_plan(0, 1, np.float32)
    with pytest.raises(ValueError, match="items: 2147483649 ids do not fit int32"):
        _native.topk_dot(np.zeros((0, 0), np.float32), np.ascontiguousarray(wide.T), None, None, None, None, 1, *plan,
                         1, *_outs(0, 1))


def test_exclude_whose_indptr_runs_past_its_indices_is_an_error_before_scipy_touches_it(name):
    """Issue 7 regression: indptr [0, 1000, 4] made scipy's index sort read out of bounds and crash."""
    exclude = sp.csr_matrix((2, 5))
    exclude.indptr = np.array([0, 1000, 4], dtype=np.int32)
    exclude.indices = np.array([0, 1, 2, 3], dtype=np.int32)
    exclude.data = np.ones(4)
    with pytest.raises(ValueError, match="exclude: malformed CSR indptr \\(must start at 0 and never decrease\\)"):
        turborec.topk(np.ones((2, 5), np.float32), 3, exclude=exclude, backend=name)
    np.testing.assert_array_equal(exclude.indptr, [0, 1000, 4])


def test_binding_checks_indptr_completely_before_reading_indices():
    """Issue 7 regression: a middle indptr entry past nnz made the binding's sortedness check read
    out of bounds (a segfault) before it reached the decreasing entry."""
    scores = np.ones((2, 5), np.float32)
    with pytest.raises(ValueError, match="exclude.indptr: must never decrease"):
        _topk(scores, 3, *_outs(2, 3), exclude=(np.array([0, 1000, 4], np.int32), np.arange(4, dtype=np.int32)))
    with pytest.raises(ValueError, match="exclude.indptr: last entry exceeds nnz"):
        _topk(scores, 3, *_outs(2, 3), exclude=(np.array([0, 1000, 1000], np.int32), np.arange(4, dtype=np.int32)))
    with pytest.raises(ValueError, match="exclude.indices: 7 out of range \\[0, 5\\)"):
        _topk(scores, 3, *_outs(2, 3), exclude=(np.array([0, 1, 1], np.int32), np.array([7], np.int32)))


def test_sparse_scores_are_a_clear_type_error(name):
    """Issue 7: topk on a sparse score matrix said "not enough values to unpack"."""
    for scores in (sp.csr_matrix(np.eye(3)), sp.coo_matrix(np.eye(3))):
        with pytest.raises(TypeError, match="scores: expected a dense 2-D array .* got a sparse .*; densify it"):
            turborec.topk(scores, 2, backend=name)
    with pytest.raises(TypeError, match="items: expected a dense 2-D array"):
        turborec.topk_dot(np.eye(3), sp.csr_matrix(np.eye(3)), 2, backend=name)
