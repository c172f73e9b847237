"""Explicit ALS-WR (issue 9): the half-step kernel ``als.least_squares_explicit`` on every host
backend against the numpy reference (numpy.linalg.solve per row) and the normal equations, and
the model ``ALSWR``: monotone objective, RMSE on MovieLens 100K, persistence, bad input."""

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from conformance import KernelConformance

from turborec import _native, als
from turborec.datasets import read_movielens_file
from turborec.models import ALSWR
from turborec.split import user_random_split

FAMILY = "als"
ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"


def ratings_matrix(rng, n, m, density=0.1):
    """An n x m CSR of ratings in [1, 5] (half stars): every third row empty, every fourth row
    one rating (when there are columns)."""
    matrix = sp.random(n, m, density=density, format="lil", random_state=rng)
    for row in range(n):
        if row % 3 == 0:
            matrix.rows[row], matrix.data[row] = [], []
        elif row % 4 == 1 and m:
            matrix.rows[row], matrix.data[row] = [int(rng.integers(m))], [1.0]
    matrix = matrix.tocsr()
    matrix.data = rng.integers(2, 11, matrix.nnz) / 2.0
    return matrix


def assert_close(got, want, dtype):
    tolerance = 2e-4 if np.dtype(dtype) == np.float32 else 1e-9
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * scale)


class TestLeastSquaresExplicit(KernelConformance):
    """``k`` is the number of factors (at most 12 but in the k-edge tests)."""

    FAMILY = "als"
    SHAPES = ((37, 300), (5, 200), (1, 1), (20, 64))
    THREADS_SHAPE = (300, 400)

    def assert_same(self, got, want):
        assert len(got) == len(want) == 1
        assert got[0].dtype == want[0].dtype and got[0].shape == want[0].shape
        assert_close(got[0], want[0], got[0].dtype)

    def make(self, rng, dtype, n, m, k=10):
        d = k if k in (1, 50, 57) else min(k, 12)
        return dict(ratings=ratings_matrix(rng, n, m), other_factors=rng.standard_normal((m, d)).astype(dtype),
                    regularization=0.1)

    def call(self, inputs, backend, n_threads=None):
        return (als.least_squares_explicit(**inputs, backend=backend, n_threads=n_threads),)


# ---------------------------------------------------------------- the mathematics


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_solves_the_weighted_lambda_normal_equations(backend, rng, dtype):
    r = ratings_matrix(rng, 40, 70, density=0.3)
    y = rng.standard_normal((70, 6)).astype(dtype)
    x = als.least_squares_explicit(r, y, 0.05, backend=backend).astype(np.float64)
    y64 = y.astype(np.float64)
    counts = np.diff(r.indptr)
    for u in range(40):
        cols, values = r.indices[r.indptr[u]:r.indptr[u + 1]], r.data[r.indptr[u]:r.indptr[u + 1]]
        a = y64[cols].T @ y64[cols] + 0.05 * counts[u] * np.eye(6)
        residual = a @ x[u] - y64[cols].T @ values
        assert np.abs(residual).max() <= (1e-3 if dtype == np.float32 else 1e-10) * max(1.0, np.abs(a).max())
    assert not x[counts == 0].any()  # rows without ratings: zeros


def test_one_rating_row_has_the_closed_form(backend):
    y = np.array([[1.0, 2.0], [0.5, -1.0]])
    r = sp.csr_matrix(([4.0], [1], [0, 0, 1]), shape=(2, 2))
    x = als.least_squares_explicit(r, y, 0.25, backend=backend)
    # (y y^T + lambda I) x = r y: x = r y / (|y|^2 + lambda)
    np.testing.assert_allclose(x[1], 4.0 * y[1] / (1.25 + 0.25), rtol=1e-12)
    assert not x[0].any()


def test_duplicates_count_once_each(backend):
    y = np.array([[1.0], [2.0]])
    twice = sp.csr_matrix(([3.0, 5.0], [1, 1], [0, 2]), shape=(1, 2))
    x = als.least_squares_explicit(twice, y, 0.5, backend=backend)
    np.testing.assert_allclose(x[0, 0], (3.0 + 5.0) * 2.0 / (2 * 4.0 + 2 * 0.5), rtol=1e-12)


def test_zero_regularization_singular_row_is_a_clear_error(every_backend):
    y = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])  # row 1 rates items 0 and 1: A = [[5, 0], [0, 0]]
    r = sp.csr_matrix(([1.0, 2.0], [0, 1], [0, 0, 2]), shape=(2, 3))
    with pytest.raises(ValueError, match="regularization: the system of row 1 is not positive definite"):
        als.least_squares_explicit(r, y, 0.0, backend=every_backend)


