"""BayesianPersonalizedRanking (issue 10): implicit 0.7's BPR compared with implicit itself (the
same initial factors, the same answers to queries on the same factors, p@10 on MovieLens 100K),
reproducibility, its API, persistence, and bad input. The common model API runs on it in
tests/test_models_api.py."""

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from turborec.datasets import read_movielens_file
from turborec.models import BayesianPersonalizedRanking, ParameterWarning
from turborec.split import random_split

import implicit.bpr  # noqa: E402 - a peer, in [test]: missing is a failure
import implicit.cpu.bpr
import implicit.evaluation

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"


def fit_implicit(user_items, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        model = implicit.cpu.bpr.BayesianPersonalizedRanking(**params)
        model.fit(user_items, show_progress=False)
    return model


def random_matrix(seed, n_users=120, n_items=80, density=0.08):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)
    matrix.data[:] = 1
    return matrix


def fit(user_items, **params):
    return BayesianPersonalizedRanking(**params).fit(user_items, show_progress=False)


@pytest.fixture(scope="module")
def movielens():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    train, test = random_split(read_movielens_file(ML100K), 0.2, seed=0)
    return train.to_csr(values="ones"), test.to_csr(values="ones")


# ---------------------------------------------------------------- parity with implicit


def test_precision_at_10_on_movielens_equals_implicits(movielens):
    """Binarised ML-100K, 80/20 split, implicit's defaults but 64 factors and 50 epochs; both
    ranked by implicit's own evaluation, averaged over three seeds (the sampling differs)."""
    train, test = movielens
    params = dict(factors=64, iterations=50, num_threads=1)
    ours, theirs = [], []
    for seed in range(3):
        for models, model in ((ours, fit(train, **params, random_state=seed)),
                              (theirs, fit_implicit(train, **params, random_state=seed))):
            models.append(implicit.evaluation.precision_at_k(model, train, test, K=10, show_progress=False,
                                                             num_threads=1))
    assert np.mean(theirs) > 0.3
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.02 * np.mean(theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_seed_draws_implicits_initial_factors(dtype):
    matrix = random_matrix(0).tolil()
    matrix[3] = 0  # a user and an item without interactions: zero rows, as implicit's
    matrix[:, 5] = 0
    matrix = matrix.tocsr()
    for seed in (0, 7):
        theirs = fit_implicit(matrix, factors=5, iterations=0, random_state=seed, dtype=dtype)
        ours = fit(matrix, factors=5, iterations=0, random_state=seed, dtype=dtype)
        np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)
        np.testing.assert_array_equal(ours.user_factors, theirs.user_factors)
        assert ours.user_factors.dtype == dtype
    np.testing.assert_array_equal(ours.user_factors[3], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(ours.item_factors[5], 0)


def test_queries_on_implicits_factors_equal_implicits_answers():
    theirs = fit_implicit(random_matrix(1), factors=8, iterations=5, random_state=0)
    ours = BayesianPersonalizedRanking(factors=8)
    ours.user_factors, ours.item_factors = theirs.user_factors, theirs.item_factors
    matrix = random_matrix(1)
    users = np.arange(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = theirs.recommend(users, matrix[users], N=7)
        want_items = theirs.similar_items(np.arange(10), N=5)
        want_users = theirs.similar_users(4, N=6)
    got = ours.recommend(users, matrix[users], N=7)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
    got_items = ours.similar_items(np.arange(10), N=5)
    np.testing.assert_array_equal(got_items[0], want_items[0])
    np.testing.assert_allclose(got_items[1], want_items[1], rtol=1e-5)
    got_users = ours.similar_users(4, N=6)
    np.testing.assert_array_equal(got_users[0], want_users[0])
    np.testing.assert_allclose(got_users[1], want_users[1], rtol=1e-5)


def test_training_ranks_liked_items_above_the_rest():
    matrix = random_matrix(2, density=0.15)
    model = fit(matrix, factors=16, iterations=60, learning_rate=0.05, random_state=0)
    scores = model.user_factors @ model.item_factors.T
    liked = matrix.toarray() > 0
    auc = [np.mean(row[mask][:, None] > row[~mask][None, :]) for row, mask in zip(scores, liked) if mask.any()]
    assert np.mean(auc) > 0.9


# ---------------------------------------------------------------- reproducibility and threads


def test_one_thread_and_a_seed_reproduce_the_fit_on_every_host_backend():
    matrix = random_matrix(3)
    runs = [fit(matrix, factors=6, iterations=4, random_state=11, num_threads=1, backend=backend)
            for backend in ("native", "numba", "numpy", "native")]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.user_factors, runs[0].user_factors)
        np.testing.assert_array_equal(run.item_factors, runs[0].item_factors)
    other = fit(matrix, factors=6, iterations=4, random_state=12, num_threads=1)
    assert not np.array_equal(other.item_factors, runs[0].item_factors)


def test_threads_and_the_bias_column():
    matrix = random_matrix(4)
    model = fit(matrix, factors=6, iterations=3, random_state=0, num_threads=2)
    assert model.n_threads_ == 2 and model.backend_ == "native"
    assert model.user_factors.shape == (120, 7) and model.item_factors.shape == (80, 7)
    np.testing.assert_array_equal(model.user_factors[:, -1], 1)
    assert fit(matrix, factors=6, iterations=1, n_threads=1, num_threads=2).n_threads_ == 1


def test_fit_continues_from_the_current_factors_like_implicit():
    matrix = random_matrix(5)
    model = fit(matrix, factors=4, iterations=2, random_state=0, num_threads=1)
    start = model.item_factors.copy()
    model.fit(matrix, show_progress=False)
    assert not np.array_equal(model.item_factors, start)
    twice = BayesianPersonalizedRanking(factors=4, iterations=0, random_state=0).fit(matrix, show_progress=False)
    np.testing.assert_array_equal(twice.item_factors, fit(matrix, factors=4, iterations=0, random_state=0).item_factors)


# ---------------------------------------------------------------- API


def test_callback_gets_implicits_arguments_each_epoch():
    matrix = random_matrix(6)
    calls = []
    BayesianPersonalizedRanking(factors=3, iterations=4, random_state=0).fit(
        matrix, show_progress=False, callback=lambda *args: calls.append(args))
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    for _, seconds, correct, skipped in calls:
        assert seconds >= 0 and 0 <= correct <= matrix.nnz - skipped and 0 <= skipped <= matrix.nnz


def test_recalculation_is_not_supported_as_in_implicit():
    model = fit(random_matrix(7), factors=3, iterations=1)
    with pytest.raises(NotImplementedError):
        model.recommend(0, random_matrix(7)[0], recalculate_user=True)
    with pytest.raises(NotImplementedError):
        model.similar_items(0, recalculate_item=True)


def test_similar_items_and_users_rank_themselves_first():
    model = fit(random_matrix(8), factors=8, iterations=5, random_state=0)
    ids, scores = model.similar_items(np.arange(5), N=4)
    np.testing.assert_array_equal(ids[:, 0], np.arange(5))
    np.testing.assert_allclose(scores[:, 0], 1, rtol=1e-5)
    ids, _ = model.similar_users(3, N=3, users=[3, 9, 10, 11])
    assert ids[0] == 3 and set(ids) <= {3, 9, 10, 11}
    ids, _ = model.similar_items(3, N=80, filter_items=[3, 4])
    assert 3 not in ids and 4 not in ids and len(ids) == 78
    with pytest.raises(ValueError, match="filter_users and users: give at most one"):
        model.similar_users(0, filter_users=[1], users=[2])
    with pytest.raises(IndexError, match=r"itemid: 80 out of range \[0, 80\)"):
        model.similar_items(80)


def test_non_csr_input_warns_and_is_converted():
    matrix = random_matrix(9)
    with pytest.warns(ParameterWarning, match="got a COO matrix"):
        model = fit(matrix.tocoo(), factors=3, iterations=2, random_state=0, num_threads=1)
    np.testing.assert_array_equal(model.item_factors,
                                  fit(matrix, factors=3, iterations=2, random_state=0, num_threads=1).item_factors)


# ---------------------------------------------------------------- persistence


def test_save_load_round_trip_and_implicit_reads_it(tmp_path):
    model = fit(random_matrix(10), factors=4, iterations=2, learning_rate=0.03, regularization=0.02, random_state=3,
                dtype=np.float64, verify_negative_samples=False, num_threads=1)
    model.save(str(tmp_path / "bpr"))
    loaded = BayesianPersonalizedRanking.load(str(tmp_path / "bpr"))
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)
    np.testing.assert_array_equal(loaded.recommend(0, random_matrix(10)[0])[0], model.recommend(0, random_matrix(10)[0])[0])
    theirs = implicit.cpu.bpr.BayesianPersonalizedRanking.load(str(tmp_path / "bpr.npz"))
    np.testing.assert_array_equal(theirs.user_factors, model.user_factors)
    assert theirs.learning_rate == 0.03 and theirs.verify_negative_samples is False


