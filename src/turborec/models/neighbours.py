"""Neighbourhood collaborative filtering on implicit feedback: ``ItemKNN`` and ``UserKNN``.

``ItemKNN`` keeps each item's ``K`` most similar other items (:func:`turborec.similarity.
topk_similarity` over the items x users matrix) and scores a user as implicit's item-item models
do: ``score(u, .) = user_items[u] @ similarity``. ``UserKNN`` keeps each user's ``K`` most
similar other users and scores ``score(u, .) = similarity[u] @ user_items_train``.
``recommend`` scores a whole block of users in one sparse product with the exclusions inside it
and turborec's top-k (``_knn_scoring.top_of_product``); implicit loops over users in Python.

implicit 0.7's own classes, with its exact definitions, are in :mod:`.implicit_knn`. See
docs/neighbours.md.
"""


import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._progress import check_show_progress
from .._threads import resolve_n_threads
from ..backends import resolve
from ..datasets import Interactions
from ..similarity import MEASURES, bm25_weight, tfidf_weight, topk_similarity
from ..similarity._operands import check_number
from ._base import RecommenderBase, as_user_items, open_saved, saved_params
from ._knn_scoring import top_of_product, top_of_rows

WEIGHTINGS = (None, "tfidf", "bm25")


class NeighbourModel(RecommenderBase):
    """What the neighbourhood models share: the fitted ``similarity_`` and training rows, the
    ``similar_*`` and ``explain`` queries, ``save`` / ``load``.

    Subclasses set ``_item_based`` and implement ``fit`` (which calls ``_store``).
    """

    _item_based = True
    _ranks_reachable_only = True  # recommend returns only items a neighbour reaches (as implicit), then -1
    _matrix_params = ()  # constructor parameters that are sparse matrices: saved as arrays, not in the JSON

    def _threads(self):
        """The ``n_threads`` argument the kernels get (implicit's classes map ``num_threads``)."""
        return self.n_threads

    def _store(self, similarity, user_items):
        self.similarity_ = similarity.tocsr()
        self.similarity_.sort_indices()
        self.user_items_ = user_items
        self.n_users_, self.n_items_ = user_items.shape
        self.backend_ = resolve("similarity", self.backend).name
        self.n_threads_ = resolve_n_threads(self._threads())
        # The basis the kernel multiplies by: rows are the columns of the product.
        self._basis = (self.similarity_.T if self._item_based else user_items.T).tocsr()

    # ------------------------------------------------------------------ scoring

    def _queries(self, users, rows):
        if not self._item_based:
            return self.similarity_[users]
        rows = self.user_items_[users] if rows is None else rows
        data = rows.data[: rows.indptr[-1]]
        if not np.isfinite(data).all():
            raise ValueError("user_items: contains NaN or inf values")
        return rows

    def _rank(self, users, N, exclude, candidates, rows=None):
        return top_of_product(self._queries(users, rows), self._basis, N, exclude, candidates, self.backend_,
                              self.n_threads_)

    def _score(self, users, rows=None):
        product = self._queries(users, rows).astype(np.float64) @ self._basis.T.astype(np.float64)
        return np.asarray(product.todense(), dtype=np.float32)

    # ------------------------------------------------------------------ neighbours

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None):
        """The items most similar to one item (1-D results) or to each of an array (2-D).

        Parameters
        ----------
        itemid : int or array-like of int
        N : int
            Results have ``min(N, n_items)`` columns (``min(N, len(items))`` with ``items``); -1
            and -FLT_MAX fill the slots past the item's stored neighbours.
        recalculate_item : bool
            Not supported (NotImplementedError), as in implicit.
        item_users : ignored
            implicit's argument for ``recalculate_item``.
        filter_items, items : array-like of int, optional
            Item ids never returned / the only ids returned (at most one of them).

        Returns
        -------
        ids : int32 ndarray, best first, ties to the lower id
        scores : float32 ndarray, the stored similarities
        """
        if not self._item_based:
            raise NotImplementedError(f"{type(self).__name__} keeps user neighbours: use similar_users, "
                                      "or ItemKNN for similar items")
        return self._similar(itemid, N, recalculate_item, filter_items, items, "itemid", "filter_items", "items",
                             "recalculate_item")

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """The users most similar to one user (1-D results) or to each of an array (2-D).

        Parameters
        ----------
        userid : int or array-like of int
        N : int
            Results have ``min(N, n_users)`` columns (``min(N, len(users))`` with ``users``).
        filter_users, users : array-like of int, optional
            User ids never returned / the only ids returned (at most one of them).

        Returns
        -------
        ids : int32 ndarray, best first, ties to the lower id
        scores : float32 ndarray
        """
        if self._item_based:
            raise NotImplementedError(f"{type(self).__name__} keeps item neighbours: use similar_items, "
                                      "or UserKNN for similar users")
        return self._similar(userid, N, False, filter_users, users, "userid", "filter_users", "users", None)

    def _similar(self, ids, N, recalculate, filtered, only, id_name, filter_name, only_name, recalculate_name):
        self._check_fitted()
        if recalculate:
            raise NotImplementedError(f"{recalculate_name}: not supported by {type(self).__name__}")
        n = self.similarity_.shape[0]
        scalar = np.ndim(ids) == 0
        queried = np.atleast_1d(np.asarray(ids))
        if queried.ndim != 1 or (queried.size and not np.issubdtype(queried.dtype, np.integer)):
            raise TypeError(f"{id_name}: expected an int or a 1-D array of ints, got {np.asarray(ids).dtype} "
                            f"of shape {np.shape(ids)}")
        if queried.size and (queried.min() < 0 or queried.max() >= n):
            bad = queried.min() if queried.min() < 0 else queried.max()
            raise IndexError(f"{id_name}: {bad} out of range [0, {n})")
        N = v.check_k(N, "N")
        if filtered is not None and only is not None:
            raise ValueError(f"{filter_name} and {only_name}: give at most one of them")
        allowed, width = None, min(N, n)
        if filtered is not None:
            allowed = np.ones(n, bool)
            allowed[v.as_candidates(filtered, n, filter_name)] = False
        elif only is not None:
            pool = v.as_candidates(only, n, only_name)
            allowed = np.zeros(n, bool)
            allowed[pool] = True
            width = min(N, len(pool))
        found, scores = top_of_rows(self.similarity_, queried, width, allowed)
        return (found[0], scores[0]) if scalar else (found, scores)

    def explain(self, userid, user_items, itemid, N=10):
        """Why ``itemid`` scores what it scores for ``userid``: the neighbours that contributed.

        For ``ItemKNN`` the contributions are the user's items ``j`` that have ``itemid`` among
        their neighbours, each ``user_items[u, j] * similarity[j, itemid]``; for ``UserKNN``
        the user's neighbours ``v`` that interacted with ``itemid``, each
        ``similarity[u, v] * user_items_train[v, itemid]``. Their sum is the score
        ``recommend`` ranks by (liked items unfiltered), computed in float64.

        Parameters
        ----------
        userid : int
        user_items : scipy.sparse.csr_matrix or Interactions
            The whole users x items matrix (implicit's ALS ``explain`` convention: row
            ``userid`` is read), or the user's row alone (one row). ``UserKNN`` reads its
            neighbours from the fitted model and only checks the shape.
        itemid : int
        N : int
            Contributions listed.

        Returns
        -------
        total_score : float
        top_contributions : list of (id, contribution)
            Up to ``N`` item ids (``ItemKNN``) or user ids (``UserKNN``), largest contribution
            first, ties to the lower id.
        None
            In the place of implicit ALS's ``user_weights`` (nothing to cache here).
        """
        self._check_fitted()
        if np.ndim(userid) != 0 or np.ndim(itemid) != 0:
            raise TypeError("userid, itemid: explain takes one user and one item (ints)")
        _, users = self._users(userid)
        if not isinstance(itemid, (int, np.integer)) or isinstance(itemid, (bool, np.bool_)):
            raise TypeError(f"itemid: expected an int, got {type(itemid).__name__}")
        if not 0 <= itemid < self.n_items_:
            raise IndexError(f"itemid: {itemid} out of range [0, {self.n_items_})")
        N = v.check_k(N, "N")
        row = self._explained_row(int(users[0]), user_items)
        if self._item_based:
            column = self.similarity_[:, int(itemid)].toarray().ravel().astype(np.float64)
        else:
            column = self.user_items_[:, int(itemid)].toarray().ravel().astype(np.float64)
        ids = row.indices[: row.indptr[-1]]
        weights = row.data[: row.indptr[-1]].astype(np.float64)
        reached = column[ids] != 0
        ids, parts = ids[reached], weights[reached] * column[ids[reached]]
        total = float(np.sum(parts)) if len(parts) else 0.0
        order = np.lexsort((ids, -parts))[:N]
        return total, [(int(ids[i]), float(parts[i])) for i in order], None

    def _explained_row(self, user, user_items):
        if not self._item_based:
            if user_items is not None:
                self._liked(np.arange(self.n_users_), user_items)
            return self.similarity_[user]
        if isinstance(user_items, Interactions):
            return self._liked(np.array([user]), user_items)
        matrix = as_user_items(user_items, stacklevel=4)
        if matrix.shape[0] == 1 and matrix.shape[1] == self.n_items_:
            return matrix
        if matrix.shape != (self.n_users_, self.n_items_):
            raise ValueError(f"user_items: expected shape ({self.n_users_}, {self.n_items_}) (every user) or "
                             f"(1, {self.n_items_}) (the user's row), got {matrix.shape}")
        return matrix[user]

    # ------------------------------------------------------------------ persistence

    def save(self, file):
        """Save parameters and fitted state to an ``.npz`` file (no pickled objects).

        Parameters
        ----------
        file : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it (as ``numpy.savez`` does).
        """
        params = self.get_params(deep=False)
        arrays = {"class": np.array(type(self).__name__)}
        for name in self._matrix_params:
            arrays.update(_matrix_arrays(name, v.as_csr(params.pop(name), name)))
        arrays["params"] = saved_params(params)
        if hasattr(self, "similarity_"):
            for name, matrix in (("similarity", self.similarity_), ("user_items", self.user_items_)):
                arrays.update(_matrix_arrays(name, matrix))
        np.savez(file, **arrays)

    @classmethod
    def load(cls, file):
        """A model saved by :meth:`save` (read with ``allow_pickle=False``).

        Parameters
        ----------
        file : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it.

        Returns
        -------
        model of this class, fitted if it was saved fitted
        """
        with open_saved(file, cls) as (data, params):
            params.update({name: _saved_matrix(data, name) for name in cls._matrix_params})
            model = cls(**params)
            if "similarity_data" in data:
                model._store(_saved_matrix(data, "similarity"), _saved_matrix(data, "user_items"))
        return model

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_basis", None)  # rebuilt from similarity_
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "similarity_" in state:
            self._basis = (self.similarity_.T if self._item_based else self.user_items_.T).tocsr()


