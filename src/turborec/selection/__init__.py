"""Row-wise top-k selection, alone (:func:`topk`) or fused with dot-product scoring
(:func:`topk_dot`, and :func:`topk_dot_quantized` over an int8 item table from
:func:`quantize_items`), on every backend.

The facts every backend shares live here, once: the blocking plan of the host kernels (native
and numba make the same BLAS calls on the same tiles, so they agree bit for bit), cosine
normalisation (the inverse norms are computed here and every backend multiplies each score by
``query_scale * item_scale`` after the product, so all five round alike), and the output shapes.
Implementations: ``_numpy.py`` (the reference), ``_native.py``, ``_numba.py``, ``_cuda.py`` and
``_cupy.py`` (both GPU backends share the tile-and-merge loop of ``_gpu_tiles.py``).
"""

import functools
from typing import NamedTuple

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch

__all__ = ["topk", "topk_dot", "topk_dot_quantized", "quantize_items", "QuantizedItems"]


class RowPlan(NamedTuple):
    """How host backends scan a dense row: ``chunk`` columns staged at a time when keys must be
    negated or masked, a candidate buffer of ``capacity`` entries per row."""

    chunk: int
    capacity: int


class DotPlan(NamedTuple):
    """How host backends tile ``topk_dot``: ``block_rows`` queries x ``block_items`` items per
    BLAS call, a candidate buffer of ``capacity`` entries per query row, and the item tiles
    grouped into at most ``segments`` contiguous segments, each (row block, segment) one unit of
    work whose top-k lists are merged at the end (exactly: the result never depends on it)."""

    block_rows: int
    block_items: int
    capacity: int
    segments: int


ROW_CHUNK = 4096
DOT_BLOCK_ITEMS = 1024  # measured best on 64-factor float32 with 512-row blocks
DOT_MAX_BLOCK_ROWS = 512
DOT_BUFFER_BYTES = 8 << 20  # candidate buffers per block
# (row block, item segment) units a batch is split into at least, when it has the items. Each
# segment keeps its own running top-k from scratch (every item admitted until its buffer first
# fills), which costs ~8 us per segment for one query's 40 candidates: 16 segments took 97 us of
# int8 scoring over 50,000 items on 2 threads, 4 took 53 (issue 11). Four still let two threads
# share one query's items, and a free thread take over a busy one's share.
DOT_MIN_UNITS = 4
QUANTIZED_PANEL = 64  # items per panel of the int8 table's layout (kQuantizedPanel in topk_quantized.hpp)
QUANTIZED_OVERSAMPLE = 4  # default candidates re-scored per returned item


def topk_capacity(k):
    """Candidates a row buffers before cutting back to its best k (then the k-th key becomes the
    admission threshold): room for k more, at least 16, keeps the cuts rare."""
    return k + max(k, 16)


def row_plan(k):
    return RowPlan(ROW_CHUNK, topk_capacity(k))


