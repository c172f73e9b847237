"""LogisticMatrixFactorization (issue 10): implicit 0.7's LMF compared with implicit itself (the
same initial factors, the same epoch where no negatives are drawn, p@10 on MovieLens 100K),
reproducibility across backends and threads, its API, persistence, and bad input. The common
model API runs on it in tests/test_models_api.py."""

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from turborec.datasets import read_movielens_file
from turborec.models import LogisticMatrixFactorization, ParameterWarning
from turborec.split import random_split

import implicit.cpu.lmf  # noqa: E402 - a peer, in [test]: missing is a failure
import implicit.evaluation

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"


def fit_implicit(user_items, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        model = implicit.cpu.lmf.LogisticMatrixFactorization(**params)
        model.fit(user_items, show_progress=False)
    return model


def random_matrix(seed, n_users=120, n_items=80, density=0.08):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)
    matrix.data[:] = 1
    return matrix


def fit(user_items, **params):
    return LogisticMatrixFactorization(**params).fit(user_items, show_progress=False)


@pytest.fixture(scope="module")
def movielens():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    train, test = random_split(read_movielens_file(ML100K), 0.2, seed=0)
    return train.to_csr(values="ones"), test.to_csr(values="ones")


# ---------------------------------------------------------------- parity with implicit


def test_precision_at_10_on_movielens_is_implicits(movielens):
    """Binarised ML-100K, 80/20 split, implicit's defaults; both ranked by implicit's own
    evaluation, averaged over four seeds (the sampling differs; one fit's p@10 varies by ~3%)."""
    train, test = movielens
    ours, theirs = [], []
    for seed in range(4):
        for scores, model in ((ours, fit(train, random_state=seed)), (theirs, fit_implicit(train, random_state=seed))):
            scores.append(implicit.evaluation.precision_at_k(model, train, test, K=10, show_progress=False))
    assert np.mean(theirs) > 0.25
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.04 * np.mean(theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_seed_draws_implicits_initial_factors(dtype):
    matrix = random_matrix(0).tolil()
    matrix[3] = 0  # a user and an item without interactions: zero rows, as implicit's
    matrix[:, 5] = 0
    matrix = matrix.tocsr()
    for seed in (0, 7):
        theirs = fit_implicit(matrix, factors=5, iterations=0, random_state=seed)
        ours = fit(matrix, factors=5, iterations=0, random_state=seed, dtype=dtype)
        assert ours.user_factors.dtype == dtype  # implicit's float32 draws, in dtype
        np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)
        np.testing.assert_array_equal(ours.user_factors, theirs.user_factors)
    np.testing.assert_array_equal(ours.user_factors[3], 0)
    np.testing.assert_array_equal(ours.item_factors[5], 0)
    np.testing.assert_array_equal(ours.user_factors[0, -2], 1)
    np.testing.assert_array_equal(ours.item_factors[0, -1], 1)


def test_an_epoch_without_negatives_is_implicits():
    """neg_prop=0 takes implicit's per-thread random draws out: one epoch from the same start."""
    matrix = random_matrix(1, density=0.15)
    theirs = fit_implicit(matrix, factors=6, iterations=1, neg_prop=0, random_state=3, num_threads=1)
    ours = fit(matrix, factors=6, iterations=1, neg_prop=0, random_state=3, num_threads=1)
    np.testing.assert_allclose(ours.user_factors, theirs.user_factors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.item_factors, theirs.item_factors, rtol=1e-4, atol=1e-5)


def test_queries_on_implicits_factors_equal_implicits_answers():
    theirs = fit_implicit(random_matrix(1), factors=8, iterations=5, random_state=0)
    ours = LogisticMatrixFactorization(factors=8)
    ours.user_factors, ours.item_factors = theirs.user_factors, theirs.item_factors
    matrix, users = random_matrix(1), np.arange(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = theirs.recommend(users, matrix[users], N=7), theirs.similar_items(np.arange(10), N=5)
    got = ours.recommend(users, matrix[users], N=7), ours.similar_items(np.arange(10), N=5)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g[0], w[0])
        np.testing.assert_allclose(g[1], w[1], rtol=1e-5)


# ---------------------------------------------------------------- behaviour


def test_training_ranks_liked_items_above_the_rest():
    matrix = random_matrix(2, density=0.15)
    model = fit(matrix, factors=8, iterations=20, random_state=0)
    scores = model.user_factors @ model.item_factors.T
    liked = matrix.toarray() > 0
    assert scores[liked].mean() > scores[~liked].mean() + 1


def test_the_fit_is_the_same_bits_on_every_backend_and_thread_count():
    matrix = random_matrix(3)
    want = fit(matrix, factors=4, iterations=3, random_state=5, backend="native", num_threads=1)
    for backend, threads in (("native", 2), ("numba", 1), ("numba", 2), ("numpy", 1)):
        got = fit(matrix, factors=4, iterations=3, random_state=5, backend=backend, n_threads=threads)
        np.testing.assert_array_equal(got.user_factors, want.user_factors)
        np.testing.assert_array_equal(got.item_factors, want.item_factors)


def test_fit_continues_from_the_current_factors_and_float64():
    matrix = random_matrix(4)
    model = fit(matrix, factors=3, iterations=2, random_state=0, dtype=np.float64)
    start = model.item_factors.copy()
    model.fit(matrix, show_progress=False)
    assert model.item_factors.dtype == np.float64 and not np.array_equal(model.item_factors, start)
    assert np.abs(model.item_factors - start).max() < np.abs(start).max() * 10


