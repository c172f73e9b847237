"""Surprise 1.1's ``BaselineOnly``: ratings predicted by ``mu + b_u + b_i``."""

import numbers

import numpy as np

from .. import biases
from .._sorting import stable_argsort
from ..backends import resolve
from ._rating_base import RatingPredictor, as_rating_triples


# Surprise 1.1's defaults per method (optimize_baselines.pyx).
METHOD_DEFAULTS = {
    "als": {"n_epochs": 10, "reg_u": 15, "reg_i": 10},
    "sgd": {"n_epochs": 20, "reg": 0.02, "learning_rate": 0.005},
}
OPTION_NAMES = ("method", "n_epochs", "reg_u", "reg_i", "reg", "learning_rate")


class BaselineOnly(RatingPredictor):
    """Predicts ``mu + b_u + b_i``: Surprise 1.1's ``BaselineOnly``, same options and results.

    Biases are fitted in float64 by Surprise's ALS or SGD with its update order (see
    ``docs/ratings.md``); predictions equal Surprise's to rounding.

    Parameters
    ----------
    bsl_options : dict, optional
        Surprise's baseline options. ``"method"``: ``"als"`` (default) or ``"sgd"``. ALS:
        ``"n_epochs"`` (10), ``"reg_u"`` (15), ``"reg_i"`` (10). SGD: ``"n_epochs"`` (20),
        ``"reg"`` (0.02), ``"learning_rate"`` (0.005). Options of the other method are accepted
        and ignored, as Surprise ignores them; any other key, an unknown method, a negative
        regularisation, a non-positive learning rate or ``n_epochs < 1`` is a ValueError naming
        the option (checked at ``fit``). None: ``{}``.
    verbose : bool, default True
        Print ``Estimating biases using <method>...`` at ``fit``, as Surprise does.

    Attributes
    ----------
    global_mean_ : float
        Mean of the training ratings (``mu``).
    bu_ : float64 ndarray of shape (n_users,)
        User biases (0 for users without ratings).
    bi_ : float64 ndarray of shape (n_items,)
        Item biases (0 for items without ratings).
    user_counts_, item_counts_ : int64 ndarray
        Training ratings per user and per item.
    rating_scale_ : tuple (low, high)
        Predictions are clipped to it.
    backend_ : str
        The backend that fitted the biases (``"numba"``; ``"numpy"``, same results and slower
        SGD, when numba is not installed, with a PerformanceWarning).
    """

    def __init__(self, bsl_options=None, verbose=True, backend=None, n_threads=None):
        self.bsl_options = bsl_options
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, data, rating_scale=None):
        """Fit the biases.

        Parameters
        ----------
        data : Interactions with ratings, or a tuple ``(users, items, ratings)`` of arrays
            Contiguous user and item indices (Interactions keep their shape: users or items
            without ratings get a bias of 0 and are unknown to :meth:`predict`).
        rating_scale : tuple (low, high), optional
            The range predictions are clipped to; Surprise reads it from its ``Reader``.
            Default: the lowest and highest training rating (``(1, 5)`` on MovieLens).

        Returns
        -------
        self
        """
        options = check_bsl_options(self.bsl_options)
        users, items, ratings, n_users, n_items, self.rating_scale_ = as_rating_triples(data, rating_scale)
        order = surprise_order(users, n_users)
        users, items, ratings = users[order], items[order], ratings[order]
        self.global_mean_ = float(np.mean(ratings))  # summed in Surprise's order, as its trainset does
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)
        self.bu_, self.bi_ = fit_biases(self, options, users, items, ratings, n_users, n_items)
        self.backend_ = resolve("biases", self.backend).name
        return self

    def _estimate(self, users, items, known_user, known_item):
        # Surprise adds mu, then b_u, then b_i, each only when known; never impossible.
        estimates = np.full(len(users), self.global_mean_)
        estimates += np.where(known_user, self.bu_[users], 0.0)  # unknown indices were set to 0
        estimates += np.where(known_item, self.bi_[items], 0.0)
        return estimates, np.zeros(len(users), dtype=bool)


def fit_biases(model, options, users, items, ratings, n_users, n_items):
    """``(bu, bi)`` by the method of ``options`` (from :func:`check_bsl_options`), with Surprise's
    progress line when ``model.verbose``; ratings in Surprise's order, ``model.global_mean_`` set.
    """
    options = dict(options)
    method = options.pop("method")
    if model.verbose:
        print("Estimating biases using", method + "...")
    fit = biases.baseline_als if method == "als" else biases.baseline_sgd
    return fit(users, items, ratings, n_users, n_items, model.global_mean_, **options, backend=model.backend,
               n_threads=model.n_threads)


def surprise_order(users, n_users):
    """The order of Surprise's ``trainset.all_ratings()`` over ratings given in file order.

    Surprise numbers users by first appearance and yields each user's ratings together, in
    file order; this is the stable sort of the ratings by their user's first appearance.

    Returns
    -------
    int64 ndarray of shape (len(users),)
        Positions into ``users``.
    """
    n = len(users)
    first = np.full(n_users, n, dtype=np.int64)
    np.minimum.at(first, users, np.arange(n, dtype=np.int64))
    rank = np.empty(n_users, dtype=np.int64)  # users numbered by first appearance
    rank[np.argsort(first, kind="stable")] = np.arange(n_users)
    return stable_argsort(rank[users], n_users)


def check_bsl_options(bsl_options):
    """The options of ``bsl_options`` with Surprise's defaults filled in, checked.

    Returns
    -------
    dict
        ``{"method": ..., <the method's options in the kernel's argument order>}``.
    """
    if bsl_options is None:
        bsl_options = {}
    if not isinstance(bsl_options, dict):
        raise TypeError(f"bsl_options: expected a dict, got {type(bsl_options).__name__}")
    unknown = sorted(set(map(str, bsl_options)) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"bsl_options: unknown option(s) {', '.join(map(repr, unknown))}; "
                         f"valid options: {', '.join(OPTION_NAMES)}")
    method = bsl_options.get("method", "als")
    if method not in METHOD_DEFAULTS:
        raise ValueError(f"bsl_options['method']: invalid method {method!r} for baseline computation; "
                         "available methods are 'als' and 'sgd'")
    options = {"method": method}
    for name, default in METHOD_DEFAULTS[method].items():
        value = bsl_options.get(name, default)
        if name == "n_epochs":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"bsl_options['n_epochs']: expected an int, got {value!r}")
            if value < 1:
                raise ValueError(f"bsl_options['n_epochs']: expected >= 1, got {value}")
            options[name] = int(value)
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"bsl_options[{name!r}]: expected a number, got {value!r}")
        value = float(value)
        if not np.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
            expected = "> 0" if name == "learning_rate" else ">= 0"
            raise ValueError(f"bsl_options[{name!r}]: expected a finite number {expected}, got {value!r}")
        options[name] = value
    return options
