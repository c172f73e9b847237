"""NumPy reference of the ranking-metrics kernel: slow, obviously correct, the test oracle.

Contract of every backend (the public ``ranking_metrics`` validated everything): ``recs`` is a
C-contiguous int32 (n_users, width) array, -1 for empty slots; ``relevant`` a checked CSR
``(indptr, indices)`` with one sorted, duplicate-free row per user; ``n_negatives`` None or int64
(n_users,); ``cutoffs`` sorted unique int64 in [1, width]; ``out`` float64 (n_users,
len(cutoffs), len(RANKING_METRICS)), written in the column order of ``RANKING_METRICS``, NaN
rows for users without relevant items. Definitions: ``__init__.py`` and docs/metrics.md.
"""

import numpy as np

from . import RANKING_METRICS


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads, out):
    indptr, indices = relevant
    out[:] = np.nan
    for u, ranked in enumerate(recs):
        truth = set(indices[indptr[u]:indptr[u + 1]].tolist())
        if not truth:
            continue
        negatives = np.nan if n_negatives is None else float(n_negatives[u])
        for c, k in enumerate(cutoffs):
            ranks = [r for r, i in enumerate(ranked[:k], start=1) if i in truth]
            hits = len(ranks)
            ideal = min(len(truth), k)
            # AUC by counting pairs: a listed relevant item beats the negatives listed below it
            # and all unlisted ones; an unlisted relevant item ties with unlisted negatives.
            listed_negatives = [r for r, i in enumerate(ranked[:k], start=1) if i >= 0 and i not in truth]
            unlisted_negatives = negatives - len(listed_negatives)
            wins = sum(sum(1 for q in listed_negatives if q > r) + unlisted_negatives for r in ranks)
            wins += 0.5 * (len(truth) - hits) * unlisted_negatives
            value = {
                "precision": hits / k,
                "recall": hits / len(truth),
                "ndcg": sum(1 / np.log2(r + 1) for r in ranks) / sum(1 / np.log2(r + 1) for r in range(1, ideal + 1)),
                "map": sum((j + 1) / r for j, r in enumerate(ranks)) / ideal,
                "mrr": 1 / ranks[0] if ranks else 0.0,
                "hit_rate": float(hits > 0),
                "auc": wins / (len(truth) * negatives) if negatives > 0 else np.nan,
            }
            out[u, c] = [value[name] for name in RANKING_METRICS]
