"""Pure-CuPy backend: array operations only, no custom kernels; see numpy_ref.py for the contract.

The fallback when ``turborec._cuda`` is not built. Rows are processed in blocks so temporaries
stay near ``BLOCK_BYTES``. Selecting the best k of a block of keys (NaN and excluded entries
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

import numpy as np

from ._common import inverse_norms

try:
    import cupy
except ImportError as exc:
    cupy = None
    _IMPORT_ERROR = str(exc)

name = "cupy"
description = "CuPy array operations (GPU fallback, no custom kernels)"
xp = cupy
on_gpu = True

# Temporaries per row block (keys and masks of shape (rows, m)); topk_dot's score tiles.
BLOCK_BYTES = 128 << 20
# Items per topk_dot tile (fewer when there are fewer items; at least 4 k).
TILE_ITEMS = 16384


def probe():
    if cupy is None:
        return f"CuPy is not installed ({_IMPORT_ERROR}); pip install 'turborec[cupy]'"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CUDARuntimeError without a driver, and kin
        return f"no usable CUDA device: {exc}"
    if count == 0:
        return "no CUDA device found"
    return None


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


def topk(scores, k, exclude, largest, n_threads):
    n, m = scores.shape
    with scores.device:
        ids = cupy.empty((n, k), dtype=np.int32)
        values = cupy.empty((n, k), dtype=scores.dtype)
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
    return ids, values


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    n, m = queries.shape[0], items.shape[0]
    with queries.device:
        if normalize:
            queries = queries * inverse_norms(queries, cupy)[:, None]
            items = items * inverse_norms(items, cupy)[:, None]
        ids = cupy.empty((n, k), dtype=np.int32)
        values = cupy.empty((n, k), dtype=queries.dtype)
        tile_items = min(m, max(TILE_ITEMS, 4 * k))
        step = _block_rows(n, tile_items, queries.dtype.itemsize)
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            run_ids = run_keys = None
            for c0 in range(0, m, tile_items):
                c1 = min(m, c0 + tile_items)
                tile = queries[r0:r1] @ items[c0:c1].T
                tile = cupy.where(cupy.isnan(tile), -np.inf, tile)
                _mask_excluded(tile, exclude, r0, r1, c0)
                tile_ids, tile_keys = _select(tile, None, min(k, c1 - c0))
                tile_ids = cupy.where(tile_ids >= 0, tile_ids + c0, -1).astype(np.int32)
                if run_ids is None:
                    run_ids, run_keys = tile_ids, tile_keys
                    continue
                # The running list holds lower ids than the tile, and each list is sorted with
                # ties by id, so column order agrees with id order among equal keys.
                both_keys = cupy.concatenate([run_keys, tile_keys], axis=1)
                both_ids = cupy.concatenate([run_ids, tile_ids], axis=1)
                run_ids, run_keys = _select(both_keys, both_ids, min(k, both_keys.shape[1]))
            ids[r0:r1] = run_ids
            values[r0:r1] = run_keys
    return ids, values
