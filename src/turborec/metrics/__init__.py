"""Ranking, rating and beyond-accuracy metrics.

Definitions (binary relevance; ``R`` = a user's relevant items; ranks start at 1):

===============  ===========================================================================
precision@k      hits@k / k
recall@k         hits@k / |R|
ndcg@k           sum over hits at rank r <= k of 1/log2(r+1), divided by the ideal DCG, the
                 same sum over ranks 1..min(|R|, k)
map@k            sum over hits at rank r <= k of precision@r, divided by min(|R|, k)
mrr@k            1 / rank of the first hit within k, 0 when none
hit_rate@k       1 when any hit within k, else 0
auc@k            probability that a random relevant item ranks above a random negative item,
                 when the top-k list ranks first and every item past it ties (counts 1/2).
                 Negatives are catalogue items neither relevant nor excluded (e.g. training)
===============  ===========================================================================

Each is averaged over the users with at least one relevant item (auc: and one negative).
docs/metrics.md lists where implicit, RecBole and Microsoft Recommenders define them otherwise.

The ranking-metrics kernel is a family: ``_numpy.py`` (the reference), ``_native.py``
(``csrc/include/turborec/metrics.hpp``) and ``_numba.py``, all writing per-user values in the
column order of ``RANKING_METRICS``, the one list of metric names.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch

__all__ = ["RANKING_METRICS", "catalog_coverage", "intra_list_diversity", "mae", "novelty", "ranking_metrics", "rmse"]

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")


def check_cutoffs(k):
    """``k`` (an int or a sequence of ints) as a sorted, duplicate-free int64 array."""
    values = [k] if np.ndim(k) == 0 else list(k)
    if not values:
        raise ValueError("k: expected at least one cutoff")
    values = [v.check_k(x, "k") for x in values]
    if max(values) > np.iinfo(np.int64).max:
        raise ValueError(f"k: cutoff {max(values)} exceeds any list's width")
    return np.unique(np.array(values, dtype=np.int64))


def check_metric_names(metrics, allowed):
    if metrics is None:
        return tuple(allowed)
    try:
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    except TypeError:
        raise TypeError(f"metrics: expected a str or a sequence of str, got {type(metrics).__name__}") from None
    unknown = [m for m in metrics if m not in allowed]
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; expected names from {allowed}")
    return metrics


def as_recommendations(recommended, n_users=None, n_items=None):
    """int32 (n_users, width) ids with -1 for empty slots; rejects repeats within a row."""
    recommended = v.as_array(recommended, "recommended")
    if recommended.ndim != 2:
        raise ValueError(f"recommended: expected a 2-D array (users x ranked items), got shape {recommended.shape}")
    if recommended.size and not np.issubdtype(recommended.dtype, np.integer):
        raise TypeError(f"recommended: expected integer item ids, got dtype {recommended.dtype}")
    if n_users is not None and recommended.shape[0] != n_users:
        raise ValueError(f"recommended: expected {n_users} rows (one per user), got {recommended.shape[0]}")
    if recommended.size:
        if n_items is not None and recommended.max() >= n_items:
            raise IndexError(f"recommended: item id {recommended.max()} out of range [0, {n_items})")
        ordered = np.sort(recommended, axis=1)
        if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
            raise ValueError("recommended: an item appears twice in one user's list")
    return np.ascontiguousarray(np.where(recommended < 0, -1, recommended), dtype=np.int32)


def as_relevance(relevant, name="relevant"):
    """A canonical CSR copy (sorted, duplicate-free, no stored zeros) of a scipy sparse matrix."""
    return v.as_csr(relevant, name, canonical=True)


def ranking_metrics(recommended, relevant, k=10, *, metrics=None, n_negatives=None, per_user=False, backend=None,
                    n_threads=None):
    """Ranking metrics of recommendation lists (definitions in the module docstring).

    Parameters
    ----------
    recommended : int array of shape (n_users, width)
        Item ids per user, best first; negative ids mark empty slots.
    relevant : scipy.sparse matrix of shape (n_users, n_items)
        Stored nonzero entries are the relevant (held-out) items of each user.
    k : int or sequence of int
        Cutoffs, each at most ``width``.
    metrics : sequence of str, optional
        Subset of ``RANKING_METRICS`` (default: all).
    n_negatives : int array of shape (n_users,), optional
        Negatives per user for auc: catalogue items neither relevant nor excluded from
        ranking. Default: ``n_items - |R|`` (nothing excluded).
    per_user : bool
        Also return the per-user values, shape (n_users, len(k), len(RANKING_METRICS)),
        NaN for users without relevant items.
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy).

    Returns
    -------
    dict
        ``{"<metric>@<k>": mean}`` in the order of ``metrics`` then ``k``; with ``per_user``, the
        pair ``(dict, per_user_values)``.
    """
    cutoffs = check_cutoffs(k)
    metrics = check_metric_names(metrics, RANKING_METRICS)
    per_user = v.as_bool(per_user, "per_user")
    relevant = as_relevance(relevant)
    n_users, n_items = relevant.shape
    v.check_id_range(n_items, "relevant")  # listed ids are int32 in the kernels
    recs = as_recommendations(recommended, n_users, n_items)
    if cutoffs[-1] > recs.shape[1]:
        raise ValueError(f"k: cutoff {cutoffs[-1]} exceeds the {recs.shape[1]} recommendations per user")
    if relevant.nnz == 0:
        raise ValueError("relevant: no user has a relevant item; nothing to evaluate")
    n_relevant = np.diff(relevant.indptr)
    if n_negatives is None:
        n_negatives = n_items - n_relevant
    n_negatives = v.as_array(n_negatives, "n_negatives")
    if n_negatives.shape != (n_users,):
        raise ValueError(f"n_negatives: expected {n_users} integers, got shape {n_negatives.shape}")
    if not np.issubdtype(n_negatives.dtype, np.integer):
        raise TypeError(f"n_negatives: expected {n_users} integers, got dtype {n_negatives.dtype}")
    if n_users and int(n_negatives.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"n_negatives: {n_negatives.max()} exceeds int64")
    values = dispatch("metrics", "ranking_metrics",
                      inputs=(recs, v.csr_arrays(relevant), np.ascontiguousarray(n_negatives, dtype=np.int64), cutoffs),
                      outputs=[((n_users, len(cutoffs), len(RANKING_METRICS)), np.float64)], backend=backend,
                      n_threads=n_threads)
    # Each listed id that is not relevant is a negative, so there must be at least that many.
    hits = np.rint(values[:, -1, RANKING_METRICS.index("precision")] * cutoffs[-1])
    listed_misses = (recs[:, : cutoffs[-1]] >= 0).sum(1) - hits
    short = np.flatnonzero(n_negatives < listed_misses)  # NaN hits (no relevant item) never compare
    if len(short):
        user = int(short[0])
        raise ValueError(f"n_negatives: user {user} has {n_negatives[user]} negatives but "
                         f"{int(listed_misses[user])} non-relevant items in its list")
    summary = summarize(values, cutoffs, metrics)
    return (summary, values) if per_user else summary


def summarize(values, cutoffs, metrics):
    """Mean of per-user values over users that have them (not NaN), keyed "<metric>@<k>"."""
    defined = ~np.isnan(values)
    counts = defined.sum(0)
    sums = np.where(defined, values, 0.0).sum(0)
    means = np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)
    return {f"{name}@{k}": float(means[c, RANKING_METRICS.index(name)])
            for name in metrics for c, k in enumerate(cutoffs)}


def _float_vector(x, name):
    """``x`` as a 1-D float64 array; anything else is an error naming ``name``."""
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 1-D array of numbers ({exc})") from None
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of numbers, got shape {x.shape}")
    return x


def _ratings_pair(y_true, y_pred):
    y_true, y_pred = _float_vector(y_true, "y_true"), _float_vector(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected shape {y_true.shape} like y_true, got {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("y_true: no ratings to compare")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: contains NaN or inf")
    return y_true, y_pred


def rmse(y_true, y_pred):
    """Root mean squared error of predicted ratings.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,)
        Observed and predicted ratings; finite, ``n >= 1``.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred) ** 2))``, in rating units.
    """
    y_true, y_pred = _ratings_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred):
    """Mean absolute error of predicted ratings.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,)
        Observed and predicted ratings; finite, ``n >= 1``.

    Returns
    -------
    float
        ``mean(|y_true - y_pred|)``, in rating units.
    """
    y_true, y_pred = _ratings_pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def catalog_coverage(recommended, n_items):
    """Fraction of the ``n_items`` catalogue that appears in at least one list.

    Parameters
    ----------
    recommended : int array of shape (n_users, width)
        Item ids per user; negative ids mark empty slots.
    n_items : int
        Catalogue size.

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    n_items = v.check_k(n_items, "n_items")
    recs = as_recommendations(recommended, n_items=n_items)
    return float(len(np.unique(recs[recs >= 0])) / n_items)


