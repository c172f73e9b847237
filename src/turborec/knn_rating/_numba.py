"""Numba neighbour aggregation: the contract of ``_numpy.py``, one query per parallel
iteration, a stable sort of the query's candidates; float64, no ``fastmath``, sums in the
reference's order, so the results equal it bit for bit."""

import numpy as np
from numba import njit, prange

from .._jit import launch


@njit(cache=True, nogil=True, parallel=True)
def _aggregate(indptr, neighbours, values, sim, qx, qy, k, weighted, sum_sim, actual_k):
    for q in prange(len(qx)):
        x = qx[q]
        start = indptr[qy[q]]
        n = indptr[qy[q] + 1] - start
        negated = np.empty(n)
        for j in range(n):
            negated[j] = -sim[x, neighbours[start + j]]
        order = np.argsort(negated, kind="mergesort")  # stable: ties keep the earlier position
        w = 0.0
        s = 0.0
        c = 0
        for j in range(min(k, n)):
            value = -negated[order[j]]
            if value > 0:
                w += value * values[start + order[j]]
                s += value
                c += 1
        weighted[q] = w
        sum_sim[q] = s
        actual_k[q] = c


def knn_aggregate(indptr, neighbours, values, sim, qx, qy, k, n_threads, weighted, sum_sim, actual_k):
    """The aggregation, written into ``weighted``, ``sum_sim`` and ``actual_k``."""
    launch(_aggregate, n_threads, indptr, neighbours, values, sim, qx, qy, int(k), weighted, sum_sim, actual_k)
