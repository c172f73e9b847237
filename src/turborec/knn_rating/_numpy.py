"""Reference (vectorised NumPy) neighbour aggregation, the oracle of ``_numba.py``.

Contract of every backend of the family: ``knn_aggregate(indptr, neighbours, values, sim, qx,
qy, k, n_threads, weighted, sum_sim, actual_k)`` with the inputs checked in ``__init__.py``;
writes the three outputs in full. For each query ``q`` the candidate positions
``p in indptr[qy[q]]:indptr[qy[q] + 1]`` are ordered by decreasing ``sim[qx[q], neighbours[p]]``,
ties by increasing ``p`` (``heapq.nlargest``'s order); of the first ``k``, those with a positive
similarity ``s`` are summed in that order: ``weighted += s * values[p]``, ``sum_sim += s``,
``actual_k += 1``.
"""

import numpy as np

_CHUNK = 1 << 22  # (query, candidate) pairs per block


def knn_aggregate(indptr, neighbours, values, sim, qx, qy, k, n_threads, weighted, sum_sim, actual_k):
    """The aggregation by one stable sort of all (query, candidate) pairs, in blocks of queries."""
    starts, lengths = indptr[qy], indptr[qy + 1] - indptr[qy]
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    lo = 0
    while lo < len(qx):  # whole queries, at most _CHUNK pairs per block (or a single query)
        hi = max(lo + 1, int(np.searchsorted(bounds, bounds[lo] + _CHUNK, side="right")) - 1)
        block = slice(lo, hi)
        _block(neighbours, values, sim, qx[block], starts[block], lengths[block], k,
               weighted[block], sum_sim[block], actual_k[block])
        lo = hi


def _block(neighbours, values, sim, qx, starts, lengths, k, weighted, sum_sim, actual_k):
    total = int(lengths.sum())
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    owner = np.repeat(np.arange(len(qx)), lengths)
    pos = np.repeat(starts, lengths) + np.arange(total) - first
    sims = sim[qx[owner], neighbours[pos]]
    order = np.lexsort((pos, -sims, owner))  # by query, decreasing similarity, then position
    owner, pos, sims = owner[order], pos[order], sims[order]
    keep = (np.arange(total) - first < k) & (sims > 0)  # rank within the query below k
    owner, pos, sims = owner[keep], pos[keep], sims[keep]
    m = len(qx)
    weighted[:] = np.bincount(owner, weights=sims * values[pos], minlength=m)  # sequential sums, in order
    sum_sim[:] = np.bincount(owner, weights=sims, minlength=m)
    actual_k[:] = np.bincount(owner, minlength=m)
