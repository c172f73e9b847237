"""NumPy reference backend: slow, obviously correct, the test oracle.

Every backend module exposes the same functions with the same arguments; the public
functions in ``turborec.topk`` have validated and coerced everything before calling them:

- arrays are C-contiguous float32 or float64 on the backend's device, ``n >= 1``, ``m >= 1``
  and ``1 <= k <= m``;
- ``exclude`` is ``None`` or ``(indptr, indices)`` of a CSR matrix with one row per score row,
  column ids in range, in any order, duplicates allowed;
- ``n_threads`` is a resolved positive int (GPU backends ignore it).

Selection order: best score first, ties to the lower id. NaN scores and scores equal to the
padding value (-inf when ``largest``, +inf otherwise) are never selected; rows with fewer
than ``k`` eligible entries are padded with id -1 and the padding value.
"""

import numpy as np

from ._common import inverse_norms

name = "numpy"
description = "NumPy reference (slow; the test oracle)"
xp = np
on_gpu = False


def probe():
    return None


def _masked_keys(scores, exclude, largest):
    keys = np.array(scores, copy=True) if largest else -scores
    keys[np.isnan(keys)] = -np.inf
    if exclude is not None:
        indptr, indices = exclude
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        keys[rows, indices[: indptr[-1]]] = -np.inf
    return keys


def topk(scores, k, exclude, largest, n_threads):
    keys = _masked_keys(scores, exclude, largest)
    n, m = keys.shape
    ids = np.empty((n, k), dtype=np.int32)
    values = np.empty((n, k), dtype=scores.dtype)
    columns = np.arange(m)
    for r in range(n):
        # lexsort sorts by the last key first: descending key, then ascending id.
        order = np.lexsort((columns, -keys[r]))[:k]
        eligible = keys[r, order] > -np.inf
        ids[r] = np.where(eligible, order, -1)
        values[r] = np.where(eligible, scores[r, order], -np.inf if largest else np.inf)
    return ids, values


def topk_dot(queries, items, k, exclude, normalize, n_threads):
    if normalize:
        queries = queries * inverse_norms(queries, np)[:, None]
        items = items * inverse_norms(items, np)[:, None]
    return topk(queries @ items.T, k, exclude, True, n_threads)
