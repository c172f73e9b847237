"""The two selections the neighbourhood models make, on turborec's kernels.

- :func:`top_of_product`: the best ``N`` of each row of ``queries @ basis.T`` (users' rows times
  the item-item similarity, or users' neighbour weights times the interaction matrix), with
  each row's excluded columns never returned, in one :func:`turborec.sparse_dot_topk` call: the
  dense users x items score matrix is never built.
- :func:`top_of_rows`: the best ``N`` stored entries of some rows of a sparse matrix (similar
  items and users, explanations).
"""

import math

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from ..similarity import sparse_dot_topk
from ._base import SINK_SCORE


def top_of_product(queries, basis, N, exclude, candidates, backend, n_threads):
    """Best ``N`` columns per row of ``queries @ basis.T``, best first, ties to the lower id.

    Only columns reached through a stored entry are scored (a user's row shares an item with a
    neighbour list): the rest are never returned, as implicit's scorer never returns them.

    Exclusions ride in the same sparse product. With ``P`` the pattern of ``exclude`` (1 where
    excluded) and ``I`` the identity, the kernel scores ``[queries | P] @ [basis | -big I].T``:
    a column that is not excluded gets exactly the sum it would get alone (the extra block never
    reaches it), an excluded column gets its sum minus ``big``, and ``big`` (a power of two at
    least four times any reachable ``|score|``) puts it below the threshold ``-big / 2``, which
    no real score reaches. So no per-user ``N + len(liked)`` widening is needed.

    Parameters
    ----------
    queries : scipy.sparse.csr_matrix of shape (n, d)
        Finite values.
    basis : scipy.sparse.csr_matrix of shape (m, d)
    N : int
    exclude : scipy.sparse.csr_matrix of shape (n, m), or None
        Stored entries are excluded (values ignored).
    candidates : sorted int ndarray of column ids, or None
        Score only these columns.
    backend, n_threads
        Of :func:`turborec.sparse_dot_topk`.

    Returns
    -------
    ids : int32 ndarray of shape (n, min(N, width))
        Column ids, -1 where fewer were reached.
    scores : float32 ndarray of the same shape
        The sink score (-FLT_MAX) where the id is -1.
    """
    n, m = queries.shape[0], basis.shape[0]
    pool = np.arange(m) if candidates is None else np.asarray(candidates)
    if candidates is not None:
        basis = basis[pool]
    width = min(N, len(pool))
    if width == 0 or n == 0:
        return np.full((n, width), -1, np.int32), np.full((n, width), SINK_SCORE, np.float32)
    threshold = None
    if exclude is not None and exclude.nnz:
        indptr, indices = v.csr_arrays(exclude)
        if candidates is not None:
            indptr, indices = v.restrict_columns(indptr, indices, pool, m)
        pattern = sp.csr_matrix((np.ones(len(indices), queries.dtype), indices, indptr), shape=(n, len(pool)))
        big = _sink_offset(queries, basis)
        wide = np.float64 if big > np.finfo(np.float32).max / 4 else basis.dtype
        queries = sp.hstack([queries, pattern], format="csr")
        basis = sp.hstack([basis.astype(wide), sp.identity(len(pool), dtype=wide, format="csr") * -big], format="csr")
        threshold = -big / 2
    result = sparse_dot_topk(queries, basis, width, threshold=threshold, backend=backend, n_threads=n_threads)
    ids, scores = csr_to_padded(result, width)
    return np.where(ids >= 0, pool[np.maximum(ids, 0)], -1).astype(np.int32), scores


def _sink_offset(queries, basis):
    """A power of two at least 4x the largest ``|score|`` any row of ``queries @ basis.T`` can have."""
    # Sums of |values| per row from one running sum (its rounding is far inside the 4x margin).
    running = np.concatenate([[0.0], np.cumsum(np.abs(queries.data[: queries.indptr[-1]]), dtype=np.float64)])
    row_mass = running[queries.indptr[1:]] - running[queries.indptr[:-1]]
    largest = float(np.abs(basis.data).max(initial=0.0))
    bound = float(row_mass.max(initial=0.0)) * largest
    if not math.isfinite(bound) or bound > np.finfo(np.float64).max / 8:
        raise ValueError("user_items: values too large, the scores would overflow")
    return 2.0 ** math.ceil(math.log2(4 * bound)) if bound > 0 else 1.0


def csr_to_padded(result, width):
    """``(ids, float32 scores)`` of shape (n, width) from a CSR whose rows hold at most ``width``
    entries in the order to keep; -1 and the sink score fill the rest."""
    n = result.shape[0]
    counts = np.diff(result.indptr)
    ids = np.full((n, width), -1, np.int32)
    scores = np.full((n, width), SINK_SCORE, np.float32)
    rows = np.repeat(np.arange(n), counts)
    slots = np.arange(result.indptr[-1]) - np.repeat(result.indptr[:-1], counts)
    ids[rows, slots] = result.indices[: result.indptr[-1]]
    scores[rows, slots] = result.data[: result.indptr[-1]]
    return ids, scores


def top_of_rows(matrix, rows, N, allowed=None):
    """Best ``N`` stored entries of each of ``matrix``'s ``rows``, best first, ties to the lower id.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix
    rows : int ndarray
    N : int
        Output width.
    allowed : bool ndarray of shape (matrix.shape[1],), optional
        Columns that may be returned.

    Returns
    -------
    ids : int32 ndarray of shape (len(rows), N), -1 where fewer entries are left
    scores : float32 ndarray of the same shape, the sink score where the id is -1
    """
    part = matrix[rows]
    counts = np.diff(part.indptr)
    row_of = np.repeat(np.arange(len(rows)), counts)
    cols, values = part.indices[: part.indptr[-1]], part.data[: part.indptr[-1]]
    if allowed is not None:
        keep = allowed[cols]
        row_of, cols, values = row_of[keep], cols[keep], values[keep]
    order = np.lexsort((cols, -values.astype(np.float64), row_of))
    row_of, cols, values = row_of[order], cols[order], values[order]
    starts = np.searchsorted(row_of, np.arange(len(rows)))
    slot = np.arange(len(row_of)) - starts[row_of]
    keep = slot < N
    ids = np.full((len(rows), N), -1, np.int32)
    scores = np.full((len(rows), N), SINK_SCORE, np.float32)
    ids[row_of[keep], slot[keep]] = cols[keep]
    scores[row_of[keep], slot[keep]] = values[keep]
    return ids, scores
