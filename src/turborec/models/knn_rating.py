"""Surprise 1.1's k-NN rating predictors: ``KNNBasic``, ``KNNWithMeans``, ``KNNWithZScore`` and
``KNNBaseline``.

The similarity matrix is :func:`turborec.similarity.corated_similarity` (Surprise's measures,
equal to its matrices). The neighbours' aggregation is
:func:`turborec.knn_rating.knn_aggregate` (the ``k`` that ``heapq.nlargest`` keeps, ties
included), over per-rating values (rating, deviation from a mean, z-score or baseline
residual) computed once at ``fit``. Definitions: docs/ratings.md.
"""

import numbers

import numpy as np
import scipy.sparse as sp

from ..knn_rating import knn_aggregate
from ..similarity import corated_similarity
from .baseline_only import check_bsl_options, fit_biases, surprise_order
from ._rating_base import RatingPredictor, as_rating_triples

SIM_NAMES = {"cosine": "corated_cosine", "msd": "msd", "pearson": "pearson", "pearson_baseline": "pearson_baseline"}
SIM_OPTION_NAMES = ("name", "user_based", "min_support", "shrinkage")


def check_sim_options(sim_options):
    """``(name, user_based, min_support, shrinkage)`` of ``sim_options`` with Surprise's defaults.

    Surprise's defaults: ``{"name": "msd", "user_based": True, "min_support": 1,
    "shrinkage": 100}``; names are case-insensitive, as in Surprise.
    """
    if sim_options is None:
        sim_options = {}
    if not isinstance(sim_options, dict):
        raise TypeError(f"sim_options: expected a dict, got {type(sim_options).__name__}")
    unknown = sorted(set(map(str, sim_options)) - set(SIM_OPTION_NAMES))
    if unknown:
        raise ValueError(f"sim_options: unknown option(s) {', '.join(map(repr, unknown))}; "
                         f"valid options: {', '.join(SIM_OPTION_NAMES)}")
    name = sim_options.get("name", "msd")
    if not isinstance(name, str) or name.lower() not in SIM_NAMES:
        raise ValueError(f"sim_options['name']: wrong sim name {name!r}; allowed values are "
                         f"{', '.join(SIM_NAMES)}")
    min_support = sim_options.get("min_support", 1)
    if isinstance(min_support, bool) or not isinstance(min_support, numbers.Integral) or min_support < 0:
        raise ValueError(f"sim_options['min_support']: expected an int >= 0, got {min_support!r}")
    shrinkage = sim_options.get("shrinkage", 100)
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, numbers.Real) or not shrinkage >= 0:
        raise ValueError(f"sim_options['shrinkage']: expected a number >= 0, got {shrinkage!r}")
    return name.lower(), bool(sim_options.get("user_based", True)), int(min_support), float(shrinkage)


def _refuse_repeats(users, items, n_items):
    """A ValueError naming a (user, item) pair rated more than once. Surprise's similarities count
    every rating of a repeated pair, a sparse matrix sums them: rather than answer differently,
    the k-NN models take one rating per pair."""
    keys = np.sort(users.astype(np.int64) * n_items + items)
    repeated = keys[1:][keys[1:] == keys[:-1]]
    if len(repeated):
        user, item = divmod(int(repeated[0]), n_items)
        raise ValueError(f"data: {len(np.unique(repeated))} (user, item) pairs are rated more than once (one: "
                         f"user {user}, item {item}); the k-NN models need one rating per pair: drop the repeats")


