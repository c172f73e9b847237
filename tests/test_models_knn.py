"""Neighbourhood models (issue 8): implicit 0.7's item-item recommenders compared with implicit
itself on MovieLens 100K and random data, and ItemKNN / UserKNN against brute force.

The common model API (parameters, repr, Interactions, widths, pickling) runs on these models in
tests/test_models_api.py.
"""

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec.models as models
from turborec.datasets import Interactions, read_movielens_file
from turborec.models import ItemKNN, UserKNN
from turborec.models._base import SINK_SCORE
from turborec.similarity import topk_similarity

import implicit.nearest_neighbours as implicit_nn  # noqa: E402 - a peer, in [test]: missing is a failure

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"
IMPLICIT_NAMES = ("CosineRecommender", "TFIDFRecommender", "BM25Recommender", "ItemItemRecommender")


def _random_matrix(seed, n_users=300, n_items=120, density=0.06, integer=True):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)
    if integer:  # small counts: many exact ties, in the similarities and in the scores
        matrix.data = rng.integers(1, 4, matrix.nnz).astype(np.float32)
    return matrix


def _movielens():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    return read_movielens_file(ML100K)


def _fit_both(name, user_items, K=20):
    theirs = getattr(implicit_nn, name)(K=K, num_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's own conversion warnings
        theirs.fit(user_items.astype(np.float64) if name == "ItemItemRecommender" else user_items,
                   show_progress=False)
    ours = getattr(models, name)(K=K).fit(user_items)
    return theirs, ours


def _datasets():
    yield "random-counts", _random_matrix(0)
    yield "random-floats", _random_matrix(1, integer=False)
    yield "ml100k-ones", "ones"
    yield "ml100k-ratings", "ratings"


@pytest.fixture(params=[name for name, _ in _datasets()])
def user_items(request):
    found = dict(_datasets())[request.param]
    if isinstance(found, str):
        return _movielens().to_csr(values=found)
    return found


def assert_same_ranking(their_ids, their_scores, our_ids, our_scores, liked=None):
    """Row by row: implicit's real entries (not -1; not a liked item, which implicit returns with
    score 0 once fewer than N items are reached) equal ours position by position in score
    (to 1e-5), and as sets within each group of equal scores (the last group may be cut
    differently at the N-th place). Where implicit ran out of items, we have nothing better."""
    for row in range(their_ids.shape[0]):
        ids, scores = np.asarray(their_ids[row]), np.asarray(their_scores[row], dtype=np.float64)
        real = ids >= 0
        if liked is not None:
            real &= ~np.isin(ids, liked[row].indices)
        ids, scores = ids[real], scores[real]
        ours, our_values = our_ids[row], our_scores[row].astype(np.float64)
        n = len(ids)
        np.testing.assert_allclose(our_values[:n], scores, rtol=1e-5, atol=1e-6)
        assert (ours[:n] >= 0).all()
        if n:
            last = scores[-1]
            above = np.abs(scores - last) > 1e-5 * max(1.0, abs(last))
            assert set(ids[above]) == set(ours[:n][above]), f"row {row}"
        if n < len(real):  # implicit listed fewer real items than slots: nothing better is left
            assert (our_values[n:][ours[n:] >= 0] <= (scores[-1] if n else np.inf) + 1e-6).all()
            if not (liked is not None and np.isin(their_ids[row], liked[row].indices).any()):
                assert (ours[n:] == -1).all(), f"row {row}: we reach items implicit does not"


@pytest.mark.parametrize("name", IMPLICIT_NAMES)
def test_similarity_equals_implicits(name, user_items):
    """The pruned item-item matrix holds implicit's entries exactly, ties at the K-th included."""
    theirs, ours = _fit_both(name, user_items)
    expected = theirs.similarity.tocsr()
    expected.sort_indices()
    np.testing.assert_array_equal(ours.similarity.indptr, expected.indptr)
    np.testing.assert_array_equal(ours.similarity.indices, expected.indices)
    np.testing.assert_allclose(ours.similarity.data, expected.data, rtol=1e-6)
    assert ours.similarity.dtype == np.float64


@pytest.mark.parametrize("name", IMPLICIT_NAMES)
@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_equals_implicits_for_every_user(name, user_items, filter_liked):
    theirs, ours = _fit_both(name, user_items)
    users = np.arange(user_items.shape[0])
    their_ids, their_scores = theirs.recommend(users, user_items, N=10, filter_already_liked_items=filter_liked)
    our_ids, our_scores = ours.recommend(users, user_items, N=10, filter_already_liked_items=filter_liked)
    assert our_ids.shape == (len(users), 10) and our_ids.dtype == np.int32 and our_scores.dtype == np.float32
    assert_same_ranking(their_ids, their_scores, our_ids, our_scores, user_items if filter_liked else None)
    if filter_liked:
        for user in users:
            assert not set(our_ids[user]) & set(user_items[user].indices)
    one_ids, one_scores = ours.recommend(7, user_items[7], N=10, filter_already_liked_items=filter_liked)
    np.testing.assert_array_equal(one_ids, our_ids[7])
    np.testing.assert_array_equal(one_scores, our_scores[7])


@pytest.mark.parametrize("name", IMPLICIT_NAMES)
def test_filter_items_and_items_equal_implicits(name):
    user_items = _random_matrix(2)
    theirs, ours = _fit_both(name, user_items)
    users = np.arange(40)
    banned = np.array([3, 17, 44, 90])
    their = theirs.recommend(users, user_items[users], N=10, filter_items=banned)
    mine = ours.recommend(users, user_items[users], N=10, filter_items=banned)
    assert not np.isin(mine[0], banned).any()
    assert_same_ranking(*their, *mine, liked=user_items[users])
    subset = np.arange(0, 120, 3)
    their_ids, their_scores = theirs.recommend(users, user_items[users], N=len(subset), items=subset)
    our_ids, our_scores = ours.recommend(users, user_items[users], N=len(subset), items=subset)
    assert np.isin(our_ids[our_ids >= 0], subset).all()
    real = their_scores > SINK_SCORE  # implicit appends the items it did not reach at -DBL_MAX
    assert_same_ranking(np.where(real, their_ids, -1), their_scores, our_ids, our_scores, liked=user_items[users])


@pytest.mark.parametrize("name", IMPLICIT_NAMES)
def test_similar_items_equals_implicits(name, user_items):
    theirs, ours = _fit_both(name, user_items)
    items = np.arange(user_items.shape[1])
    their_ids, their_scores = theirs.similar_items(items, N=10)
    our_ids, our_scores = ours.similar_items(items, N=10)
    assert_same_ranking(their_ids, their_scores, our_ids, our_scores)
    one = ours.similar_items(5, N=10)
    np.testing.assert_array_equal(one[0], our_ids[5])


@pytest.mark.parametrize("name", IMPLICIT_NAMES)
def test_explain_adds_up_to_implicits_score(name):
    """implicit 0.7's item-item models have no ``explain`` (only ALS does); ours lists, like
    ALS's, ``(total, [(itemid, contribution)], None)``. It is checked against implicit's own
    similarity matrix and implicit's recommend score."""
    user_items = _random_matrix(3)
    theirs, ours = _fit_both(name, user_items)
    similarity = theirs.similarity.tocsr().toarray()
    for user in range(0, 60, 7):
        their_ids, their_scores = theirs.recommend(user, user_items[user], N=5, filter_already_liked_items=False)
        for item, score in zip(their_ids, their_scores):
            total, contributions, extra = ours.explain(user, user_items, int(item), N=3)
            assert extra is None
            assert total == pytest.approx(score, rel=1e-6, abs=1e-12)  # BM25's float32 steps
            row = user_items[user]
            parts = {int(j): float(w * similarity[j, item]) for j, w in zip(row.indices, row.data)
                     if similarity[j, item] != 0}
            expected = sorted(parts.items(), key=lambda pair: (-pair[1], pair[0]))[:3]
            assert [j for j, _ in contributions] == [j for j, _ in expected]
            np.testing.assert_allclose([c for _, c in contributions], [c for _, c in expected], rtol=1e-6)
            assert contributions == ours.explain(user, user_items[user], int(item), N=3)[1]  # the row alone


def test_bm25_parameters_and_num_threads_reach_the_model():
    user_items = _random_matrix(4)
    theirs = implicit_nn.BM25Recommender(K=10, K1=2.0, B=0.3, num_threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's own conversion warnings
        theirs.fit(user_items, show_progress=False)
    ours = models.BM25Recommender(K=10, K1=2.0, B=0.3, num_threads=1).fit(user_items)
    np.testing.assert_allclose(ours.similarity.toarray(), theirs.similarity.toarray(), rtol=1e-6)
    assert ours.n_threads_ == 1
    assert models.BM25Recommender(num_threads=1, n_threads=2).fit(user_items).n_threads_ == 2
    with pytest.raises(ValueError, match="num_threads: expected 0"):
        models.CosineRecommender(num_threads=-1).fit(user_items)
    with pytest.raises(ValueError, match="B: expected a finite number in"):
        models.BM25Recommender(B=2.0).fit(user_items)


# ---------------------------------------------------------------------- ItemKNN and UserKNN


@pytest.mark.parametrize("measure", ["cosine", "dot", "jaccard", "asymmetric_cosine"])
def test_item_knn_recommends_by_the_rows_times_topk_similarity(measure):
    user_items = _random_matrix(5, integer=False)
    model = ItemKNN(K=7, measure=measure).fit(user_items)
    similarity = topk_similarity(user_items.T.tocsr(), 7, measure=measure)
    np.testing.assert_array_equal(model.similarity_.toarray(), similarity.toarray())
    dense = (user_items @ similarity).toarray().astype(np.float64)
    reached = (user_items.astype(bool).astype(np.float64) @ similarity.astype(bool).astype(np.float64)).toarray() > 0
    ids, scores = model.recommend(np.arange(user_items.shape[0]), user_items, N=10)
    for user in range(user_items.shape[0]):
        eligible = reached[user] & ~np.isin(np.arange(user_items.shape[1]), user_items[user].indices)
        order = np.lexsort((np.arange(len(eligible)), -np.where(eligible, dense[user], -np.inf)))
        expected = order[: min(10, eligible.sum())]
        got = ids[user][ids[user] >= 0]
        np.testing.assert_allclose(scores[user][: len(got)], dense[user][expected], rtol=1e-5)
        assert len(got) == len(expected)
    np.testing.assert_allclose(model.score(np.arange(5), user_items[:5]), dense[:5], rtol=1e-5)


@pytest.mark.parametrize("weighting", ["tfidf", "bm25"])
def test_item_knn_weighting_is_implicits_on_the_items(weighting):
    from turborec.similarity import bm25_weight, tfidf_weight

    user_items = _random_matrix(6)
    model = ItemKNN(K=5, measure="dot", weighting=weighting, K1=2.0, B=0.5).fit(user_items)
    weighted = tfidf_weight(user_items.T) if weighting == "tfidf" else bm25_weight(user_items.T, K1=2.0, B=0.5)
    expected = topk_similarity(weighted, 5, measure="dot")
    np.testing.assert_array_equal(model.similarity_.toarray(), expected.toarray())


def test_user_knn_scores_neighbours_items_and_lists_similar_users():
    user_items = _random_matrix(7, integer=False)
    model = UserKNN(K=6).fit(user_items)
    similarity = topk_similarity(user_items, 6, measure="cosine")
    dense = (similarity @ user_items).toarray()
    ids, scores = model.recommend(np.arange(20), user_items[:20], N=5)
    for user in range(20):
        got = ids[user][ids[user] >= 0]
        np.testing.assert_allclose(scores[user][: len(got)], dense[user][got], rtol=1e-5)
        assert not set(got) & set(user_items[user].indices)
        others = np.setdiff1d(np.flatnonzero(dense[user] > 0), user_items[user].indices)
        assert scores[user][len(got) - 1] >= dense[user][np.setdiff1d(others, got)].max(initial=-np.inf) - 1e-6
    similar, values = model.similar_users(3, N=4)
    row = similarity[3].toarray().ravel()
    np.testing.assert_allclose(values[similar >= 0], np.sort(row[row > 0])[::-1][:4], rtol=1e-6)
    with pytest.raises(NotImplementedError, match="keeps user neighbours: use similar_users"):
        model.similar_items(0)
    with pytest.raises(NotImplementedError, match="keeps item neighbours: use similar_items"):
        ItemKNN().fit(user_items).similar_users(0)
    with pytest.raises(NotImplementedError, match="cannot recalculate users"):
        model.recommend(0, user_items[0], recalculate_user=True)
    total, contributions, _ = model.explain(2, None, int(ids[2][0]), N=50)
    assert total == pytest.approx(scores[2][0], rel=1e-5)
    assert sum(c for _, c in contributions) == pytest.approx(total)


def test_item_knn_scores_new_interactions_at_once():
    """The row passed to recommend is what is scored (implicit's recalculate_user is moot)."""
    user_items = _random_matrix(8)
    model = ItemKNN(K=5).fit(user_items)
    fresh = sp.csr_matrix(([1.0], ([0], [11])), shape=(1, user_items.shape[1]), dtype=np.float32)
    ids, scores = model.recommend(0, fresh, N=3, recalculate_user=True)
    row = model.similarity_[11].toarray().ravel()
    row[11] = 0
    assert set(ids[ids >= 0]) <= set(np.flatnonzero(row))
    assert scores[0] == pytest.approx(row.max())


@pytest.mark.parametrize("make", [lambda: ItemKNN(K=4, measure="jaccard", n_threads=1), lambda: UserKNN(K=3),
                                  lambda: models.BM25Recommender(K=5, K1=1.5), lambda: models.CosineRecommender()])
def test_save_load_and_pickle_round_trip(make, tmp_path):
    user_items = _random_matrix(9)
    model = make()
    path = str(tmp_path / "model")
    model.save(path)  # unfitted: parameters only
    assert repr(type(model).load(path)) == repr(model)
    model.fit(user_items)
    model.save(path)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    users = np.arange(30)
    expected = model.recommend(users, user_items[users], N=5)
    for other in (type(model).load(path), type(model).load(path + ".npz"), type(model).load(buffer),
                  pickle.loads(pickle.dumps(model))):
        assert repr(other) == repr(model) and other.get_params() == model.get_params()
        got = other.recommend(users, user_items[users], N=5)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    with np.load(path + ".npz", allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)
    numpy_params = type(model)(K=np.int64(4), backend=None)
    numpy_params.save(path)
    assert type(model).load(path).K == 4
    with pytest.raises(ValueError, match="file: holds a"):
        ItemKNN.load(path) if not isinstance(model, ItemKNN) else UserKNN.load(path)


def test_bad_arguments_are_named():
    user_items = _random_matrix(10)
    with pytest.raises(ValueError, match="K: expected a positive int"):
        ItemKNN(K=0).fit(user_items)
    with pytest.raises(ValueError, match="measure: expected one of"):
        ItemKNN(measure="pearson").fit(user_items)
    with pytest.raises(TypeError, match="measure: expected a str"):
        UserKNN(measure=3).fit(user_items)
    with pytest.raises(ValueError, match="weighting: expected one of"):
        ItemKNN(weighting="idf").fit(user_items)
    bad = user_items.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="user_items: contains NaN"):
        ItemKNN().fit(bad)
    model = ItemKNN(K=3).fit(user_items)
    with pytest.raises(ValueError, match="user_items: contains NaN"):
        model.recommend(0, bad[0])
    with pytest.raises(IndexError, match="itemid: 500 out of range"):
        model.similar_items(500)
    with pytest.raises(IndexError, match="itemid: 500 out of range"):
        model.explain(0, user_items, 500)
    with pytest.raises(ValueError, match="filter_items and items"):
        model.similar_items(0, filter_items=[1], items=[2])
    with pytest.raises(NotImplementedError, match="recalculate_item"):
        model.similar_items(0, recalculate_item=True)
    with pytest.raises(ValueError, match=r"user_items: expected shape \(300, 120\)"):
        model.explain(0, user_items[:5], 1)
    with pytest.raises(RuntimeError, match="not fitted"):
        ItemKNN().similar_items(0)


def test_interactions_are_taken_like_their_implicit_matrix():
    user_items = _random_matrix(11)
    coo = user_items.tocoo()
    table = Interactions(coo.row, coo.col, n_users=user_items.shape[0], n_items=user_items.shape[1])
    ones = table.to_csr(values="ones")
    for make in (lambda: ItemKNN(K=5), lambda: models.TFIDFRecommender(K=5)):
        a, b = make().fit(table), make().fit(ones)
        np.testing.assert_array_equal(a.similarity_.toarray(), b.similarity_.toarray())
        np.testing.assert_array_equal(a.recommend(np.arange(9), table, N=4)[0], b.recommend(np.arange(9), ones[:9], N=4)[0])


def test_hybrid_blends_item_knn_through_its_score_hook():
    """Hybrid scores models without user_items: ItemKNN then reads the users' training rows."""
    from turborec.models import Hybrid

    user_items = _random_matrix(12)
    knn = ItemKNN(K=10).fit(user_items)
    users = np.arange(50)
    np.testing.assert_allclose(knn.score(users), knn.score(users, user_items[users]))
    blend = Hybrid([(knn, 1.0)], normalize=None, prefit=True).fit()
    ids, scores = blend.recommend(users, user_items[users], N=5)
    own_ids, own_scores = knn.recommend(users, user_items[users], N=5)
    full = (own_ids >= 0).all(axis=1)  # users who reach 5 items: the blend ranks them alike
    assert full.sum() > 25
    np.testing.assert_allclose(scores[full], own_scores[full], rtol=1e-6)


def test_ties_at_the_kth_neighbour_are_broken_as_implicit_breaks_them():
    """Item 2 co-occurs with items 1, 3, 4 once each and with itself twice. implicit reaches them
    in the order 1, 2, 3, 4 (user 1's items, then user 2's), feeds its heap 4, 3, 2, 1, and
    keeps {2, 4} at K=2: item 3 entered first and was evicted by 2 as the lowest id of the tied
    score. Keeping the lower id would give {1, 2}."""
    X = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=np.float32))
    ours = models.ItemItemRecommender(K=2).fit(X)
    expected = np.array([[1, 1, 0, 0, 0], [0, 2, 1, 0, 0], [0, 0, 2, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1]])
    np.testing.assert_array_equal(ours.similarity.toarray(), expected)
    theirs = implicit_nn.ItemItemRecommender(K=2, num_threads=1)
    theirs.fit(X.astype(np.float64), show_progress=False)
    np.testing.assert_array_equal(theirs.similarity.toarray(), expected)
    assert set(ItemKNN(K=1, measure="dot").fit(X).similar_items(2, N=3)[0]) == {1, -1}  # lower id, itself out