def test_load_reads_implicits_file_without_pickle():
    theirs = fit_implicit(random_matrix(11), factors=3, iterations=2, random_state=1, learning_rate=0.05)
    buffer = io.BytesIO()
    theirs.save(buffer)
    buffer.seek(0)
    ours = BayesianPersonalizedRanking.load(buffer)
    assert ours.learning_rate == 0.05 and ours.factors == 3 and ours.dtype is np.float32
    np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)


def test_a_generator_random_state_is_left_out_of_the_file_with_a_warning():
    model = BayesianPersonalizedRanking(factors=2, iterations=1, random_state=np.random.default_rng(0))
    buffer = io.BytesIO()
    with pytest.warns(ParameterWarning, match="random_state: a Generator cannot be saved"):
        model.save(buffer)
    buffer.seek(0)
    assert BayesianPersonalizedRanking.load(buffer).random_state is None


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
    (dict(verify_negative_samples="yes"), TypeError, "verify_negative_samples: expected a bool"),
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
    with pytest.raises(ValueError, match=f"user_items: contains {message}"):
        fit(matrix, iterations=1)


def test_not_fitted_and_bad_callback():
    with pytest.raises(RuntimeError, match="not fitted"):
        BayesianPersonalizedRanking().recommend(0, sp.csr_matrix((1, 3)))
    with pytest.raises(TypeError, match="callback: expected a callable"):
        BayesianPersonalizedRanking(iterations=1).fit(random_matrix(15), callback=3)


def test_a_diverging_fit_is_an_error_not_nan_factors():
    with pytest.raises(ValueError, match="diverged"):
        fit(random_matrix(16, density=0.3), factors=3, iterations=20, learning_rate=1e30, random_state=0)
