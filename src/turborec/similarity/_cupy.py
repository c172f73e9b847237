"""Pure-CuPy similarity kernels: array operations only, no custom CUDA kernel. The contract is in
``_numpy.py``.

Where the inputs live: the public functions take scipy matrices, so every CSR reaches this
module as host NumPy arrays, and ``_dispatch.dispatch`` copies them to the device (the current
one) before the call, once per padded block of rows (``_padded.BLOCK_ENTRIES // k`` rows: all
of them unless n * k passes 4M); the padded outputs are allocated on the device and copied back.

The algorithm (both kernels): the rows are taken in blocks of ``BLOCK_BYTES`` of dense
accumulators (block rows x output columns). A block's work is the list of its triples: for
each stored entry ``(r, j, x)`` of the left CSR and each entry ``(j, c, y)`` of row ``j`` of
the right one (``bt``, or ``r_t`` for the co-rated measures), the triple ``(r, c, x, y)``. The
triples are expanded on the device, ``TRIPLES`` at a time (a cumulative sum of the right rows'
lengths; ``searchsorted`` maps each triple to its left entry; gathers give its column and
values), and scatter-added (``cupy.add.at``, atomics) into the dense sums and counts of the
block. The scores are then formed exactly as the reference forms them, entries that are not
eligible (untouched, below ``min_support`` or ``min_score``, NaN, the diagonal) set to -inf, and
each row's top k selected by the selection family's CuPy ``topk`` (``selection/_cupy.py``).
Device memory beyond inputs and outputs: about ``BLOCK_BYTES`` of accumulators, the selection's
temporaries, and ``TRIPLES`` (or the longest right row, if longer) triples of a few int64 each.

Rounding: atomics add in no fixed order, so sums of non-integer products may differ from the
host backends' in the last bits (and from one run to the next); where every partial sum is
exact (integer values of moderate size) the results equal the reference bit for bit. Counts
are exact. ``corated_similarity`` stays symmetric all the same: each pair takes the value its
earlier row computed. The co-rated score formula is ``_numpy.corated_scores`` itself (it runs on CuPy
arrays through NumPy's ``__array_ufunc__`` / ``__array_function__`` protocols), so the formula
has one source; like the native kernel, msd sums the squared differences directly.
"""

import cupy
import numpy as np

from ..selection import _cupy as selection
from . import COUNTS, JACCARD, SUMS
from . import _corated as corated
from ._numpy import corated_scores

# Module attributes so tests can shrink them to exercise the blocked and chunked paths.
BLOCK_BYTES = 256 << 20  # dense accumulators and scores of one row block
TRIPLES = 1 << 22  # triples expanded at a time (a chunk holds more only for one longer right row)


