"""Bad arguments get a clear error naming the argument; never a crash or a silent wrong answer.
Hostile inputs on every backend, and the raw bindings' checks, are in test_hostile.py."""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import _native
from turborec.selection import dot_plan, row_plan


@pytest.fixture(params=["native", "numpy"])
def name(request):
    return request.param


def test_bad_topk_dot_arguments(name):
    q, x = np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="items: expected 3 columns like queries, got shape \\(4, 2\\)"):
        turborec.topk_dot(q, np.zeros((4, 2), np.float32), 1, backend=name)
    with pytest.raises(TypeError, match="items: expected dtype float32 like queries, got float64"):
        turborec.topk_dot(q, x.astype(np.float64), 1, backend=name)
    with pytest.raises(ValueError, match="exclude: expected shape \\(2, 4\\)"):
        turborec.topk_dot(q, x, 1, exclude=sp.csr_matrix((2, 3)), backend=name)


def test_binding_accepts_unpickled_arrays():
    """Regression: a dtype descriptor that went through pickle is equal, not identical."""
    import pickle

    scores = pickle.loads(pickle.dumps(np.arange(12, dtype=np.float32).reshape(3, 4)))
    ids, values = np.empty((3, 2), np.int32), np.empty((3, 2), np.float32)
    plan = row_plan(2)
    _native.topk(scores, None, None, 2, True, plan.chunk, plan.capacity, 1, ids, values)
    np.testing.assert_array_equal(ids, [[3, 2]] * 3)


def test_ids_beyond_int32_are_errors_not_wraps(name):
    """Issue 7: item ids are int32; a catalogue they cannot name is refused, never narrowed."""
    wide = np.zeros((0, 2**31 + 1), np.float32)  # no bytes: only the shape is huge
    with pytest.raises(ValueError, match="scores: 2147483649 columns do not fit the int32 ids"):
        turborec.topk(wide, 1, backend=name)
    with pytest.raises(ValueError, match="items: 2147483649 rows do not fit the int32 ids"):
        turborec.topk_dot(np.zeros((0, 0), np.float32), wide.T, 1, backend=name)


def test_binding_refuses_ids_beyond_int32():
    wide = np.zeros((0, 2**31 + 1), np.float32)
    ids, values = np.empty((0, 1), np.int32), np.empty((0, 1), np.float32)
    plan = row_plan(1)
    with pytest.raises(ValueError, match="scores: 2147483649 ids do not fit int32"):
        _native.topk(wide, None, None, 1, True, plan.chunk, plan.capacity, 1, ids, values)
    with pytest.raises(ValueError, match="items: 2147483649 ids do not fit int32"):
        _native.topk_dot(np.zeros((0, 0), np.float32), np.ascontiguousarray(wide.T), None, None, None, None, 1,
                         *dot_plan(0, 1, np.float32), 1, ids, values)


def test_sparse_scores_are_a_clear_type_error(name):
    """Issue 7: topk on a sparse score matrix said "not enough values to unpack"."""
    for scores in (sp.csr_matrix(np.eye(3)), sp.coo_matrix(np.eye(3))):
        with pytest.raises(TypeError, match="scores: expected a dense 2-D array .* got a sparse .*; densify it"):
            turborec.topk(scores, 2, backend=name)
    with pytest.raises(TypeError, match="items: expected a dense 2-D array"):
        turborec.topk_dot(np.eye(3), sp.csr_matrix(np.eye(3)), 2, backend=name)


def test_checks_read_their_input_in_chunks_and_still_see_everything(monkeypatch):
    """The CSR sortedness and finiteness checks run chunk by chunk (bounded temporaries): a
    descent or a NaN in any chunk, and a row start on a chunk boundary, are still seen."""
    from turborec import _validation

    monkeypatch.setattr(_validation, "CHECK_CHUNK", 3)
    # rows [0 2 5 | 1 4 | 0 3 6 7]: descents only at row starts (positions 3 and 5)
    sorted_rows = sp.csr_matrix((np.ones(9), [0, 2, 5, 1, 4, 0, 3, 6, 7], [0, 3, 5, 9]), shape=(3, 8))
    assert _validation.as_csr(sorted_rows, "x") is sorted_rows  # sorted: used as it is
    unsorted = sp.csr_matrix((np.ones(9), [0, 2, 5, 1, 4, 0, 6, 3, 7], [0, 3, 5, 9]), shape=(3, 8))
    fixed = _validation.as_csr(unsorted, "x")
    assert fixed is not unsorted and fixed.indices.tolist() == [0, 2, 5, 1, 4, 0, 3, 6, 7]
    scores = np.ones((4, 5), np.float32)
    scores[3, 4] = np.nan  # in the last chunk
    with pytest.raises(ValueError, match="queries: contains NaN or inf"):
        _validation.as_float_matrix(scores, "queries", finite=True)


def test_canonical_copies_keep_float_values_and_widen_integers():
    """Summing duplicates must not wrap integers (uint8 255 + 1), and needs no float64 copy of
    float32 values (the similarity family keeps float32)."""
    from turborec import _validation

    floats = sp.csr_matrix((np.array([1.5, 2.0], np.float32), [0, 0], [0, 2]), shape=(1, 2))
    canonical = _validation.as_csr(floats, "x", canonical=True)
    assert canonical.dtype == np.float32 and canonical.toarray().tolist() == [[3.5, 0.0]]
    small = sp.csr_matrix((np.array([255, 1], np.uint8), [1, 1], [0, 2]), shape=(1, 2))
    canonical = _validation.as_csr(small, "x", canonical=True)
    assert canonical.dtype.itemsize >= 8 and canonical.toarray().tolist() == [[0, 256]]
