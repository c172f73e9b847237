"""Numba ranking-metrics kernel: the algorithm of ``csrc/include/turborec/metrics.hpp``, JIT-compiled.
Contract: ``_numpy.py``."""

import numpy as np
from numba import njit, prange

from .._jit import csr_int64, launch
from . import RANKING_METRICS

# Output columns (compile-time constants for numba), from the one list of names.
PRECISION, RECALL, NDCG, MAP, MRR, HIT_RATE, AUC = (
    RANKING_METRICS.index(name) for name in ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc"))


@njit(cache=True, nogil=True, parallel=True)
def _ranking_metrics_kernel(recs, indptr, indices, n_negatives, has_negatives, cutoffs, out):
    n, width = recs.shape
    gain = np.zeros(width + 1)
    idcg = np.zeros(width + 1)
    for r in range(1, width + 1):
        gain[r] = 1.0 / np.log2(r + 1.0)
        idcg[r] = idcg[r - 1] + gain[r]
    for u in prange(n):
        lo, hi = indptr[u], indptr[u + 1]
        n_relevant = hi - lo
        if n_relevant == 0:
            out[u, :, :] = np.nan
            continue
        truth = indices[lo:hi]
        positives = float(n_relevant)
        negatives = float(n_negatives[u]) if has_negatives else np.nan
        hits = dcg = ap = first_hit = misses = ordered_pairs = 0.0
        c = 0
        for r in range(1, width + 1):
            if c == len(cutoffs):
                break
            item = recs[u, r - 1]
            if item >= 0:
                at = np.searchsorted(truth, item)
                if at < n_relevant and truth[at] == item:
                    hits += 1.0
                    dcg += gain[r]
                    ap += hits / r
                    if first_hit == 0.0:
                        first_hit = float(r)
                else:
                    misses += 1.0
                    ordered_pairs += hits
            if r != cutoffs[c]:
                continue
            ideal = min(n_relevant, r)
            out[u, c, PRECISION] = hits / r
            out[u, c, RECALL] = hits / positives
            out[u, c, NDCG] = dcg / idcg[ideal]
            out[u, c, MAP] = ap / ideal
            out[u, c, MRR] = 1.0 / first_hit if first_hit > 0.0 else 0.0
            out[u, c, HIT_RATE] = 1.0 if hits > 0.0 else 0.0
            unlisted = negatives - misses
            if negatives > 0.0:
                out[u, c, AUC] = (ordered_pairs + unlisted * (hits + 0.5 * (positives - hits))) / (positives * negatives)
            else:
                out[u, c, AUC] = np.nan
            c += 1


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads, out):
    has_negatives = n_negatives is not None
    negatives = n_negatives if has_negatives else np.zeros(1, np.int64)
    launch(_ranking_metrics_kernel, n_threads, recs, *csr_int64(relevant, len(recs)), negatives, has_negatives,
           cutoffs, out)