def _row_blocks(rows, n_cols, bytes_per_entry):
    r0, r1 = rows
    step = max(1, BLOCK_BYTES // max(1, n_cols * bytes_per_entry))
    for b0 in range(r0, r1, step):
        yield b0, min(r1, b0 + step)


def _triples(left, right, b0, b1, n_cols):
    """The triples of rows [b0, b1) of ``left`` (CSR ``(indptr, indices, data)``) with ``right``
    (whose rows are ``left``'s columns), in chunks: ``(flat, x, y)`` with ``flat`` the position
    ``(r - b0) * n_cols + c`` in the block's dense accumulators (int64), ``x`` the left value and
    ``y`` the right one. A chunk holds the triples of consecutive left entries whose cumulative
    count crosses no multiple of ``TRIPLES`` but at its last entry, so at most ``TRIPLES`` plus
    the longest right row."""
    indptr, indices, data = left
    r_indptr, r_indices, r_data = right
    begin, end = int(indptr[b0]), int(indptr[b1])
    if begin == end:
        return
    columns = indices[begin:end]
    lengths = (r_indptr[columns + 1] - r_indptr[columns]).astype(np.int64)
    ends = cupy.cumsum(lengths)  # the triples of entry e are [ends[e] - lengths[e], ends[e])
    total = int(ends[-1])
    if total == 0:
        return
    positions = cupy.arange(begin, end, dtype=indptr.dtype)  # searchsorted's operands share a dtype
    entry_rows = cupy.searchsorted(indptr[b0 : b1 + 1], positions, side="right").astype(np.int64) - 1
    n_chunks = -(-total // TRIPLES)
    cuts = cupy.searchsorted(ends, cupy.arange(1, n_chunks, dtype=np.int64) * TRIPLES, side="right")
    cuts = [0, *cuts.get().tolist(), end - begin]
    for c0, c1 in zip(cuts[:-1], cuts[1:]):
        if c0 == c1:
            continue
        first = int(ends[c0] - lengths[c0])
        triple = cupy.arange(first, int(ends[c1 - 1]), dtype=np.int64)
        entry = cupy.searchsorted(ends[c0:c1], triple, side="right") + c0  # empty entries own none
        position = r_indptr[columns[entry]] + (triple - (ends[entry] - lengths[entry]))
        flat = entry_rows[entry] * n_cols + r_indices[position].astype(np.int64)
        yield flat, data[begin + entry], r_data[position]


def _exclude_diagonal(eligible, b0, b1):
    eligible[cupy.arange(b1 - b0), cupy.arange(b0, b1)] = False


def _select(keys, eligible, k, block, rows, n_threads, ids, values):
    """The top k of the block's eligible scores into its rows of the outputs."""
    r0 = rows[0]
    b0, b1 = block
    keys = cupy.where(eligible, keys, keys.dtype.type(-np.inf))
    selection.topk(keys, None, k, True, None, n_threads, ids[b0 - r0 : b1 - r0], values[b0 - r0 : b1 - r0])


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    dtype = a[2].dtype
    need_sums, need_counts = scoring.accumulate != COUNTS, scoring.accumulate != SUMS
    for b0, b1 in _row_blocks(rows, m, 4 * dtype.itemsize + 8):
        sums = cupy.zeros((b1 - b0) * m, dtype) if need_sums else None
        counts = cupy.zeros((b1 - b0) * m, np.int32) if need_counts else None
        for flat, x, y in _triples(a, bt, b0, b1, m):
            if need_sums:
                cupy.add.at(sums, flat, x * y)
            if need_counts:
                cupy.add.at(counts, flat, 1)
        if need_counts:
            counts = counts.reshape(b1 - b0, m)
            n_common = counts.astype(dtype)
            touched = (counts > 0) & (counts >= scoring.min_support)
        if not need_sums:  # COUNTS: every value is 1, so the sums are the counts
            sums = n_common
        else:
            sums = sums.reshape(b1 - b0, m)
            if not need_counts:  # SUMS: every product is positive, so a sum is 0 exactly until touched
                touched = sums > 0
        # the scores in the reference's order of operations (see Scoring)
        if scoring.combine == JACCARD:
            score = n_common / ((row_weight[b0:b1, None] + col_weight[None, :]) - n_common)
        elif row_weight is not None:
            score = sums * (row_weight[b0:b1, None] * col_weight[None, :])
        else:
            score = sums
        if scoring.shrinkage > 0:
            score = score * (n_common / (n_common + scoring.shrinkage))
        eligible = touched & (score >= scoring.min_score)  # NaN compares False
        if scoring.exclude_self:
            _exclude_diagonal(eligible, b0, b1)
        _select(score, eligible, k, (b0, b1), rows, n_threads, ids, values)


def _corated_blocks(r, r_t, measure, rows):
    """Per row block ``(b0, b1)``, the sums over co-rated columns of each pair (row of the
    block, row of ``r``), as (b1 - b0, n) float64 arrays ``(freq, prods, sqi, sqj, si, sj)``
    (None where the measure needs none; msd's ``prods`` sums squared differences), as
    ``_numpy.corated_scores`` takes them."""
    n = len(r[0]) - 1
    names = {corated.MSD: ("prods",), corated.PEARSON: ("prods", "sqi", "sqj", "si", "sj")}.get(
        measure, ("prods", "sqi", "sqj"))
    for b0, b1 in _row_blocks(rows, n, 8 * len(names) + 28):
        count = cupy.zeros((b1 - b0) * n, np.int32)
        sums = {name: cupy.zeros((b1 - b0) * n) for name in names}
        for flat, x, y in _triples(r, r_t, b0, b1, n):
            cupy.add.at(count, flat, 1)
            if measure == corated.MSD:
                cupy.add.at(sums["prods"], flat, (x - y) * (x - y))
                continue
            cupy.add.at(sums["prods"], flat, x * y)
            cupy.add.at(sums["sqi"], flat, x * x)
            cupy.add.at(sums["sqj"], flat, y * y)
            if measure == corated.PEARSON:
                cupy.add.at(sums["si"], flat, x)
                cupy.add.at(sums["sj"], flat, y)
        shaped = [None if name not in sums else sums[name].reshape(b1 - b0, n)
                  for name in ("prods", "sqi", "sqj", "si", "sj")]
        yield (b0, b1), count.reshape(b1 - b0, n), shaped


def corated_similarity(r, r_t, measure, min_support, shrinkage, n_threads, out):
    n = len(r[0]) - 1
    for (b0, b1), count, sums in _corated_blocks(r, r_t, measure, (0, n)):
        supported = (count > 0) & (count >= min_support)
        score = corated_scores(count.astype(np.float64), *sums, measure, shrinkage)
        out[b0:b1] = cupy.where(supported, score, 0.0)
        # Atomics add in no fixed order, so (u, v) and (v, u) may round apart: each pair takes the
        # value of its earlier row, keeping the matrix symmetric (rows before b0 are final).
        out[b0:b1, :b0] = out[:b0, b0:b1].T
        square = out[b0:b1, b0:b1]
        below = cupy.arange(b1 - b0)[:, None] > cupy.arange(b1 - b0)[None, :]
        out[b0:b1, b0:b1] = cupy.where(below, square.T, square)
    out[cupy.arange(n), cupy.arange(n)] = 1.0


def corated_topk(r, r_t, measure, min_support, shrinkage, rows, k, min_score, capacity, n_threads, ids, values):
    for (b0, b1), count, sums in _corated_blocks(r, r_t, measure, rows):
        score = corated_scores(count.astype(np.float64), *sums, measure, shrinkage).astype(values.dtype)
        eligible = (count > 0) & (count >= min_support) & (score >= min_score)
        _exclude_diagonal(eligible, b0, b1)
        _select(score, eligible, k, (b0, b1), rows, n_threads, ids, values)
