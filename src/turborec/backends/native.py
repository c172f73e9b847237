"""C++/OpenMP backend (``turborec._native``); see numpy_ref.py for the shared contract."""

import numpy as np
import scipy.linalg.cython_blas as _cython_blas

from .. import _native
from .._threads import blas_single_thread
from ._common import empty_topk, inverse_norms

name = "native"
description = "C++/OpenMP kernels (turborec._native)"
xp = np
on_gpu = False

# Dense products go through the BLAS scipy ships (the capsules scikit-learn and implicit use).
_native.set_blas(_cython_blas.__pyx_capi__["sgemm"], _cython_blas.__pyx_capi__["dgemm"])


def probe():
    return None


def topk(scores, k, exclude, largest, n_threads):
    ids, values = empty_topk(scores.shape[0], k, scores.dtype)
    _native.topk(scores, k, *(exclude or (None, None)), largest, n_threads, ids, values)
    return ids, values


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    ids, values = empty_topk(queries.shape[0], k, queries.dtype)
    scales = (inverse_norms(queries, np), inverse_norms(items, np)) if normalize else (None, None)
    with blas_single_thread():
        _native.topk_dot(queries, items, k, *(exclude or (None, None)), *scales, n_threads, ids, values)
    return ids, values


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads):
    out = np.empty((recs.shape[0], len(cutoffs), len(_native.METRICS)), dtype=np.float64)
    _native.ranking_metrics(recs, *relevant, n_negatives, cutoffs, n_threads, out)
    return out