def test_callback_gets_implicits_arguments_each_epoch():
    calls = []
    LogisticMatrixFactorization(factors=2, iterations=3, random_state=0).fit(random_matrix(5), show_progress=False,
                                                                             callback=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [0, 1, 2] and all(len(c) == 2 and c[1] >= 0 for c in calls)


def test_recalculation_is_not_supported_as_in_implicit():
    model = fit(random_matrix(6), factors=2, iterations=1, random_state=0)
    with pytest.raises(NotImplementedError):
        model.recommend(0, random_matrix(6)[0], recalculate_user=True)
    with pytest.raises(NotImplementedError, match="recalculate_item"):
        model.similar_items(0, recalculate_item=True)


def test_similar_items_and_users_rank_themselves_first():
    model = fit(random_matrix(7), factors=4, iterations=3, random_state=0)
    ids, scores = model.similar_items(np.arange(5), N=4)
    np.testing.assert_array_equal(ids[:, 0], np.arange(5))
    np.testing.assert_allclose(scores[:, 0], 1, rtol=1e-5)
    ids, _ = model.similar_users(3, N=5, filter_users=[4])
    assert ids[0] == 3 and 4 not in ids


def test_non_csr_input_warns_and_is_converted():
    matrix = random_matrix(9)
    with pytest.warns(ParameterWarning, match="got a COO matrix"):
        model = fit(matrix.tocoo(), factors=3, iterations=2, random_state=0)
    np.testing.assert_array_equal(model.item_factors, fit(matrix, factors=3, iterations=2, random_state=0).item_factors)


# ---------------------------------------------------------------- persistence


def test_save_load_round_trip_and_implicit_reads_it(tmp_path):
    model = fit(random_matrix(10), factors=4, iterations=2, learning_rate=0.5, regularization=0.2, neg_prop=7,
                random_state=3, dtype=np.float64)
    model.save(str(tmp_path / "lmf"))
    loaded = LogisticMatrixFactorization.load(str(tmp_path / "lmf"))
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)
    theirs = implicit.cpu.lmf.LogisticMatrixFactorization.load(str(tmp_path / "lmf.npz"))
    np.testing.assert_array_equal(theirs.user_factors, model.user_factors)
    assert theirs.neg_prop == 7 and theirs.learning_rate == 0.5


def test_load_reads_implicits_file_without_pickle():
    theirs = fit_implicit(random_matrix(11), factors=3, iterations=2, random_state=1, neg_prop=4)
    buffer = io.BytesIO()
    theirs.save(buffer)
    buffer.seek(0)
    ours = LogisticMatrixFactorization.load(buffer)
    assert ours.neg_prop == 4 and ours.factors == 3 and ours.dtype is np.float32
    np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)


def test_a_generator_random_state_is_left_out_of_the_file_with_a_warning():
    model = LogisticMatrixFactorization(factors=2, iterations=1, random_state=np.random.default_rng(0))
    buffer = io.BytesIO()
    with pytest.warns(ParameterWarning, match="random_state: a Generator cannot be saved"):
        model.save(buffer)
    buffer.seek(0)
    assert LogisticMatrixFactorization.load(buffer).random_state is None


def test_pickle_round_trip_keeps_the_fitted_model():
    model = fit(random_matrix(12), factors=3, iterations=2, random_state=0)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.user_factors, model.user_factors)
    np.testing.assert_array_equal(again.recommend(np.arange(5), random_matrix(12)[:5])[0],
                                  model.recommend(np.arange(5), random_matrix(12)[:5])[0])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("params, error, message", [
    (dict(factors=0), ValueError, "factors: expected a positive int"),
    (dict(factors=-3), ValueError, "factors: expected a positive int"),
    (dict(factors=2.5), TypeError, "factors: expected a positive int"),
    (dict(dtype=np.float16), TypeError, "dtype: expected numpy.float32 or numpy.float64, got float16"),
    (dict(learning_rate=-1.0), ValueError, "learning_rate: expected a finite number"),
    (dict(regularization=np.nan), ValueError, "regularization: expected a finite number"),
    (dict(iterations=-1), ValueError, "iterations: expected an int >= 0"),
    (dict(neg_prop=-1), ValueError, "neg_prop: expected an int in"),
    (dict(neg_prop=1.5), TypeError, "neg_prop: expected an int"),
    (dict(num_threads=-2), ValueError, "num_threads: expected 0"),
    (dict(random_state="seed"), TypeError, "random_state: expected an int"),
    (dict(backend="nonsense"), ValueError, "nonsense"),
])
def test_bad_parameters_are_refused_at_fit(params, error, message):
    with pytest.raises(error, match=message):
        fit(random_matrix(13), **{"iterations": 1, **params})


@pytest.mark.parametrize("value, message", [(np.nan, "NaN or inf"), (np.inf, "NaN or inf"), (-1.0, "negative values")])
def test_bad_values_are_refused_at_fit(value, message):
    matrix = random_matrix(14)
    matrix.data[3] = value
    before = matrix.copy()
    with pytest.raises(ValueError, match=f"user_items: contains {message}"):
        fit(matrix, iterations=1)
    np.testing.assert_array_equal(matrix.data, before.data)


def test_not_fitted_and_bad_callback():
    with pytest.raises(RuntimeError, match="not fitted"):
        LogisticMatrixFactorization().recommend(0, sp.csr_matrix((1, 3)))
    with pytest.raises(TypeError, match="callback: expected a callable"):
        LogisticMatrixFactorization(iterations=1).fit(random_matrix(15), callback=3)


def test_a_diverging_fit_is_an_error_not_nan_factors():
    with pytest.raises(ValueError, match="diverged"):
        fit(random_matrix(16, density=0.3), factors=3, iterations=5, learning_rate=1e38, random_state=0)
