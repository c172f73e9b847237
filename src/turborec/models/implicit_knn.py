"""implicit 0.7's item-item recommenders under their own names, with implicit's definitions.

``ItemItemRecommender``, ``CosineRecommender``, ``TFIDFRecommender`` and ``BM25Recommender``
(``implicit.nearest_neighbours``) compute, for the users x items matrix ``X`` given to ``fit``:

- a weighted matrix ``W`` (users x items): ``X`` itself (ItemItem); each item's column scaled
  to unit norm (Cosine); TF-IDF over items as documents and users as terms, then unit columns
  (TFIDF); BM25 with items as documents (BM25, ``K1=1.2, B=0.75``);
- the item-item similarity ``W.T @ W`` pruned to each row's ``K`` largest entries, the item
  itself included (it is usually its own best neighbour, so ``K - 1`` others remain);
- ``recommend``: ``user_items[u] @ similarity``, as :class:`~turborec.models.ItemKNN`.

To give implicit's numbers exactly, the weighting repeats implicit's arithmetic operation by
operation (in the input's dtype, then float64), the similarity sums run in float64 in the same
order (so equal scores are equal bits), and a tie at the ``K``-th score is broken as implicit's
heap breaks it (:func:`_implicit_ties`), not by the lower id. Where implicit's own results are
odd, we differ and say so in docs/neighbours.md (liked items returned with score 0 when few
items are reachable; ``ItemItemRecommender.fit`` refusing float32).
"""

import numpy as np
import scipy.sparse as sp

from ..similarity import sparse_dot_topk
from ..similarity._operands import check_number
from .._progress import check_show_progress
from .neighbours import NeighbourModel, _training_rows, check_K

_EXPAND_LIMIT = 1 << 24  # user ids expanded per step when locating first common users


