"""Numba BPR epochs: the C++ kernel's algorithm (``csrc/include/turborec/bpr.hpp``), block for
block and operation for operation. Contract: ``_numpy.py``."""

import math

import numpy as np
from numba import njit, prange

from .._jit import launch
from . import LANES, MIX_MULTIPLIERS, SPLITMIX_GAMMA

_GAMMA = SPLITMIX_GAMMA
_M1, _M2 = MIX_MULTIPLIERS
_S27, _S30, _S31, _S32 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)


@njit(cache=True, nogil=True)
def _pick(seed, counter, n):
    """``below(splitmix64(seed, counter), n)``, all uint64 until the final int64."""
    z = seed + counter * _GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.int64(((z >> _S32) * n) >> _S32)


@njit(cache=True, nogil=True)
def _liked(indptr, indices, u, item):
    lo, hi = indptr[u], indptr[u + 1]
    p = lo + np.searchsorted(indices[lo:hi], item)
    return p < hi and indices[p] == item


@njit(cache=True, nogil=True)
def _block(indptr, indices, rows, x, y, lr, reg, seed, verify, lo, hi, lanes):
    """Samples [lo, hi) in order; returns (correct, skipped). ``lanes``: LANES scratch of dtype T
    (also rounds z to T)."""
    n = np.uint64(len(rows))
    width = x.shape[1]
    last = width - 1
    correct = 0
    skipped = 0
    for s in range(lo, hi):
        k = _pick(seed, np.uint64(2 * s + 1), n)
        u, i = rows[k], indices[k]
        j = indices[_pick(seed, np.uint64(2 * s + 2), n)]
        if verify and _liked(indptr, indices, u, j):
            skipped += 1
            continue
        lanes[:] = 0
        for f in range(width):
            lanes[f % LANES] += x[u, f] * (y[i, f] - y[j, f])
        score = lanes[0]
        for lane in range(1, LANES):
            score += lanes[lane]
        lanes[0] = 1.0 / (1.0 + math.exp(np.float64(score)))
        z = lanes[0]
        if z < 0.5:
            correct += 1
        for f in range(last):
            t = x[u, f]
            x[u, f] += lr * (z * (y[i, f] - y[j, f]) - reg * x[u, f])
            y[i, f] += lr * (z * t - reg * y[i, f])
            y[j, f] += lr * (-z * t - reg * y[j, f])
        y[i, last] += lr * (z - reg * y[i, last])
        y[j, last] += lr * (-z - reg * y[j, last])
    return correct, skipped


@njit(cache=True, nogil=True, parallel=True)
def _epoch(indptr, indices, rows, x, y, lr, reg, seed, verify, n_blocks, counts):
    nnz = len(rows)
    per_block = np.zeros((n_blocks, 2), np.int64)
    for b in prange(n_blocks):  # Hogwild: blocks share the factor rows without locks
        lanes = np.zeros(LANES, x.dtype)
        correct, skipped = _block(indptr, indices, rows, x, y, lr, reg, seed, verify, nnz * b // n_blocks,
                                  nnz * (b + 1) // n_blocks, lanes)
        per_block[b, 0] = correct
        per_block[b, 1] = skipped
    counts[0] = per_block[:, 0].sum()
    counts[1] = per_block[:, 1].sum()


def bpr_epochs(likes, rows, user_factors, item_factors, seeds, learning_rate, regularization, verify, on_epoch,
               n_threads, counts):
    indptr, indices = likes
    T = user_factors.dtype.type
    indptr, indices = indptr.astype(np.int64, copy=False), indices.astype(np.int64, copy=False)
    rows = rows.astype(np.int64, copy=False)
    for e, seed in enumerate(seeds):
        launch(_epoch, n_threads, indptr, indices, rows, user_factors, item_factors, T(learning_rate),
               T(regularization), np.uint64(seed), bool(verify), n_threads, counts[e])
        if on_epoch is not None:
            on_epoch(e, int(counts[e, 0]), int(counts[e, 1]))
