"""Numba similarity kernel: the algorithm of ``csrc/include/turborec/similarity.hpp``,
JIT-compiled for the CPU, with the running top-k of the selection family
(``selection/_numba.py``: ``_offer_one`` for ids in any order, ``_write``). The contract is in
``_numpy.py``.

Each row of ``a`` is multiplied into a dense accumulator of length m (sums in the data's dtype,
in the order of the row's stored entries, as in C++), the columns touched are listed as they are
first touched, and only they are scored and offered. Rows are taken in blocks of ``ROW_BLOCK``
(a constant, so the work never depends on the thread count), each block with its own
accumulators. Kernels are compiled lazily, once per dtype, and cached on disk.
"""

import numpy as np
from numba import njit, prange

from .._jit import csr_int64, launch
from ..selection._numba import _offer_one, _write
from . import COUNTS

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
