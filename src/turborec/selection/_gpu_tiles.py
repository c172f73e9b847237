"""The tile-and-merge loop both GPU backends run for ``topk_dot`` (and their ``topk_dot_quantized``).

Scores are computed one tile of queries x items at a time with CuPy's matmul (cuBLAS), scaled
for cosine like every backend (``score * (query_scale * item_scale)``), the tile's top-k is
selected, and it is merged into the running top-k of its rows, so device memory beyond inputs
and outputs is bounded by ``TILE_BYTES`` (plus the small running lists), never
``n_queries * n_items``. The backends differ only in how they select and merge:

- ``select(tile, exclude, r0, r1, col_base, ids, values)`` writes the best ``ids.shape[1]``
  entries of each row of ``tile`` (ids ``col_base + column``, exclusions of rows [r0, r1)
  applied by global id, NaN never selected), best first, padded with -1 / -inf;
- ``merge(a_ids, a_values, b_ids, b_values, ids, values)`` writes the best ``ids.shape[1]``
  of two such runs per row (ids in ``a`` lower than those in ``b``).
"""

import numpy as np

# Module attributes so tests can shrink them to exercise the tiled paths.
TILE_BYTES = 256 << 20  # device memory of one score tile
TILE_ITEMS = 16384  # items per tile (fewer when there are fewer items; at least 4 k)


def topk_dot_tiles(queries, items, exclude, query_scale, item_scale, k, ids, values, *, select, merge):
    import cupy

    n, m = queries.shape[0], items.shape[0]
    tile_items = min(m, max(TILE_ITEMS, 4 * k))
    tile_rows = max(1, min(n, TILE_BYTES // (tile_items * queries.dtype.itemsize)))
    for r0 in range(0, n, tile_rows):
        r1 = min(n, r0 + tile_rows)
        run = None  # (ids, values): the running top list of rows [r0, r1)
        for c0 in range(0, m, tile_items):
            c1 = min(m, c0 + tile_items)
            tile = queries[r0:r1] @ items[c0:c1].T
            if query_scale is not None:
                tile *= query_scale[r0:r1, None] * item_scale[None, c0:c1]
            final = c1 == m
            if run is None and final:  # a single tile of items: select into the output
                select(tile, exclude, r0, r1, c0, ids[r0:r1], values[r0:r1])
                break
            tile_k = min(k, c1 - c0)
            tile_ids = cupy.empty((r1 - r0, tile_k), dtype=np.int32)
            tile_values = cupy.empty((r1 - r0, tile_k), dtype=queries.dtype)
            select(tile, exclude, r0, r1, c0, tile_ids, tile_values)
            del tile
            if run is None:
                run = (tile_ids, tile_values)
                continue
            out_len = min(k, run[0].shape[1] + tile_k)
            if final:
                out = ids[r0:r1], values[r0:r1]
            else:
                out = cupy.empty((r1 - r0, out_len), dtype=np.int32), cupy.empty((r1 - r0, out_len), queries.dtype)
            merge(*run, tile_ids, tile_values, *out)
            run = out


def topk_dot_quantized_rows(queries, qcodes, codes, scales, items, exclude, k, n_candidates, ids, values, *, topk):
    """``topk_dot_quantized`` with array operations only, for both GPU backends: ``topk`` is the
    backend's dense ``topk`` kernel. Rows go in blocks of at most ``TILE_BYTES`` of scores.

    The approximate scores are exact integer sums (int64, one feature at a time), the exact ones
    summed over f one array operation at a time in float64 (a multiply, then an add: nothing is
    fused), so the bits are the reference's.
    Candidates are re-ordered by id before the exact selection, whose ties then go to the lower id.
    """
    from .._validation import array_module

    xp = array_module(queries)
    n, d = queries.shape
    m = items.shape[0]
    flat = codes.transpose(0, 2, 1, 3).reshape(-1, qcodes.shape[1])[:m]  # item j's codes in row j
    step = max(1, min(n, TILE_BYTES // (4 * m)))
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        q = queries[r0:r1]
        sums = xp.zeros((r1 - r0, m), xp.int64)
        for f in range(qcodes.shape[1]):
            sums += qcodes[r0:r1, f, None].astype(xp.int64) * flat[None, :, f].astype(xp.int64)
        approx = sums.astype(xp.float32) * scales
        del sums
        candidates = xp.empty((r1 - r0, n_candidates), xp.int32)
        topk(approx, _rows(exclude, r0, r1), n_candidates, True, None, 1, candidates,
             xp.empty((r1 - r0, n_candidates), xp.float32))
        del approx
        candidates = xp.sort(xp.where(candidates >= 0, candidates, m), axis=1)  # by id, padding (m) last
        real = candidates < m
        rows = xp.where(real, candidates, 0)
        exact = xp.zeros(candidates.shape, xp.float64)
        for f in range(d):
            exact += q[:, f, None].astype(xp.float64) * items[rows, f].astype(xp.float64)
        exact = xp.where(real, exact.astype(xp.float32), xp.float32(-np.inf))
        positions = xp.empty((r1 - r0, k), xp.int32)
        topk(exact, None, k, True, None, 1, positions, values[r0:r1])
        ids[r0:r1] = xp.where(positions >= 0, xp.take_along_axis(candidates, xp.maximum(positions, 0), axis=1), -1)


def _rows(exclude, r0, r1):
    """Rows [r0, r1) of a CSR ``(indptr, indices)``, or None."""
    if exclude is None:
        return None
    indptr, indices = exclude
    return indptr[r0:r1 + 1] - indptr[r0], indices[int(indptr[r0]):int(indptr[r1])]
