"""The lmf family (issue 10): one LMF half-step on every host backend against the numpy reference,
bit for bit and independent of the thread count; implicit 0.7's own ``lmf_update`` as the oracle
(without negatives, where its draws play no part) and its definition written out with the
negatives; edge cases (rows without entries, the negatives' cap) and hostile input."""

import math

import implicit.cpu.lmf  # noqa: E402 - a peer, in [test]: missing is a failure
import numpy as np
import pytest
import scipy.sparse as sp

from conformance import KernelConformance
from turborec import _native
from turborec.bpr import splitmix64
from turborec.lmf import lmf_update

FAMILY = "lmf"


def random_matrix(rng, n, m, density=0.1):
    matrix = sp.random(n, m, density=density, format="csr", random_state=rng, dtype=np.float64)
    matrix.data = rng.integers(1, 5, matrix.nnz).astype(np.float64)
    return matrix


def random_operands(rng, n, m, k, dtype):
    return dict(factors=rng.standard_normal((n, k + 2)).astype(dtype),
                other=rng.standard_normal((m, k + 2)).astype(dtype),
                deriv_sum_sq=rng.random((n, k + 2)).astype(dtype))


def run(inputs, backend, n_threads=None):
    x, g, drawn = lmf_update(**inputs, backend=backend, n_threads=n_threads)
    return x, g, np.array([drawn], np.int64)


class TestLmfUpdateConformance(KernelConformance):
    FAMILY = "lmf"
    SHAPES = ((37, 300), (5, 2000), (1, 1), (20, 64), (60, 15))
    THREADS_SHAPE = (300, 400)

    def make(self, rng, dtype, n, m, k=10):
        """``n`` rows, ``m`` others, ``k`` factors (plus the two bias columns)."""
        return dict(user_items=random_matrix(rng, n, m, 0.1 if m > 20 else 0.4),
                    **random_operands(rng, n, m, k, dtype), learning_rate=0.5, regularization=0.3,
                    neg_prop=int(rng.integers(0, 40)), seed=int(rng.integers(0, 2**63)))

    def call(self, inputs, backend, n_threads=None):
        return run(inputs, backend, n_threads)


# ---------------------------------------------------------------- implicit as the oracle


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_negatives_every_backend_equals_implicits_lmf_update(every_backend, rng, dtype):
    """neg_prop=0 leaves implicit's per-thread mt19937 out: its kernel is then deterministic."""
    matrix = random_matrix(rng, 40, 60, 0.15).astype(dtype)
    ops = random_operands(rng, 40, 60, 7, dtype)
    x, g = ops["factors"].copy(), ops["deriv_sum_sq"].copy()
    draws = implicit.cpu.lmf.RNGVector(1, matrix.nnz - 1, np.array([1]))
    implicit.cpu.lmf.lmf_update(draws, g, x, ops["other"], matrix.indices, matrix.indptr, matrix.data, dtype(0.8),
                                dtype(0.4), 0, 1)
    got = lmf_update(matrix, **ops, learning_rate=0.8, regularization=0.4, neg_prop=0, backend=every_backend)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got[0], x, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got[1], g, rtol=rtol, atol=rtol)
    assert got[2] == 0 and not np.allclose(x, ops["factors"])


def sigmoid(s):
    return 1 / (1 + math.exp(-s)) if s >= 0 else math.exp(s) / (1 + math.exp(s))


def written_out(matrix, x, y, acc, lr, reg, neg_prop, seed):
    """implicit's ``lmf_update`` loop in float64, its negatives drawn from splitmix64 as documented."""
    x, acc = x.astype(np.float64), acc.astype(np.float64)
    y = y.astype(np.float64)
    n_cols, drawn = x.shape[1], 0
    for u in range(matrix.shape[0]):
        lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
        if lo == hi:
            continue
        deriv = np.zeros(n_cols)
        for k in range(lo, hi):
            deriv += matrix.data[k] * y[matrix.indices[k]]
        for k in range(lo, hi):
            deriv -= sigmoid(x[u] @ y[matrix.indices[k]]) * matrix.data[k] * y[matrix.indices[k]]
        n_neg = min(n_cols, (hi - lo) * neg_prop)  # implicit's cap: its n_items is the factors' width
        for t in range(n_neg):
            draw = int(splitmix64(seed, [lo * neg_prop + t + 1])[0])
            j = matrix.indices[((draw >> 32) * matrix.nnz) >> 32]
            deriv -= sigmoid(x[u] @ y[j]) * y[j]
        drawn += n_neg
        deriv -= reg * x[u]
        acc[u] += deriv * deriv
        x[u] += lr / np.sqrt(1e-6 + acc[u]) * deriv
    return x, acc, drawn