@pytest.mark.parametrize("bad, message", [
    (dict(ratings=sp.csr_matrix(([np.nan], [0], [0, 1]), shape=(1, 2))), "ratings: contains NaN"),
    (dict(other_factors=np.full((2, 3), np.inf)), "other_factors: contains NaN or inf"),
    (dict(regularization=-0.1), "regularization: expected a finite number"),
    (dict(other_factors=np.ones((5, 3))), "other_factors: expected 2 rows"),
    (dict(ratings=np.ones((1, 2))), "ratings: expected a scipy.sparse matrix"),
])
def test_bad_kernel_input(every_backend, bad, message):
    inputs = dict(ratings=sp.csr_matrix(([4.0], [0], [0, 1]), shape=(1, 2)), other_factors=np.ones((2, 3)),
                  regularization=0.1)
    inputs.update(bad)
    with pytest.raises((ValueError, TypeError), match=message):
        als.least_squares_explicit(**inputs, backend=every_backend)


def test_raw_binding_rejects_inconsistent_arrays():
    y, out = np.ones((3, 2)), np.zeros((2, 2))
    indices, data = np.array([0, 5], dtype=np.int32), np.ones(2)
    with pytest.raises(ValueError, match="ratings"):  # column 5 out of range
        _native.als_explicit_solve(np.array([0, 1, 2], dtype=np.int32), indices, data, y, 0.1, 1, out)
    with pytest.raises(ValueError, match="indptr|ratings"):  # indptr past the indices
        _native.als_explicit_solve(np.array([0, 1, 9], dtype=np.int32), indices[:1], data, y, 0.1, 1, out)
    with pytest.raises(ValueError, match="out"):
        _native.als_explicit_solve(np.array([0, 1, 1], dtype=np.int32), indices[:1], data, y, 0.1, 1,
                                   np.zeros((3, 2)))
    with pytest.raises(TypeError):
        _native.als_explicit_solve(np.array([0, 1, 1], dtype=np.int32), indices[:1], data, y.astype(np.float32),
                                   0.1, 1, out)


# ---------------------------------------------------------------- the model


