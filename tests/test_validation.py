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
