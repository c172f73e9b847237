"""C++/OpenMP selection kernels (``csrc/include/turborec/topk.hpp`` via ``bind_topk.cpp``).
The contract is in ``_numpy.py``."""

from .. import _native
from .._threads import blas_single_thread
from . import QUANTIZED_PANEL

if _native.QUANTIZED_PANEL != QUANTIZED_PANEL:
    raise ImportError(f"turborec._native packs {_native.QUANTIZED_PANEL} items per panel, the selection family "
                      f"{QUANTIZED_PANEL}: rebuild the extension")

_NONE = (None, None)


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    _native.topk(scores, *(exclude or _NONE), k, largest, plan.chunk, plan.capacity, n_threads, ids, values)


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    with blas_single_thread():
        _native.topk_dot(queries, items, *(exclude or _NONE), query_scale, item_scale, k, *plan, n_threads,
                         ids, values)


def topk_dot_quantized(queries, qcodes, codes, scales, items, exclude, k, n_candidates, plan, n_threads, ids,
                       values):
    _native.topk_dot_quantized(queries, qcodes, codes, scales, items, *(exclude or _NONE), k, n_candidates, *plan,
                               n_threads, ids, values)
