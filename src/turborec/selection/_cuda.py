"""CUDA selection kernels (``csrc/cuda/selection.cu`` via ``bind_selection.cpp``) on CuPy arrays.
The contract is in ``_numpy.py``.

CuPy owns device memory and streams: every launch goes on CuPy's current stream without
synchronising. ``topk`` runs the selection kernel once (k > 1024, or few long rows: tiled and
merged inside, in scratch of at most ``SCRATCH_BYTES`` per batch of rows); ``topk_dot`` runs the
shared tile-and-merge loop of ``_gpu_tiles.py`` with the kernel's select and merge.
"""

import cupy
import numpy as np

from .. import _cuda
from ._gpu_tiles import topk_dot_quantized_rows, topk_dot_tiles

SCRATCH_BYTES = 256 << 20  # topk's merge scratch; a module attribute so tests can shrink it


def _stream():
    return cupy.cuda.get_current_stream().ptr


def _select(scores, exclude, r0, r1, col_base, ids, values, largest=True):
    n, m = scores.shape
    scratch_bytes = _cuda.topk_scratch_bytes(n, m, ids.shape[1], scores.dtype.name, SCRATCH_BYTES)
    scratch = cupy.empty(scratch_bytes, dtype=np.uint8) if scratch_bytes else None
    indptr, indices = (None, None) if exclude is None else (exclude[0][r0:r1 + 1], exclude[1])
    _cuda.topk(scores, indptr, indices, ids.shape[1], col_base, largest, scratch, _stream(), ids, values)


def _merge(a_ids, a_values, b_ids, b_values, ids, values):
    _cuda.merge_topk(a_ids, a_values, b_ids, b_values, True, _stream(), ids, values)


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    _select(scores, exclude, 0, len(scores), 0, ids, values, largest)


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    topk_dot_tiles(queries, items, exclude, query_scale, item_scale, k, ids, values, select=_select, merge=_merge)


def topk_dot_quantized(queries, qcodes, codes, scales, items, exclude, k, n_candidates, plan, n_threads, ids,
                       values):
    topk_dot_quantized_rows(queries, qcodes, codes, scales, items, exclude, k, n_candidates, ids, values, topk=topk)
