"""Content-based neighbours: ``ContentKNN`` finds each item's neighbours by its features (genres,
tags, TF-IDF tokens) instead of by who used it, so items nobody has interacted with yet are
recommended too. Scoring, ``recommend``, ``explain``, ``similar_items`` and ``save`` / ``load`` are
:class:`~turborec.models.neighbours.NeighbourModel`'s, as for ``ItemKNN``. See docs/hybrid.md.
"""

import scipy.sparse as sp

from .. import _validation as v
from .._progress import check_show_progress
from ..datasets import Interactions
from ..similarity import topk_similarity
from ..similarity._operands import as_operand
from ._base import as_user_items
from .neighbours import NeighbourModel, _training_rows, _weighted, check_options


class ContentKNN(NeighbourModel):
    """Item-item neighbours from item features: each item keeps the ``K`` items whose feature
    rows are most similar to its own, and a user is scored by the items it interacted with,
    ``score(u, i) = sum_j user_items[u, j] * sim[j, i]`` (as :class:`ItemKNN`).

    The catalogue is the rows of ``item_features``: ``user_items`` may have fewer columns (the
    items past them have no interactions yet, "cold" items); they are scored through their
    features like any other item and can be recommended.

    Parameters
    ----------
    item_features : scipy.sparse matrix of shape (n_items, n_features)
        Any format; finite real values (multi-hot labels from
        :func:`turborec.features.multi_hot` or :func:`turborec.datasets.read_item_features`,
        TF-IDF weights from :func:`turborec.features.tfidf_tokens`, embeddings). Row ``i``
        describes item ``i``; an item without features has no neighbours. Never modified.
        It is a constructor argument, not a ``fit`` argument, because the features are part of
        what the model is: ``fit(user_items)`` keeps implicit's signature, so
        :class:`~turborec.models.Hybrid`, :func:`turborec.evaluate` and
        :func:`turborec.cross_validate` fit and refit a ContentKNN like every other model.
    K : int, default 20
        Neighbours kept per item (the item itself is not one of them).
    measure : {"cosine", "dot", "jaccard", "asymmetric_cosine"}, default "cosine"
        Of :func:`turborec.similarity.topk_similarity`, over the feature rows (``"jaccard"``
        compares the sets of features, values ignored).
    weighting : {None, "tfidf", "bm25"}, default None
        Weight the feature matrix first (items are the documents, features the terms: a rare
        genre counts for more than a common one); needs non-negative values.
    K1, B : float, default 1.2, 0.75
        BM25's parameters.
    alpha : float in [0, 1], default 0.5
        Exponent of ``asymmetric_cosine``.
    shrinkage : float >= 0, default 0
        Multiplies a similarity by ``n / (n + shrinkage)``, ``n`` the features two items share.
    threshold : float, optional
        Similarities below it (after shrinkage) are not kept.
    backend : str, optional
        Of the similarity kernel (``"native"``, ``"numba"``, ``"numpy"``, ``"auto"``).
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Row ``j``: item ``j``'s neighbours, the weights of ``sim[j, .]``.
    user_items_ : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The training matrix, widened with empty columns for the cold items.
    n_users_, n_items_ : int
        ``n_items_`` is ``item_features.shape[0]``.
    backend_ : str
    n_threads_ : int

    Notes
    -----
    ``recommend``, ``score`` and ``explain`` take users' rows of ``n_items_`` columns, or fewer
    (the cold items' columns left out). Only items reached through a neighbour are recommended;
    slots past them are -1. In a :class:`~turborec.models.Hybrid`, every model is fitted on the
    same matrix, so give it all ``n_items_`` columns (empty ones for cold items). ``save`` stores
    ``item_features`` as a CSR matrix.

    Examples
    --------
    >>> from turborec.datasets import read_item_features, read_movielens_file  # doctest: +SKIP
    >>> train = read_movielens_file("ml-100k/u.data")  # doctest: +SKIP
    >>> genres, _, _ = read_item_features("ml-100k/items.tsv", like=train)  # doctest: +SKIP
    >>> ids, scores = ContentKNN(genres, K=50).fit(train).recommend(0, train, N=10)  # doctest: +SKIP
    """

    _item_based = True
    _scores_user_items = True
    _matrix_params = ("item_features",)

    def __init__(self, item_features, K=20, measure="cosine", *, weighting=None, K1=1.2, B=0.75, alpha=0.5,
                 shrinkage=0.0, threshold=None, backend=None, n_threads=None):
        self.item_features = item_features
        self.K = K
        self.measure = measure
        self.weighting = weighting
        self.K1 = K1
        self.B = B
        self.alpha = alpha
        self.shrinkage = shrinkage
        self.threshold = threshold
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, user_items, show_progress=True, callback=None):
        """Compute each item's ``K`` nearest items by features and keep the training rows.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items or fewer), or Interactions
            Interaction strengths; columns past its width are the cold items. Other sparse
            formats converted with a ParameterWarning, duplicates summed, stored zeros dropped.
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
        features = _checked_features(self.item_features, self.weighting)
        user_items = _training_rows(user_items)
        n_items = features.shape[0]
        if user_items.shape[1] > n_items:
            raise ValueError(f"user_items: {user_items.shape[1]} item columns, more than the {n_items} items "
                             "(rows) of item_features")
        documents = _weighted(features, self.weighting, self.K1, self.B)
        similarity = topk_similarity(documents, K, measure=self.measure, alpha=self.alpha, shrinkage=self.shrinkage,
                                     threshold=self.threshold, backend=self.backend, n_threads=self.n_threads)
        self._store(similarity, _with_columns(user_items, n_items))
        return self

    def _liked(self, users, user_items):
        """As ``RecommenderBase._liked``, after adding the cold items' columns to narrower rows."""
        if isinstance(user_items, Interactions):
            n_users, n_items = user_items.shape
            if n_users == self.n_users_ and n_items < self.n_items_:
                user_items = _with_columns(as_user_items(user_items), self.n_items_)[users]
        elif sp.issparse(user_items):  # converted here, so a ParameterWarning points at the caller's line
            user_items = _with_columns(as_user_items(user_items, stacklevel=4), self.n_items_)
        return super()._liked(users, user_items)

    def _explained_row(self, user, user_items):
        if sp.issparse(user_items):
            user_items = _with_columns(as_user_items(user_items, stacklevel=4), self.n_items_)
        return super()._explained_row(user, user_items)


def _checked_features(item_features, weighting):
    """``item_features`` as a canonical float CSR (a copy when anything changes), checked."""
    features = as_operand(v.as_csr(item_features, "item_features"), "item_features")
    n_items, n_features = features.shape
    if n_items == 0 or n_features == 0:
        raise ValueError(f"item_features: expected at least one item (row) and one feature (column), "
                         f"got shape {features.shape}")
    v.check_id_range(n_items, "item_features", "rows")
    if weighting is not None and features.nnz and features.data.min() < 0:
        raise ValueError(f"item_features: expected non-negative values with weighting={weighting!r} (it treats "
                         f"them as counts), got {features.data.min()}")
    return features


def _with_columns(matrix, n_columns):
    """A CSR ``matrix`` widened with empty columns to ``n_columns`` (itself when not narrower)."""
    if matrix.shape[1] >= n_columns:
        return matrix  # too wide: the caller's shape check names it
    nnz = matrix.indptr[-1]
    return sp.csr_matrix((matrix.data[:nnz], matrix.indices[:nnz], matrix.indptr), shape=(matrix.shape[0], n_columns))