def test_exclusions_hold_for_negative_and_huge_user_weights():
    """Liked items are excluded inside the sparse product by an offset sized from the data."""
    user_items = _random_matrix(13, integer=False)
    model = ItemKNN(K=8, measure="dot").fit(user_items)
    rng = np.random.default_rng(0)
    for scale in (1.0, -1.0, 1e30):
        rows = user_items[:40].copy()
        rows.data = (rng.standard_normal(rows.nnz) * scale).astype(np.float32)
        ids, scores = model.recommend(np.arange(40), rows, N=6)
        dense = (rows.astype(np.float64) @ model.similarity_.astype(np.float64)).toarray()
        for user in range(40):
            got = ids[user][ids[user] >= 0]
            assert not set(got) & set(rows[user].indices)
            np.testing.assert_allclose(scores[user][: len(got)], dense[user][got], rtol=1e-5)
            reached = np.flatnonzero((abs(rows[user]) @ abs(model.similarity_)).toarray().ravel())
            others = np.setdiff1d(np.setdiff1d(reached, rows[user].indices), got)
            if len(others):
                assert scores[user][len(got) - 1] >= dense[user][others].max() - 1e-5 * abs(scale)


@pytest.mark.parametrize("name", IMPLICIT_NAMES + ("ItemKNN", "UserKNN"))
@pytest.mark.parametrize("shape", [(3, 4), (2, 1)])
def test_empty_and_tiny_matrices_fit_and_recommend_nothing_or_little(name, shape):
    empty = sp.csr_matrix(shape, dtype=np.float32)
    model = getattr(models, name)(K=50).fit(empty)
    ids, scores = model.recommend(np.arange(shape[0]), empty, N=3)
    assert ids.shape == (shape[0], min(3, shape[1])) and (ids == -1).all() and (scores == SINK_SCORE).all()
    assert (model.score(np.arange(shape[0])) == 0).all()
