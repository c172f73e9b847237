"""Pure-CuPy selection: array operations only, no custom kernels. The contract is in ``_numpy.py``.

The fallback when ``turborec._cuda`` is not built. ``topk`` processes rows in blocks so
temporaries stay near ``BLOCK_BYTES``; ``topk_dot`` runs the shared tile-and-merge loop of
``_gpu_tiles.py``. Selecting the best k of a block of keys (NaN and excluded entries
already set to -inf):

1. ``t``, the k-th largest key of each row, by ``cupy.partition`` (values only: no ties to
   break yet);
2. every key ``> t`` is in; of the keys ``== t``, the first ``k - #(> t)`` in column order
   (a running count), so each row keeps exactly k entries, ties to the lower column;
3. the kept entries are ordered by ``lexsort`` on (id, -key) with the row as primary key.
   (row, id) pairs are unique, so this order is a total one and does not depend on whether
   the sort underneath is stable.

Entries with key -inf that were kept to fill a row become padding (id -1).
"""

import cupy
import numpy as np

from ._gpu_tiles import topk_dot_quantized_rows, topk_dot_tiles

BLOCK_BYTES = 128 << 20  # temporaries per topk row block; a module attribute so tests can shrink it


def _mask_excluded(keys, exclude, r0, r1, c0=0):
    """Set keys[r, c - c0] = -inf for every excluded (r, c) with r0 <= r < r1, c in the block."""
    if exclude is None:
        return
    indptr, indices = exclude
    begin, end = int(indptr[r0]), int(indptr[r1])
    if begin == end:
        return
    positions = cupy.arange(begin, end, dtype=indptr.dtype)
    rows = cupy.searchsorted(indptr[r0 : r1 + 1], positions, side="right") - 1
    cols = indices[begin:end].astype(np.int64) - c0
    inside = (cols >= 0) & (cols < keys.shape[1])
    keys[rows[inside], cols[inside]] = -np.inf


def _select(keys, ids, k):
    """Best k of each row of ``keys`` by (key desc, id asc), as (ids, keys) of shape (rows, k).

    ``ids`` is None (ids are column numbers) or an int array shaped like ``keys`` whose order
    along each row agrees with the column order wherever keys tie. -inf keys come back with id
    -1. k <= keys.shape[1].
    """
    rows, width = keys.shape
    if k < width:
        kth = cupy.partition(keys, width - k, axis=1)[:, width - k : width - k + 1]
        above = keys > kth
        tied = keys == kth
        room = k - above.sum(axis=1, keepdims=True)
        keep = above | (tied & (cupy.cumsum(tied, axis=1) <= room))
        cols = cupy.nonzero(keep)[1].reshape(rows, k)  # row-major: each row's k in column order
    else:
        cols = cupy.broadcast_to(cupy.arange(width), (rows, width))
    kept = cupy.take_along_axis(keys, cols, axis=1)
    kept_ids = cols if ids is None else cupy.take_along_axis(ids, cols, axis=1)
    row_of = cupy.broadcast_to(cupy.arange(rows)[:, None], (rows, k))
    # float64 holds every key (float32/float64) and every id/row (< 2**31) exactly.
    sort_keys = cupy.stack([kept_ids.ravel(), -kept.ravel(), row_of.ravel()]).astype(np.float64)
    order = cupy.lexsort(sort_keys)
    order = order.reshape(rows, k) - (cupy.arange(rows) * k)[:, None]
    kept = cupy.take_along_axis(kept, order, axis=1)
    kept_ids = cupy.take_along_axis(kept_ids, order, axis=1)
    kept_ids = cupy.where(kept > -np.inf, kept_ids, -1).astype(np.int32)
    return kept_ids, kept


def _block_rows(n, m, itemsize):
    return max(1, min(n, BLOCK_BYTES // max(1, m * itemsize)))


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    n, m = scores.shape
    step = _block_rows(n, m, scores.dtype.itemsize)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        keys = scores[r0:r1] if largest else -scores[r0:r1]
        keys = cupy.where(cupy.isnan(keys), -np.inf, keys)  # a copy: scores stay untouched
        _mask_excluded(keys, exclude, r0, r1)
        block_ids, block_keys = _select(keys, None, k)
        ids[r0:r1] = block_ids
        # Padding is -inf as a key: +inf as a value when selecting the smallest.
        values[r0:r1] = block_keys if largest else -block_keys


def _select_tile(tile, exclude, r0, r1, col_base, ids, values):
    keys = cupy.where(cupy.isnan(tile), -np.inf, tile)
    _mask_excluded(keys, exclude, r0, r1, col_base)
    tile_ids, tile_keys = _select(keys, None, ids.shape[1])
    ids[...] = cupy.where(tile_ids >= 0, tile_ids + col_base, -1)
    values[...] = tile_keys


def _merge(a_ids, a_values, b_ids, b_values, ids, values):
    # The first run holds lower ids than the second, and each is sorted with ties by id, so
    # column order agrees with id order among equal keys.
    both_ids, both_keys = _select(cupy.concatenate([a_values, b_values], axis=1),
                                  cupy.concatenate([a_ids, b_ids], axis=1), ids.shape[1])
    ids[...] = both_ids
    values[...] = both_keys


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    topk_dot_tiles(queries, items, exclude, query_scale, item_scale, k, ids, values, select=_select_tile,
                   merge=_merge)


def topk_dot_quantized(queries, qcodes, codes, scales, items, exclude, k, n_candidates, plan, n_threads, ids,
                       values):
    topk_dot_quantized_rows(queries, qcodes, codes, scales, items, exclude, k, n_candidates, ids, values, topk=topk)