def _matrix_arrays(name, matrix):
    """The arrays ``save`` stores for one CSR matrix."""
    return {f"{name}_data": matrix.data, f"{name}_indices": matrix.indices, f"{name}_indptr": matrix.indptr,
            f"{name}_shape": np.array(matrix.shape)}


def _saved_matrix(data, name):
    """The CSR matrix ``save`` stored as ``name``."""
    return sp.csr_matrix((data[f"{name}_data"], data[f"{name}_indices"], data[f"{name}_indptr"]),
                         shape=tuple(data[f"{name}_shape"]))


def check_K(K):
    return v.check_k(K, "K")


def _check_measure(measure):
    if not isinstance(measure, str):
        raise TypeError(f"measure: expected a str, got {type(measure).__name__}")
    if measure not in MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(MEASURES)}; got {measure!r}")


def check_options(model):
    """``model.K`` checked, and its ``measure``, ``weighting``, ``K1`` and ``B`` (raises on a bad
    one), for the neighbour models' ``fit``."""
    K = check_K(model.K)
    _check_measure(model.measure)
    if model.weighting not in WEIGHTINGS:
        raise ValueError(f"weighting: expected one of None, 'tfidf', 'bm25'; got {model.weighting!r}")
    check_number(model.K1, "K1", 0.0)
    check_number(model.B, "B", 0.0, 1.0)
    return K


