"""Neighbour aggregation of Surprise 1.1's k-NN rating predictors (``KNNBasic`` and its kin),
vectorised over the queries, on the numba backend and the NumPy reference.

For a query ``(x, y)`` (user and item, or item and user when item-based) the candidates are the
ratings of ``y`` in their stored order (Surprise's ``ir``/``ur`` lists, the file order). The
``k`` with the largest ``sim[x, candidate]`` are kept, ties to the earlier candidate (as
``heapq.nlargest``, a stable sort, keeps them); of those, the ones with positive similarity are
aggregated in decreasing similarity. Contract and reference: ``_numpy.py``.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch

__all__ = ["knn_aggregate"]


def knn_aggregate(indptr, neighbours, values, sim, qx, qy, k, *, backend=None, n_threads=None):
    """Similarity-weighted sums over the ``k`` nearest neighbours of each query.

    Parameters
    ----------
    indptr : int64 array of shape (n_y + 1,)
        The candidates of ``y`` are positions ``indptr[y]:indptr[y + 1]``.
    neighbours : int64 array of shape (nnz,)
        The candidate of each position (a row of ``sim``).
    values : float64 array of shape (nnz,)
        The value aggregated for each position (a rating, or a rating's deviation).
    sim : float64 array of shape (n_x, n_x)
        Similarities.
    qx, qy : int64 arrays of shape (n,)
        The queries, valid indices of ``sim`` and of ``indptr``'s lists.
    k : int >= 1
        Neighbours kept per query.
    backend, n_threads
        See :mod:`turborec.backends` (numba, numpy). Results do not depend on them.

    Returns
    -------
    weighted : float64 ndarray of shape (n,)
        ``sum sim * value`` over the kept neighbours with positive similarity.
    sum_sim : float64 ndarray of shape (n,)
        ``sum sim`` over them.
    actual_k : int64 ndarray of shape (n,)
        Their number.
    """
    indptr = np.ascontiguousarray(v.as_array(indptr, "indptr"), dtype=np.int64)
    neighbours = np.ascontiguousarray(v.as_array(neighbours, "neighbours"), dtype=np.int64)
    values = np.ascontiguousarray(v.as_array(values, "values"), dtype=np.float64)
    sim = np.ascontiguousarray(v.as_array(sim, "sim"), dtype=np.float64)
    qx = np.ascontiguousarray(v.as_array(qx, "qx"), dtype=np.int64)
    qy = np.ascontiguousarray(v.as_array(qy, "qy"), dtype=np.int64)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"sim: expected a square matrix, got shape {sim.shape}")
    if neighbours.shape != values.shape or indptr.ndim != 1 or len(indptr) < 1 or indptr[-1] != len(values):
        raise ValueError("indptr, neighbours, values: inconsistent lengths")
    if qx.shape != qy.shape or qx.ndim != 1:
        raise ValueError(f"qx, qy: expected two 1-D arrays of one length, got shapes {qx.shape}, {qy.shape}")
    for name, ids, extent in (("qx", qx, sim.shape[0]), ("qy", qy, len(indptr) - 1),
                              ("neighbours", neighbours, sim.shape[0])):
        if ids.size and (ids.min() < 0 or ids.max() >= extent):
            raise IndexError(f"{name}: index out of range [0, {extent})")
    k = v.as_int(k, "k", "an int >= 1")
    if k < 1:
        raise ValueError(f"k: expected an int >= 1, got {k}")
    n = len(qx)
    return dispatch("knn_rating", "knn_aggregate", inputs=(indptr, neighbours, values, sim, qx, qy), params=(k,),
                    outputs=[((n,), np.float64), ((n,), np.float64), ((n,), np.int64)], backend=backend,
                    n_threads=n_threads)
