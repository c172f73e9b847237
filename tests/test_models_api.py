"""The estimator surface every model shares (issue 7): Interactions in, the width of recommend's
results, sklearn-style parameters and repr, and the meaning of show_progress.

One set of assertions runs on every model, as implicit's recommender_base_test does.
"""

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec.datasets import Interactions
from turborec.models import (AlternatingLeastSquares, BayesianPersonalizedRanking, BM25Recommender, ContentKNN,
                             CosineRecommender, FactorModel, ItemItemRecommender, ItemKNN, LogisticMatrixFactorization,
                             MostPopular, ParameterWarning, Random, RecommenderBase, TFIDFRecommender, UserKNN)
from turborec import _progress
from turborec.models._base import SINK_SCORE

N_USERS, N_ITEMS = 4, 6


@pytest.fixture
def data():
    users = [0, 0, 1, 1, 2, 2, 2, 3, 0]
    items = [0, 1, 0, 2, 0, 1, 3, 5, 1]  # (0, 1) twice: one user, counted once by MostPopular
    return Interactions(users, items, n_users=N_USERS, n_items=N_ITEMS)


def _factors(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N_USERS, 3)).astype(np.float32),
            rng.standard_normal((N_ITEMS, 3)).astype(np.float32))


MODELS = {
    "MostPopular": lambda: MostPopular(),
    "AlternatingLeastSquares": lambda: AlternatingLeastSquares(factors=3, iterations=3, random_state=0),
    "Random": lambda: Random(seed=1),
    "FactorModel": lambda: FactorModel(*_factors()),
    "BayesianPersonalizedRanking": lambda: BayesianPersonalizedRanking(factors=3, iterations=3, random_state=0,
                                                                                 num_threads=1),
    "LogisticMatrixFactorization": lambda: LogisticMatrixFactorization(factors=3, iterations=3, random_state=0),
    "ItemKNN": lambda: ItemKNN(K=3),
    "UserKNN": lambda: UserKNN(K=2, measure="jaccard"),
    "CosineRecommender": lambda: CosineRecommender(K=3),
    "TFIDFRecommender": lambda: TFIDFRecommender(K=3),
    "BM25Recommender": lambda: BM25Recommender(K=3),
    "ItemItemRecommender": lambda: ItemItemRecommender(K=3),
    "ContentKNN": lambda: ContentKNN(sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1], [1, 0], [0, 1], [1, 1]],
                                                            np.float32)), K=3),
}


@pytest.fixture(params=sorted(MODELS))
def make(request):
    return MODELS[request.param]


def test_fit_and_recommend_take_interactions_like_csr(make, data):
    """Issue 7: MostPopular().fit(train) raised a TypeError although evaluate takes Interactions."""
    matrix = data.to_csr(values="ones")
    users = np.arange(N_USERS)
    from_table = make().fit(data).recommend(users, data, N=3)
    from_matrix = make().fit(matrix).recommend(users, matrix, N=3)
    np.testing.assert_array_equal(from_table[0], from_matrix[0])
    np.testing.assert_array_equal(from_table[1], from_matrix[1])
    for user in users:  # liked items are filtered out of the rows taken from the table
        assert not set(from_table[0][user]) & set(matrix[user].indices)
    one_ids, _ = make().fit(data).recommend(2, data, N=3)  # a scalar user takes its row of the table
    np.testing.assert_array_equal(one_ids, make().fit(matrix).recommend(2, matrix[2], N=3)[0])


def test_recommend_rejects_interactions_of_another_shape(make, data):
    model = make().fit(data)
    other = Interactions([0], [0], n_users=N_USERS, n_items=N_ITEMS + 1)
    with pytest.raises(ValueError, match=r"user_items: expected Interactions of shape \(4, 6\)"):
        model.recommend(0, other)


