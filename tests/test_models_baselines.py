"""The implicit-style recommend surface, on the baselines and FactorModel."""

import numpy as np
import pytest
import scipy.sparse as sp

from turborec.models import FactorModel, MostPopular, ParameterWarning, Random
from turborec.models._base import SINK_SCORE


@pytest.fixture
def liked():
    # item popularity: 0 -> 3 users, 1 -> 2, 2 -> 2, 3 -> 1, 4 -> 0
    return sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [1, 1, 1, 1, 0]], np.float32))


def test_most_popular_ranks_by_popularity_and_filters(liked):
    model = MostPopular().fit(liked)
    np.testing.assert_array_equal(model.item_popularity_, [3, 2, 2, 1, 0])
    ids, scores = model.recommend(0, liked[0], N=3)
    np.testing.assert_array_equal(ids, [2, 3, 4])
    np.testing.assert_array_equal(scores, [2, 1, 0])
    ids, _ = model.recommend(np.array([0, 1]), liked[[0, 1]], N=2, filter_already_liked_items=False)
    np.testing.assert_array_equal(ids, [[0, 1], [0, 1]])  # tie between 1 and 2 goes to the lower id
    ids, scores = model.recommend(2, liked[2], N=3)
    np.testing.assert_array_equal(ids, [4, -1, -1])
    assert scores[1] == SINK_SCORE
    ids, _ = model.recommend(0, liked[0], N=2, filter_items=[2])
    np.testing.assert_array_equal(ids, [3, 4])
    ids, scores = model.recommend(0, liked[0], N=5, items=[1, 3, 4])
    np.testing.assert_array_equal(ids, [3, 4, 1])  # min(N, len(items)) columns; item 1 is liked: last, as implicit
    assert scores[2] == SINK_SCORE


def test_random_is_seeded_and_filters(liked):
    a = Random(seed=3).fit(liked).recommend(np.arange(3), liked, N=2)[0]
    b = Random(seed=3).fit(liked).recommend(np.arange(3), liked, N=2)[0]
    np.testing.assert_array_equal(a, b)
    ids, _ = Random(seed=1).fit(liked).recommend(np.arange(3), liked, N=5)
    for user in range(3):
        shown = set(ids[user][ids[user] >= 0])
        assert shown == set(range(5)) - set(liked[user].indices)


def test_factor_model_recommend_matches_topk_dot(rng):
    users = rng.standard_normal((20, 4)).astype(np.float32)
    items = rng.standard_normal((30, 4)).astype(np.float32)
    model = FactorModel(users, items)
    ids, scores = model.recommend(np.arange(20), sp.csr_matrix((20, 30)), N=5)
    best = np.argsort(-(users @ items.T), axis=1)[:, :5]
    np.testing.assert_array_equal(ids, best)
    one, _ = model.recommend(7, sp.csr_matrix((1, 30)), N=5)
    np.testing.assert_array_equal(one, best[7])


def test_recommend_errors(liked):
    model = MostPopular().fit(liked)
    with pytest.raises(IndexError, match="userid: 3 out of range"):
        model.recommend(3, liked[0])
    with pytest.raises(ValueError, match="user_items: expected shape \\(1, 5\\)"):
        model.recommend(0, liked)
    with pytest.raises(ValueError, match="N: expected a positive int"):
        model.recommend(0, liked[0], N=0)
    with pytest.raises(ValueError, match="filter_items and items"):
        model.recommend(0, liked[0], filter_items=[1], items=[2])
    with pytest.raises(NotImplementedError, match="recalculate"):
        model.recommend(0, liked[0], recalculate_user=True)
    with pytest.raises(RuntimeError, match="not fitted"):
        MostPopular().recommend(0, liked[0])
    with pytest.warns(ParameterWarning, match="COO"):
        MostPopular().fit(liked.tocoo())
    with pytest.raises(TypeError, match="user_items: expected a scipy.sparse CSR matrix .* or turborec.datasets.Interactions"):
        MostPopular().fit(np.ones((2, 2)))


def test_fitted_models_say_backend_and_threads(liked):
    assert (MostPopular(n_threads=1).fit(liked).backend_, Random(backend="numpy").fit(liked).backend_) == ("native", "numpy")
    assert MostPopular(n_threads=1).fit(liked).n_threads_ == 1
    ids_numpy, _ = MostPopular(backend="numpy").fit(liked).recommend(np.arange(3), liked, N=2)
    ids_native, _ = MostPopular(backend="native").fit(liked).recommend(np.arange(3), liked, N=2)
    np.testing.assert_array_equal(ids_numpy, ids_native)


def test_most_popular_counts_users_not_stored_entries():
    """Regression (review): a duplicate stored entry counted as a second user."""
    liked = sp.csr_matrix((np.array([1.0, 1.0, 1.0]), np.array([0, 0, 1]), np.array([0, 2, 3])), shape=(2, 2))
    np.testing.assert_array_equal(MostPopular().fit(liked).item_popularity_, [1, 1])


def test_model_argument_errors_name_the_argument(liked):
    model = MostPopular().fit(liked)
    with pytest.raises(IndexError, match="filter_items: item id 99 out of range"):
        model.recommend(0, liked[0], filter_items=[99])
    with pytest.raises(IndexError, match="items: item id 99 out of range"):
        model.recommend(0, liked[0], items=[99])
    factors = np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match="item_factors: expected dtype float32"):
        FactorModel(factors, factors.astype(np.float64))
    with pytest.raises(ValueError, match="item_factors: expected 2 columns"):
        FactorModel(factors, np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="user_factors: contains NaN"):
        FactorModel(np.full((3, 2), np.nan, np.float32), factors)
