"""Numba LMF half-step: the C++ kernel's algorithm (``csrc/include/turborec/lmf.hpp``), operation
for operation. Contract: ``_numpy.py``."""

import math

import numpy as np
from numba import njit, prange

from .._jit import launch
from ..bpr._numba import _pick
from . import EPSILON, LANES


@njit(cache=True, nogil=True)
def _sigmoid(s):
    if s >= 0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@njit(cache=True, nogil=True)
def _dot(x, y, lanes):
    lanes[:] = 0
    for f in range(len(x)):
        lanes[f % LANES] += x[f] * y[f]
    score = lanes[0]
    for lane in range(1, LANES):
        score += lanes[lane]
    return score


@njit(cache=True, nogil=True, parallel=True)
def _update(indptr, indices, data, other, factors, deriv_sum_sq, lr, reg, eps, neg_prop, seed, drawn):
    n_rows, n_cols = factors.shape
    nnz = np.uint64(indptr[n_rows])
    per_row = np.zeros(n_rows, np.int64)
    for u in prange(n_rows):  # rows are independent: any thread count gives the same bits
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            continue
        x = factors[u]
        g = np.zeros(n_cols, factors.dtype)
        scratch = np.zeros(LANES, factors.dtype)  # lanes of the dots; scratch[0] also rounds z to T
        for k in range(lo, hi):
            y = other[indices[k]]
            for f in range(n_cols):
                g[f] += data[k] * y[f]
        for k in range(lo, hi):
            y = other[indices[k]]
            scratch[0] = _sigmoid(np.float64(_dot(x, y, scratch)))
            z = scratch[0] * data[k]
            for f in range(n_cols):
                g[f] = g[f] - z * y[f]
        n_neg = min(n_cols, (hi - lo) * neg_prop)
        base = np.uint64(lo) * np.uint64(neg_prop)
        for t in range(n_neg):
            y = other[indices[_pick(seed, base + np.uint64(t + 1), nnz)]]
            scratch[0] = _sigmoid(np.float64(_dot(x, y, scratch)))
            z = scratch[0]
            for f in range(n_cols):
                g[f] = g[f] - z * y[f]
        per_row[u] = n_neg
        acc = deriv_sum_sq[u]
        for f in range(n_cols):
            g[f] = g[f] - reg * x[f]
            acc[f] += g[f] * g[f]
            x[f] += (lr / np.sqrt(eps + acc[f])) * g[f]
    drawn[0] = per_row.sum()


def lmf_update(likes, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop, seed, n_threads,
               drawn):
    indptr, indices = likes
    T = factors.dtype.type
    launch(_update, n_threads, indptr.astype(np.int64, copy=False), indices.astype(np.int64, copy=False), data, other,
           factors, deriv_sum_sq, T(learning_rate), T(regularization), T(EPSILON), np.int64(neg_prop),
           np.uint64(seed), drawn)