def test_evaluate_takes_a_model_fitted_on_interactions(data):
    train, test = data.subset(np.arange(6)), data.subset(np.arange(6, 9))
    result = turborec.evaluate(MostPopular().fit(train), train, test, k=2, metrics=["hit_rate"])
    assert set(result) == {"hit_rate@2"} and 0 <= result["hit_rate@2"] <= 1
    # k beyond the catalogue: recommend returns n_items columns and evaluate pads the rest.
    wide = turborec.evaluate(MostPopular().fit(train), train, test, k=50, metrics=["hit_rate"])
    # Every unseen item is listed, so each test item is hit, except user 0's item 1, also in train.
    assert wide["hit_rate@50"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("filter_liked", [True, False])
def test_n_beyond_the_catalogue_gives_min_n_n_items_columns_like_topk_dot(make, data, filter_liked):
    """Issue 7: recommend(N > n_items) padded to N columns while topk_dot returns min(k, m)."""
    model = make().fit(data)
    matrix = data.to_csr(values="ones")
    ids, scores = model.recommend(np.arange(N_USERS), matrix, N=N_ITEMS + 4, filter_already_liked_items=filter_liked)
    assert ids.shape == scores.shape == (N_USERS, N_ITEMS)
    one, one_scores = model.recommend(1, matrix[1], N=N_ITEMS + 4, filter_already_liked_items=filter_liked)
    assert one.shape == one_scores.shape == (N_ITEMS,)
    for user in range(N_USERS):
        shown = ids[user][ids[user] >= 0]
        assert len(set(shown)) == len(shown)  # no item twice, and no padding that looks like item 0
        liked = set(matrix[user].indices) if filter_liked else set()
        expected = set(range(N_ITEMS)) - liked
        if getattr(model, "_ranks_reachable_only", False):  # neighbourhood models: reached items only, as implicit
            expected &= _reachable(model, user, matrix)
        assert set(shown) == expected
        np.testing.assert_array_equal(scores[user][ids[user] < 0], SINK_SCORE)
    queries = np.ones((N_USERS, 3), np.float32)
    k_ids, _ = turborec.topk_dot(queries, np.ones((N_ITEMS, 3), np.float32), N_ITEMS + 4)
    assert k_ids.shape == ids.shape


def test_n_beyond_the_given_items_gives_len_items_columns(make, data):
    model = make().fit(data)
    matrix = data.to_csr(values="ones")
    reachable_only = getattr(model, "_ranks_reachable_only", False)
    ids, _ = model.recommend(np.arange(N_USERS), data, N=10, items=[5, 4, 4, 3], filter_already_liked_items=False)
    assert ids.shape == (N_USERS, 3)  # the items are a set: {3, 4, 5}
    for user, row in enumerate(ids):
        expected = {3, 4, 5} & _reachable(model, user, matrix) if reachable_only else {3, 4, 5}
        assert set(row[row >= 0]) == expected
    ids, _ = model.recommend(0, data, N=10, filter_items=[0])
    assert ids.shape == (N_ITEMS,)  # filtered items sink to -1 but keep their slots
    expected = {2, 3, 4, 5} & _reachable(model, 0, matrix) if reachable_only else {2, 3, 4, 5}
    assert set(ids[ids >= 0]) == expected
    assert (ids == -1).sum() == N_ITEMS - len(expected)


def _reachable(model, user, matrix):
    """Items with a nonzero score for ``user``: those a neighbourhood model can recommend."""
    return set(np.flatnonzero(model.score(user, matrix[user])).tolist())


def test_get_params_lists_the_constructor_arguments(make):
    model = make()
    params = model.get_params()
    assert set(params) == set(type(model)._param_names())
    assert params == {name: getattr(model, name) for name in params}
    assert "backend" in params and "n_threads" in params
    assert model.get_params(deep=False).keys() == params.keys()


def test_set_params_round_trips_and_returns_self(make, data):
    model = make()
    assert model.set_params(n_threads=1) is model
    assert model.get_params()["n_threads"] == 1
    assert model.fit(data).n_threads_ == 1
    assert model.set_params() is model
    with pytest.raises(ValueError, match="n_thread: not a parameter of .*; valid parameters: .*n_threads"):
        model.set_params(n_thread=2)
    with pytest.raises(ValueError, match="backend__x: backend is a NoneType, which has no parameters"):
        model.set_params(backend__x=1)


def test_a_clone_from_get_params_is_equivalent(make, data):
    model = make().set_params(n_threads=1)
    clone = type(model)(**model.get_params())
    assert repr(clone) == repr(model)
    a, b = model.fit(data).recommend(np.arange(N_USERS), data, N=3), clone.fit(data).recommend(np.arange(N_USERS), data, N=3)
    np.testing.assert_array_equal(a[0], b[0])


def test_repr_shows_only_changed_parameters():
    assert repr(MostPopular()) == "MostPopular()"
    assert repr(MostPopular(n_threads=2)) == "MostPopular(n_threads=2)"
    assert repr(MostPopular(backend="numpy", n_threads=2)) == "MostPopular(backend='numpy', n_threads=2)"
    assert repr(Random()) == "Random()"
    assert repr(Random(seed=3)) == "Random(seed=3)"
    assert repr(Random(seed=0)) == "Random()"  # the default, given explicitly
    assert repr(Random().set_params(seed=5)) == "Random(seed=5)"
    users, items = _factors()
    assert repr(FactorModel(users, items, n_threads=1)) == (
        "FactorModel(item_factors=<float32 array of shape (6, 3)>, n_threads=1, "
        "user_factors=<float32 array of shape (4, 3)>)")


def test_factor_model_set_params_revalidates_and_changes_nothing_on_error(data):
    users, items = _factors()
    model = FactorModel(users, items)
    more_items = np.ones((N_ITEMS + 2, 3), np.float32)
    model.set_params(item_factors=more_items)
    assert model.n_items_ == N_ITEMS + 2
    assert model.recommend(0, sp.csr_matrix((1, N_ITEMS + 2)), N=50)[0].shape == (N_ITEMS + 2,)
    with pytest.raises(ValueError, match="item_factors: expected 3 columns"):
        model.set_params(item_factors=np.ones((2, 5), np.float32))
    assert model.item_factors is more_items  # the failed call changed nothing
    model.set_params(n_threads=1)
    assert model.n_threads_ == 1
    with pytest.raises(ValueError, match=r"user_items: expected shape \(4, 8\) like the factors"):
        model.fit(data)


def test_params_survive_pickle_and_deepcopy(make, data):
    model = make().set_params(n_threads=1).fit(data)
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert repr(other) == repr(model)


def test_subclass_with_kwargs_is_refused():
    class Loose(RecommenderBase):
        def __init__(self, **options):
            self.options = options

    with pytest.raises(TypeError, match=r"Loose.__init__: \*args and \*\*kwargs cannot be parameters"):
        Loose().get_params()


def test_show_progress_must_be_a_bool(make, data):
    with pytest.raises(TypeError, match="show_progress: expected a bool, got str"):
        make().fit(data, show_progress="no")
    make().fit(data, show_progress=False)  # accepted, as by implicit


def test_progress_bar_draws_only_when_asked(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "_DELAY_S", 0)
    with _progress.progress_bar(True, total=3, desc="counting", unit="steps") as bar:
        bar.update(3)
    assert "counting" in capsys.readouterr().err
    with _progress.progress_bar(False, total=3, desc="counting", unit="steps") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="show_progress: expected a bool"):
        _progress.progress_bar(None, total=3, desc="counting", unit="steps")