def _check_k(k, min_k):
    for name, value, low in (("k", k, 1), ("min_k", min_k, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: expected an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    if min_k > k:
        raise ValueError(f"min_k: expected min_k <= k ({k}), got {min_k}")


class _KNNRating(RatingPredictor):
    """What the four k-NN predictors share; subclasses set ``_kind``."""

    _kind = "basic"

    def __init__(self, k=40, min_k=1, sim_options=None, verbose=True, backend=None, n_threads=None, *,
                 bsl_options=None):
        self.k = k
        self.min_k = min_k
        self.sim_options = sim_options
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads
        self.bsl_options = bsl_options

    def fit(self, data, rating_scale=None):
        """Compute the similarities (and means, deviations or baselines).

        Parameters
        ----------
        data : Interactions with ratings, or a tuple ``(users, items, ratings)`` of arrays
            In Surprise's file order: ties among neighbours go to the earlier rating, as in
            Surprise's trainset built from the same file.
        rating_scale : tuple (low, high), optional
            Predictions are clipped to it; default the lowest and highest training rating.

        Returns
        -------
        self
        """
        _check_k(self.k, self.min_k)
        name, user_based, min_support, shrinkage = check_sim_options(self.sim_options)
        bsl = check_bsl_options(self.bsl_options)
        users, items, ratings, n_users, n_items, self.rating_scale_ = as_rating_triples(data, rating_scale)
        _refuse_repeats(users, items, n_items)
        order = surprise_order(users, n_users)
        self.global_mean_ = float(np.mean(ratings[order]))
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)
        x, y = (users, items) if user_based else (items, users)
        n_x, n_y = (n_users, n_items) if user_based else (n_items, n_users)
        self._user_based = user_based
        baselines = None
        if self._kind == "baseline" or name == "pearson_baseline":
            self.bu_, self.bi_ = fit_biases(self, bsl, users[order], items[order], ratings[order], n_users,
                                            n_items)
            bx, by = (self.bu_, self.bi_) if user_based else (self.bi_, self.bu_)
            baselines = (bx, by, self.global_mean_) if name == "pearson_baseline" else None
        if self.verbose:
            print(f"Computing the {name} similarity matrix...")
        matrix = sp.csr_matrix((ratings, (x, y)), shape=(n_x, n_y))
        self.sim_ = corated_similarity(matrix, SIM_NAMES[name], min_support=min_support, shrinkage=shrinkage,
                                       baselines=baselines, backend=self.backend, n_threads=self.n_threads)
        if self.verbose:
            print("Done computing similarity matrix.")
        counts = np.bincount(x, minlength=n_x)
        if self._kind in ("means", "zscore"):
            self.means_ = np.bincount(x, weights=ratings, minlength=n_x) / np.maximum(counts, 1)
        if self._kind == "zscore":
            var = np.bincount(x, weights=(ratings - self.means_[x]) ** 2, minlength=n_x) / np.maximum(counts, 1)
            sigmas = np.sqrt(var)
            overall = float(np.std(ratings))
            self.sigmas_ = np.where(sigmas == 0.0, overall, sigmas)
        # Surprise's yr lists: the ratings of each y in file order.
        by_y = np.argsort(y, kind="stable")
        self._yr_indptr = np.concatenate(([0], np.cumsum(np.bincount(y, minlength=n_y))))
        self._yr_x = x[by_y]
        values = ratings[by_y]  # what each neighbour contributes, Surprise's expression
        if self._kind in ("means", "zscore"):
            values = values - self.means_[self._yr_x]
        if self._kind == "zscore":
            values = values / self.sigmas_[self._yr_x]
        if self._kind == "baseline":
            bx, by = (self.bu_, self.bi_) if user_based else (self.bi_, self.bu_)
            values = values - (self.global_mean_ + bx[self._yr_x] + by[y[by_y]])
        self._yr_values = values
        first = np.full(n_x, len(x), dtype=np.int64)
        np.minimum.at(first, x, np.arange(len(x), dtype=np.int64))
        self._x_first = first  # Surprise's inner ids follow first appearance
        return self

    def _estimate_k(self, users, items, known_user, known_item):
        known = known_user & known_item
        qx, qy = (users, items) if self._user_based else (items, users)
        weighted, sum_sim, actual_k = knn_aggregate(self._yr_indptr, self._yr_x, self._yr_values, self.sim_,
                                                    qx[known], qy[known], self.k, backend=self.backend,
                                                    n_threads=self.n_threads)
        full = np.zeros(len(qx)), np.zeros(len(qx)), np.full(len(qx), -1, dtype=np.int64)
        for out, part in zip(full, (weighted, sum_sim, actual_k)):
            out[known] = part
        return self._finish(qx, qy, known_user, known_item, *full)

    def _finish(self, qx, qy, known_user, known_item, weighted, sum_sim, actual_k):
        known = known_user & known_item
        enough = known & (actual_k >= self.min_k)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(enough & (sum_sim != 0), weighted / np.where(sum_sim != 0, sum_sim, 1), 0.0)
        if self._kind == "basic":
            impossible = ~enough | (sum_sim == 0)  # Surprise divides 0 by 0 there (min_k=0); the mean here
            actual_k = np.where(impossible, -1, actual_k)  # Surprise's details then carry only a reason
            return np.where(impossible, self.global_mean_, ratio), impossible, actual_k
        if self._kind == "baseline":
            base = np.full(len(qx), self.global_mean_)
            base += np.where(known_user, self.bu_[np.where(known_user, qx if self._user_based else qy, 0)], 0.0)
            base += np.where(known_item, self.bi_[np.where(known_item, qy if self._user_based else qx, 0)], 0.0)
            return base + ratio, np.zeros(len(qx), dtype=bool), actual_k
        impossible = ~known
        if self._kind == "zscore":
            ratio = ratio * self.sigmas_[qx]
        return np.where(impossible, self.global_mean_, self.means_[qx] + ratio), impossible, actual_k

    def predict(self, users, items, *, clip=True, return_details=False):
        """Predicted ratings of (user, item) pairs, as Surprise's ``predict``.

        Parameters
        ----------
        users, items, clip
            As in :meth:`RatingPredictor.predict`.
        return_details : bool, default False
            Also return the details: ``"was_impossible"``, ``"known_user"``, ``"known_item"``
            (bool arrays) and ``"actual_k"`` (int64): the number of neighbours with positive
            similarity among the ``k`` nearest, -1 where Surprise reports none (an unknown user
            or item; KNNBasic's impossible predictions).

        Returns
        -------
        predictions : float64 ndarray of shape (n,), or a float
        details : dict, only with ``return_details=True``
        """
        self._actual_k = None
        out = RatingPredictor.predict(self, users, items, clip=clip, return_details=return_details)
        if not return_details:
            return out
        estimates, details = out
        details["actual_k"] = self._actual_k
        return estimates, details

    def _estimate(self, users, items, known_user, known_item):
        estimates, impossible, actual_k = self._estimate_k(users, items, known_user, known_item)
        self._actual_k = actual_k
        return estimates, impossible

    def get_neighbors(self, iid, k):
        """The ``k`` nearest neighbours of user (item) ``iid``, as Surprise's ``get_neighbors``.

        Users when ``user_based``, else items: the others with training ratings by decreasing
        similarity, ties in Surprise's inner-id order (first appearance in the training data).

        Returns
        -------
        int64 ndarray of at most ``k`` indices
        """
        self._check_fitted()
        n_x = self.sim_.shape[0]
        if isinstance(iid, bool) or not isinstance(iid, numbers.Integral) or not 0 <= iid < n_x:
            raise ValueError(f"iid: expected an index in [0, {n_x}), got {iid!r}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"k: expected an int >= 0, got {k!r}")
        others = np.flatnonzero(self._x_first < len(self._yr_x))
        others = others[others != iid]
        order = np.lexsort((self._x_first[others], -self.sim_[iid, others]))
        return others[order[:k]]


_DOC = """

    Parameters
    ----------
    k : int >= 1, default 40
        The most neighbours aggregated: the ``k`` most similar among those who rated the target
        (ties to the earlier rating), of which those with positive similarity count.
    min_k : int, 0 <= min_k <= k, default 1
        {min_k}
    sim_options : dict, optional
        Surprise's: ``"name"`` (``"msd"``, default; ``"cosine"``, ``"pearson"``,
        ``"pearson_baseline"``), ``"user_based"`` (True), ``"min_support"`` (1),
        ``"shrinkage"`` (100, pearson_baseline only). Checked at ``fit``.{bsl}
    verbose : bool, default True
        Print Surprise's progress lines at ``fit``.
    backend, n_threads
        Of the similarity (and bias) kernels; see :mod:`turborec.backends`.{bsl_last}

    ``fit`` refuses a (user, item) pair rated more than once (Surprise's similarities would count
    each rating; a sparse matrix would sum them).

    Attributes
    ----------
    sim_ : float64 ndarray of shape (n_x, n_x)
        The similarity matrix (users, or items when not ``user_based``).
    global_mean_, user_counts_, item_counts_, rating_scale_
        As in :class:`BaselineOnly`.{attrs}
    """

_BSL = """
    bsl_options : dict, optional
        As :class:`BaselineOnly`'s: the baselines of the prediction (and of
        ``pearson_baseline``)."""
_BSL_LAST = """
    bsl_options : dict, optional, keyword-only
        As :class:`BaselineOnly`'s: the baselines of a ``pearson_baseline`` similarity
        (Surprise passes it through ``**kwargs``); its defaults otherwise."""


class KNNBasic(_KNNRating):
    """Surprise 1.1's ``KNNBasic``: the similarity-weighted mean of the neighbours' ratings.

    Fewer than ``min_k`` neighbours with positive similarity, or an unknown user or item, make
    the prediction impossible: the global mean, ``was_impossible`` True.""" + _DOC.format(
        min_k="Below it the prediction is impossible (the global mean).", bsl="", bsl_last=_BSL_LAST, attrs="")
    _kind = "basic"


class KNNWithMeans(_KNNRating):
    """Surprise 1.1's ``KNNWithMeans``: the mean of the user (item) plus the similarity-weighted
    mean of the neighbours' deviations from their means. Unknown user or item: impossible.""" + _DOC.format(
        min_k="Below it the prediction is the mean (not impossible).", bsl="", bsl_last=_BSL_LAST,
        attrs="\n    means_ : float64 ndarray of shape (n_x,)")
    _kind = "means"


class KNNWithZScore(_KNNRating):
    """Surprise 1.1's ``KNNWithZScore``: ``mu_x + sigma_x`` times the similarity-weighted mean
    of the neighbours' z-scores (a zero deviation replaced by that of all ratings). Unknown
    user or item: impossible.""" + _DOC.format(
        min_k="Below it the prediction is the mean (not impossible).", bsl="", bsl_last=_BSL_LAST,
        attrs="\n    means_, sigmas_ : float64 ndarray of shape (n_x,)")
    _kind = "zscore"


class KNNBaseline(_KNNRating):
    """Surprise 1.1's ``KNNBaseline``: the baseline ``mu + b_u + b_i`` plus the
    similarity-weighted mean of the neighbours' residuals. Never impossible: an unknown user
    or item gets the baseline of what is known.""" + _DOC.format(
        min_k="Below it the prediction is the baseline.", bsl=_BSL, bsl_last="",
        attrs="\n    bu_, bi_ : float64 ndarray\n        The biases.")
    _kind = "baseline"

    def __init__(self, k=40, min_k=1, sim_options=None, bsl_options=None, verbose=True, backend=None,
                 n_threads=None):
        super().__init__(k=k, min_k=min_k, sim_options=sim_options, verbose=verbose, backend=backend,
                         n_threads=n_threads, bsl_options=bsl_options)
