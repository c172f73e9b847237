"""Recommendations from user and item factors trained anywhere."""

import numpy as np

from .. import _validation as v
from .. import selection as _topk
from .._progress import check_show_progress
from ._base import RecommenderBase, as_user_items, resolve_backend_and_threads


class FactorModel(RecommenderBase):
    """Serve given factors: score(u, i) = user_factors[u] . item_factors[i].

    Scores are computed with :func:`turborec.topk_dot`, so no (users x items) matrix is built.
    The model is ready at construction (``fit`` learns nothing); ``set_params`` re-validates
    the factors and re-resolves the backend.

    Parameters
    ----------
    user_factors : array of shape (n_users, n_factors), float32 or float64
    item_factors : array of shape (n_items, n_factors), same dtype
    backend, n_threads
        As in :func:`turborec.topk_dot`.

    Attributes
    ----------
    n_users_, n_items_ : int
    backend_ : str
    n_threads_ : int
    """

    def __init__(self, user_factors, item_factors, backend=None, n_threads=None):
        self._set(user_factors, item_factors, backend, n_threads)

    def _set(self, user_factors, item_factors, backend, n_threads):
        """Validate everything first, then assign: a failed call changes nothing."""
        user_factors = v.as_float_matrix(user_factors, "user_factors", np)
        item_factors = v.as_float_matrix(item_factors, "item_factors", np)
        if user_factors.shape[1] != item_factors.shape[1]:
            raise ValueError(f"item_factors: expected {user_factors.shape[1]} columns like user_factors, "
                             f"got shape {item_factors.shape}")
        if user_factors.dtype != item_factors.dtype:
            raise TypeError(f"item_factors: expected dtype {user_factors.dtype} like user_factors, "
                            f"got {item_factors.dtype}")
        for name, factors in (("user_factors", user_factors), ("item_factors", item_factors)):
            if not np.isfinite(factors).all():
                raise ValueError(f"{name}: contains NaN or inf")
        resolved = resolve_backend_and_threads(backend, n_threads)
        self.user_factors, self.item_factors = user_factors, item_factors
        self.backend, self.n_threads = backend, n_threads
        self.n_users_, self.n_items_ = len(user_factors), len(item_factors)
        self.backend_, self.n_threads_ = resolved

    def set_params(self, **params):
        """Set parameters, re-validating the factors and re-resolving backend and threads.

        Parameters
        ----------
        **params
            Any of ``user_factors``, ``item_factors``, ``backend``, ``n_threads``.

        Returns
        -------
        self
        """
        direct, _ = self._split_params(params)  # factor arrays have no nested parameters
        self._set(**{**self.get_params(deep=False), **direct})
        return self

    def fit(self, user_items=None, show_progress=True, callback=None):
        """Nothing to learn; kept for the common API.

        Parameters
        ----------
        user_items : scipy.sparse matrix or Interactions of shape (n_users, n_items), optional
            Checked against the factors' shape when given.
        show_progress : bool, default True
            Nothing to report.
        callback : callable, optional
            Never called.

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        if user_items is not None:
            shape = as_user_items(user_items).shape
            if shape != (self.n_users_, self.n_items_):
                raise ValueError(f"user_items: expected shape ({self.n_users_}, {self.n_items_}) like the factors, "
                                 f"got {shape}")
        return self

    def _rank(self, users, N, exclude, candidates):
        return _topk.topk_dot(self.user_factors[users], self.item_factors, N, exclude=exclude, candidates=candidates,
                              backend=self.backend_, n_threads=self.n_threads_)

    def _score(self, users):
        # In the factors' dtype, rounded to float32 once at the end, as topk_dot's scores are.
        return (self.user_factors[users] @ self.item_factors.T).astype(np.float32)