@pytest.mark.parametrize("neg_prop", [1, 3, 30])
def test_every_backend_follows_implicits_update_with_negatives(every_backend, rng, neg_prop):
    matrix = random_matrix(rng, 30, 25, 0.2)
    ops = random_operands(rng, 30, 25, 6, np.float64)
    want = written_out(matrix, ops["factors"], ops["other"], ops["deriv_sum_sq"], 0.9, 0.2, neg_prop, 77)
    got = lmf_update(matrix, **ops, learning_rate=0.9, regularization=0.2, neg_prop=neg_prop, seed=77,
                     backend=every_backend)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)
    assert got[2] == want[2] == sum(min(8, c * neg_prop) for c in np.diff(matrix.indptr) if c)


def test_half_steps_agree_bit_for_bit_across_backends_and_threads(rng):
    matrix = random_matrix(rng, 200, 150, 0.05)
    ops = random_operands(rng, 200, 150, 16, np.float32)
    results = {}
    for backend in ("native", "numba", "numpy"):
        for threads in (1, 2):
            x, g = ops["factors"], ops["deriv_sum_sq"]
            for seed in range(3):
                x, g, _ = lmf_update(matrix, x, ops["other"], g, seed=seed, backend=backend, n_threads=threads)
            results[backend, threads] = x, g
    for got in results.values():
        for a, b in zip(got, results["native", 1]):
            np.testing.assert_array_equal(a, b)


def test_the_seed_changes_the_negatives_only(rng):
    matrix = random_matrix(rng, 40, 30)
    ops = random_operands(rng, 40, 30, 4, np.float32)
    a, b, c = (lmf_update(matrix, **ops, seed=s)[0] for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    d, e = (lmf_update(matrix, **ops, seed=s, neg_prop=0)[0] for s in (1, 2))
    np.testing.assert_array_equal(d, e)


# ---------------------------------------------------------------- edge cases


def test_rows_without_entries_are_untouched(every_backend, rng):
    matrix = random_matrix(rng, 30, 20, 0.3).tolil()
    matrix[[2, 7]] = 0
    matrix = matrix.tocsr()
    ops = random_operands(rng, 30, 20, 3, np.float32)
    x, g, _ = lmf_update(matrix, **ops, backend=every_backend)
    for name, got in (("factors", x), ("deriv_sum_sq", g)):
        np.testing.assert_array_equal(got[[2, 7]], ops[name][[2, 7]])
        assert not np.array_equal(got[3], ops[name][3])


@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (0, 0), (5, 5)])
def test_no_interactions_changes_nothing(every_backend, shape):
    matrix = sp.csr_matrix(shape)
    x, y, g = np.ones((shape[0], 3), np.float32), np.ones((shape[1], 3), np.float32), np.zeros((shape[0], 3), np.float32)
    new_x, new_g, drawn = lmf_update(matrix, x, y, g, backend=every_backend)
    assert drawn == 0
    np.testing.assert_array_equal(new_x, x)
    np.testing.assert_array_equal(new_g, g)


def test_duplicates_sum_and_stored_zeros_are_dropped(rng):
    base = sp.csr_matrix(([2.0, 1.0, 1.0], ([0, 0, 1], [0, 2, 1])), shape=(2, 3))
    noisy = sp.csr_matrix(([1.0, 1.0, 1.0, 0.0, 1.0], ([0, 0, 1, 1, 0], [0, 2, 1, 2, 0])), shape=(2, 3))
    ops = random_operands(rng, 2, 3, 2, np.float32)
    for a, b in zip(lmf_update(base, **ops, seed=5), lmf_update(noisy, **ops, seed=5)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("value, message", [(np.nan, "contains NaN or inf"), (np.inf, "contains NaN or inf"),
                                            (-1.0, "contains negative values"), (1e-60, "values must be > 0 and finite in float32")])
def test_bad_values_are_refused(every_backend, value, message):
    matrix = sp.csr_matrix(([1.0, value], ([0, 1], [0, 1])), shape=(2, 2))
    zeros = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=f"user_items: {message}"):
        lmf_update(matrix, zeros, zeros, zeros, backend=every_backend)


def test_values_past_float32_are_refused_without_a_warning(every_backend):
    matrix = sp.csr_matrix(([1.0, 1e300], ([0, 1], [0, 1])), shape=(2, 2))
    zeros = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="user_items: values must be > 0 and finite in float32"):
        lmf_update(matrix, zeros, zeros, zeros, backend=every_backend)
    lmf_update(matrix, zeros.astype(np.float64), zeros.astype(np.float64), zeros.astype(np.float64))  # fits float64


