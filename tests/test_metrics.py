"""Ranking metrics kernel on every host backend against the numpy reference and hand-computed cases."""

import numpy as np
import pytest
import scipy.sparse as sp

from conformance import KernelConformance
from turborec import metrics
from turborec.metrics import RANKING_METRICS, ranking_metrics

FAMILY = "metrics"


def random_case(rng, n_users=200, n_items=150, width=20):
    relevant = sp.random(n_users, n_items, density=0.05, format="csr", random_state=rng.integers(1 << 31))
    relevant.data[:] = 1
    recs = np.array([rng.permutation(n_items)[:width] for _ in range(n_users)], dtype=np.int32)
    recs[::7, width // 2:] = -1  # short lists
    for u in range(0, n_users, 5):  # plant hits so every metric is exercised
        truth = relevant.indices[relevant.indptr[u]:relevant.indptr[u + 1]]
        if len(truth) and truth[0] not in recs[u]:
            recs[u, rng.integers(width // 2)] = truth[0]
    return recs, relevant


class TestRankingMetricsConformance(KernelConformance):
    """Per-user values of every metric; ``k`` is the list width and the cutoffs 1, k/2 and k."""

    FAMILY = "metrics"
    DTYPES = (np.int32, np.int64)  # of the recommendation lists
    RTOL = 1e-12  # sums of 1/log2 terms in another order

    def make(self, rng, dtype, n, m, k=10):
        width = min(k, m)
        relevant = sp.random(n, m, density=0.1, format="csr", random_state=rng.integers(1 << 31))
        if n and m and relevant.nnz == 0:  # someone to evaluate
            relevant = sp.csr_matrix(([1.0], ([0], [0])), shape=(n, m))
        recs = np.full((n, width), -1, dtype)
        for u in range(n):  # lists of distinct items, some short, with planted hits
            row = rng.permutation(m)[: rng.integers(0, width + 1)]
            truth = relevant.indices[relevant.indptr[u]:relevant.indptr[u + 1]]
            if len(row) and len(truth) and truth[0] not in row:
                row[0] = truth[0]
            recs[u, : len(row)] = row
        cutoffs = sorted({1, max(1, width // 2), max(1, width)})
        return dict(recommended=recs, relevant=relevant, k=cutoffs)

    def call(self, inputs, backend, n_threads=None):
        summary, per_user = ranking_metrics(**inputs, per_user=True, backend=backend, n_threads=n_threads)
        return (np.array(list(summary.values())), per_user)


def test_kernel_matches_reference(backend, rng):
    recs, relevant = random_case(rng)
    negatives = rng.integers(20, 200, size=recs.shape[0])  # at least the 20 listed ids
    want, want_users = ranking_metrics(recs, relevant, (1, 5, 20), n_negatives=negatives, per_user=True, backend="numpy")
    got, got_users = ranking_metrics(recs, relevant, (1, 5, 20), n_negatives=negatives, per_user=True,
                                     backend=backend)
    np.testing.assert_allclose(got_users, want_users, rtol=1e-12, equal_nan=True)
    assert got.keys() == want.keys() and len(got) == 3 * len(RANKING_METRICS)
    one = ranking_metrics(recs, relevant, (1, 5, 20), per_user=True, backend=backend, n_threads=1)[1]
    two = ranking_metrics(recs, relevant, (1, 5, 20), per_user=True, backend=backend, n_threads=2)[1]
    np.testing.assert_array_equal(one, two)


def test_hand_computed_case(backend):
    # user 0: relevant {1, 3}; list [3, 0, 1, 2] -> hits at ranks 1 and 3
    # user 1: relevant {2};    list [0, 1, -1, -1] -> no hit, two listed negatives
    # user 2: no relevant items -> not averaged
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0], [0] * 6]))
    recs = np.array([[3, 0, 1, 2], [0, 1, -1, -1], [5, 4, 3, 2]])
    result, per_user = ranking_metrics(recs, relevant, (1, 4), per_user=True, backend=backend)
    log2 = np.log2
    u0 = per_user[0]
    # k=1: relevant 3 beats all 4 negatives; relevant 1 (unlisted) ties with them: (4 + 4/2) / 8
    np.testing.assert_allclose(u0[0], [1, 0.5, 1, 1, 1, 1, (4 + 2) / 8])
    ndcg4 = (1 / log2(2) + 1 / log2(4)) / (1 / log2(2) + 1 / log2(3))
    map4 = (1 / 1 + 2 / 3) / 2
    # 4 negatives {0, 2, 4, 5}; listed 0 (rank 2) and 2 (rank 4): relevant 3 beats all 4,
    # relevant 1 (rank 3) beats 2 and the 2 unlisted -> 3 of 4.
    np.testing.assert_allclose(u0[1], [2 / 4, 1, ndcg4, map4, 1, 1, (4 + 3) / 8])
    # user 1: 5 negatives, 2 listed above the relevant item, which ties with the 3 unlisted.
    np.testing.assert_allclose(per_user[1][1], [0, 0, 0, 0, 0, 0, (0.5 * 3) / 5])
    assert np.isnan(per_user[2]).all()
    assert result["precision@4"] == pytest.approx((0.5 + 0) / 2)
    assert result["mrr@4"] == pytest.approx(0.5) and result["hit_rate@1"] == pytest.approx(0.5)


def test_metric_selection_and_order():
    relevant = sp.csr_matrix(np.eye(3))
    out = ranking_metrics(np.array([[0, 1], [0, 1], [2, 0]]), relevant, [2, 1], metrics=["ndcg", "recall"])
    assert list(out) == ["ndcg@1", "ndcg@2", "recall@1", "recall@2"]
    assert out["recall@1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(k=0), ValueError, "k: expected a positive int"),
    (dict(k=5), ValueError, "k: cutoff 5 exceeds the 2 recommendations"),
    (dict(k=[]), ValueError, "k: expected at least one cutoff"),
    (dict(metrics=["ndgc"]), ValueError, "metrics: unknown \\['ndgc'\\]"),
    (dict(n_negatives=np.ones(2, int)), ValueError, "n_negatives: expected 3 integers"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ranking_metrics(np.array([[0, 1], [1, 2], [2, 0]]), sp.csr_matrix(np.eye(3)), **{"k": 1, **kwargs})


def test_bad_inputs():
    eye = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="recommended: expected 3 rows"):
        ranking_metrics(np.zeros((2, 2), int), eye)
    with pytest.raises(ValueError, match="an item appears twice"):
        ranking_metrics(np.array([[0, 0], [1, 2], [2, 1]]), eye, k=1)
    with pytest.raises(IndexError, match="recommended: item id 9 out of range"):
        ranking_metrics(np.array([[9, 0], [1, 2], [2, 1]]), eye, k=1)
    with pytest.raises(TypeError, match="recommended: expected integer item ids"):
        ranking_metrics(np.zeros((3, 2)), eye, k=1)
    with pytest.raises(ValueError, match="relevant: no user has a relevant item"):
        ranking_metrics(np.array([[0, 1], [1, 2], [2, 0]]), sp.csr_matrix((3, 3)), k=1)
    with pytest.raises(TypeError, match="relevant: expected a scipy.sparse matrix"):
        ranking_metrics(np.array([[0, 1], [1, 2], [2, 0]]), np.eye(3), k=1)


def test_duplicate_and_zero_relevance_entries_are_canonicalised():
    # A stored duplicate (1 + 1) is one relevant item; an explicit zero is none.
    relevant = sp.csr_matrix((np.array([1.0, 1.0, 0.0]), np.array([0, 0, 1]), np.array([0, 3])), shape=(1, 3))
    out = ranking_metrics(np.array([[1, 0]]), relevant, 2, metrics=["recall", "precision"])
    assert out == {"recall@2": 1.0, "precision@2": 0.5}


def test_rating_metrics():
    assert metrics.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert metrics.mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="y_pred: expected shape"):
        metrics.rmse([1, 2], [1])
    with pytest.raises(ValueError, match="y_true: contains NaN"):
        metrics.mae([np.nan], [1])
    with pytest.raises(ValueError, match="y_true: no ratings"):
        metrics.rmse([], [])


def test_beyond_accuracy_metrics():
    recs = np.array([[0, 1, -1], [1, 2, 3]])
    assert metrics.catalog_coverage(recs, 8) == 0.5
    popularity = np.array([4, 2, 1, 0, 0, 0, 0, 0])
    # -log2(p): item 0 -> 0 bits, 1 -> 1, 2 -> 2, 3 (never seen, clipped to 1/4) -> 2
    assert metrics.novelty(recs, popularity, 4) == pytest.approx((0 + 1 + 1 + 2 + 2) / 5)
    vectors = np.array([[1, 0], [0, 1], [1, 0], [-1, 0]], np.float64)
    # list 0: one pair, orthogonal -> distance 1; list 1: pairs (1,2)=1, (1,3)=1, (2,3)=2 -> 4/3
    assert metrics.intra_list_diversity(recs, vectors) == pytest.approx((1 + 4 / 3) / 2)
    assert np.isnan(metrics.intra_list_diversity(np.array([[0, -1]]), vectors))


def test_too_few_negatives_is_an_error():
    """Regression (review): one negative but three listed non-relevant ids gave auc -2."""
    relevant = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="n_negatives: user 0 has 1 negatives but 3 non-relevant"):
        ranking_metrics(np.array([[5, 6, 7, 0]]), relevant, 4, n_negatives=np.array([1]))


def test_beyond_accuracy_inputs_are_checked():
    with pytest.raises(ValueError, match="item_popularity: expected a 1-D array of finite"):
        metrics.novelty(np.array([[0, 1]]), [1, np.nan], 2)
    with pytest.raises(ValueError, match="item_vectors: contains NaN"):
        metrics.intra_list_diversity(np.array([[0, 1]]), np.array([[1.0, 0], [np.nan, 1]]))
    with pytest.raises(TypeError, match="n_items: expected a positive int"):
        metrics.catalog_coverage(np.array([[0, 1]]), 2.0)
