"""The ALS kernels (issue 10): the half-step (conjugate gradient and Cholesky) and the training
loss on every host backend against the numpy reference, against numpy.linalg.solve per row,
against implicit's own kernels, and on hostile input."""

import numpy as np
import pytest
import scipy.sparse as sp
from conformance import KernelConformance

from turborec import _native
from turborec import als

import implicit.cpu._als as implicit_als  # noqa: E402 - a peer, in [test]: missing is a failure

FAMILY = "als"


def confidences(rng, n, m, density=0.1, negative=0.15):
    """A users x items confidence CSR: values in [0.5, 8), some negative (dislikes), a few stored
    zeros, and every third row empty (columns are left empty at random)."""
    matrix = sp.random(n, m, density=density, format="csr", random_state=rng, dtype=np.float64)
    matrix.data = rng.uniform(0.5, 8.0, matrix.nnz)
    matrix.data[rng.random(matrix.nnz) < negative] *= -1
    for row in range(0, n, 3):
        matrix.data[matrix.indptr[row]:matrix.indptr[row + 1]] = 0
    matrix.eliminate_zeros()
    matrix.data[rng.random(matrix.nnz) < 0.02] = 0.0  # stored zeros: confidence 0, kept
    return matrix.astype(np.float32)


def problem(rng, dtype, n, m, d, regularization=0.1):
    return dict(user_items=confidences(rng, n, m), user_factors=(rng.random((n, d)) * 0.01).astype(dtype),
                item_factors=(rng.standard_normal((m, d)) * 0.3).astype(dtype), regularization=regularization)


def assert_close(got, want, dtype):
    """Rounding apart (float32: the compiled backends vectorise the sums), equal."""
    tolerance = 2e-4 if np.dtype(dtype) == np.float32 else 1e-9
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale, equal_nan=True)


class AlsConformance(KernelConformance):
    """``k`` is the number of factors (1, 50 and 57 in the k-edge tests; at most 12 elsewhere)."""

    FAMILY = "als"
    SHAPES = ((37, 300), (5, 200), (1, 1), (20, 64))
    THREADS_SHAPE = (300, 400)

    def assert_same(self, got, want):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert isinstance(g, np.ndarray) and g.dtype == w.dtype and g.shape == w.shape
            assert_close(g, w, g.dtype)

    def make(self, rng, dtype, n, m, k=10):
        return problem(rng, dtype, n, m, k if k in (1, 50, 57) else min(k, 12))


class TestConjugateGradient(AlsConformance):
    def call(self, inputs, backend, n_threads=None):
        return (als.least_squares(**inputs, use_cg=True, cg_steps=3, backend=backend, n_threads=n_threads),)


class TestCholesky(AlsConformance):
    def call(self, inputs, backend, n_threads=None):
        return (als.least_squares(**inputs, use_cg=False, backend=backend, n_threads=n_threads),)


class TestLoss(AlsConformance):
    def assert_same(self, got, want):  # a float64 result, rounded like the inputs' dtype
        assert got[0].dtype == want[0].dtype == np.float64 and got[0].shape == want[0].shape == (1,)
        assert_close(got[0], want[0], np.float32)

    def call(self, inputs, backend, n_threads=None):
        return (np.array([als.calculate_loss(**inputs, backend=backend, n_threads=n_threads)]),)


# ---------------------------------------------------------------- the mathematics


def exact_rows(user_items, y, regularization):
    """Each row's x = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u from the dense definition, float64."""
    dense = user_items.toarray().astype(np.float64)
    stored = user_items.copy()
    stored.data[:] = 1
    stored = stored.toarray() > 0
    y = y.astype(np.float64)
    out = np.zeros((dense.shape[0], y.shape[1]))
    for u in range(dense.shape[0]):
        if not stored[u].any():
            continue
        confidence = np.where(stored[u], np.abs(dense[u]), 1.0)
        preference = (stored[u] & (dense[u] > 0)).astype(np.float64)
        a = (y.T * confidence) @ y + regularization * np.eye(y.shape[1])
        out[u] = np.linalg.solve(a, y.T @ (confidence * preference))
    return out


def test_cholesky_is_the_exact_least_squares_solution(every_backend, rng):
    inputs = problem(rng, np.float64, 60, 90, 10)
    got = als.least_squares(**inputs, use_cg=False, backend=every_backend)
    np.testing.assert_allclose(got, exact_rows(inputs["user_items"], inputs["item_factors"], 0.1), rtol=1e-9,
                               atol=1e-12)


