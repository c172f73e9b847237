"""Recommendations from user and item factors trained anywhere."""

import numpy as np

from .. import _validation as v
from .. import selection as _topk
from ._base import RecommenderBase, resolve_backend_and_threads


class FactorModel(RecommenderBase):
    """Serve given factors: score(u, i) = user_factors[u] . item_factors[i].

    Scores are computed with :func:`turborec.topk_dot`, so no (users x items) matrix is built.

    Parameters
    ----------
    user_factors : array of shape (n_users, n_factors), float32 or float64
    item_factors : array of shape (n_items, n_factors), same dtype
    backend, n_threads
        As in :func:`turborec.topk_dot`.
    """

    def __init__(self, user_factors, item_factors, backend=None, n_threads=None):
        self.user_factors = v.as_float_matrix(user_factors, "user_factors", np)
        self.item_factors = v.as_float_matrix(item_factors, "item_factors", np)
        if self.user_factors.shape[1] != self.item_factors.shape[1]:
            raise ValueError(f"item_factors: expected {self.user_factors.shape[1]} columns like user_factors, "
                             f"got shape {self.item_factors.shape}")
        if self.user_factors.dtype != self.item_factors.dtype:
            raise TypeError(f"item_factors: expected dtype {self.user_factors.dtype} like user_factors, "
                            f"got {self.item_factors.dtype}")
        for name, factors in (("user_factors", self.user_factors), ("item_factors", self.item_factors)):
            if not np.isfinite(factors).all():
                raise ValueError(f"{name}: contains NaN or inf")
        self.backend, self.n_threads = backend, n_threads
        self.n_users_, self.n_items_ = len(self.user_factors), len(self.item_factors)
        self.backend_, self.n_threads_ = resolve_backend_and_threads(backend, n_threads)

    def fit(self, user_items=None, show_progress=True, callback=None):
        """Nothing to learn; kept for the common API."""
        return self

    def _rank(self, users, N, exclude, candidates):
        return _topk.topk_dot(self.user_factors[users], self.item_factors, N, exclude=exclude, candidates=candidates,
                              backend=self.backend_, n_threads=self.n_threads_)