def test_tqdm_is_a_runtime_dependency():
    """Progress bars are drawn by default, so tqdm is installed with turborec, not by an extra."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11 only")
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert any(dep.split(">")[0].split("=")[0].strip() == "tqdm" for dep in project["dependencies"])


def test_width_matches_implicit_where_implicit_is_well_defined():
    """What implicit 0.7 does with N > n_items, and where recommend follows it.

    implicit's matrix-factorisation ``recommend`` clips N to ``len(items)`` when ``items`` is
    given, and so do we. Without ``items`` it returns N columns whose tail past ``n_items`` is
    id 0 with score 0 (an unwritten buffer that reads as item 0); we return ``min(N, n_items)``
    columns, like ``topk_dot``, and agree with implicit on every real entry.
    """
    from threadpoolctl import threadpool_limits

    import implicit.cpu.als as als  # a peer, in [test]: missing is a failure
    users, items = _factors(seed=4)
    with threadpool_limits(1, "blas"):  # implicit warns at construction when BLAS is threaded
        theirs = als.AlternatingLeastSquares(factors=3)
    theirs.user_factors, theirs.item_factors = users, items
    ours = FactorModel(users, items)
    liked = sp.csr_matrix(np.eye(N_USERS, N_ITEMS, dtype=np.float32))
    everyone = np.arange(N_USERS)

    their_ids, their_scores = theirs.recommend(everyone, liked, N=N_ITEMS + 3)
    our_ids, our_scores = ours.recommend(everyone, liked, N=N_ITEMS + 3)
    assert their_ids.shape == (N_USERS, N_ITEMS + 3) and our_ids.shape == (N_USERS, N_ITEMS)
    assert (their_ids[:, N_ITEMS:] == 0).all() and (their_scores[:, N_ITEMS:] == 0).all()
    real = their_scores[:, :N_ITEMS] > SINK_SCORE  # implicit keeps filtered ids, sunk to -FLT_MAX
    np.testing.assert_array_equal(our_ids[real], their_ids[:, :N_ITEMS][real])
    assert (our_ids[~real] == -1).all()

    subset = [1, 2, 4]
    their_ids, _ = theirs.recommend(everyone, liked, N=N_ITEMS + 3, items=subset)
    our_ids, _ = ours.recommend(everyone, liked, N=N_ITEMS + 3, items=subset)
    assert their_ids.shape == our_ids.shape == (N_USERS, len(subset))


def test_conversion_warnings_point_at_the_callers_line(make, data):
    matrix = data.to_csr(values="ones")
    with pytest.warns(ParameterWarning, match="user_items: got a COO matrix") as fit_record:
        model = make().fit(matrix.tocoo())
    with pytest.warns(ParameterWarning, match="user_items: got a COO matrix") as recommend_record:
        model.recommend(np.arange(N_USERS), matrix.tocoo())
    assert fit_record[0].filename == recommend_record[0].filename == __file__


def test_malformed_user_items_are_errors_before_scipy_touches_them(make, data):
    """Issue 7: a model's user_items go through the one CSR check (no scipy crash, no silent use)."""
    model = make().fit(data)
    coo = sp.coo_matrix(([1.0], ([0], [0])), shape=(1, N_ITEMS))
    coo.col[0] = N_ITEMS + 3  # out of range: scipy's tocsr would write out of bounds
    with pytest.warns(ParameterWarning), pytest.raises(IndexError, match="user_items: column index 9 out of range"):
        model.recommend(0, coo)
    bad = sp.csr_matrix((1, N_ITEMS))
    bad.indptr = np.array([0, 7], dtype=np.int32)  # past the stored entries
    with pytest.raises(ValueError, match="user_items: malformed CSR, indptr ends at 7"):
        model.recommend(0, bad)