def novelty(recommended, item_popularity, n_users):
    """Mean self-information ``-log2(p_i)`` of recommended items, in bits.

    ``p_i = item_popularity[i] / n_users``: the share of (training) users who interacted with
    item ``i``, clipped to ``[1 / n_users, 1]`` so never-seen items count as the rarest and a
    count above ``n_users`` (repeat interactions) cannot give negative information.

    Parameters
    ----------
    recommended : int array of shape (n_users, width)
        Item ids per user; negative ids mark empty slots.
    item_popularity : array-like of shape (n_items,)
        Training users (or interactions) per item; finite, non-negative.
    n_users : int
        Number of training users.

    Returns
    -------
    float
        Mean bits over every listed item; NaN when no list has an item.
    """
    popularity = _float_vector(item_popularity, "item_popularity")
    if not np.isfinite(popularity).all() or (popularity < 0).any():
        raise ValueError("item_popularity: expected a 1-D array of finite non-negative counts")
    n_users = v.check_k(n_users, "n_users")
    recs = as_recommendations(recommended, n_items=len(popularity))
    listed = recs[recs >= 0]
    if listed.size == 0:
        return float("nan")
    share = np.maximum(popularity[listed], 1.0) / n_users
    return float(np.mean(-np.log2(np.minimum(share, 1.0))))


