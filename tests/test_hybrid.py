"""Hybrid (issue 8): weighted blends of normalised model scores, and the ``score`` hook it blends."""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec.datasets import Interactions, synthetic_implicit
from turborec.models import FactorModel, Hybrid, MostPopular, Random, RecommenderBase
from turborec.models._base import SINK_SCORE

# The estimator surface every model shares, run on Hybrids too (they use this module's fixtures).
from test_models_api import (  # noqa: F401
    N_ITEMS,
    N_USERS,
    data,
    test_conversion_warnings_point_at_the_callers_line,
    test_fit_and_recommend_take_interactions_like_csr,
    test_malformed_user_items_are_errors_before_scipy_touches_them,
    test_n_beyond_the_catalogue_gives_min_n_n_items_columns_like_topk_dot,
    test_n_beyond_the_given_items_gives_len_items_columns,
    test_params_survive_pickle_and_deepcopy,
    test_recommend_rejects_interactions_of_another_shape,
    test_set_params_round_trips_and_returns_self,
    test_show_progress_must_be_a_bool,
)


def _int_factors(seed, n_users=N_USERS, n_items=N_ITEMS, n_factors=3):
    """Small-integer factors: every score is exact, so rankings compare bit for bit."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-3, 4, (n_users, n_factors)).astype(np.float32),
            rng.integers(-3, 4, (n_items, n_factors)).astype(np.float32))


HYBRIDS = {
    "popular+random": lambda: Hybrid([(MostPopular(), 0.7), (Random(seed=1), 0.3)]),
    "factors+popular, rank": lambda: Hybrid([(FactorModel(*_int_factors(0)), 1.0), (MostPopular(), 2.0)],
                                            normalize="rank"),
    "factors, raw": lambda: Hybrid([(FactorModel(*_int_factors(1)), 1.0)], normalize=None),
}


@pytest.fixture(params=sorted(HYBRIDS))
def make(request):
    return HYBRIDS[request.param]


@pytest.fixture
def implicit_data():
    return synthetic_implicit(60, 40, density=0.1, seed=3)


# --------------------------------------------------------------------------------------------
# The score hook


def test_score_hook_of_each_model(data):
    matrix = data.to_csr(values="ones")
    popular = MostPopular().fit(data)
    scores = popular.score(np.arange(N_USERS))
    assert scores.dtype == np.float32 and scores.shape == (N_USERS, N_ITEMS)
    np.testing.assert_array_equal(scores, np.tile(popular.item_popularity_, (N_USERS, 1)))
    users, items = _int_factors(2)
    factors = FactorModel(users, items)
    np.testing.assert_array_equal(factors.score([2, 0]), (users @ items.T)[[2, 0]])
    np.testing.assert_array_equal(factors.score(1, matrix[1]), users[1] @ items.T)  # a scalar: 1-D
    rand = Random(seed=4).fit(data).score(np.arange(N_USERS))
    assert rand.shape == (N_USERS, N_ITEMS) and ((rand >= 0) & (rand < 1)).all()
    with pytest.raises(IndexError, match=r"userid: 4 out of range \[0, 4\)"):
        popular.score(4)
    with pytest.raises(ValueError, match=r"user_items: expected shape \(2, 6\)"):
        popular.score([0, 1], matrix[:1])
    with pytest.raises(RuntimeError, match="MostPopular is not fitted"):
        MostPopular().score(0)


def test_default_score_ranks_every_item_with_rank(data):
    """A model that implements only _rank is scored through it (the hook's default)."""
    users, items = _int_factors(5)

    class RankOnly(FactorModel):
        _score = RecommenderBase._score

    expected = users @ items.T
    np.testing.assert_array_equal(RankOnly(users, items).score(np.arange(N_USERS)), expected)


# --------------------------------------------------------------------------------------------
# Blends


@pytest.mark.parametrize("normalize", ["minmax", "rank", None])
@pytest.mark.parametrize("which", ["popular", "factors"])
def test_one_model_of_weight_one_ranks_as_that_model(implicit_data, normalize, which):
    matrix = implicit_data.to_csr(values="ones")
    n_users, n_items = matrix.shape
    make = {"popular": MostPopular,
            "factors": lambda: FactorModel(*_int_factors(6, n_users, n_items, n_factors=2))}[which]
    model = make().fit(matrix)
    hybrid = Hybrid([(make(), 1.0)], normalize=normalize).fit(matrix)
    users = np.arange(n_users)
    for kwargs in ({}, dict(filter_already_liked_items=False), dict(filter_items=[0, 3, 5]), dict(items=[1, 2, 8, 9])):
        ours = hybrid.recommend(users, matrix, N=15, **kwargs)
        theirs = model.recommend(users, matrix, N=15, **kwargs)
        np.testing.assert_array_equal(ours[0], theirs[0])
        if normalize is None:
            np.testing.assert_array_equal(ours[1], theirs[1])


def test_scores_one_float32_ulp_apart_keep_their_order():
    """Normalised scores stay float64 until the top-k: in float32, (s - min) / (max - min) would
    merge 1.0 and the next float32 (both round to the same fraction of the span of 3e6)."""
    items = np.array([[-1e6], [1.0], [np.nextafter(np.float32(1), np.float32(2))], [2e6]], np.float32)
    model = FactorModel(np.ones((1, 1), np.float32), items)
    hybrid = Hybrid([(model, 1.0)], prefit=True).fit()
    nothing = sp.csr_matrix((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(hybrid.recommend(0, nothing, N=4)[0], [3, 2, 1, 0])
    np.testing.assert_array_equal(model.recommend(0, nothing, N=4)[0], [3, 2, 1, 0])


def test_two_models_hand_computed_blend():
    # One user, four items. Model a scores [4, 2, 1, 0], model b scores [0, 1, 3, 2]; item 0 is liked.
    a = FactorModel(np.array([[1.0]], np.float32), np.array([[4], [2], [1], [0]], np.float32))
    b = FactorModel(np.array([[1.0]], np.float32), np.array([[0], [1], [3], [2]], np.float32))
    liked = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 4))
    models = [(a, 1.0), (b, 3.0)]
    # minmax over the eligible items 1, 2, 3: a -> [1, 0.5, 0], b -> [0, 1, 0.5].
    ids, scores = Hybrid(models).fit(liked).recommend(0, liked, N=4)
    np.testing.assert_array_equal(ids, [2, 3, 1, -1])
    np.testing.assert_allclose(scores[:3], [0.5 + 3.0, 0.0 + 1.5, 1.0 + 0.0], rtol=1e-6)
    assert scores[3] == SINK_SCORE
    # rank: a ranks items 1, 2, 3 first to third -> 1, 1/2, 1/3; b ranks them third, first,
    # second -> 1/3, 1, 1/2.
    ids, scores = Hybrid(models, normalize="rank").fit(liked).recommend(0, liked, N=3)
    np.testing.assert_array_equal(ids, [2, 1, 3])
    np.testing.assert_allclose(scores, [0.5 + 3.0, 1.0 + 1.0, 1 / 3 + 1.5], rtol=1e-6)
    # raw, nothing filtered: [4, 2, 1, 0] + 3 * [0, 1, 3, 2].
    ids, scores = Hybrid(models, normalize=None).fit(liked).recommend(0, liked, N=4, filter_already_liked_items=False)
    np.testing.assert_array_equal(ids, [2, 3, 1, 0])
    np.testing.assert_array_equal(scores, [10, 6, 5, 4])
    # items restricts the normalisation too: over items {0, 3}, a -> [1, 0], b -> [0, 1].
    ids, scores = Hybrid(models).fit(liked).recommend(0, liked, N=2, items=[3, 0], filter_already_liked_items=False)
    np.testing.assert_array_equal(ids, [3, 0])
    np.testing.assert_allclose(scores, [3.0, 1.0])


def test_minmax_of_a_model_without_preference_adds_nothing(data):
    flat = FactorModel(np.zeros((N_USERS, 1), np.float32), np.zeros((N_ITEMS, 1), np.float32))
    users, items = _int_factors(7)
    alone = Hybrid([(FactorModel(users, items), 1.0)]).fit(data).recommend(np.arange(N_USERS), data, N=4)
    both = Hybrid([(FactorModel(users, items), 1.0), (flat, 5.0)]).fit(data).recommend(np.arange(N_USERS), data, N=4)
    np.testing.assert_array_equal(alone[0], both[0])
    np.testing.assert_array_equal(alone[1], both[1])


class _Unscorable(MostPopular):
    def score(self, userid, user_items=None):
        raise AssertionError("a model of weight 0 must not be scored")


def test_a_model_of_weight_zero_is_ignored(implicit_data):
    matrix = implicit_data.to_csr(values="ones")
    users = np.arange(matrix.shape[0])
    factors = _int_factors(8, *matrix.shape)
    alone = Hybrid([(FactorModel(*factors), 1.0)]).fit(matrix).recommend(users, matrix, N=10)
    ignored = Hybrid([(FactorModel(*factors), 1.0), (_Unscorable(), 0.0)]).fit(matrix).recommend(users, matrix, N=10)
    np.testing.assert_array_equal(alone[0], ignored[0])
    np.testing.assert_array_equal(alone[1], ignored[1])


def test_filters(implicit_data):
    matrix = implicit_data.to_csr(values="ones")
    users = np.arange(matrix.shape[0])
    model = Hybrid([(MostPopular(), 1.0), (FactorModel(*_int_factors(9, *matrix.shape)), 1.0)]).fit(matrix)
    ids, scores = model.recommend(users, matrix, N=matrix.shape[1])
    for user in users:
        kept = ids[user][ids[user] >= 0]
        assert not set(kept) & set(matrix[user].indices)  # liked items never come back
        assert len(kept) == matrix.shape[1] - matrix[user].nnz
        assert (np.diff(scores[user][ids[user] >= 0]) <= 0).all()  # best first
    ids, _ = model.recommend(users, matrix, N=10, filter_items=[0, 1, 2])
    assert not set(ids.ravel()) & {0, 1, 2}
    ids, _ = model.recommend(users, matrix, N=10, items=[4, 5, 6, 7], filter_already_liked_items=False)
    assert ids.shape == (len(users), 4) and all(set(row) == {4, 5, 6, 7} for row in ids)


def test_blocks_of_users_give_the_same_result(implicit_data, monkeypatch):
    from turborec.models import hybrid

    matrix = implicit_data.to_csr(values="ones")
    users = np.arange(matrix.shape[0])
    model = Hybrid([(MostPopular(), 1.0), (FactorModel(*_int_factors(10, *matrix.shape)), 0.5)],
                   normalize="rank").fit(matrix)
    whole = model.recommend(users, matrix, N=7)
    monkeypatch.setattr(hybrid, "_BLOCK", matrix.shape[1] * 7)  # 7 users per block
    parts = model.recommend(users, matrix, N=7)
    np.testing.assert_array_equal(whole[0], parts[0])
    np.testing.assert_array_equal(whole[1], parts[1])


class _OnlyRecommend:
    """The common API without the score hook (e.g. a model of another library)."""

    def __init__(self, model):
        self.model = model

    def fit(self, user_items, show_progress=True):
        self.model.fit(user_items, show_progress=show_progress)
        self.n_users_, self.n_items_ = self.model.n_users_, self.model.n_items_
        return self

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True):
        return self.model.recommend(userid, user_items, N=N, filter_already_liked_items=filter_already_liked_items)


