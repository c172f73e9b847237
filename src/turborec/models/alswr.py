"""ALS-WR: explicit-rating matrix factorisation by alternating least squares with
weighted-lambda regularisation (Zhou, Wilkinson, Schreiber, Pan 2008; Spark MLlib's explicit ALS)."""

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .. import als, selection, sgd
from .._threads import resolve_n_threads
from ..backends import resolve
from ..similarity._operands import check_number
from ._factorisation import DTYPES, _SGDFactorisation
from ._rating_base import RatingPredictor, as_rating_triples, recommend_users


class ALSWR(RatingPredictor):
    """Explicit alternating least squares with weighted-lambda regularisation (ALS-WR).

    Minimises ``sum_{(u,i) rated} (r_ui - mu - x_u . y_i)^2 + regularization * (sum_u n_u
    |x_u|^2 + sum_i n_i |y_i|^2)``, ``n_u`` (``n_i``) the number of ratings of user ``u`` (item
    ``i``), by alternating exact half-steps (:func:`turborec.als.least_squares_explicit`): every
    user's factors given the items', then every item's given the users'. Each half-step
    minimises the objective over one side exactly, so it never increases. ``mu`` is the global
    mean with ``center=True`` and 0 without (Spark does not centre).

    Initialisation: the user factors are computed first, from item factors drawn from
    ``numpy.random.default_rng(random_state)`` (a RandomState is used as it is) as
    ``standard_normal((n_items, factors)) * 0.01``: small, random, the same for a given seed on
    every backend.

    Parameters
    ----------
    factors : int, default 10
        Rank ``k`` (> 0).
    regularization : float, default 0.1
        ``lambda >= 0``, scaled by each row's number of ratings.
    iterations : int, default 10
        Full sweeps (users then items), ``>= 1``.
    random_state : None, int, numpy Generator or RandomState
        Seeds the initial item factors. ``save`` stores a RandomState as None and refuses a
        Generator (it cannot be saved without pickling).
    dtype : {"float32", "float64"}, default "float32"
        Arithmetic of the fit and of the stored factors.
    center : bool, default True
        Fit the ratings minus the global mean and add it back when predicting.
    backend, n_threads
        Backend of the half-steps (native, numba, numpy) and of ``recommend``.

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of shape (n_users, factors), (n_items, factors)
        Zero rows for users or items without training ratings (unknown to ``predict``).
    global_mean_ : float
        Mean of the training ratings (added to predictions only with ``center=True``).
    user_counts_, item_counts_ : int64 ndarray
    rating_scale_ : tuple (low, high)
    backend_ : str
    n_threads_ : int
    """

    def __init__(self, factors=10, regularization=0.1, iterations=10, random_state=None, dtype="float32", *,
                 center=True, backend=None, n_threads=None):
        self.factors, self.regularization, self.iterations = factors, regularization, iterations
        self.random_state, self.dtype, self.center = random_state, dtype, center
        self.backend, self.n_threads = backend, n_threads

    def _check_params(self):
        factors = v.check_k(self.factors, "factors")
        regularization = check_number(self.regularization, "regularization", 0.0)
        iterations = v.check_k(self.iterations, "iterations")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {', '.join(DTYPES)}, got {self.dtype!r}")
        v.as_bool(self.center, "center")
        return factors, regularization, iterations

    def fit(self, data, rating_scale=None, *, callback=None):
        """Fit the factors.

        Parameters
        ----------
        data : Interactions with ratings, or a tuple ``(users, items, ratings)`` of arrays
            As :meth:`turborec.models.BaselineOnly.fit`; every rating counts once (duplicates too).
        rating_scale : tuple (low, high), optional
            The range predictions are clipped to. Default: the lowest and highest training rating.
        callback : callable, optional
            ``callback(iteration, model)`` after each half-step pair (``iteration`` from 0).

        Returns
        -------
        self
        """
        factors, regularization, iterations = self._check_params()
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        users, items, ratings, n_users, n_items, self.rating_scale_ = as_rating_triples(data, rating_scale)
        self.global_mean_ = float(np.mean(ratings))
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)
        dtype = np.dtype(self.dtype)
        values = ratings - self.global_mean_ if self.center else ratings
        by_user = als.as_ratings(_csr(users, items, values, (n_users, n_items)), dtype)
        by_item = als.as_ratings(_csr(items, users, values, (n_items, n_users)), dtype)
        rng = self.random_state
        if not isinstance(rng, np.random.RandomState):
            rng = np.random.default_rng(rng)
        self.item_factors_ = (rng.standard_normal((n_items, factors)) * 0.01).astype(dtype)
        for iteration in range(iterations):
            self.user_factors_ = self._half_step(by_user, self.item_factors_, regularization)
            self.item_factors_ = self._half_step(by_item, self.user_factors_, regularization)
            if callback is not None:
                callback(iteration, self)
        self.backend_ = resolve("als", self.backend).name
        self.n_threads_ = resolve_n_threads(self.n_threads)
        return self

    def _half_step(self, ratings, other, regularization):
        return als.solve_explicit(ratings, other, regularization, self.backend, self.n_threads)

    def _offset(self):
        return self.global_mean_ if self.center else 0.0

    def _estimate(self, users, items, known_user, known_item):
        both = known_user & known_item
        dot = sgd.pair_dots(self.user_factors_, users, self.item_factors_, items, n_threads=self.n_threads)
        return np.where(both, self._offset() + dot, self.global_mean_), ~both

    def recommend(self, users, N=10, *, exclude=None):
        """The ``N`` items with the highest predicted rating ``mu + x_u . y_i``, through
        :func:`turborec.topk_dot` (no users x items matrix).

        Parameters
        ----------
        users : int or array-like of int, shape (n,)
            Indices in ``[0, n_users)``; a user without training ratings ties every item.
        N : int, default 10
        exclude : scipy.sparse matrix of shape (n, n_items), optional
            Items never returned for each user (e.g. the user's training items).

        Returns
        -------
        ids : int32 ndarray of shape (N',) or (n, N'), ``N' = min(N, n_items)``
        scores : float64 ndarray of the same shape
            Unclipped predicted ratings.
        """
        self._check_fitted()
        scalar, users = recommend_users(users, len(self.user_factors_))
        ids, scores = selection.topk_dot(self.user_factors_[users], self.item_factors_, N, exclude=exclude,
                                         backend=self.backend, n_threads=self.n_threads)
        scores = scores.astype(np.float64) + self._offset()
        return (ids[0], scores[0]) if scalar else (ids, scores)

    # save / load: the factorisation models' npz layout, borrowed (not copied)
    save = _SGDFactorisation.save
    load = classmethod(_SGDFactorisation.load.__func__)

    def _fitted_names(self):
        return ("user_factors_", "item_factors_", "user_counts_", "item_counts_")


def _csr(rows, cols, values, shape):
    """A CSR of ``values`` at ``(rows, cols)``, every entry kept (duplicates are separate ratings),
    columns sorted within rows."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((values[order], cols[order], indptr), shape=shape)
