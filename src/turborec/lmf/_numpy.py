"""The reference LMF half-step: one row at a time, one entry at a time. Slow and obviously correct.

Contract every backend meets (validation happened in ``__init__.py``): ``likes`` is a CSR
``(indptr, indices)`` of ``n_rows`` rows (sorted, no duplicates, ``nnz <= 2**32``), ``data`` its
confidences (``> 0``, finite, in the factors' dtype ``T``), ``other`` (``Y``, read),
``factors`` (``X``) and ``deriv_sum_sq`` (``G``) C-contiguous arrays of one dtype and width
``n_cols``, the last two updated in place; ``drawn`` (int64, 1) receives the negatives drawn.

For every row ``u`` with entries ``lo = indptr[u] .. hi = indptr[u + 1]``, in ``T``:

- ``g = 0``; for each entry ``k`` in order, ``g += data[k] * y_i`` (``i = indices[k]``);
- for each entry in order: ``z = T(sigmoid(double(dot(x_u, y_i)))) * data[k]``, ``g = g - z * y_i``;
- for ``t < min(n_cols, (hi - lo) * neg_prop)``: ``j = indices[below(splitmix64(seed, lo *
  neg_prop + t + 1), nnz)]``, ``z = T(sigmoid(double(dot(x_u, y_j))))``, ``g = g - z * y_j``;
- per column: ``g = g - reg * x_u``; ``G_u += g * g``; ``x_u += (lr / sqrt(T(1e-6) + G_u)) * g``.

``dot`` adds element ``f`` to lane ``f % 8`` in order of ``f`` and sums the lanes 0 to 7, left
to right; ``sigmoid(s)`` is ``1 / (1 + exp(-s))`` for ``s >= 0``, else ``e / (1 + e)`` with
``e = exp(s)`` (C's ``exp``). ``x_u`` is read as it was before the row's step (it changes only
at the end). Rows never interact, so ``n_threads`` changes nothing; this reference ignores it.
"""

import math

import numpy as np

from . import EPSILON, LANES, below, splitmix64


def _sigmoid(s):
    if s >= 0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


def _dot(x, y):
    terms = x * y
    lanes = np.zeros(LANES, x.dtype)
    for f0 in range(0, len(terms), LANES):
        block = terms[f0:f0 + LANES]
        lanes[:len(block)] += block
    score = lanes[0]
    for lane in lanes[1:]:
        score = score + lane
    return score


def lmf_update(likes, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop, seed, n_threads,
               drawn):
    indptr, indices = likes
    n_rows, n_cols = factors.shape
    nnz = int(indptr[-1]) if len(indptr) else 0
    T = factors.dtype.type
    lr, reg, eps = T(learning_rate), T(regularization), T(EPSILON)
    total = 0
    for u in range(n_rows):
        lo, hi = int(indptr[u]), int(indptr[u + 1])
        if lo == hi:
            continue
        x = factors[u]
        g = np.zeros(n_cols, factors.dtype)
        for k in range(lo, hi):
            g += data[k] * other[indices[k]]
        for k in range(lo, hi):
            y = other[indices[k]]
            z = T(_sigmoid(float(_dot(x, y)))) * data[k]
            g = g - z * y
        n_neg = min(n_cols, (hi - lo) * neg_prop)
        counters = np.uint64(lo) * np.uint64(neg_prop) + np.arange(1, n_neg + 1, dtype=np.uint64)
        for k in below(splitmix64(seed, counters), nnz):
            y = other[indices[k]]
            z = T(_sigmoid(float(_dot(x, y))))
            g = g - z * y
        total += n_neg
        g = g - reg * x
        deriv_sum_sq[u] += g * g
        factors[u] = x + (lr / np.sqrt(eps + deriv_sum_sq[u])) * g
    drawn[0] = total