def test_a_model_without_score_is_ranked_through_recommend(implicit_data):
    matrix = implicit_data.to_csr(values="ones")
    users = np.arange(matrix.shape[0])
    factors = _int_factors(11, *matrix.shape)
    direct = Hybrid([(FactorModel(*factors), 1.0), (MostPopular(), 1.0)]).fit(matrix)
    wrapped = Hybrid([(_OnlyRecommend(FactorModel(*factors)), 1.0), (MostPopular(), 1.0)]).fit(matrix)
    np.testing.assert_array_equal(direct.recommend(users, matrix, N=10)[0], wrapped.recommend(users, matrix, N=10)[0])


def test_prefit_models_are_not_refitted(data):
    other = Interactions([0, 1, 2, 3], [5, 5, 5, 4], n_users=N_USERS, n_items=N_ITEMS)
    popular = MostPopular().fit(other)
    model = Hybrid([(popular, 1.0)], prefit=True).fit()
    assert (model.n_users_, model.n_items_) == (N_USERS, N_ITEMS)
    assert model.recommend(0, data, N=1, filter_already_liked_items=False)[0][0] == 5
    model.fit(data)
    np.testing.assert_array_equal(popular.item_popularity_, [0, 0, 0, 0, 1, 3])  # still other's counts
    Hybrid([(popular, 1.0)]).fit(data)
    assert popular.item_popularity_[0] == 3  # without prefit, fit refits the models in place


