"""Numba similarity kernel: the algorithm of ``csrc/include/turborec/similarity.hpp``,
JIT-compiled for the CPU, with the running top-k of the selection family
(``selection/_numba.py``: ``_offer_one`` for ids in any order, ``_write``). The contract is in
``_numpy.py``.

Each row of ``a`` is multiplied into a dense accumulator of length m (sums in the data's dtype,
in the order of the row's stored entries, as in C++), the columns touched are listed as they are
first touched, and only they are scored and offered. Rows are taken in blocks of ``ROW_BLOCK``
(a constant, so the work never depends on the thread count), each block with its own
accumulators. Kernels are compiled lazily, once per dtype, and cached on disk.

``corated_similarity`` (Surprise's dense co-rated matrices) and ``corated_topk`` (their top k)
mirror the kernels of ``corated.hpp`` in the same way, sharing the accumulation
(``_accumulate_corated``) and the formula (``_corated_score``): same order, so numba and C++
agree bit for bit.
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
                     combine, weighted, row_weight, col_weight, shrinkage, min_score, min_support, exclude_self,
                     counts_only, capacity, ids, values):
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
                shared = cnt[c]
                cast[0] = shared
                common = cast[0]
                score = common if counts_only else acc[c]  # every value 1: the sums are the counts
                acc[c] = 0
                cnt[c] = 0
                if (exclude_self and c == r) or shared < min_support:
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
           scoring.shrinkage, scoring.min_score, scoring.min_support, scoring.exclude_self,
           scoring.accumulate == COUNTS, capacity, ids, values)


@njit(cache=True, nogil=True, inline="always")
def _corated_supported(freq, min_support):
    return freq > 0 and freq >= min_support


@njit(cache=True, nogil=True)
def _corated_score(freq, prods, sqi, sqj, si, sj, measure, shrinkage):
    """The similarity of a supported pair from its sums: ``corated_score`` of corated.hpp, the one
    formula of both co-rated kernels."""
    common = float(freq)
    sim = 0.0
    if measure == MSD:
        sim = 1.0 / (prods / common + 1.0)
    elif measure == PEARSON:
        denominator = (common * sqi - si * si) * (common * sqj - sj * sj)
        if denominator > 0:
            sim = (common * prods - si * sj) / np.sqrt(denominator)
    else:
        denominator = sqi * sqj
        if denominator > 0:
            sim = prods / np.sqrt(denominator)
            if measure == PEARSON_BASELINE:
                return sim * ((common - 1.0) / (common - 1.0 + shrinkage))
    if shrinkage > 0 and measure != PEARSON_BASELINE:
        sim *= common / (common + shrinkage)
    return sim


@njit(cache=True, nogil=True)
def _accumulate_corated(indptr, indices, values, t_indptr, t_indices, t_values, measure, x, freq, prods, sqi, sqj, si,
                        sj, seen):
    """Adds row x's pairs (over the columns both rated: count, sum of products, or of squared
    differences for msd, sums of squares, sums for pearson) to the accumulators, listing each
    column when first touched; returns how many were listed (``detail::accumulate_corated``)."""
    n_seen = 0
    for e in range(indptr[x], indptr[x + 1]):  # the columns x rated ...
        ri = values[e]
        j = indices[e]
        for f in range(t_indptr[j], t_indptr[j + 1]):  # ... and every row that rated them
            c = t_indices[f]
            rj = t_values[f]
            if freq[c] == 0:
                seen[n_seen] = c
                n_seen += 1
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
    return n_seen


@njit(cache=True, nogil=True, parallel=True)
def _corated_similarity(indptr, indices, values, t_indptr, t_indices, t_values, measure, min_support, shrinkage,
                        out):
    n = len(indptr) - 1
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for b in prange(n_blocks):
        freq = np.zeros(n, np.int64)
        prods, sqi, sqj, si, sj = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        seen = np.empty(n, np.int64)
        for r in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)):
            _accumulate_corated(indptr, indices, values, t_indptr, t_indices, t_values, measure, r, freq, prods, sqi,
                                sqj, si, sj, seen)
            for c in range(n):
                sim = 0.0
                if c == r:
                    sim = 1.0
                elif _corated_supported(freq[c], min_support):
                    sim = _corated_score(freq[c], prods[c], sqi[c], sqj[c], si[c], sj[c], measure, shrinkage)
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


@njit(cache=True, nogil=True, parallel=True)
def _corated_topk(indptr, indices, values, t_indptr, t_indices, t_values, measure, min_support, shrinkage, row_begin,
                  row_end, k, min_score, capacity, ids, scores):
    n = len(indptr) - 1
    n_blocks = (row_end - row_begin + ROW_BLOCK - 1) // ROW_BLOCK
    for b in prange(n_blocks):
        freq = np.zeros(n, np.int64)
        prods, sqi, sqj, si, sj = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        seen = np.empty(n, np.int64)
        bk = np.empty(capacity, scores.dtype)
        bi = np.empty(capacity, np.int32)
        cast = np.empty(1, scores.dtype)  # float64 -> the output dtype, as C++'s static_cast<T>
        r0 = row_begin + b * ROW_BLOCK
        for r in range(r0, min(row_end, r0 + ROW_BLOCK)):
            n_seen = _accumulate_corated(indptr, indices, values, t_indptr, t_indices, t_values, measure, r, freq,
                                         prods, sqi, sqj, si, sj, seen)
            size, threshold, threshold_id = 0, -np.inf, -1
            for t in range(n_seen):
                c = seen[t]
                supported = c != r and _corated_supported(freq[c], min_support)
                if supported:
                    cast[0] = _corated_score(freq[c], prods[c], sqi[c], sqj[c], si[c], sj[c], measure, shrinkage)
                freq[c] = 0
                prods[c] = sqi[c] = sqj[c] = si[c] = sj[c] = 0.0
                if not supported or not cast[0] >= min_score:
                    continue
                size, threshold, threshold_id = _offer_one(cast[0], c, bk, bi, size, k, threshold, threshold_id)
            _write(bk, bi, size, k, True, ids[r - row_begin], scores[r - row_begin])


def corated_topk(r, r_t, measure, min_support, shrinkage, rows, k, min_score, capacity, n_threads, ids, values):
    """Rows in blocks of ``ROW_BLOCK``, each block with its own accumulators of length n; a row's
    pairs accumulated as in ``corated_similarity``, only the touched columns scored (the shared
    ``_corated_score``, cast to the output dtype) and offered to the running top-k. The contract
    is ``_numpy.corated_topk``'s."""
    r = (*csr_int64(r[:2], len(r[0]) - 1), r[2])
    r_t = (*csr_int64(r_t[:2], len(r_t[0]) - 1), r_t[2])
    launch(_corated_topk, n_threads, *r, *r_t, measure, min_support, float(shrinkage), *rows, k, min_score, capacity,
           ids, values)
