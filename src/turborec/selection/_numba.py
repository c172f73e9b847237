"""Numba selection kernels: the algorithm of ``csrc/include/turborec/topk.hpp``, JIT-compiled for
the CPU, on the same blocking plan (``RowPlan`` / ``DotPlan`` from ``__init__.py``), so the two
make the same BLAS calls and agree bit for bit. The contract is in ``_numpy.py``.

Each row keeps a running top-k in a buffer of ``plan.capacity`` candidates: entries are scanned
in increasing id order and admitted only when their key is strictly greater than the current
k-th best (a tie loses to the lower id already held), and a full buffer is cut back to its best
k by partial selection (quickselect, linear time). The survivors are sorted by (key descending,
id ascending) at the end. Smallest-k runs on negated keys. NaN and -inf keys never pass the
strict test, so they are never selected.

Kernels are compiled lazily, once per dtype (float32, float64), and cached on disk.
"""

import numpy as np
from numba import njit, prange

from .._jit import csr_int64, launch
from .._threads import blas_single_thread


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
def _offer_one(key, cid, bk, bi, size, k, threshold, threshold_id):
    """Offer one candidate whose id may come in any order (``RowTopK::offer`` in topk.hpp): a key
    that only ties the current k-th best is admitted when its id is lower. Returns the new
    (size, threshold, threshold_id); start from (0, -inf, -1)."""
    if key > threshold or (key == threshold and cid < threshold_id):
        bk[size] = key
        bi[size] = cid
        size += 1
        if size == bk.shape[0]:
            _select(bk, bi, size, k - 1)
            size = k
            threshold = bk[k - 1]
            threshold_id = bi[k - 1]
    return size, threshold, threshold_id


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
def _topk_rows(scores, k, indptr, indices, largest, chunk, capacity, ids, values):
    n, m = scores.shape
    chunk = min(m, chunk)
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


@njit(cache=True, nogil=True)
def _quantized_tile(qcodes, codes, scales, r0, rows, c0, tile):
    """Approximate scores over the int8 table (topk_quantized.hpp's quantized_tile): per panel,
    64 exact integer sums of ``g_f * code``, then float times the item's scale."""
    n_pairs, width_panel = codes.shape[1], codes.shape[2]
    cols = tile.shape[1]
    dots = np.empty(width_panel, np.int64)
    for j0 in range(0, cols, width_panel):
        panel = (c0 + j0) // width_panel
        width = min(width_panel, cols - j0)
        for r in range(rows):
            dots[:] = 0
            for h in range(n_pairs):
                ga = np.int64(qcodes[r0 + r, 2 * h])
                gb = np.int64(qcodes[r0 + r, 2 * h + 1])
                for j in range(width_panel):
                    dots[j] += ga * codes[panel, h, j, 0] + gb * codes[panel, h, j, 1]
            for j in range(width):
                tile[r, j0 + j] = np.float32(dots[j]) * scales[c0 + j0 + j]


