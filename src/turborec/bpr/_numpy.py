"""The reference BPR epochs: one sample at a time, in order. Slow and obviously correct.

Contract every backend meets (validation happened in ``__init__.py``): ``likes`` is a CSR
``(indptr, indices)`` of the users' liked items (sorted rows, no duplicates), ``rows`` the user of
each stored entry, ``user_factors`` / ``item_factors`` C-contiguous float32 or float64 arrays of
one width ``F + 1``, updated in place; ``seeds`` (uint64, n) the seed of each epoch, run in
order; ``counts`` (int64, (n, 2)) receives each epoch's (correct, skipped); ``on_epoch``, when not
None, is called as ``on_epoch(e, correct, skipped)`` after epoch ``e`` (an exception it raises
ends the run).

In an epoch of seed ``seed``, sample ``s`` (``s = 0 .. nnz - 1``) draws
``k = below(splitmix64(seed, 2s + 1), nnz)`` (the liked entry: user ``rows[k]``, item
``i = indices[k]``) and ``below(splitmix64(seed, 2s + 2), nnz)`` (its item is the negative ``j``).
In the factors' dtype ``T``, with ``lr`` and ``reg`` cast to ``T``:

- the score ``x_u . (y_i - y_j)`` over all ``F + 1`` columns: element ``f`` is
  ``x_uf * (y_if - y_jf)``, added to lane ``f % 8`` in order of ``f``; the lanes are summed
  0 to 7, left to right;
- ``z = T(1 / (1 + exp(double(score))))`` (the C library's ``exp``);
- per column, ``t = x_uf``; ``x_uf + lr * (z * (y_if - y_jf) - reg * x_uf)`` (``f < F``);
  ``y_if + lr * (z * t - reg * y_if)``; then ``y_jf + lr * ((-z) * t - reg * y_jf)``, reading
  ``y_jf`` after ``y_if`` was written (they are one element when ``j == i``); for the bias column
  ``f = F`` the item terms use ``z`` and ``-z`` in place of ``z * t`` and ``(-z) * t``.

With more threads the native backend hands out chunks of consecutive samples and the numba one
splits them into ``n_threads`` contiguous blocks (Hogwild);
this reference ignores ``n_threads`` and is the one-thread epoch.
"""

import math

import numpy as np

from . import LANES, below, splitmix64


def _exp(value):
    """The C library's ``exp``, inf past its range (where Python's raises OverflowError)."""
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def bpr_epochs(likes, rows, user_factors, item_factors, seeds, learning_rate, regularization, verify, on_epoch,
               n_threads, counts):
    for e, seed in enumerate(seeds):
        counts[e] = _epoch(likes, rows, user_factors, item_factors, learning_rate, regularization, int(seed), verify)
        if on_epoch is not None:
            on_epoch(e, int(counts[e, 0]), int(counts[e, 1]))


def _epoch(likes, rows, user_factors, item_factors, learning_rate, regularization, seed, verify):
    """One epoch; returns (correct, skipped)."""
    indptr, indices = likes
    nnz = len(rows)
    x, y = user_factors, item_factors
    T = x.dtype.type
    lr, reg = T(learning_rate), T(regularization)
    picks = below(splitmix64(seed, np.arange(1, 2 * nnz + 1, dtype=np.uint64)), nnz)
    last = x.shape[1] - 1
    correct = skipped = 0
    for s in range(nnz):
        k = picks[2 * s]
        u, i, j = rows[k], indices[k], indices[picks[2 * s + 1]]
        if verify and j in indices[indptr[u]:indptr[u + 1]]:
            skipped += 1
            continue
        terms = x[u] * (y[i] - y[j])
        lanes = np.zeros(LANES, x.dtype)
        for f0 in range(0, len(terms), LANES):
            block = terms[f0:f0 + LANES]
            lanes[:len(block)] += block
        score = lanes[0]
        for lane in lanes[1:]:
            score = score + lane
        z = T(1.0 / (1.0 + _exp(float(score))))
        correct += bool(z < 0.5)
        t = x[u, :last].copy()
        x[u, :last] = t + lr * (z * (y[i, :last] - y[j, :last]) - reg * t)
        y[i, :last] = y[i, :last] + lr * (z * t - reg * y[i, :last])
        y[j, :last] = y[j, :last] + lr * (-z * t - reg * y[j, :last])
        y[i, last] = y[i, last] + lr * (z - reg * y[i, last])
        y[j, last] = y[j, last] + lr * (-z - reg * y[j, last])
    return correct, skipped
