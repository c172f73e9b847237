"""Bad arguments get a clear error naming the argument; never a crash or a silent wrong answer.
Hostile inputs on every backend, and the raw bindings' checks, are in test_hostile.py."""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import _native
from turborec.selection import row_plan


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