@functools.lru_cache(maxsize=1024)  # a pure function of its arguments, on every request's path
def dot_plan(n, k, dtype):
    """Query rows per block: many, so BLAS packs each block of items rarely; at least 16 blocks
    when n allows, so small batches still use every thread; at most ``DOT_BUFFER_BYTES`` of
    candidates (a candidate is a key and an int32 id, padded to twice the key size). Depends on
    n, k and the dtype, never on the thread count, so results do not either. Fewer than
    ``DOT_MIN_UNITS`` blocks (a small batch; one block for up to 16 queries) split the items into
    segments too, so that one query's scoring still runs on every thread."""
    capacity = topk_capacity(k)
    by_memory = DOT_BUFFER_BYTES // (capacity * 2 * np.dtype(dtype).itemsize)
    by_parallelism = max(16, ((n + 15) // 16 + 15) // 16 * 16)
    block_rows = int(min(max(min(by_memory, by_parallelism), 1), DOT_MAX_BLOCK_ROWS))
    n_blocks = max(1, -(-n // block_rows))
    return DotPlan(block_rows, DOT_BLOCK_ITEMS, capacity, max(1, DOT_MIN_UNITS // n_blocks))


def inverse_norms(x):
    """1 / ||row|| for each row of ``x`` (0 for all-zero rows, whose cosine is then 0), on x's
    device, in x's dtype. Squares are summed in float64, so float32 vectors with norms up to
    float32's range do not overflow."""
    xp = v.array_module(x)
    wide = x.astype(xp.float64)
    norms = xp.sqrt(xp.einsum("ij,ij->i", wide, wide))
    out = xp.zeros_like(norms)
    nonzero = norms > 0
    out[nonzero] = 1 / norms[nonzero]
    return out.astype(x.dtype)


def cosine_operands(x):
    """``(x', inverse_norms(x'))`` for cosine scores. ``x'`` is ``x`` itself unless a row's
    largest entry is so small or large that its product or its scales would leave the dtype's
    range (issue 7: float32 vectors of norm 1e-20 scored inf, and of 1e-45 were never returned);
    such rows are multiplied by the power of two that brings that entry into [0.5, 1). Scaling by
    a power of two is exact, so the other rows' cosines do not change by a bit."""
    xp = v.array_module(x)
    largest = xp.abs(x).max(axis=1) if x.shape[1] else xp.zeros(x.shape[0], x.dtype)
    limit = 2.0 ** (np.finfo(x.dtype).maxexp // 2 - 4)  # 2**60 for float32: products stay finite
    exponent = xp.frexp(largest)[1]
    shift = xp.where((largest > 0) & ((largest < 1 / limit) | (largest > limit)), exponent, 0)
    if bool((shift != 0).any()):
        x = xp.ldexp(x, -shift[:, None]).astype(x.dtype, copy=False)
    return x, inverse_norms(x)


def _exclusion(exclude, shape):
    """A checked exclusion CSR as ``(indptr, indices)`` (sorted within rows), or None."""
    if exclude is None:
        return None
    return v.csr_arrays(v.as_csr(exclude, "exclude", shape))


def topk(scores, k, *, exclude=None, largest=True, backend=None, n_threads=None):
    """Row-wise top-k of a dense score matrix.

    Parameters
    ----------
    scores : array of shape (n, m), float32 or float64
        NumPy (host) or CuPy (GPU) array; results come back on the same device.
    k : int
        Entries to keep per row (``k > m`` keeps all ``m``).
    exclude : scipy.sparse matrix of shape (n, m), optional
        Entries stored in row ``r`` are never returned for row ``r`` (values ignored).
    largest : bool, default True
        Keep the largest scores (``False``: the smallest).
    backend : str, optional
        See :mod:`turborec.backends` for the selection rules.
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Returns
    -------
    ids : int32 array of shape (n, min(k, m))
        Column ids, best first, ties broken by the lower id.
    values : array of shape (n, min(k, m)), dtype of ``scores``
        The scores of ``ids``.

    Notes
    -----
    NaN scores are never returned, nor are scores equal to the padding value (-inf when
    ``largest``, +inf otherwise): like excluded entries, they are not eligible. A row with
    fewer than ``k`` eligible entries is padded with id -1 and the padding value.
    """
    with v.gpu_device(scores):  # CuPy allocates and launches on the current device: the inputs'
        k = v.check_k(k)
        scores = v.as_float_matrix(scores, "scores")
        n, m = scores.shape
        v.check_id_range(m, "scores")
        exclude = _exclusion(exclude, (n, m))
        largest = v.as_bool(largest, "largest")
        k = min(k, m)
        return dispatch("selection", "topk", inputs=(scores, exclude), params=(k, largest, row_plan(k)),
                        outputs=[((n, k), np.int32), ((n, k), scores.dtype)], backend=backend, n_threads=n_threads)


def topk_dot(queries, items, k, *, exclude=None, candidates=None, normalize=False, backend=None,
             n_threads=None):
    """Top-k items per query by dot product (or cosine), without the full score matrix.

    Same result as ``topk(queries @ items.T, k, exclude=exclude)``, but scores are computed
    tile by tile with BLAS and merged into a running top-k per row, so memory beyond inputs
    and outputs is bounded by the tile size, not by ``n_queries * n_items``.

    Parameters
    ----------
    queries : array of shape (n_queries, d), float32 or float64
        Finite values (NaN or inf is a ValueError).
    items : array of shape (n_items, d), same dtype as ``queries``
        Finite values.
    k : int
        Items to return per query.
    exclude : scipy.sparse matrix of shape (n_queries, n_items), optional
        Items never returned for a query (e.g. those the user already liked).
    candidates : 1-D int array, optional
        Score only these item ids (a set: order and repeats are ignored). Returned ids are
        still item ids.
    normalize : bool, default False
        Score by cosine similarity; an all-zero vector has cosine 0 with everything.
    backend, n_threads
        As in :func:`topk`.

    Returns
    -------
    ids : int32 array of shape (n_queries, min(k, n_eligible))
        ``n_eligible`` is ``n_items``, or the number of candidates.
    values : array of the same shape, dtype of ``queries``
    """
    with v.gpu_device(queries, items):  # CuPy allocates and launches on the current device: the inputs'
        k = v.check_k(k)
        queries = v.as_float_matrix(queries, "queries", finite=True)
        items = v.as_float_matrix(items, "items", finite=True)
        if queries.shape[1] != items.shape[1]:
            raise ValueError(f"items: expected {queries.shape[1]} columns like queries, got shape {tuple(items.shape)}")
        if queries.dtype != items.dtype:
            raise TypeError(f"items: expected dtype {queries.dtype} like queries, got {items.dtype}")
        if v.is_gpu_array(queries) != v.is_gpu_array(items):
            raise TypeError("items: expected an array on the same device as queries (both NumPy or both CuPy)")
        n, m = queries.shape[0], items.shape[0]
        v.check_id_range(m, "items", "rows")
        normalize = v.as_bool(normalize, "normalize")
        exclude = _exclusion(exclude, (n, m))
        if candidates is not None:
            candidates = v.as_candidates(candidates, m)
            items = items[v.array_module(items).asarray(candidates)]
            if exclude is not None:
                exclude = v.restrict_columns(*exclude, candidates, m)
            m = len(candidates)
        scales = (None, None)
        if normalize:
            (queries, query_scale), (items, item_scale) = cosine_operands(queries), cosine_operands(items)
            scales = (query_scale, item_scale)
        k = min(k, m)
        ids, values = dispatch("selection", "topk_dot", inputs=(queries, items, exclude, *scales),
                               params=(k, dot_plan(n, k, queries.dtype)),
                               outputs=[((n, k), np.int32), ((n, k), queries.dtype)], backend=backend,
                               n_threads=n_threads)
        if candidates is not None:
            xp = v.array_module(ids)
            ids = xp.where(ids >= 0, xp.asarray(candidates, dtype=np.int32)[ids], -1).astype(np.int32)
        return ids, values


class QuantizedItems(NamedTuple):
    """An item table for :func:`topk_dot_quantized` (build it with :func:`quantize_items`).

    ``codes``: int8 of shape (ceil(m / 64), ceil(d / 2), 64, 2): item ``j``'s codes of features
    ``2h`` and ``2h + 1`` at ``codes[j // 64, h, j % 64]`` (zeros past the last item and, for an
    odd d, the last feature); ``scales``: float32 (m,), item ``j`` is about
    ``scales[j] * codes_j``; ``items``: the float32 (m, d) table itself, for the exact re-rank.
    All three are read-only."""

    codes: np.ndarray
    scales: np.ndarray
    items: np.ndarray


def quantize_items(items):
    """An int8 copy of an item table, for :func:`topk_dot_quantized`.

    Symmetric, per item: ``scale_j = max_f |x_jf| / 127`` and ``code_jf = round(127 x_jf /
    max_f |x_jf|)`` (computed in float64; an all-zero item has scale 0 and codes 0). The codes take a quarter of
    the float32 bytes (plus 4 bytes per item); the table keeps a copy of ``items`` for the re-rank.

    Parameters
    ----------
    items : array of shape (n_items, d), float32
        Finite values, on the host.

    Returns
    -------
    QuantizedItems
    """
    items = _quantizable(items, "items")
    m, d = items.shape
    codes, peak = _symmetric_codes(items, 127)
    scales = peak / 127
    n_panels, pairs = -(-m // QUANTIZED_PANEL), -(-d // 2)
    padded = np.zeros((n_panels * QUANTIZED_PANEL, 2 * pairs), np.int8)
    padded[:m, :d] = codes
    panels = np.ascontiguousarray(padded.reshape(n_panels, QUANTIZED_PANEL, pairs, 2).transpose(0, 2, 1, 3))
    table = QuantizedItems(panels, scales.astype(np.float32), np.array(items, dtype=np.float32, copy=True))
    for a in table:
        a.flags.writeable = False
    return table


def _symmetric_codes(x, top):
    """``round(top x / max|x_row|)`` per row, in float64 (``|code| <= top``), and each row's
    ``max|x|`` (an all-zero row: codes 0)."""
    wide = x.astype(np.float64)
    peak = np.abs(wide).max(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    return np.rint(wide * (top / np.where(peak > 0, peak, 1))[:, None]), peak


def _quantizable(x, name):
    """A host float32 C-contiguous finite 2-D array (the quantised kernel's only dtype)."""
    x = v.as_float_matrix(x, name, finite=True)
    if v.is_gpu_array(x):
        raise TypeError(f"{name}: expected a NumPy array (the quantised table is host-only), got a GPU array")
    if x.dtype != np.float32:
        raise TypeError(f"{name}: expected dtype float32, got {x.dtype}")
    return x


def _check_table(table, d):
    """The arrays of a :class:`QuantizedItems` for queries of ``d`` columns, checked."""
    if not isinstance(table, QuantizedItems):
        raise TypeError(f"table: expected a QuantizedItems from turborec.quantize_items, got {type(table).__name__}")
    items = _quantizable(table.items, "table.items")
    m = items.shape[0]
    if items.shape[1] != d:
        raise ValueError(f"table.items: expected {d} columns like queries, got shape {items.shape}")
    codes, scales = table.codes, table.scales
    want = (-(-m // QUANTIZED_PANEL), -(-d // 2), QUANTIZED_PANEL, 2)
    if not isinstance(codes, np.ndarray) or codes.dtype != np.int8 or codes.shape != want:
        raise ValueError(f"table.codes: expected an int8 array of shape {want}, got "
                         f"{getattr(codes, 'dtype', type(codes).__name__)} {getattr(codes, 'shape', '')}")
    if not isinstance(scales, np.ndarray) or scales.dtype != np.float32 or scales.shape != (m,):
        raise ValueError(f"table.scales: expected a float32 array of shape ({m},)")
    if not (np.isfinite(scales).all() and (scales >= 0).all()):
        raise ValueError("table.scales: expected finite values >= 0")
    return np.ascontiguousarray(codes), np.ascontiguousarray(scales), items


def topk_dot_quantized(queries, table, k, *, exclude=None, oversample=QUANTIZED_OVERSAMPLE, backend=None,
                       n_threads=None):
    """Top-k items per query by dot product, scored approximately over an int8 table, then
    re-ranked exactly.

    Every item gets the approximate score ``float(sum_f g_f * code_jf) * scale_j``, with ``g``
    the query's own int16 codes (``q ~ t g``; an exact integer sum); the best
    ``min(k * oversample, n_items)`` of those per query are re-scored
    exactly against ``table.items`` (float32 products summed in float64, rounded once) and the
    best ``k`` of them are returned. The answer is :func:`topk_dot`'s (up to the last bit of the
    scores) whenever the true top-k are among the candidates; docs/attention.md gives the share
    of the exact top-10 it keeps on realistic and random tables.

    Parameters
    ----------
    queries : array of shape (n_queries, d), float32
        Finite values, on the host.
    table : QuantizedItems
        From :func:`quantize_items` on an (n_items, d) table.
    k : int
        Items to return per query.
    exclude : scipy.sparse matrix of shape (n_queries, n_items), optional
        Items never returned (nor taken as candidates) for a query.
    oversample : int, default 4
        Candidates re-scored per returned item (>= 1).
    backend, n_threads
        As in :func:`topk`; the kernel runs on the host backends (native, numba, numpy).

    Returns
    -------
    ids : int32 array of shape (n_queries, min(k, n_items))
        Best first by exact score, ties to the lower id; -1 past the eligible items.
    values : float32 array of the same shape
        The exact scores; -inf in the slots of id -1.
    """
    k = v.check_k(k)
    queries = _quantizable(queries, "queries")
    codes, scales, items = _check_table(table, queries.shape[1])
    oversample = v.as_int(oversample, "oversample", "an int >= 1")
    if oversample < 1:
        raise ValueError(f"oversample: expected an int >= 1, got {oversample}")
    n, m = queries.shape[0], items.shape[0]
    exclude = _exclusion(exclude, (n, m))
    k = min(k, m)
    return _dispatch_quantized(queries, codes, scales, items, exclude, k, min(k * oversample, m), backend, n_threads)


def quantize_queries(queries):
    """int16 codes ``g`` of float32 queries, ``q ~ t g`` per row (t > 0 dropped: it scales every
    approximate score of the row alike), ``2 * ceil(d / 2)`` columns (an odd d padded with 0).
    The largest ``|g|`` of a row is the most that keeps ``|g| * 127 * 2 * ceil(d / 2)`` within
    int32 (16383 up to d = 1032), so the kernels' integer sums never overflow."""
    n, d = queries.shape
    pairs = -(-d // 2)
    out = np.zeros((n, 2 * pairs), np.int16)
    out[:, :d] = _symmetric_codes(queries, min(16383, (2**31 - 1) // (127 * 2 * pairs)))[0]
    return out


def _dispatch_quantized(queries, codes, scales, items, exclude, k, n_candidates, backend, n_threads):
    """The one dispatch of ``topk_dot_quantized`` (arrays checked; models call it directly)."""
    n = queries.shape[0]
    return dispatch("selection", "topk_dot_quantized",
                    inputs=(queries, quantize_queries(queries), codes, scales, items, exclude),
                    params=(k, n_candidates, dot_plan(n, n_candidates, np.float32)),
                    outputs=[((n, k), np.int32), ((n, k), np.float32)], backend=backend, n_threads=n_threads)
