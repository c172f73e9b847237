"""Row-wise top-k selection, alone or fused with dot-product scoring."""

import numpy as np

from . import _validation as v
from ._threads import resolve_n_threads
from .backends import resolve


def _returns_to_host(module, *arrays):
    """True when a GPU backend runs on host inputs: results are copied back to the host."""
    return module.on_gpu and not any(v.is_gpu_array(a) for a in arrays)


def _empty(shape, dtype, xp, to_host):
    ids, values = xp.empty(shape, dtype=np.int32), xp.empty(shape, dtype=dtype)
    return (ids.get(), values.get()) if to_host else (ids, values)


def topk(scores, k, *, exclude=None, largest=True, backend=None, n_threads=None):
    """Row-wise top-k of a dense score matrix.

    Parameters
    ----------
    scores : array of shape (n, m), float32 or float64
        NumPy (host) or CuPy (GPU) array; results come back on the same device.
    k : int
        Entries to keep per row (``k > m`` keeps all ``m``).
    exclude : scipy.sparse matrix of shape (n, m), optional
        Entries stored in row ``r`` are never returned for row ``r`` (values ignored).
    largest : bool, default True
        Keep the largest scores (``False``: the smallest).
    backend : str, optional
        See :mod:`turborec.backends` for the selection rules.
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Returns
    -------
    ids : int32 array of shape (n, min(k, m))
        Column ids, best first, ties broken by the lower id.
    values : array of shape (n, min(k, m)), dtype of ``scores``
        The scores of ``ids``.

    Notes
    -----
    NaN scores are never returned, nor are scores equal to the padding value (-inf when
    ``largest``, +inf otherwise): like excluded entries, they are not eligible. A row with
    fewer than ``k`` eligible entries is padded with id -1 and the padding value.
    """
    k = v.check_k(k)
    module = resolve(backend, scores)
    to_host = _returns_to_host(module, scores)
    scores = v.as_float_matrix(scores, "scores", module.xp)
    n, m = scores.shape
    exclude = v.as_exclude(exclude, (n, m), module.xp)
    if not isinstance(largest, (bool, np.bool_)):
        raise TypeError(f"largest: expected a bool, got {type(largest).__name__}")
    n_threads = resolve_n_threads(n_threads)
    if n == 0 or m == 0:
        return _empty((n, min(k, m)), scores.dtype, module.xp, to_host)
    ids, values = module.topk(scores, min(k, m), exclude, bool(largest), n_threads)
    return (ids.get(), values.get()) if to_host else (ids, values)


def topk_dot(queries, items, k, *, exclude=None, candidates=None, normalize=False, backend=None,
             n_threads=None):
    """Top-k items per query by dot product (or cosine), without the full score matrix.

    Same result as ``topk(queries @ items.T, k, exclude=exclude)``, but scores are computed
    tile by tile with BLAS and merged into a running top-k per row, so memory beyond inputs
    and outputs is bounded by the tile size, not by ``n_queries * n_items``.

    Parameters
    ----------
    queries : array of shape (n_queries, d), float32 or float64
    items : array of shape (n_items, d), same dtype as ``queries``
    k : int
        Items to return per query.
    exclude : scipy.sparse matrix of shape (n_queries, n_items), optional
        Items never returned for a query (e.g. those the user already liked).
    candidates : 1-D int array, optional
        Score only these item ids (a set: order and repeats are ignored). Returned ids are
        still item ids.
    normalize : bool, default False
        Score by cosine similarity; an all-zero vector has cosine 0 with everything.
    backend, n_threads
        As in :func:`topk`.

    Returns
    -------
    ids : int32 array of shape (n_queries, min(k, n_eligible))
        ``n_eligible`` is ``n_items``, or the number of candidates.
    values : array of the same shape, dtype of ``queries``
    """
    k = v.check_k(k)
    module = resolve(backend, queries, items)
    to_host = _returns_to_host(module, queries, items)
    xp = module.xp
    queries = v.as_float_matrix(queries, "queries", xp)
    items = v.as_float_matrix(items, "items", xp)
    if queries.shape[1] != items.shape[1]:
        raise ValueError(
            f"items: expected {queries.shape[1]} columns like queries, got shape {tuple(items.shape)}"
        )
    if queries.dtype != items.dtype:
        raise TypeError(f"items: expected dtype {queries.dtype} like queries, got {items.dtype}")
    n, m = queries.shape[0], items.shape[0]
    exclude = v.as_exclude(exclude, (n, m), xp)
    n_threads = resolve_n_threads(n_threads)
    if candidates is not None:
        candidates = v.as_candidates(candidates, m)
        items = xp.ascontiguousarray(items[xp.asarray(candidates)])
        if exclude is not None:
            host = (a.get() if v.is_gpu_array(a) else a for a in exclude)
            exclude = tuple(xp.asarray(a) for a in v.restrict_columns(*host, candidates, m))
        m = len(candidates)
    if n == 0 or m == 0:
        return _empty((n, min(k, m)), queries.dtype, xp, to_host)
    ids, values = module.topk_dot(queries, items, min(k, m), exclude, bool(normalize), n_threads)
    if candidates is not None:
        ids = xp.where(ids >= 0, xp.asarray(candidates, dtype=np.int32)[ids], -1).astype(np.int32)
    return (ids.get(), values.get()) if to_host else (ids, values)