def synthetic(rng, n_users=60, n_items=40, rank=3, density=0.4):
    """(users, items, ratings) of a noisy low-rank matrix, ratings in [1, 5]."""
    p, q = rng.standard_normal((n_users, rank)), rng.standard_normal((n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ratings = np.clip(3 + (p[users] * q[items]).sum(1) + 0.3 * rng.standard_normal(len(users)), 1, 5)
    return users, items, ratings


def objective(model, users, items, ratings):
    """The ALS-WR objective in float64, on the ratings the model fitted (centred or not)."""
    x, y = model.user_factors_.astype(np.float64), model.item_factors_.astype(np.float64)
    target = ratings - (model.global_mean_ if model.center else 0.0)
    errors = target - (x[users] * y[items]).sum(1)
    penalty = (model.user_counts_ * (x ** 2).sum(1)).sum() + (model.item_counts_ * (y ** 2).sum(1)).sum()
    return float((errors ** 2).sum() + model.regularization * penalty)


@pytest.mark.parametrize("center", [True, False])
def test_every_half_step_decreases_the_objective(host_backend, rng, center):
    users, items, ratings = synthetic(rng)
    model = ALSWR(factors=4, regularization=0.05, iterations=1, random_state=0, dtype="float64", center=center,
                  backend=host_backend).fit((users, items, ratings))
    values = ratings - (model.global_mean_ if center else 0.0)
    shape = (len(model.user_counts_), len(model.item_counts_))
    by_user = als.as_ratings(sp.csr_matrix((values, (users, items)), shape=shape), np.float64)
    by_item = als.as_ratings(sp.csr_matrix((values, (items, users)), shape=shape[::-1]), np.float64)
    losses = [objective(model, users, items, ratings)]
    for _ in range(5):
        model.user_factors_ = als.solve_explicit(by_user, model.item_factors_, 0.05, host_backend, None)
        losses.append(objective(model, users, items, ratings))
        model.item_factors_ = als.solve_explicit(by_item, model.user_factors_, 0.05, host_backend, None)
        losses.append(objective(model, users, items, ratings))
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in zip(losses, losses[1:]))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("center", [True, False])
def test_fit_predicts_held_out_ratings_and_backends_agree(rng, center):
    users, items, ratings = synthetic(rng, density=0.6)
    test = rng.random(len(users)) < 0.2
    fitted = {b: ALSWR(factors=5, regularization=0.05, iterations=8, random_state=1, dtype="float64",
                       center=center, backend=b).fit((users[~test], items[~test], ratings[~test]),
                                                     rating_scale=(1, 5))
              for b in ("numpy", "native", "numba")}
    predictions = {b: m.predict(users[test], items[test]) for b, m in fitted.items()}
    np.testing.assert_allclose(predictions["native"], predictions["numpy"], rtol=1e-8)
    np.testing.assert_allclose(predictions["numba"], predictions["numpy"], rtol=1e-8)
    rmse = np.sqrt(np.mean((predictions["native"] - ratings[test]) ** 2))
    assert rmse < 0.6  # the noise is 0.3 (rank 3, plus the mean when not centred: 5 factors)


def test_movielens_100k_rmse():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    train, test = user_random_split(read_movielens_file(ML100K), 0.2, seed=0)
    model = ALSWR(factors=10, regularization=0.1, iterations=10, random_state=0).fit(train, rating_scale=(1, 5))
    predictions = model.predict(test.users, test.items)
    rmse = float(np.sqrt(np.mean((predictions - test.ratings) ** 2)))
    print(f"ALSWR ML-100K RMSE {rmse:.4f}")
    assert rmse < 0.95


def test_predict_unknowns_and_recommend(rng):
    users, items, ratings = synthetic(rng)
    model = ALSWR(factors=3, iterations=3, random_state=0, backend="native").fit((users, items, ratings))
    values, details = model.predict([0, -1, 0, 999], [1, 0, 999, 1], return_details=True)
    assert values[1] == values[2] == values[3] == model.global_mean_
    np.testing.assert_array_equal(details["was_impossible"], [False, True, True, True])
    want = model.global_mean_ + model.user_factors_[0].astype(np.float64) @ model.item_factors_[1]
    assert values[0] == pytest.approx(np.clip(want, *model.rating_scale_), rel=1e-6)
    ids, scores = model.recommend([2, 5], N=4)
    full = model.global_mean_ + model.user_factors_[[2, 5]].astype(np.float64) @ model.item_factors_.T
    np.testing.assert_allclose(scores, -np.sort(-full, axis=1)[:, :4], rtol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(full, ids.astype(np.int64), 1), scores, rtol=1e-5)
    exclude = sp.csr_matrix(([1.0], ([0], [ids[0, 0]])), shape=(1, 40))
    assert ids[0, 0] not in model.recommend(2, N=4, exclude=exclude)[0]


def test_save_load_and_pickle_round_trip(rng, tmp_path):
    users, items, ratings = synthetic(rng)
    model = ALSWR(factors=3, iterations=2, random_state=3, center=False, n_threads=1).fit((users, items, ratings))
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    for copy in (ALSWR.load(buffer), pickle.loads(pickle.dumps(model))):
        assert copy.get_params() == model.get_params()
        np.testing.assert_array_equal(copy.user_factors_, model.user_factors_)
        np.testing.assert_array_equal(copy.item_factors_, model.item_factors_)
        np.testing.assert_array_equal(copy.predict(users, items), model.predict(users, items))
    model.save(str(tmp_path / "model"))
    assert ALSWR.load(str(tmp_path / "model")).rating_scale_ == model.rating_scale_


def test_same_seed_same_factors_and_dtype(rng):
    data = synthetic(rng)
    a = ALSWR(factors=3, iterations=2, random_state=7).fit(data)
    b = ALSWR(factors=3, iterations=2, random_state=7).fit(data)
    assert a.user_factors_.dtype == np.float32
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize("params, data_change, error, message", [
    (dict(factors=0), None, ValueError, "factors: expected a positive int"),
    (dict(factors=-2), None, ValueError, "factors: expected a positive int"),
    (dict(regularization=-1.0), None, ValueError, "regularization: expected a finite number"),
    (dict(regularization=float("nan")), None, ValueError, "regularization"),
    (dict(iterations=0), None, ValueError, "iterations: expected a positive int"),
    (dict(dtype="float16"), None, ValueError, "dtype: expected one of"),
    (dict(center="yes"), None, TypeError, "center"),
    ({}, "nan", ValueError, "ratings: NaN or inf"),
    ({}, "negative", ValueError, "users: indices must be >= 0"),
])
def test_bad_model_input(rng, params, data_change, error, message):
    users, items, ratings = synthetic(rng)
    ratings = ratings.copy()
    if data_change == "nan":
        ratings[3] = np.nan
    elif data_change == "negative":
        users = users.copy()
        users[0] = -1
    with pytest.raises(error, match=message):
        ALSWR(**params).fit((users, items, ratings))


def test_unfitted_model_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        ALSWR().predict([0], [0])


def test_callback_after_each_sweep_and_inputs_unchanged(rng):
    users, items, ratings = synthetic(rng)
    saved = users.copy(), items.copy(), ratings.copy()
    seen = []
    ALSWR(factors=2, iterations=3, random_state=0).fit((users, items, ratings), callback=lambda i, m: seen.append(i))
    assert seen == [0, 1, 2]
    for before, after in zip(saved, (users, items, ratings)):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(TypeError, match="callback: expected a callable"):
        ALSWR().fit((users, items, ratings), callback=3)
