"""What every turborec recommender shares: the implicit 0.7 ``RecommenderBase`` surface.

``recommend(userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
recalculate_user=False, items=None)`` takes a scalar user id (1-D results) or an array of ids
(2-D results), with ``user_items`` holding those users' rows of the user x item matrix. Slots
with no eligible item left carry id -1 and score -FLT_MAX (implicit's sink value).
"""

import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._threads import resolve_n_threads
from ..backends import resolve
from ..exceptions import ParameterWarning

SINK_SCORE = float(np.finfo(np.float32).min)




def as_user_items(user_items, name="user_items"):
    """A CSR matrix; other sparse formats are converted with a ParameterWarning."""
    if not sp.issparse(user_items):
        raise TypeError(f"{name}: expected a scipy.sparse CSR matrix (users x items), got {type(user_items).__name__}")
    if user_items.format != "csr":
        warnings.warn(f"{name}: got a {user_items.format.upper()} matrix; converting to CSR (pass CSR to avoid the copy)",
                      ParameterWarning, stacklevel=3)
        user_items = user_items.tocsr()
    return user_items


def resolve_backend_and_threads(backend, n_threads):
    """The backend name and thread count a model runs with (its ``backend_``, ``n_threads_``)."""
    return resolve("selection", backend).name, resolve_n_threads(n_threads)


class RecommenderBase:
    """Base of turborec recommenders: subclasses implement ``fit`` and ``_rank``."""

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """Top-``N`` items for one user (1-D results) or an array of users (2-D results).

        Parameters
        ----------
        userid : int or array-like of int
        user_items : scipy.sparse.csr_matrix of shape (len(userid), n_items)
            The users' rows of the interaction matrix (needed to filter liked items).
        N : int
        filter_already_liked_items : bool
            Never return items stored in the user's row of ``user_items``.
        filter_items : array-like of int, optional
            Item ids never returned.
        recalculate_user : bool
            Models that cannot recompute a user from ``user_items`` raise NotImplementedError.
        items : array-like of int, optional
            Rank only these item ids (cannot be combined with ``filter_items``).

        Returns
        -------
        ids : int32 array of shape (N,) or (len(userid), N)
        scores : float32 array of the same shape
        """
        self._check_fitted()
        scalar = np.ndim(userid) == 0
        users = np.atleast_1d(np.asarray(userid))
        if users.size and not np.issubdtype(users.dtype, np.integer):
            raise TypeError(f"userid: expected int user ids, got dtype {users.dtype}")
        if users.ndim != 1:
            raise ValueError(f"userid: expected an int or a 1-D array, got shape {np.shape(userid)}")
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            bad = users.min() if users.min() < 0 else users.max()
            raise IndexError(f"userid: {bad} out of range [0, {self.n_users_})")
        N = v.check_k(N, "N")
        if recalculate_user:
            raise NotImplementedError(f"{type(self).__name__} cannot recalculate users")
        if filter_items is not None and items is not None:
            raise ValueError("filter_items and items: give at most one of them")
        exclude = None
        if filter_already_liked_items:
            user_items = as_user_items(user_items)
            if user_items.shape != (len(users), self.n_items_):
                raise ValueError(f"user_items: expected shape ({len(users)}, {self.n_items_}) (the rows of userid), "
                                 f"got {user_items.shape}")
            exclude = user_items
        if filter_items is not None:
            banned = v.as_candidates(filter_items, self.n_items_, "filter_items")
            items = np.setdiff1d(np.arange(self.n_items_), banned)
        candidates = None if items is None else v.as_candidates(items, self.n_items_, "items")
        ids, scores = self._rank(users, N, exclude, candidates)
        ids, scores = _pad(ids, scores, N)
        return (ids[0], scores[0]) if scalar else (ids, scores)

    def _check_fitted(self):
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")


def _pad(ids, scores, N):
    """Width-N int32 ids / float32 scores; empty slots carry -1 and the sink score."""
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    if ids.shape[1] < N:
        extra = N - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, extra)))
    scores[ids < 0] = SINK_SCORE
    return ids, scores
