"""C++/OpenMP selection kernels (``csrc/include/turborec/topk.hpp`` via ``bind_topk.cpp``).
The contract is in ``_numpy.py``."""

from .. import _native
from .._threads import blas_single_thread

_NONE = (None, None)


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    _native.topk(scores, *(exclude or _NONE), k, largest, plan.chunk, plan.capacity, n_threads, ids, values)


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    with blas_single_thread():
        _native.topk_dot(queries, items, *(exclude or _NONE), query_scale, item_scale, k, *plan, n_threads,
                         ids, values)
