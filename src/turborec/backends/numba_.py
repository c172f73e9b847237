"""Numba backend: the algorithm of ``csrc/include/turborec/topk.hpp``, JIT-compiled for the CPU.

See numpy_ref.py for the shared contract. Each row keeps a running top-k in a buffer of
``k + max(k, 16)`` candidates: entries are scanned in increasing id order and admitted only
when their key is strictly greater than the current k-th best (a tie loses to the lower id
already held), and a full buffer is cut back to its best k by partial selection
(quickselect, linear time). The survivors are sorted by (key descending, id ascending) at
the end. Smallest-k runs on negated keys. NaN and -inf keys never pass the strict test, so
they are never selected.

Kernels are compiled lazily, once per dtype (float32, float64), and cached on disk.
"""

import contextlib
import threading

import numba
import numpy as np
from numba import njit, prange

from .._threads import blas_single_thread
from ._common import empty_topk, inverse_norms

name = "numba"
description = f"Numba {numba.__version__} JIT kernels (CPU)"
xp = np
on_gpu = False

_CHUNK = 4096  # columns of a topk row staged at a time when keys must be negated or masked
_BLOCK_ITEMS = 1024  # items per topk_dot tile
_MAX_BLOCK_ROWS = 512  # query rows per topk_dot tile (at most)
_BLOCK_BUDGET = 8 << 20  # bytes of candidate buffers per topk_dot block


def probe():
    return None


# ---- the running top-k of one row: keys (bk) and ids (bi) of at most capacity candidates ----


@njit(cache=True, nogil=True, inline="always")
def _before(key_a, id_a, key_b, id_b):
    """Whether candidate a ranks before candidate b: larger key first, ties to the lower id."""
    return key_a > key_b or (key_a == key_b and id_a < id_b)


@njit(cache=True, nogil=True, inline="always")
def _swap(bk, bi, a, b):
    bk[a], bk[b] = bk[b], bk[a]
    bi[a], bi[b] = bi[b], bi[a]


@njit(cache=True, nogil=True)
def _select(bk, bi, size, nth):
    """Partial selection (nth_element): put the (nth+1)-th best of [0, size) at ``nth``.

    Afterwards every entry before ``nth`` ranks before it and every entry after ranks after.
    Ids are distinct, so the order is total and the partition (Hoare, median of three) never
    degenerates on ties.
    """
    lo, hi = 0, size - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if _before(bk[mid], bi[mid], bk[lo], bi[lo]):
            _swap(bk, bi, lo, mid)
        if _before(bk[hi], bi[hi], bk[lo], bi[lo]):
            _swap(bk, bi, lo, hi)
        if _before(bk[hi], bi[hi], bk[mid], bi[mid]):
            _swap(bk, bi, mid, hi)
        pivot_key, pivot_id = bk[mid], bi[mid]
        i, j = lo, hi
        while i <= j:
            while _before(bk[i], bi[i], pivot_key, pivot_id):
                i += 1
            while _before(pivot_key, pivot_id, bk[j], bi[j]):
                j -= 1
            if i <= j:
                _swap(bk, bi, i, j)
                i += 1
                j -= 1
        # [lo, j] rank at or before the pivot, [i, hi] at or after, anything between is it.
        if nth <= j:
            hi = j
        elif nth >= i:
            lo = i
        else:
            return