@pytest.mark.parametrize("change, error, message", [
    (dict(factors=np.zeros((3, 3), np.float16)), TypeError, "factors: expected dtype float32 or float64"),
    (dict(other=np.zeros((4, 3), np.float32)), TypeError, "other: expected dtype float64"),
    (dict(deriv_sum_sq=np.zeros((3, 3), np.float32)), TypeError, "deriv_sum_sq: expected dtype float64"),
    (dict(other=np.zeros((4, 2))), ValueError, "one number of columns"),
    (dict(deriv_sum_sq=np.zeros((3, 2))), ValueError, "deriv_sum_sq shaped like factors"),
    (dict(factors=np.zeros((3, 0)), other=np.zeros((4, 0)), deriv_sum_sq=np.zeros((3, 0))), ValueError,
     "one number of columns"),
    (dict(other=np.zeros((5, 3))), ValueError, "expected 3 and 4 rows"),
    (dict(factors=np.full((3, 3), np.nan)), ValueError, "factors: contains NaN or inf"),
    (dict(deriv_sum_sq=-np.ones((3, 3))), ValueError, "deriv_sum_sq: expected sums of squares"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate: expected a finite number"),
    (dict(regularization=np.nan), ValueError, "regularization: expected a finite number"),
    (dict(neg_prop=-1), ValueError, r"neg_prop: expected an int in \[0, 2\*\*31\]"),
    (dict(neg_prop=2.5), TypeError, "neg_prop: expected an int"),
    (dict(seed=2**64), ValueError, "seed: expected an int in"),
    (dict(user_items=np.ones((3, 4))), TypeError, "user_items: expected a scipy.sparse matrix"),
])
def test_bad_arguments_are_refused_by_name(every_backend, change, error, message):
    args = dict(user_items=sp.csr_matrix(np.eye(3, 4)), factors=np.zeros((3, 3)), other=np.zeros((4, 3)),
                deriv_sum_sq=np.zeros((3, 3)))
    args.update(change)
    with pytest.raises(error, match=message):
        lmf_update(**args, backend=every_backend)


def _raw_args(**changes):
    args = dict(indptr=np.array([0, 2, 3], np.int32), indices=np.array([0, 2, 1], np.int32),
                data=np.ones(3, np.float32), other=np.ones((3, 4), np.float32), factors=np.ones((2, 4), np.float32),
                deriv_sum_sq=np.zeros((2, 4), np.float32), learning_rate=0.5, regularization=0.1, neg_prop=3,
                seed=1, n_threads=1, drawn=np.zeros(1, np.int64))
    return {**args, **changes}


@pytest.mark.parametrize("change, error, message", [
    (dict(data=np.ones(2, np.float32)), ValueError, "data: expected one value per stored interaction"),
    (dict(data=np.array([1, np.nan, 1], np.float32)), ValueError, "data: expected finite values > 0"),
    (dict(data=np.array([1, 0, 1], np.float32)), ValueError, "data: expected finite values > 0"),
    (dict(data=np.ones(3)), TypeError, "data: expected dtype float32"),
    (dict(factors=np.ones((2, 4))), TypeError, "other: expected dtype float64"),
    (dict(factors=np.ones((2, 4), np.float16)), TypeError, "factors: expected dtype float32 or float64"),
    (dict(other=np.ones((3, 2), np.float32)), ValueError, "other: expected 4 columns"),
    (dict(deriv_sum_sq=np.zeros((2, 3), np.float32)), ValueError, "deriv_sum_sq: expected the shape of factors"),
    (dict(other=np.ones((2, 4), np.float32)), ValueError, "user_items.indices: 2 out of range"),
    (dict(indices=np.array([2, 0, 1], np.int32)), ValueError, "user_items.indices: must be sorted"),
    (dict(indptr=np.array([0, 9, 3], np.int32)), ValueError, "user_items.indptr: must never decrease"),
    (dict(neg_prop=-1), ValueError, "neg_prop: expected an int in"),
    (dict(drawn=np.zeros(2, np.int64)), ValueError, r"drawn: expected shape \(1,\)"),
    (dict(n_threads=0), ValueError, "n_threads: expected 1 to"),
])
def test_the_binding_refuses_inconsistent_arrays(change, error, message):
    args = _raw_args(**change)
    before = {name: value.copy() for name, value in args.items() if isinstance(value, np.ndarray)}
    with pytest.raises(error, match=message):
        _native.lmf_update(**args)
    for name, value in before.items():
        np.testing.assert_array_equal(args[name], value)


def test_the_binding_refuses_read_only_and_shared_arrays():
    frozen = np.ones((2, 4), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="factors: array is read-only"):
        _native.lmf_update(**_raw_args(factors=frozen))
    block = np.ones((5, 4), np.float32)
    with pytest.raises(ValueError, match="must not share memory"):
        _native.lmf_update(**_raw_args(factors=block[:2], other=block[2:], deriv_sum_sq=block[:2]))
    _native.lmf_update(**_raw_args(factors=block[:2], other=block[2:]))  # one buffer, no overlap: fine
