"""CUDA backend (``turborec._cuda`` kernels on CuPy arrays); see numpy_ref.py for the contract.

CuPy owns device memory and streams: arrays arrive as C-contiguous CuPy arrays on one device,
results are CuPy arrays, and every kernel is launched on CuPy's current stream without
synchronising. ``topk_dot`` scores one tile of queries x items at a time with CuPy's matmul
(cuBLAS), selects each tile's top-k with the kernel and merges it into the running top-k, so
device memory beyond inputs and outputs is bounded by ``TILE_BYTES`` (plus the small running
lists), never ``n_queries * n_items``.
"""

import numpy as np

from ._common import inverse_norms

try:
    from .. import _cuda
except ImportError as exc:  # built without nvcc, or TURBOREC_CUDA=0
    _cuda = None
    _CUDA_IMPORT_ERROR = str(exc)

try:
    import cupy
except ImportError as exc:
    cupy = None
    _CUPY_IMPORT_ERROR = str(exc)

name = "cuda"
description = "CUDA kernels on CuPy arrays (turborec._cuda)"
xp = cupy
on_gpu = True

# Device memory for one score tile in topk_dot, and for topk's merge scratch (k > 1024, or few
# long rows). Module attributes so tests can shrink them to exercise the tiled paths.
TILE_BYTES = 256 << 20
SCRATCH_BYTES = 256 << 20
# Items per topk_dot tile (fewer when there are fewer items; at least 4 k).
TILE_ITEMS = 16384


def probe():
    if _cuda is None:
        return (
            f"turborec._cuda is not built ({_CUDA_IMPORT_ERROR}); reinstall with nvcc on PATH "
            "or CUDA_HOME set, and TURBOREC_CUDA=1 to make a failed CUDA build an error"
        )
    if _cuda.device_count() == 0:
        return f"no usable CUDA device: {_cuda.device_error()}"
    if cupy is None:
        return f"CuPy is not installed ({_CUPY_IMPORT_ERROR}); pip install 'turborec[cupy]'"
    return None


def _stream():
    return cupy.cuda.get_current_stream().ptr


def _select(scores, k, exclude, largest, col_base, ids, values):
    """Kernel top-k of each row of ``scores`` into the preallocated ``ids`` and ``values``."""
    n, m = scores.shape
    dtype = scores.dtype.name
    scratch_bytes = _cuda.topk_scratch_bytes(n, m, k, dtype, SCRATCH_BYTES)
    scratch = cupy.empty(scratch_bytes, dtype=np.uint8) if scratch_bytes else None
    indptr, indices = exclude if exclude is not None else (None, None)
    _cuda.topk(
        scores.data.ptr, n, m, k, dtype,
        indptr.data.ptr if indptr is not None else 0,
        indices.data.ptr if indices is not None else 0,
        indptr.dtype.name if indptr is not None else "",
        col_base, largest, ids.data.ptr, values.data.ptr,
        scratch.data.ptr if scratch is not None else 0, scratch_bytes, _stream(),
    )


def topk(scores, k, exclude, largest, n_threads):
    n = scores.shape[0]
    with scores.device:
        ids = cupy.empty((n, k), dtype=np.int32)
        values = cupy.empty((n, k), dtype=scores.dtype)
        _select(scores, k, exclude, largest, 0, ids, values)
    return ids, values


def _row_block(exclude, r0, r1):
    """The exclusion CSR of rows [r0, r1): a view of indptr, the shared indices."""
    if exclude is None:
        return None
    indptr, indices = exclude
    return indptr[r0 : r1 + 1], indices


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    n, m = queries.shape[0], items.shape[0]
    with queries.device:
        if normalize:
            queries = queries * inverse_norms(queries, cupy)[:, None]
            items = items * inverse_norms(items, cupy)[:, None]
        ids = cupy.empty((n, k), dtype=np.int32)
        values = cupy.empty((n, k), dtype=queries.dtype)
        dtype = queries.dtype.name
        tile_items = min(m, max(TILE_ITEMS, 4 * k))
        tile_rows = max(1, min(n, TILE_BYTES // (tile_items * queries.dtype.itemsize)))
        for r0 in range(0, n, tile_rows):
            r1 = min(n, r0 + tile_rows)
            rows = r1 - r0
            block_exclude = _row_block(exclude, r0, r1)
            run = None  # (ids, values, length): the running top list of rows [r0, r1)
            for c0 in range(0, m, tile_items):
                c1 = min(m, c0 + tile_items)
                tile = cupy.ascontiguousarray(queries[r0:r1] @ items[c0:c1].T)
                tile_k = min(k, c1 - c0)
                final = c1 == m
                if run is None and final:  # a single tile of items: select into the output
                    _select(tile, k, block_exclude, True, c0, ids[r0:r1], values[r0:r1])
                    break
                tile_ids = cupy.empty((rows, tile_k), dtype=np.int32)
                tile_values = cupy.empty((rows, tile_k), dtype=queries.dtype)
                _select(tile, tile_k, block_exclude, True, c0, tile_ids, tile_values)
                del tile
                if run is None:
                    run = (tile_ids, tile_values, tile_k)
                    continue
                out_len = min(k, run[2] + tile_k)
                if final:
                    out_ids, out_values = ids[r0:r1], values[r0:r1]
                else:
                    out_ids = cupy.empty((rows, out_len), dtype=np.int32)
                    out_values = cupy.empty((rows, out_len), dtype=queries.dtype)
                _cuda.merge_topk(
                    run[0].data.ptr, run[1].data.ptr, run[2],
                    tile_ids.data.ptr, tile_values.data.ptr, tile_k,
                    rows, out_len, dtype, True, out_ids.data.ptr, out_values.data.ptr, _stream(),
                )
                run = (out_ids, out_values, out_len)
    return ids, values
