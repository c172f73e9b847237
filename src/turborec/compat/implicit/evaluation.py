"""``implicit.evaluation``: implicit 0.7's ranking metrics and splits, computed by turborec.

The metrics follow implicit's definitions exactly (they differ from :func:`turborec.evaluate`'s
in places: precision divides the hits by ``min(K, |test items|)`` summed over users, not per
user; MAP divides each user's average precision by ``min(K, |test items|)``): only users with
test items count; each is served by ``model.recommend(users, train_user_items[users], N=K)``,
1,000 users a call, as implicit does. Where ``recommend`` returns fewer than ``K`` ids (a
catalogue smaller than ``K``), only the ids returned count (implicit reads past the end of its
array there). implicit's ``leave_k_out_split`` is not mirrored yet.
"""

import numpy as np
import scipy.sparse as sp

from ..._progress import progress_bar
from ...models._base import as_user_items
from ...models._implicit import check_random_state

__all__ = ["AUC_at_k", "mean_average_precision_at_k", "ndcg_at_k", "precision_at_k",
           "ranking_metrics_at_k", "train_test_split"]

BATCH = 1000  # users per recommend call, as implicit


def train_test_split(ratings, train_percentage=0.8, random_state=None):
    """Each stored entry to train with probability ``train_percentage``, else to test (implicit's
    draw: one uniform number per entry of the COO form); negative test values dropped.

    Returns
    -------
    train, test : scipy.sparse.csr_matrix
    """
    ratings = sp.coo_matrix(ratings)
    draw = check_random_state(random_state).random(len(ratings.data))
    train_index, test_index = draw < train_percentage, draw >= train_percentage
    train, test = (sp.csr_matrix((ratings.data[i], (ratings.row[i], ratings.col[i])), shape=ratings.shape,
                                 dtype=ratings.dtype) for i in (train_index, test_index))
    test.data[test.data < 0] = 0
    test.eliminate_zeros()
    return train, test


def ranking_metrics_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=1):
    """implicit's ``{"precision", "map", "ndcg", "auc"}`` at ``K`` over the users with test items.

    Parameters
    ----------
    model : a fitted recommender with implicit's ``recommend(userids, user_items, N)``
    train_user_items, test_user_items : scipy.sparse matrix of shape (n_users, n_items)
    K : int, default 10
    show_progress : bool, default True
    num_threads : int, default 1
        Accepted for implicit compatibility (the model's own threads serve the batches).

    Returns
    -------
    dict of float
    """
    train, test = as_user_items(train_user_items), as_user_items(test_user_items)
    n_items = test.shape[1]
    gain = 1.0 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(gain)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    relevant = pr_div = mean_ap = ndcg = mean_auc = 0.0
    with progress_bar(show_progress, total=len(users), desc="ranking_metrics_at_k", unit="user") as bar:
        for start in range(0, len(users), BATCH):
            batch = users[start:start + BATCH]
            ids, _ = model.recommend(batch, train[batch], N=K)
            ids = np.asarray(ids).reshape(len(batch), -1)[:, :K]
            liked = test[batch]
            hits = np.zeros(ids.shape, dtype=bool)
            for row in range(len(batch)):  # membership of each recommended id in the user's test set
                hits[row] = np.isin(ids[row], liked.indices[liked.indptr[row]:liked.indptr[row + 1]])
            n_pos = np.diff(liked.indptr).astype(np.float64)
            cap = np.minimum(K, n_pos)
            hit_count = np.cumsum(hits, axis=1)
            ranks = np.arange(1, ids.shape[1] + 1)
            relevant += hits.sum()
            pr_div += cap.sum()
            mean_ap += ((hits * hit_count / ranks).sum(axis=1) / cap).sum()
            ndcg += ((hits * gain[:ids.shape[1]]).sum(axis=1) / ideal[cap.astype(np.int64) - 1]).sum()
            misses = ~hits
            n_neg = n_items - n_pos
            auc = (misses * hit_count).sum(axis=1) + (hit_count[:, -1] + n_pos) / 2.0 * (n_neg - misses.sum(axis=1))
            mean_auc += (auc / (n_pos * n_neg)).sum()
            bar.update(len(batch))
    total = max(len(users), 1)
    return {"precision": float(relevant / pr_div) if pr_div else 0.0, "map": float(mean_ap / total),
            "ndcg": float(ndcg / total), "auc": float(mean_auc / total)}


def precision_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=1):
    """``ranking_metrics_at_k(...)["precision"]``."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K, show_progress, num_threads)["precision"]


def mean_average_precision_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=1):
    """``ranking_metrics_at_k(...)["map"]``."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K, show_progress, num_threads)["map"]


def ndcg_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=1):
    """``ranking_metrics_at_k(...)["ndcg"]``."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K, show_progress, num_threads)["ndcg"]


def AUC_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=1):
    """``ranking_metrics_at_k(...)["auc"]``."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K, show_progress, num_threads)["auc"]