def test_cholesky_in_float32_is_the_solution_rounded(every_backend, rng):
    inputs = problem(rng, np.float32, 60, 90, 10)
    got = als.least_squares(**inputs, use_cg=False, backend=every_backend)
    assert got.dtype == np.float32
    want = exact_rows(inputs["user_items"], inputs["item_factors"], 0.1)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_conjugate_gradient_converges_to_the_exact_solution(every_backend, rng):
    inputs = problem(rng, np.float64, 40, 80, 8, regularization=1.0)
    want = exact_rows(inputs["user_items"], inputs["item_factors"], 1.0)
    errors = []
    for steps in (1, 3, 30):
        got = als.least_squares(**inputs, cg_steps=steps, backend=every_backend)
        errors.append(np.abs(got - want).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-8


def test_conjugate_gradient_starts_from_the_current_factors(rng):
    inputs = problem(rng, np.float64, 30, 50, 6, regularization=1.0)
    want = exact_rows(inputs["user_items"], inputs["item_factors"], 1.0)
    warm = als.least_squares(**{**inputs, "user_factors": want}, cg_steps=0)
    rows = np.diff(inputs["user_items"].indptr) > 0
    np.testing.assert_array_equal(warm[rows], want[rows])  # no steps: the start, unchanged
    np.testing.assert_array_equal(warm[~rows], 0)  # rows without entries: zeros


def test_loss_is_the_weighted_squared_error_plus_regularization(rng):
    inputs = problem(rng, np.float64, 25, 40, 5, regularization=0.3)
    c = inputs["user_items"].toarray().astype(np.float64)
    stored = inputs["user_items"].copy()
    stored.data[:] = 1
    stored = stored.toarray() > 0
    x, y = inputs["user_factors"], inputs["item_factors"]
    confidence = np.where(stored, np.abs(c), 1.0)
    preference = (stored & (c > 0)).astype(np.float64)
    error = (confidence * (preference - x @ y.T) ** 2).sum() + np.abs(c[stored & (c <= 0)]).sum()  # implicit's +|c|
    error += 0.3 * ((x ** 2).sum() + (y ** 2).sum())
    want = error / (confidence[stored].sum() + c.size - stored.sum())
    for backend in ("numpy", "numba", "native"):
        assert als.calculate_loss(**inputs, backend=backend) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_equal_implicits(every_backend, rng, dtype):
    inputs = problem(rng, dtype, 80, 120, 16)
    c, x, y = inputs["user_items"], inputs["user_factors"], inputs["item_factors"]
    theirs = x.copy()
    implicit_als.least_squares_cg(c, theirs, y, 0.1, num_threads=1, cg_steps=3)
    assert_close(als.least_squares(c, x, y, 0.1, backend=every_backend), theirs, dtype)
    theirs = x.copy()
    implicit_als.least_squares(c, theirs, y, 0.1, num_threads=1)
    assert_close(als.least_squares(c, x, y, 0.1, use_cg=False, backend=every_backend), theirs, dtype)
    assert als.calculate_loss(c, x, y, 0.1, backend=every_backend) == pytest.approx(
        implicit_als.calculate_loss(c, x, y, 0.1, num_threads=1), rel=1e-5 if dtype == np.float32 else 1e-10)


def test_negative_values_are_dislikes(every_backend):
    # one item liked, one disliked with confidence 4: the solution points towards the first
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = sp.csr_matrix(np.array([[3.0, -4.0]]))
    x = als.least_squares(c, np.zeros((1, 2)), y, 0.0, use_cg=False, backend=every_backend)
    np.testing.assert_allclose(x, [[1.0, 0.0]])  # (Y^T C Y)^-1 Y^T C p = diag(3, 4)^-1 (3, 0)
    assert als.calculate_loss(c, x, y, 0.0, backend=every_backend) == pytest.approx((0 + 4 * 0 + 4) / 7)


def test_duplicate_entries_count_once_each_as_in_implicit(rng):
    y = rng.standard_normal((3, 2))
    duplicated = sp.csr_matrix((np.array([2.0, 3.0, 1.5]), np.array([0, 0, 2]), np.array([0, 3])), shape=(1, 3))
    theirs = np.zeros((1, 2))
    implicit_als.least_squares(duplicated, theirs, y, 0.1, num_threads=1)
    ours = als.least_squares(duplicated, np.zeros((1, 2)), y, 0.1, use_cg=False)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_a_row_too_long_to_gather_gives_the_same_answer(rng):
    # native gathers a row's factors when nnz * d <= 2**22; a longer row reads Y in place
    n_items, d = 70_000, 64
    c = sp.csr_matrix((rng.uniform(0.5, 4.0, n_items), np.arange(n_items), [0, n_items]), shape=(1, n_items))
    c.data[::9] *= -1
    inputs = dict(user_items=c, user_factors=rng.random((1, d)) * 0.01,
                  item_factors=rng.standard_normal((n_items, d)) * 0.01, regularization=0.1)
    np.testing.assert_allclose(als.least_squares(**inputs, backend="native"),
                               als.least_squares(**inputs, backend="numpy"), rtol=1e-9, atol=1e-12)


def test_results_do_not_depend_on_the_thread_count_in_float64(host_backend, rng):
    inputs = problem(rng, np.float64, 500, 300, 24)
    for use_cg in (True, False):
        one = als.least_squares(**inputs, use_cg=use_cg, backend=host_backend, n_threads=1)
        two = als.least_squares(**inputs, use_cg=use_cg, backend=host_backend, n_threads=2)
        np.testing.assert_array_equal(one, two)


# ---------------------------------------------------------------- hostile input


def test_a_system_that_is_not_positive_definite_is_a_clear_error(every_backend):
    y = np.array([[1.0, 0.0]])  # Y^T Y = [[1, 0], [0, 0]]: singular, and no regularization
    c = sp.csr_matrix(np.array([[1.0]]))
    with pytest.raises(ValueError, match="regularization: the system of row 0 is not positive definite"):
        als.least_squares(c, np.zeros((1, 2)), y, 0.0, use_cg=False, backend=every_backend)


@pytest.mark.parametrize("change, error, match", [
    (dict(user_items="nan"), ValueError, "user_items: contains NaN or inf"),
    (dict(user_items="inf"), ValueError, "user_items: contains NaN or inf"),
    (dict(user_factors="nan"), ValueError, "user_factors: contains NaN or inf"),
    (dict(item_factors=np.zeros((7, 3), np.float64)), TypeError, "item_factors: expected dtype float32"),
    (dict(item_factors=np.zeros((7, 4), np.float32)), ValueError, "item_factors: expected 3 columns"),
    (dict(item_factors=np.zeros((6, 3), np.float32)), ValueError, r"user_items: expected shape \(5, 6\)"),
    (dict(user_factors=np.zeros((5, 3), np.float16)), TypeError, "user_factors: expected dtype float32 or float64"),
    (dict(regularization=-1.0), ValueError, "regularization: expected a finite number"),
    (dict(regularization=float("nan")), ValueError, "regularization: expected a finite number"),
    (dict(user_items=np.ones((5, 7))), TypeError, "user_items: expected a scipy.sparse matrix"),
])
def test_bad_input_is_named(every_backend, change, error, match):
    inputs = dict(user_items=sp.random(5, 7, density=0.5, format="csr", random_state=0),
                  user_factors=np.zeros((5, 3), np.float32), item_factors=np.ones((7, 3), np.float32),
                  regularization=0.1)
    for name, value in change.items():
        if isinstance(value, str):
            value = inputs[name].copy()
            bad = float(change[name])
            if sp.issparse(value):
                value.data[0] = bad
            else:
                value[0, 0] = bad
        inputs[name] = value
    with pytest.raises(error, match=match):
        als.least_squares(**inputs, backend=every_backend)
    with pytest.raises(error, match=match):
        als.calculate_loss(**inputs, backend=every_backend)


def test_cg_steps_and_use_cg_are_checked():
    inputs = problem(np.random.default_rng(0), np.float32, 4, 5, 2)
    with pytest.raises(ValueError, match="cg_steps: expected an int >= 0"):
        als.least_squares(**inputs, cg_steps=-1)
    with pytest.raises(TypeError, match="cg_steps"):
        als.least_squares(**inputs, cg_steps=1.5)
    with pytest.raises(TypeError, match="use_cg: expected a bool"):
        als.least_squares(**inputs, use_cg="yes")


def _raw(**changes):
    indptr, indices = np.array([0, 2, 3], np.int32), np.array([0, 2, 1], np.int32)
    args = dict(indptr=indptr, indices=indices, data=np.ones(3, np.float32), x0=np.zeros((2, 4), np.float32),
                y=np.ones((3, 4), np.float32), regularization=0.1, solver=0, cg_steps=3, n_threads=1,
                out=np.zeros((2, 4), np.float32))
    args.update(changes)
    return args


@pytest.mark.parametrize("change, match", [
    (dict(indices=np.array([0, 5, 1], np.int32)), "cui.indices: 5 out of range"),
    (dict(indptr=np.array([0, 2, 9], np.int32)), "cui.indptr: last entry exceeds nnz"),
    (dict(indptr=np.array([0, 3, 2], np.int32)), "cui.indptr: must never decrease"),
    (dict(data=np.ones(2, np.float32)), "data: fewer values than stored entries"),
    (dict(out=np.zeros((3, 4), np.float32)), "out: expected shape"),
    (dict(y=np.ones((3, 5), np.float32)), "y: expected 4 columns"),
    (dict(x0=np.zeros((3, 4), np.float32), out=np.zeros((3, 4), np.float32)), "x0: expected 2 rows"),
    (dict(solver=7), "solver: expected 0"),
    (dict(cg_steps=-2), "cg_steps: expected an int >= 0"),
    (dict(regularization=float("inf")), "regularization: expected a finite number"),
    (dict(n_threads=0), "n_threads: expected 1 to"),
])
def test_raw_binding_refuses_inconsistent_arrays(change, match):
    with pytest.raises(ValueError, match=match):
        _native.als_solve(**_raw(**change))


def test_raw_binding_refuses_wrong_dtypes_and_read_only_outputs():
    with pytest.raises(TypeError, match="data: expected dtype float32"):
        _native.als_solve(**_raw(data=np.ones(3)))
    frozen = np.zeros((2, 4), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out: array is read-only"):
        _native.als_solve(**_raw(out=frozen))
    with pytest.raises(ValueError, match="out: expected shape"):
        _native.als_loss(*(_raw()[k] for k in ("indptr", "indices", "data", "x0", "y")), 0.1, 1, np.zeros(2))


def test_solver_codes_are_one_fact():
    assert tuple(_native.ALS_SOLVERS) == als.SOLVERS