def intra_list_diversity(recommended, item_vectors, batch_size=8192):
    """Mean pairwise cosine distance ``1 - cos(x_i, x_j)`` within each list, averaged over lists.

    Lists with fewer than two items are skipped; all-zero vectors have cosine 0 with every item.

    Parameters
    ----------
    recommended : int array of shape (n_users, width)
        Item ids per user; negative ids mark empty slots.
    item_vectors : float array of shape (n_items, d)
        Item features or factors; finite.
    batch_size : int
        Lists per vectorised step (bounds memory to ``batch_size * width**2`` floats).

    Returns
    -------
    float
        In ``[0, 2]``; NaN when no list has two items.
    """
    batch_size = v.check_k(batch_size, "batch_size")
    item_vectors = v.as_float_matrix(item_vectors, "item_vectors", np)
    if not np.isfinite(item_vectors).all():
        raise ValueError("item_vectors: contains NaN or inf")
    recs = as_recommendations(recommended, n_items=len(item_vectors))
    norms = np.linalg.norm(item_vectors, axis=1)
    unit = item_vectors / np.where(norms > 0, norms, 1)[:, None]
    totals, lists = 0.0, 0
    for start in range(0, len(recs), batch_size):
        block = recs[start:start + batch_size]
        valid = block >= 0
        vectors = unit[np.maximum(block, 0)] * valid[..., None]
        cosine = np.einsum("ukd,uld->ukl", vectors, vectors)
        n = valid.sum(1)
        pairs = n * (n - 1)
        distance_sum = pairs - (cosine.sum((1, 2)) - np.einsum("ukk->u", cosine))
        keep = pairs > 0
        totals += float((distance_sum[keep] / pairs[keep]).sum())
        lists += int(keep.sum())
    return totals / lists if lists else float("nan")
