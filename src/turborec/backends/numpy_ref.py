"""NumPy reference backend: slow, obviously correct, the test oracle.

Every backend module exposes the same functions with the same arguments; the public
functions in ``turborec.topk`` have validated and coerced everything before calling them:

- arrays are C-contiguous float32 or float64 on the backend's device, ``n >= 1``, ``m >= 1``
  and ``1 <= k <= m``;
- ``exclude`` is ``None`` or ``(indptr, indices)`` of a CSR matrix with one row per score row,
  column ids in range, in any order, duplicates allowed;
- ``n_threads`` is a resolved positive int (GPU backends ignore it).

Selection order: best score first, ties to the lower id. NaN scores and scores equal to the
padding value (-inf when ``largest``, +inf otherwise) are never selected; rows with fewer
than ``k`` eligible entries are padded with id -1 and the padding value.
"""

import numpy as np

from ._common import inverse_norms

name = "numpy"
description = "NumPy reference (slow; the test oracle)"
xp = np
on_gpu = False


def probe():
    return None


def _masked_keys(scores, exclude, largest):
    keys = np.array(scores, copy=True) if largest else -scores
    keys[np.isnan(keys)] = -np.inf
    if exclude is not None:
        indptr, indices = exclude
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        keys[rows, indices[: indptr[-1]]] = -np.inf
    return keys


def topk(scores, k, exclude, largest, n_threads):
    keys = _masked_keys(scores, exclude, largest)
    n, m = keys.shape
    ids = np.empty((n, k), dtype=np.int32)
    values = np.empty((n, k), dtype=scores.dtype)
    columns = np.arange(m)
    for r in range(n):
        # lexsort sorts by the last key first: descending key, then ascending id.
        order = np.lexsort((columns, -keys[r]))[:k]
        eligible = keys[r, order] > -np.inf
        ids[r] = np.where(eligible, order, -1)
        values[r] = np.where(eligible, scores[r, order], -np.inf if largest else np.inf)
    return ids, values


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    if normalize:
        queries = queries * inverse_norms(queries, np)[:, None]
        items = items * inverse_norms(items, np)[:, None]
    return topk(queries @ items.T, k, exclude, True, n_threads)


METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads):
    """Per-user metrics, shape (n_users, len(cutoffs), len(METRICS)); NaN rows for users
    without relevant items. Definitions: csrc/include/turborec/metrics.hpp, docs/metrics.md."""
    indptr, indices = relevant
    out = np.full((len(recs), len(cutoffs), len(METRICS)), np.nan)
    for u, ranked in enumerate(recs):
        truth = set(indices[indptr[u]:indptr[u + 1]].tolist())
        if not truth:
            continue
        negatives = np.nan if n_negatives is None else float(n_negatives[u])
        for c, k in enumerate(cutoffs):
            ranks = [r for r, i in enumerate(ranked[:k], start=1) if i in truth]
            hits = len(ranks)
            ideal = min(len(truth), k)
            ndcg = sum(1 / np.log2(r + 1) for r in ranks) / sum(1 / np.log2(r + 1) for r in range(1, ideal + 1))
            average_precision = sum((j + 1) / r for j, r in enumerate(ranks)) / ideal
            # AUC by counting pairs: a listed relevant item beats the negatives listed below it
            # and all unlisted ones; an unlisted relevant item ties with unlisted negatives.
            listed_negatives = [r for r, i in enumerate(ranked[:k], start=1) if i >= 0 and i not in truth]
            unlisted_negatives = negatives - len(listed_negatives)
            wins = sum(sum(1 for q in listed_negatives if q > r) + unlisted_negatives for r in ranks)
            wins += 0.5 * (len(truth) - hits) * unlisted_negatives
            auc = wins / (len(truth) * negatives) if negatives > 0 else np.nan
            out[u, c] = [hits / k, hits / len(truth), ndcg, average_precision, 1 / ranks[0] if ranks else 0.0,
                         float(hits > 0), auc]
    return out
