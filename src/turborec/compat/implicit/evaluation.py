"""``implicit.evaluation``: implicit 0.7's ranking metrics and splits, computed by turborec.

The metrics follow implicit's definitions exactly (they differ from :func:`turborec.evaluate`'s
in places: precision divides the hits by ``min(K, |test items|)`` summed over users, not per
user; MAP divides each user's average precision by ``min(K, |test items|)``): only users with
test items count; each is served by ``model.recommend(users, train_user_items[users], N=K)``,
1,000 users a call, as implicit does. Where ``recommend`` returns fewer than ``K`` ids (a
catalogue smaller than ``K``), only the ids returned count (implicit reads past the end of its
array there). ``leave_k_out_split`` holds out implicit's entries, drawn as implicit draws them.
"""

import numbers

import numpy as np
import scipy.sparse as sp

from ... import _validation as v
from ..._progress import progress_bar
from ...models._base import as_user_items
from ...models._implicit import check_random_state

__all__ = ["AUC_at_k", "leave_k_out_split", "mean_average_precision_at_k", "ndcg_at_k", "precision_at_k",
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


def leave_k_out_split(ratings, K=1, train_only_size=0.0, random_state=None):
    """implicit's leave-k-out split: each user with more than ``K + 1`` stored entries gives ``K``
    of them, drawn at random, to the test matrix; everything else is training.

    The draws are implicit 0.7's, so a split equals implicit's whenever both draw from the same
    states. Like implicit, the choice of each user's held-out entries draws from NumPy's *global*
    generator (one ``numpy.random.random`` number per entry of the eligible users), not from
    ``random_state``: seed ``numpy.random`` as well for a repeatable split. ``random_state`` draws
    only the train-only users, as implicit does: ``max(1, int(n * train_only_size))`` numbers
    out of ``range(n)``, ``n`` the users with entries, without replacement, and the users whose *ids*
    are among them are kept out of the test matrix (with no empty rows, ids and positions agree).

    Parameters
    ----------
    ratings : scipy.sparse matrix or sparse array of shape (n_users, n_items)
        Any sparse format (converted as implicit does, without a warning); COO entries are taken
        in their stored order, duplicates included. Not modified.
    K : int, default 1
        Entries held out per eligible user, >= 1.
    train_only_size : float, default 0.0
        Share of the users kept wholly in training, in [0, 1) (taken in float32, as implicit).
    random_state : None, int, numpy Generator or RandomState
        Seeds the train-only draw (implicit's ``check_random_state``).

    Returns
    -------
    train, test : scipy.sparse.csr_matrix
        Of ``ratings``' shape and dtype. Each held-out entry is in ``test`` once, with its value.
        implicit 0.7 holds out the same entries but repeats some values: for each user id up to
        the largest with test entries that has none, it adds the test values of the nearest user
        below with test entries (of the last one, for ids below the first) once more.
    """
    K = v.as_int(K, "K", "an int >= 1")
    if not isinstance(train_only_size, numbers.Real):
        raise TypeError(f"train_only_size: expected a real number in [0, 1), got {type(train_only_size).__name__}")
    if not -2**31 <= K < 2**31:  # implicit takes K as a C int
        raise OverflowError(f"K: {K} does not fit a C int (implicit's type for it)")
    if K < 1:
        raise ValueError("The 'K' must be >= 1.")
    share = np.float32(train_only_size) if -1.0 < train_only_size < 2.0 else np.float32(np.nan)
    if not 0.0 <= share < 1.0:
        raise ValueError("The 'train_only_size' must be in the range (0.0 <= x < 1.0).")
    if not sp.issparse(ratings):
        raise TypeError(f"ratings: expected a scipy.sparse matrix of shape (n_users, n_items), "
                        f"got {type(ratings).__name__}")
    ratings = ratings.tocoo()
    rng = check_random_state(random_state)
    users = ratings.row
    ids, counts = np.unique(users, return_counts=True)
    eligible = counts > K + 1
    if share > 0.0:
        if not len(ids):
            raise ValueError("ratings: no stored entries to draw the train-only users from (train_only_size > 0)")
        drawn = rng.choice(len(ids), size=max(1, int(np.float32(len(ids)) * share)), replace=False)
        eligible &= ~np.isin(ids, drawn)  # ids against positions in range(n), as implicit
    in_pool = np.isin(users, ids[eligible])
    pool = np.flatnonzero(in_pool)
    chosen = _last_k_by_random_key(users[pool], counts[eligible], K)
    kept = np.ones(len(pool), dtype=bool)
    kept[chosen] = False
    train, held = np.concatenate([np.flatnonzero(~in_pool), pool[kept]]), pool[chosen]
    return tuple(sp.csr_matrix((ratings.data[e], (users[e], ratings.col[e])), shape=ratings.shape,
                               dtype=ratings.dtype) for e in (train, held))


def _last_k_by_random_key(users, counts, K):
    """Positions in ``users`` of the ``K`` entries of each user with the largest random keys,
    user by user (``counts``: entries per user, in increasing user id), each user's by increasing
    key. The keys are implicit's: the entries sorted by user (NumPy's default, unstable sort:
    equal ids fall as they fall in implicit), then the i-th of them gets ``user + u_i``, ``u_i``
    the i-th of ``len(users)`` uniform numbers from NumPy's global generator."""
    by_user = np.argsort(users)
    keys = users[by_user] + np.random.random(len(users))
    by_key = np.argsort(keys)
    ends = np.cumsum(counts)
    return by_user[by_key[(ends[:, None] - K + np.arange(K)).ravel()]]


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