def test_nested_hybrid_and_evaluate(implicit_data):
    from turborec.split import random_split

    train, test = random_split(implicit_data, 0.2, seed=0)
    inner = Hybrid([(MostPopular(), 1.0), (Random(seed=2), 0.1)])
    model = Hybrid([(inner, 1.0), (MostPopular(), 1.0)]).fit(train)
    assert model.score(np.arange(3)).shape == (3, implicit_data.n_items)
    result = turborec.evaluate(model, train, test, k=(5,), show_progress=False)
    assert 0 <= result["precision@5"] <= 1


# --------------------------------------------------------------------------------------------
# Parameters


def test_get_params_set_params_and_repr_reach_the_models():
    model = Hybrid([(MostPopular(), 1.0), (Random(seed=3), 0.5)], normalize="rank")
    assert repr(model) == "Hybrid(models=[(MostPopular(), 1.0), (Random(seed=3), 0.5)], normalize='rank')"
    params = model.get_params()
    assert params["models__1__seed"] == 3 and params["normalize"] == "rank"
    assert set(model.get_params(deep=False)) == {"models", "normalize", "prefit", "backend", "n_threads"}
    assert model.set_params(models__1__seed=7, n_threads=1) is model
    assert model.models[1][0].seed == 7 and model.n_threads == 1
    clone = Hybrid(**copy.deepcopy(model.get_params(deep=False)))
    assert repr(clone) == repr(model)
    assert repr(pickle.loads(pickle.dumps(model))) == repr(model)
    for key in ("models__2__seed", "models__x__seed", "models__0"):
        with pytest.raises(ValueError, match=rf"{key}: expected models__<position>__<parameter> with a position below 2"):
            model.set_params(**{key: 1})
    with pytest.raises(ValueError, match="models__0__sed: not a parameter of MostPopular"):
        model.set_params(models__0__sed=1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(models=MostPopular()), TypeError, r"models: expected a list of \(model, weight\) pairs, got MostPopular"),
    (dict(models=[]), ValueError, r"models: expected at least one"),
    (dict(models=[MostPopular()]), TypeError, r"models\[0\]: expected a \(model, weight\) pair"),
    (dict(models=[(MostPopular(), 1.0), (MostPopular, 1.0)]), TypeError,
     r"models\[1\]: expected a recommender \(with fit and recommend\), got the class MostPopular"),
    (dict(models=[(3, 1.0)]), TypeError, r"models\[0\]: expected a recommender .*got int"),
    (dict(models=[(MostPopular(), -1.0)]), ValueError, r"models\[0\]: expected a finite weight >= 0, got -1.0"),
    (dict(models=[(MostPopular(), float("nan"))]), ValueError, r"models\[0\]: expected a finite weight"),
    (dict(models=[(MostPopular(), float("inf"))]), ValueError, r"models\[0\]: expected a finite weight"),
    (dict(models=[(MostPopular(), "1")]), TypeError, r"models\[0\]: expected a real weight, got str"),
    (dict(models=[(MostPopular(), True)]), TypeError, r"models\[0\]: expected a real weight, got bool"),
    (dict(models=[(MostPopular(), 0.0), (Random(), 0)]), ValueError, r"models: every weight is 0"),
    (dict(models=[(MostPopular(), 1.0)], normalize="zscore"), ValueError, r"normalize: expected one of"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Hybrid(**kwargs)


def test_bad_fits_are_named(data):
    with pytest.raises(TypeError, match="user_items: required unless prefit=True"):
        Hybrid([(MostPopular(), 1.0)]).fit()
    with pytest.raises(ValueError, match=r"models\[0\]: MostPopular is not fitted"):
        Hybrid([(MostPopular(), 1.0)], prefit=True).fit(data)
    small = MostPopular().fit(Interactions([0], [0], n_users=2, n_items=3))
    with pytest.raises(ValueError, match=r"models\[1\]: fitted on shape \(2, 3\), expected \(4, 6\) like models\[0\]"):
        Hybrid([(MostPopular().fit(data), 1.0), (small, 1.0)], prefit=True).fit()
    with pytest.raises(ValueError, match=r"models\[0\]: fitted on shape \(2, 3\), expected \(4, 6\) like user_items"):
        Hybrid([(small, 1.0)], prefit=True).fit(data)
    with pytest.raises(ValueError, match=r"user_items: expected shape \(4, 6\) like the factors"):
        Hybrid([(FactorModel(*_int_factors(0)), 1.0)]).fit(Interactions([0], [0], n_users=2, n_items=3))
    with pytest.raises(TypeError, match="prefit: expected a bool"):
        Hybrid([(MostPopular(), 1.0)], prefit="yes").fit(data)
    model = Hybrid([(MostPopular(), 1.0)])
    model.models = [(MostPopular(), -2.0)]  # set after construction: checked again at fit
    with pytest.raises(ValueError, match=r"models\[0\]: expected a finite weight >= 0"):
        model.fit(data)
    fitted = Hybrid([(MostPopular(), 1.0), (FactorModel(*_int_factors(0)), 1.0)]).fit(data)
    before = fitted.recommend(0, data)
    fitted.set_params(normalize="zscore")  # takes effect (and is checked) at the next fit
    np.testing.assert_array_equal(fitted.recommend(0, data)[1], before[1])
    with pytest.raises(ValueError, match="normalize: expected one of"):
        fitted.fit(data)
    with pytest.raises(RuntimeError, match="Hybrid is not fitted"):
        Hybrid([(MostPopular(), 1.0)]).recommend(0, data)


def test_non_finite_scores_are_named(data):
    users, items = _int_factors(0)

    class Broken(FactorModel):
        def _score(self, users):
            out = super()._score(users)
            out[0, 0] = np.nan
            return out

    model = Hybrid([(MostPopular(), 1.0), (Broken(users, items), 1.0)]).fit(data)
    with pytest.raises(ValueError, match=r"models\[1\]: Broken gave NaN or infinite scores"):
        model.recommend(0, data)