@njit(cache=True, nogil=True)
def _sort(bk, bi, size):
    """Sort [0, size) best first (heapsort: a heap whose root is the worst entry)."""
    for start in range(size // 2 - 1, -1, -1):
        _sift_down(bk, bi, start, size)
    for end in range(size - 1, 0, -1):
        _swap(bk, bi, 0, end)
        _sift_down(bk, bi, 0, end)


@njit(cache=True, nogil=True)
def _sift_down(bk, bi, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and _before(bk[child], bi[child], bk[child + 1], bi[child + 1]):
            child += 1  # the worse of the two children
        if not _before(bk[root], bi[root], bk[child], bi[child]):
            return
        _swap(bk, bi, root, child)
        root = child


@njit(cache=True, nogil=True)
def _offer(keys, first_id, bk, bi, size, k, threshold):
    """Offer ``keys`` with ids ``first_id + j``; returns the new (size, threshold)."""
    capacity = bk.shape[0]
    for j in range(keys.shape[0]):
        key = keys[j]
        if key > threshold:  # False for NaN; -inf never exceeds the initial -inf
            bk[size] = key
            bi[size] = first_id + j
            size += 1
            if size == capacity:
                _select(bk, bi, size, k - 1)
                size = k
                threshold = bk[k - 1]
    return size, threshold


@njit(cache=True, nogil=True)
def _write(bk, bi, size, k, largest, ids, values):
    """Write the best ``k`` (padded with -1 and the padding value) into one output row."""
    if size > k:
        _select(bk, bi, size, k - 1)
        size = k
    _sort(bk, bi, size)
    for i in range(size):
        ids[i] = bi[i]
        values[i] = bk[i] if largest else -bk[i]
    pad = -np.inf if largest else np.inf
    for i in range(size, k):
        ids[i] = -1
        values[i] = pad


@njit(cache=True, nogil=True, inline="always")
def _mask(indptr, indices, row, c0, keys):
    """keys[j] = -inf for every excluded column c0 + j of ``row`` inside [c0, c0 + len(keys))."""
    length = keys.shape[0]
    for e in range(indptr[row], indptr[row + 1]):
        j = indices[e] - c0
        if j >= 0 and j < length:
            keys[j] = -np.inf


# ---- kernels ----


@njit(cache=True, nogil=True, parallel=True)
def _topk_rows(scores, k, indptr, indices, largest, ids, values):
    n, m = scores.shape
    capacity = k + max(k, 16)
    chunk = min(m, _CHUNK)
    for r in prange(n):
        bk = np.empty(capacity, scores.dtype)
        bi = np.empty(capacity, np.int32)
        size = 0
        threshold = -np.inf
        row = scores[r]
        if largest and indptr[r] == indptr[r + 1]:
            # Nothing to negate or mask: scan the caller's row in place.
            size, threshold = _offer(row, 0, bk, bi, size, k, threshold)
        else:
            staged = np.empty(chunk, scores.dtype)
            for c0 in range(0, m, chunk):
                keys = staged[: min(chunk, m - c0)]
                if largest:
                    for j in range(keys.shape[0]):
                        keys[j] = row[c0 + j]
                else:
                    for j in range(keys.shape[0]):
                        keys[j] = -row[c0 + j]
                _mask(indptr, indices, r, c0, keys)
                size, threshold = _offer(keys, c0, bk, bi, size, k, threshold)
        _write(bk, bi, size, k, largest, ids[r], values[r])


@njit(cache=True, nogil=True, parallel=True)
def _topk_dot_blocks(queries, items, k, indptr, indices, normalize, query_scale, item_scale,
                     block_rows, ids, values):
    n, d = queries.shape
    m = items.shape[0]
    capacity = k + max(k, 16)
    n_blocks = (n + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        r0 = b * block_rows
        rows = min(block_rows, n - r0)
        q = queries[r0 : r0 + rows]
        tile_buffer = np.empty(rows * min(m, _BLOCK_ITEMS), queries.dtype)
        bk = np.empty((rows, capacity), queries.dtype)
        bi = np.empty((rows, capacity), np.int32)
        sizes = np.zeros(rows, np.int64)
        thresholds = np.full(rows, -np.inf)
        for c0 in range(0, m, _BLOCK_ITEMS):
            cols = min(_BLOCK_ITEMS, m - c0)
            tile = tile_buffer[: rows * cols].reshape(rows, cols)
            if d > 0:
                # BLAS, one thread per call: gemm as in topk.hpp (bitwise the same), except that
                # numba calls gemv for a 1-row block or a 1-item tile (last-bit differences).
                np.dot(q, items[c0 : c0 + cols].T, tile)
            else:
                tile[:] = 0
            for r in range(rows):
                row = tile[r]
                if normalize:
                    # cosine = (q . x) * (1/|q|) * (1/|x|), scaled after the product like topk.hpp
                    qs = query_scale[r0 + r]
                    for j in range(cols):
                        row[j] *= qs * item_scale[c0 + j]
                _mask(indptr, indices, r0 + r, c0, row)
                sizes[r], thresholds[r] = _offer(row, c0, bk[r], bi[r], sizes[r], k, thresholds[r])
        for r in range(rows):
            _write(bk[r], bi[r], sizes[r], k, True, ids[r0 + r], values[r0 + r])


# ---- adapters ----

# The workqueue threading layer aborts the process when two threads launch parallel kernels at
# once; tbb and omp do not. Until the first launch reveals the layer, launches are serialized.
_launch_lock = threading.Lock()
_layer_is_threadsafe = False


def _launch(kernel, n_threads, *args):
    global _layer_is_threadsafe
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if _layer_is_threadsafe:
            kernel(*args)
        else:
            with _launch_lock:
                kernel(*args)
                _layer_is_threadsafe = numba.threading_layer() in ("tbb", "omp")
    finally:
        numba.set_num_threads(previous)


def _exclude_arrays(exclude, n):
    """A CSR ``(indptr, indices)`` as int64 (one compiled variant), empty rows when ``None``."""
    if exclude is None:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    indptr, indices = exclude
    return indptr.astype(np.int64, copy=False), indices.astype(np.int64, copy=False)


def topk(scores, k, exclude, largest, n_threads):
    n = scores.shape[0]
    ids, values = empty_topk(n, k, scores.dtype)
    _launch(_topk_rows, n_threads, scores, k, *_exclude_arrays(exclude, n), largest, ids, values)
    return ids, values


def _block_rows(n, k, dtype):
    """Query rows per block: fixed by n, k and dtype, never by n_threads, so results are not.

    Same sizes as ``topk_dot_block_rows`` in topk.hpp (an entry is a padded ``Candidate<T>``
    there: twice the key size), so both backends make the same BLAS calls and agree bit for bit.
    """
    entry = 2 * np.dtype(dtype).itemsize
    by_memory = _BLOCK_BUDGET // ((k + max(k, 16)) * entry)
    by_parallelism = max(16, ((n + 15) // 16 + 15) // 16 * 16)
    return int(min(max(min(by_memory, by_parallelism), 1), _MAX_BLOCK_ROWS))


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    n = queries.shape[0]
    ids, values = empty_topk(n, k, queries.dtype)
    if normalize:
        scales = inverse_norms(queries, np), inverse_norms(items, np)
    else:
        scales = np.empty(0, queries.dtype), np.empty(0, queries.dtype)
    with blas_single_thread():
        _launch(_topk_dot_blocks, n_threads, queries, items, k, *_exclude_arrays(exclude, n),
                normalize, *scales, _block_rows(n, k, queries.dtype), ids, values)
    return ids, values


# ---- ranking metrics (definitions: csrc/include/turborec/metrics.hpp) ----

_N_METRICS = 7  # precision, recall, ndcg, map, mrr, hit_rate, auc


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
            out[u, c, 0] = hits / r
            out[u, c, 1] = hits / positives
            out[u, c, 2] = dcg / idcg[ideal]
            out[u, c, 3] = ap / ideal
            out[u, c, 4] = 1.0 / first_hit if first_hit > 0.0 else 0.0
            out[u, c, 5] = 1.0 if hits > 0.0 else 0.0
            unlisted = negatives - misses
            if negatives > 0.0:
                out[u, c, 6] = (ordered_pairs + unlisted * (hits + 0.5 * (positives - hits))) / (positives * negatives)
            else:
                out[u, c, 6] = np.nan
            c += 1


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads):
    out = np.empty((recs.shape[0], len(cutoffs), _N_METRICS), dtype=np.float64)
    has_negatives = n_negatives is not None
    negatives = n_negatives if has_negatives else np.zeros(1, np.int64)
    _launch(_ranking_metrics_kernel, n_threads, recs, *_exclude_arrays(relevant, len(recs)), negatives,
            has_negatives, cutoffs, out)
    return out