def _weighted(X, weighting, K1, B):
    """``X`` (documents x terms) weighted as implicit's recommenders weight it (``weighting``
    checked by :func:`check_options`)."""
    if weighting == "tfidf":
        return tfidf_weight(X)
    if weighting == "bm25":
        return bm25_weight(X, K1=K1, B=B)
    return X


def _training_rows(user_items):
    """The fitted users x items CSR: duplicates summed, stored zeros dropped, float32 or float64
    kept (other dtypes become float64), checked finite; never the caller's matrix."""
    user_items = as_user_items(user_items, stacklevel=4)
    dtype = user_items.dtype if user_items.dtype in (np.float32, np.float64) else np.float64
    nnz = user_items.indptr[-1]
    user_items = sp.csr_matrix((user_items.data[:nnz].astype(dtype), user_items.indices[:nnz].copy(),
                                user_items.indptr.copy()), shape=user_items.shape)
    user_items.sum_duplicates()
    user_items.eliminate_zeros()
    if not np.isfinite(user_items.data).all():
        raise ValueError("user_items: contains NaN or inf values")
    return user_items


class _KNN(NeighbourModel):
    """The parameters and ``fit`` of ItemKNN and UserKNN (they differ in which rows are compared)."""

    _scores_user_items = True

    def __init__(self, K=20, measure="cosine", *, weighting=None, K1=1.2, B=0.75, alpha=0.5, shrinkage=0.0,
                 backend=None, n_threads=None):
        self.K = K
        self.measure = measure
        self.weighting = weighting
        self.K1 = K1
        self.B = B
        self.alpha = alpha
        self.shrinkage = shrinkage
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, user_items, show_progress=True, callback=None):
        """Compute and keep each row's ``K`` most similar other rows.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Interaction strengths (counts, confidences); other sparse formats converted with a
            ParameterWarning, duplicates summed, stored zeros dropped.
        show_progress : bool, default True
            Accepted for implicit compatibility; no bar is drawn (one kernel call).
        callback : callable, optional
            Accepted for implicit compatibility; never called.

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        K = check_options(self)
        user_items = _training_rows(user_items)
        documents = user_items.T.tocsr() if self._item_based else user_items
        documents = _weighted(documents, self.weighting, self.K1, self.B)
        similarity = topk_similarity(documents, K, measure=self.measure, alpha=self.alpha, shrinkage=self.shrinkage,
                                     backend=self.backend, n_threads=self.n_threads)
        self._store(similarity, user_items)
        return self


class ItemKNN(_KNN):
    """Item-item neighbours: each item keeps its ``K`` most similar other items, and a user is
    scored by the items it interacted with, ``score(u, i) = sum_j user_items[u, j] * sim[j, i]``.

    Parameters
    ----------
    K : int, default 20
        Neighbours kept per item (the item itself is not one of them).
    measure : {"cosine", "dot", "jaccard", "asymmetric_cosine"}, default "cosine"
        Of :func:`turborec.similarity.topk_similarity`, over each item's vector of users.
    weighting : {None, "tfidf", "bm25"}, default None
        Weight the items x users matrix first (items are the documents, users the terms), as
        implicit's ``TFIDFRecommender`` and ``BM25Recommender`` do
        (:func:`turborec.similarity.tfidf_weight` / ``bm25_weight``).
    K1, B : float, default 1.2, 0.75
        BM25's parameters (implicit's recommender defaults).
    alpha : float in [0, 1], default 0.5
        Exponent of ``asymmetric_cosine``.
    shrinkage : float >= 0, default 0
        Of :func:`~turborec.similarity.topk_similarity`.
    backend : str, optional
        Of the similarity kernel (``"native"``, ``"numba"``, ``"numpy"``, ``"auto"``).
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Row ``j``: item ``j``'s neighbours, the weights of ``sim[j, .]``.
    user_items_ : scipy.sparse.csr_matrix
        The training matrix (``score`` reads users' rows from it when not given).
    n_users_, n_items_ : int
    backend_ : str
    n_threads_ : int

    Notes
    -----
    ``recommend`` scores each user from its row of ``user_items`` as passed (so a user's new
    interactions count at once, and ``recalculate_user`` is accepted and changes nothing). Only
    items reached through a neighbour are recommended; slots past them are -1, as in implicit.
    """

    _item_based = True


class UserKNN(_KNN):
    """User-user neighbours: each user keeps its ``K`` most similar other users, and is scored by
    what they interacted with, ``score(u, i) = sum_v sim[u, v] * user_items_train[v, i]``.

    Parameters
    ----------
    K, measure, weighting, K1, B, alpha, shrinkage, backend, n_threads
        As in :class:`ItemKNN`, with users' vectors of items compared (users are the documents
        of ``weighting``).

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_users, n_users)
    user_items_ : scipy.sparse.csr_matrix
        The training matrix, which the neighbours' items are read from.
    n_users_, n_items_ : int
    backend_ : str
    n_threads_ : int

    Notes
    -----
    ``recommend`` reads ``user_items`` only to filter liked items; the neighbours are those of
    the fitted users (``recalculate_user=True`` raises NotImplementedError).
    """

    _item_based = False
    _scores_user_items = False

    def _rank(self, users, N, exclude, candidates, rows=None):
        return super()._rank(users, N, exclude, candidates)

    def _score(self, users, rows=None):
        return super()._score(users)