@njit(cache=True, nogil=True, parallel=True)
def _tiled_units(queries, items, qcodes, codes, scales, quantized, indptr, indices, normalize, query_scale, item_scale,
                 k, block_rows, block_items, capacity, segments, list_ids, list_keys):
    """tiled_topk of topk.hpp: one unit per (row block, item segment), each writing its rows'
    top-k of its items into row ``(query * segments + segment)`` of the lists."""
    n, d = queries.shape
    m = items.shape[0]
    n_blocks = (n + block_rows - 1) // block_rows
    n_tiles = (m + block_items - 1) // block_items
    for unit in prange(n_blocks * segments):
        b = unit // segments
        s = unit % segments
        r0 = b * block_rows
        rows = min(block_rows, n - r0)
        begin = s * n_tiles // segments * block_items
        end = min(m, (s + 1) * n_tiles // segments * block_items)
        q = queries[r0 : r0 + rows]
        tile_buffer = np.empty(rows * min(m, block_items), list_keys.dtype)
        bk = np.empty((rows, capacity), list_keys.dtype)
        bi = np.empty((rows, capacity), np.int32)
        sizes = np.zeros(rows, np.int64)
        thresholds = np.full(rows, -np.inf)
        for c0 in range(begin, end, block_items):
            cols = min(block_items, m - c0)
            tile = tile_buffer[: rows * cols].reshape(rows, cols)
            if quantized:
                _quantized_tile(qcodes, codes, scales, r0, rows, c0, tile)
            elif d > 0:
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
            out = (r0 + r) * segments + s
            _write(bk[r], bi[r], sizes[r], k, True, list_ids[out], list_keys[out])


@njit(cache=True, nogil=True, parallel=True)
def _merge_lists(list_ids, list_keys, segments, ids, values):
    """Each row's top-k over its ``segments`` lists (merge_lists of topk.hpp)."""
    n, k = ids.shape
    for r in prange(n):
        bk = np.empty(segments * k + 1, values.dtype)
        bi = np.empty(segments * k + 1, np.int32)
        size, threshold, threshold_id = 0, -np.inf, -1
        for s in range(segments):
            for i in range(k):
                cid = list_ids[r * segments + s, i]
                if cid >= 0:
                    size, threshold, threshold_id = _offer_one(list_keys[r * segments + s, i], cid, bk, bi, size, k,
                                                               threshold, threshold_id)
        _write(bk, bi, size, k, True, ids[r], values[r])


@njit(cache=True, nogil=True, parallel=True)
def _rerank(queries, items, candidates, k, ids, values):
    """The exact re-rank of topk_dot_quantized: float64 sums in order of f, rounded once."""
    n, d = queries.shape
    c = candidates.shape[1]
    for r in prange(n):
        bk = np.empty(c + 1, np.float32)
        bi = np.empty(c + 1, np.int32)
        size, threshold, threshold_id = 0, -np.inf, -1
        for i in range(c):
            cid = candidates[r, i]
            if cid < 0:
                break
            acc = 0.0
            for f in range(d):
                acc += np.float64(queries[r, f]) * np.float64(items[cid, f])
            size, threshold, threshold_id = _offer_one(np.float32(acc), cid, bk, bi, size, k, threshold, threshold_id)
        _write(bk, bi, size, k, True, ids[r], values[r])


def _tiled(n_threads, queries, items, qcodes, codes, scales, quantized, exclude, normalize, query_scale, item_scale,
           k, plan, ids, values):
    """The units, then the merge when the items were split into more than one segment."""
    n, m = queries.shape[0], items.shape[0]
    segments = min(plan.segments, -(-m // plan.block_items))
    lists = (ids, values) if segments == 1 else (np.empty((n * segments, k), np.int32),
                                                 np.empty((n * segments, k), values.dtype))
    launch(_tiled_units, n_threads, queries, items, qcodes, codes, scales, quantized, *csr_int64(exclude, n), normalize,
           query_scale, item_scale, k, plan.block_rows, plan.block_items, plan.capacity, segments, *lists)
    if segments > 1:
        launch(_merge_lists, n_threads, *lists, segments, ids, values)


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    launch(_topk_rows, n_threads, scores, k, *csr_int64(exclude, len(scores)), largest, plan.chunk, plan.capacity,
           ids, values)


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    normalize = query_scale is not None
    if not normalize:
        query_scale = item_scale = np.empty(0, queries.dtype)
    with blas_single_thread():
        _tiled(n_threads, queries, items, np.zeros((0, 0), np.int16), np.zeros((0, 0, 0, 0), np.int8),
               np.empty(0, queries.dtype), False,
               exclude, normalize, query_scale, item_scale, k, plan, ids, values)


def topk_dot_quantized(queries, qcodes, codes, scales, items, exclude, k, n_candidates, plan, n_threads, ids,
                       values):
    n = queries.shape[0]
    candidates = np.empty((n, n_candidates), np.int32)
    unused = np.empty(0, np.float32)
    _tiled(n_threads, queries, items, qcodes, codes, scales, True, exclude, False, unused, unused, n_candidates, plan,
           candidates, np.empty((n, n_candidates), np.float32))
    launch(_rerank, n_threads, queries, items, candidates, k, ids, values)
