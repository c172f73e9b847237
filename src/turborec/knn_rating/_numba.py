"""Numba neighbour aggregation: the contract of ``_numpy.py``, one query per parallel
iteration, its ``k`` best candidates kept sorted by insertion (a candidate goes after those
with an equal similarity, and does not displace the ``k``-th when equal to it: the stable
order); float64, no ``fastmath``, sums in the
reference's order, so the results equal it bit for bit."""

import numpy as np
from numba import njit, prange

from .._jit import launch


@njit(cache=True, nogil=True, parallel=True)
def _aggregate(indptr, neighbours, values, sim, qx, qy, k, weighted, sum_sim, actual_k):
    for q in prange(len(qx)):
        x = qx[q]
        start = indptr[qy[q]]
        stop = indptr[qy[q] + 1]
        top_sim = np.empty(k)
        top_pos = np.empty(k, dtype=np.int64)
        count = 0
        for p in range(start, stop):  # insertion into the sorted k best, after their equals
            value = sim[x, neighbours[p]]
            if count == k:
                if not value > top_sim[k - 1]:  # a tie with the k-th keeps the earlier one
                    continue
                j = k - 1
            else:
                j = count
                count += 1
            while j > 0 and top_sim[j - 1] < value:
                top_sim[j] = top_sim[j - 1]
                top_pos[j] = top_pos[j - 1]
                j -= 1
            top_sim[j] = value
            top_pos[j] = p
        w = 0.0
        s = 0.0
        c = 0
        for j in range(count):
            if top_sim[j] > 0:
                w += top_sim[j] * values[top_pos[j]]
                s += top_sim[j]
                c += 1
        weighted[q] = w
        sum_sim[q] = s
        actual_k[q] = c


def knn_aggregate(indptr, neighbours, values, sim, qx, qy, k, n_threads, weighted, sum_sim, actual_k):
    """The aggregation, written into ``weighted``, ``sum_sim`` and ``actual_k``."""
    launch(_aggregate, n_threads, indptr, neighbours, values, sim, qx, qy, int(k), weighted, sum_sim, actual_k)