class ItemItemRecommender(NeighbourModel):
    """implicit's ``ItemItemRecommender``: the similarity is ``X.T @ X`` (dot products of item
    columns), each item's ``K`` largest kept, the item itself included.

    Parameters
    ----------
    K : int, default 20
        Entries kept per item (implicit counts the item itself among them).
    num_threads : int, default 0
        implicit's thread count (0: every core); used when ``n_threads`` is None.
    backend : str, optional
        Of the similarity kernel (see :mod:`turborec.backends`).
    n_threads : int, optional
        turborec's thread count; wins over ``num_threads`` when given.

    Attributes
    ----------
    similarity : scipy.sparse.csr_matrix of shape (n_items, n_items)
        float64, indices sorted, as implicit's ``similarity`` (also ``similarity_``).
    user_items_, n_users_, n_items_, backend_, n_threads_
        As in :class:`~turborec.models.ItemKNN`.
    """

    _item_based = True
    _scores_user_items = True

    def __init__(self, K=20, num_threads=0, *, backend=None, n_threads=None):
        self.K = K
        self.num_threads = num_threads
        self.backend = backend
        self.n_threads = n_threads

    @property
    def similarity(self):
        """implicit's name of the fitted similarity matrix (``similarity_``); None before ``fit``."""
        return getattr(self, "similarity_", None)

    def _threads(self):
        if self.n_threads is not None:
            return self.n_threads
        if isinstance(self.num_threads, (bool, np.bool_)) or not isinstance(self.num_threads, (int, np.integer)):
            raise TypeError(f"num_threads: expected an int, got {type(self.num_threads).__name__}")
        if self.num_threads < 0:
            raise ValueError(f"num_threads: expected 0 (every core) or a positive int, got {self.num_threads}")
        return None if self.num_threads == 0 else int(self.num_threads)

    def _weight(self, item_users):
        """implicit's weighted items x users matrix (float64 values) for this model."""
        return _with_data(item_users, item_users.data.astype(np.float64))

    def fit(self, user_items, show_progress=True, callback=None):
        """Compute the pruned item-item similarity as implicit does.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Counts or confidences (float32 is fine: implicit's ``ItemItemRecommender`` itself
            refuses it). Duplicates summed, stored zeros dropped.
        show_progress : bool, default True
            Accepted; no bar is drawn.
        callback : callable, optional
            Accepted; never called.

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        K = check_K(self.K)
        threads = self._threads()
        user_items = _training_rows(user_items)
        weighted = self._weight(user_items.T.tocsr())
        weighted.eliminate_zeros()
        similarity = _implicit_topk(weighted, K, self.backend, threads)
        self._store(similarity, user_items)
        return self


class CosineRecommender(ItemItemRecommender):
    """implicit's ``CosineRecommender``: each item's column of ``X`` scaled to unit Euclidean
    norm, then :class:`ItemItemRecommender` (so similarities are cosines, the item itself 1).

    Parameters
    ----------
    K, num_threads, backend, n_threads
        As in :class:`ItemItemRecommender`.
    """

    def _weight(self, item_users):
        return _normalized(item_users, item_users.data)


class TFIDFRecommender(ItemItemRecommender):
    """implicit's ``TFIDFRecommender``: items are documents and users terms,
    ``w = sqrt(x) * (log(n_items) - log1p(n_items of the user))``, each item then scaled to unit
    norm, then :class:`ItemItemRecommender`.

    Parameters
    ----------
    K, num_threads, backend, n_threads
        As in :class:`ItemItemRecommender`.
    """

    def _weight(self, item_users):
        data = np.sqrt(item_users.data) * _idf(item_users)[item_users.indices]
        return _normalized(item_users, data)


class BM25Recommender(ItemItemRecommender):
    """implicit's ``BM25Recommender``: items are documents and users terms,
    ``w = x (K1 + 1) / (K1 L_i + x) * idf_u`` with ``L_i = (1 - B) + B len_i / mean(len)``
    (``len_i`` the sum of item ``i``'s column), then :class:`ItemItemRecommender` (no
    normalisation).

    Parameters
    ----------
    K : int, default 20
    K1 : float >= 0, default 1.2
    B : float in [0, 1], default 0.75
    num_threads, backend, n_threads
        As in :class:`ItemItemRecommender`.
    """

    def __init__(self, K=20, K1=1.2, B=0.75, num_threads=0, *, backend=None, n_threads=None):
        super().__init__(K, num_threads, backend=backend, n_threads=n_threads)
        self.K1 = K1
        self.B = B

    def _weight(self, item_users):
        K1, B = check_number(self.K1, "K1", 0.0), check_number(self.B, "B", 0.0, 1.0)
        if item_users.nnz == 0:  # no lengths to average (implicit divides 0 by 0 here)
            return _with_data(item_users, item_users.data.astype(np.float64))
        x = item_users.data
        lengths = np.ravel(item_users.sum(axis=1))
        length_norm = (1.0 - B) + B * lengths / lengths.mean()
        rows = np.repeat(np.arange(item_users.shape[0]), np.diff(item_users.indptr))
        data = x * (K1 + 1.0) / (K1 * length_norm[rows] + x) * _idf(item_users)[item_users.indices]
        return _with_data(item_users, data.astype(np.float64))


# ---------------------------------------------------------------------- implicit's weighting


def _with_data(matrix, data):
    out = sp.csr_matrix((data, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)
    out.has_sorted_indices = True
    return out


def _idf(item_users):
    """``log(N) - log1p(df)`` per user: ``N`` items, ``df`` the items the user has."""
    return np.log(float(item_users.shape[0])) - np.log1p(np.bincount(item_users.indices,
                                                                      minlength=item_users.shape[1]))


def _normalized(item_users, data):
    """Each item's row scaled by ``1 / sqrt(sum of its squared values)``: squares in the data's
    own dtype, summed in float64 in user order (implicit's ``normalize``)."""
    rows = np.repeat(np.arange(item_users.shape[0]), np.diff(item_users.indptr))
    norms = np.sqrt(np.bincount(rows, data ** 2, minlength=item_users.shape[0]))
    return _with_data(item_users, (data / norms[rows]).astype(np.float64))


# ---------------------------------------------------------------------- implicit's pruning


def _implicit_topk(item_users, K, backend, n_threads):
    """``item_users @ item_users.T`` pruned to each row's ``K`` largest, ties as implicit breaks
    them, as a CSR with sorted indices (float64)."""
    n = item_users.shape[0]
    top = sparse_dot_topk(item_users, item_users, K + 1, backend=backend, n_threads=n_threads)
    counts = np.diff(top.indptr)
    starts = top.indptr[:-1]
    full = np.flatnonzero(counts > K)
    tied = full[top.data[starts[full] + K - 1] == top.data[starts[full] + K]]
    keep_rows = np.repeat(np.arange(n), counts)
    slot = np.arange(top.indptr[-1]) - np.repeat(starts, counts)
    keep = (slot < K) & ~np.isin(keep_rows, tied)
    rows, cols, vals = keep_rows[keep], top.indices[keep], top.data[keep]
    if len(tied):
        t_rows, t_cols, t_vals = _implicit_ties(item_users, tied, top.data[starts[tied] + K - 1], K, backend, n_threads)
        rows, cols, vals = np.concatenate([rows, t_rows]), np.concatenate([cols, t_cols]), np.concatenate([vals, t_vals])
    out = sp.csr_matrix((vals.astype(np.float64), (rows, cols)), shape=(n, n))
    out.sort_indices()
    return out


def _implicit_ties(item_users, tied, threshold, K, backend, n_threads):
    """The ``K`` entries implicit keeps in rows whose ``K``-th score ties with the next.

    implicit adds item ``i``'s co-occurring items to an accumulator in the order they are first
    reached (users of ``i`` ascending, each user's items ascending), then feeds them to a
    size-``K`` min-heap of ``(score, id)`` in the REVERSE of that order, replacing the heap's
    least pair only on a strictly greater score. With ``t`` the ``K``-th largest score and
    ``g`` the number of scores above it, that keeps every score above ``t`` and, of the scores
    equal to ``t``, those among the first ``K`` entries ``>= t`` of the stream, less the
    ``g - (those above t among them)`` lowest ids (each later larger score evicts the least
    pair, the lowest id of the tied score). First reach of ``j`` from ``i`` is
    ``(first common user, j)``.
    """
    rows, cols, vals = _rows_at_least(item_users, tied, threshold, K, backend, n_threads)
    t = np.repeat(threshold, np.bincount(rows, minlength=len(tied)))
    first = _first_common_user(item_users, tied[rows], cols)
    stream = np.lexsort((-cols, -first, rows))  # per row: latest reached first
    rank = np.empty(len(rows), np.int64)
    rank[stream] = np.arange(len(rows)) - np.searchsorted(rows[stream], rows[stream])
    above = vals > t
    n_above = np.bincount(rows[above], minlength=len(tied))
    early_ties = np.flatnonzero(~above & (rank < K))
    by_id = early_ties[np.lexsort((-cols[early_ties], rows[early_ties]))]  # per row: highest id first
    position = np.arange(len(by_id)) - np.searchsorted(rows[by_id], rows[by_id])
    kept = by_id[position < K - n_above[rows[by_id]]]
    survive = above.copy()
    survive[kept] = True
    return tied[rows[survive]], cols[survive], vals[survive]


def _rows_at_least(item_users, tied, threshold, K, backend, n_threads):
    """Every entry ``>= threshold[r]`` of the rows ``tied`` of the product, as (row position,
    column, value), widening the top-k until each row's last entry falls below its threshold."""
    width = 2 * (K + 1)
    pending = np.arange(len(tied))
    found = []
    while len(pending):
        part = sparse_dot_topk(item_users[tied[pending]], item_users, width, backend=backend, n_threads=n_threads)
        counts = np.diff(part.indptr)
        last = part.data[np.maximum(part.indptr[1:] - 1, 0)]
        done = (counts < min(width, item_users.shape[0])) | (last < threshold[pending]) | (width >= item_users.shape[0])
        positions = np.repeat(pending, counts)
        keep = np.repeat(done, counts) & (part.data >= threshold[positions])
        found.append((positions[keep], part.indices[keep], part.data[keep]))
        pending, width = pending[~done], width * 4
    rows, cols, vals = (np.concatenate(parts) for parts in zip(*found))
    order = np.argsort(rows, kind="stable")
    return rows[order], cols[order], vals[order]


def _first_common_user(item_users, left, right):
    """Per pair ``(left[p], right[p])`` of rows, the lowest column both store (each pair shares one)."""
    indptr, indices = item_users.indptr.astype(np.int64), item_users.indices.astype(np.int64)
    n_cols = item_users.shape[1]
    keys = np.repeat(np.arange(item_users.shape[0], dtype=np.int64), np.diff(indptr)) * n_cols + indices
    lengths = np.diff(indptr)
    swap = lengths[right] < lengths[left]  # expand the shorter row, look its entries up in the other
    expand, probe = np.where(swap, right, left), np.where(swap, left, right)
    out = np.full(len(left), n_cols, np.int64)
    sizes = lengths[expand]
    ends = np.cumsum(sizes)
    a = 0
    while a < len(left):
        done_before = ends[a] - sizes[a]
        b = max(a + 1, int(np.searchsorted(ends, done_before + _EXPAND_LIMIT, side="right")))
        pair = np.repeat(np.arange(a, b), sizes[a:b])
        offset = np.arange(len(pair)) - np.repeat(ends[a:b] - sizes[a:b] - done_before, sizes[a:b])
        users = indices[indptr[expand[pair]] + offset]
        key = probe[pair] * n_cols + users
        at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        hit = keys[at] == key
        np.minimum.at(out, pair[hit], users[hit])
        a = b
    return out
