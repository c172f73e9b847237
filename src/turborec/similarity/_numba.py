"""Numba similarity kernel: the algorithm of ``csrc/include/turborec/similarity.hpp``,
JIT-compiled for the CPU, with the running top-k of the selection family
(``selection/_numba.py``: ``_offer_one`` for ids in any order, ``_write``). The contract is in
``_numpy.py``.

Each row of ``a`` is multiplied into a dense accumulator of length m (sums in the data's dtype,
in the order of the row's stored entries, as in C++), the columns touched are listed as they are
first touched, and only they are scored and offered. Rows are taken in blocks of ``ROW_BLOCK``
(a constant, so the work never depends on the thread count), each block with its own
accumulators. Kernels are compiled lazily, once per dtype, and cached on disk.

``corated_similarity`` (Surprise's dense co-rated matrices) mirrors the header's kernel of that
name in the same way: same accumulation order, so the two agree bit for bit.
"""

import numpy as np
from numba import njit, prange

from .._jit import csr_int64, launch
from ..selection._numba import _offer_one, _write
from . import COUNTS
from ._corated import MSD, PEARSON, PEARSON_BASELINE

ROW_BLOCK = 64  # rows per parallel task: each allocates m accumulators, counts and touched ids


@njit(cache=True, nogil=True, parallel=True)
def _sparse_dot_topk(a_indptr, a_indices, a_data, bt_indptr, bt_indices, bt_data, m, row_begin, row_end, k,
                     combine, weighted, row_weight, col_weight, shrinkage, min_score, exclude_self, counts_only,
                     capacity, ids, values):
    n_blocks = (row_end - row_begin + ROW_BLOCK - 1) // ROW_BLOCK
    for b in prange(n_blocks):
        acc = np.zeros(m, a_data.dtype)
        cnt = np.zeros(m, np.int32)
        seen = np.empty(m, np.int32)
        bk = np.empty(capacity, a_data.dtype)
        bi = np.empty(capacity, np.int32)
        cast = np.empty(1, a_data.dtype)  # int32 count -> the data's dtype, as C++'s static_cast<T>
        r0 = row_begin + b * ROW_BLOCK
        for r in range(r0, min(row_end, r0 + ROW_BLOCK)):
            n_seen = 0
            for e in range(a_indptr[r], a_indptr[r + 1]):
                j = a_indices[e]
                av = a_data[e]
                for f in range(bt_indptr[j], bt_indptr[j + 1]):
                    c = bt_indices[f]
                    if cnt[c] == 0:
                        seen[n_seen] = c
                        n_seen += 1
                    cnt[c] += 1
                    acc[c] += av * bt_data[f]
            size, threshold, threshold_id = 0, -np.inf, -1
            for t in range(n_seen):
                c = seen[t]
                cast[0] = cnt[c]
                common = cast[0]
                score = common if counts_only else acc[c]  # every value 1: the sums are the counts
                acc[c] = 0
                cnt[c] = 0
                if exclude_self and c == r:
                    continue
                if combine == 1:  # JACCARD
                    score = common / (row_weight[r] + col_weight[c] - common)
                elif weighted:
                    score = score * (row_weight[r] * col_weight[c])
                if shrinkage > 0:
                    score = score * (common / (common + shrinkage))
                if not score >= min_score:
                    continue
                size, threshold, threshold_id = _offer_one(score, c, bk, bi, size, k, threshold, threshold_id)
            _write(bk, bi, size, k, True, ids[r - row_begin], values[r - row_begin])


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    weighted = row_weight is not None
    if not weighted:
        row_weight = col_weight = np.empty(0, a[2].dtype)
    a = (*csr_int64(a[:2], len(a[0]) - 1), a[2])  # one compiled index type, as every numba kernel
    bt = (*csr_int64(bt[:2], len(bt[0]) - 1), bt[2])
    launch(_sparse_dot_topk, n_threads, *a, *bt, m, *rows, k, scoring.combine, weighted, row_weight, col_weight,
           scoring.shrinkage, scoring.min_score, scoring.exclude_self, scoring.accumulate == COUNTS, capacity, ids,
           values)


@njit(cache=True, nogil=True, parallel=True)
def _corated_similarity(indptr, indices, values, t_indptr, t_indices, t_values, measure, min_support, shrinkage,
                        out):
    n = len(indptr) - 1
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for b in prange(n_blocks):
        # per pair (r, c), over the columns both rated: count, sum of products (of squared
        # differences for msd), sums of squares and of ratings of r (i) and of c (j)
        freq = np.zeros(n, np.int64)
        prods = np.zeros(n)
        sqi = np.zeros(n)
        sqj = np.zeros(n)
        si = np.zeros(n)
        sj = np.zeros(n)
        for r in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)):
            for e in range(indptr[r], indptr[r + 1]):  # the columns r rated ...
                ri = values[e]
                j = indices[e]
                for f in range(t_indptr[j], t_indptr[j + 1]):  # ... and every row that rated them
                    c = t_indices[f]
                    rj = t_values[f]
                    freq[c] += 1
                    if measure == MSD:
                        prods[c] += (ri - rj) * (ri - rj)
                    else:
                        prods[c] += ri * rj
                        sqi[c] += ri * ri
                        sqj[c] += rj * rj
                        if measure == PEARSON:
                            si[c] += ri
                            sj[c] += rj
            for c in range(n):
                common = freq[c]
                sim = 0.0
                if c == r:
                    sim = 1.0
                elif common >= min_support and common > 0:
                    if measure == MSD:
                        sim = 1.0 / (prods[c] / common + 1.0)
                    elif measure == PEARSON:
                        denominator = (common * sqi[c] - si[c] * si[c]) * (common * sqj[c] - sj[c] * sj[c])
                        if denominator > 0:
                            sim = (common * prods[c] - si[c] * sj[c]) / np.sqrt(denominator)
                    else:
                        denominator = sqi[c] * sqj[c]
                        if denominator > 0:
                            sim = prods[c] / np.sqrt(denominator)
                            if measure == PEARSON_BASELINE:
                                sim *= (common - 1) / (common - 1 + shrinkage)
                out[r, c] = sim
                freq[c] = 0
                prods[c] = sqi[c] = sqj[c] = si[c] = sj[c] = 0.0


def corated_similarity(r, r_t, measure, min_support, shrinkage, n_threads, out):
    """Each task takes ``ROW_BLOCK`` rows with its own accumulators of length n: a row's pairs are
    accumulated from the co-rating lists of the columns it rated (the rows of ``r_t``), in the
    order of the row's stored columns, then the whole output row is written. The contract is
    ``_numpy.corated_similarity``'s."""
    r = (*csr_int64(r[:2], len(r[0]) - 1), r[2])
    r_t = (*csr_int64(r_t[:2], len(r_t[0]) - 1), r_t[2])
    launch(_corated_similarity, n_threads, *r, *r_t, measure, min_support, float(shrinkage), out)
