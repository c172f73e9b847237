"""Surprise 1.1's ``SVD`` and ``SVDpp``: explicit-rating matrix factorisation fitted by SGD with
Surprise's initialisation, update order and prediction rules (docs/factorisation.md)."""

import json
import numbers

import numpy as np

from .. import _validation as v
from .. import selection, sgd
from .._threads import resolve_n_threads
from ..backends import resolve
from ._rating_base import RatingPredictor, as_rating_triples
from .baseline_only import surprise_order

DTYPES = ("float32", "float64")


def get_rng(random_state):
    """Surprise's ``get_rng``: numpy's global RandomState for None, a new one seeded by an int,
    a given RandomState itself; anything else is a ValueError."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        return np.random.RandomState(random_state)
    if isinstance(random_state, np.random.RandomState):
        return random_state
    raise ValueError(f"random_state: expected None, an int or a numpy RandomState, got {type(random_state).__name__}")


class _SGDFactorisation(RatingPredictor):
    """What SVD, SVDpp and NMF share: parameter checks, Surprise's trainset order and numbering,
    initialisation, the epoch loop, ``recommend``, ``save`` / ``load``."""

    _rate_names = ("bu", "bi", "pu", "qi")
    _epoch_message = "Processing epoch {}"
    _factor_names = ("pu_", "qi_")

    # ------------------------------------------------------------------ fit

    def _check_params(self):
        """``(n_factors, n_epochs, {rate name: value})``, every parameter checked."""
        n_factors = v.check_k(self.n_factors, "n_factors")
        n_epochs = v.as_int(self.n_epochs, "n_epochs", "a non-negative int")
        if n_epochs < 0:
            raise ValueError(f"n_epochs: expected a non-negative int, got {n_epochs}")
        v.as_bool(self.verbose, "verbose")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {', '.join(DTYPES)}, got {self.dtype!r}")
        self._check_init()
        rates = self._rates()
        sgd.check_rates(**rates)  # the errors name the rate
        return n_factors, n_epochs, rates

    def _check_init(self):
        _finite(self, "init_mean", "init_std_dev")
        if self.init_std_dev < 0:
            raise ValueError(f"init_std_dev: expected a number >= 0, got {self.init_std_dev!r}")

    def _draw(self, rng, size):
        return rng.normal(self.init_mean, self.init_std_dev, size=size)

    def _rates(self):
        rates = {}
        for part in self._rate_names:  # Surprise: a specific rate, when given, takes precedence over *_all
            for kind in ("lr", "reg"):
                specific = getattr(self, f"{kind}_{part}")
                rates[f"{kind}_{part}"] = getattr(self, f"{kind}_all") if specific is None else specific
        return rates

    def fit(self, data, rating_scale=None):
        """Fit by ``n_epochs`` SGD passes over the ratings in Surprise's order.

        Parameters
        ----------
        data : Interactions with ratings, or a tuple ``(users, items, ratings)`` of arrays
            Contiguous user and item indices; the order of the ratings is the order of a
            Surprise trainset built from them (users and items numbered by first appearance,
            each user's ratings visited together), so the same ratings in the same order with
            the same ``random_state`` give Surprise's model.
        rating_scale : tuple (low, high), optional
            Predictions are clipped to it; a training rating outside it is a ValueError.
            Default: the lowest and highest training rating.

        Returns
        -------
        self
        """
        n_factors, n_epochs, rates = self._check_params()
        rng = get_rng(self.random_state)
        users, items, ratings, n_users, n_items, scale = as_rating_triples(data, rating_scale)
        if rating_scale is not None and (ratings.min() < scale[0] or ratings.max() > scale[1]):
            raise ValueError(f"data: ratings from {ratings.min()} to {ratings.max()} fall outside "
                             f"rating_scale={scale}")
        self.rating_scale_ = scale
        dtype = np.dtype(self.dtype)
        # Surprise numbers users and items by first appearance in the given ratings and draws
        # the factors row by row in that numbering: pu, then qi (then yj).
        rows = {"pu_": (_by_first_appearance(users, n_users), n_users)}
        rows.update({name: (_by_first_appearance(items, n_items), n_items) for name in self._factor_names[1:]})
        order = surprise_order(users, n_users)
        users, items, ratings = users[order], items[order], ratings[order]
        self.global_mean_ = float(np.mean(ratings))  # as Surprise's trainset: in all_ratings() order
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)
        model = {"bu_": np.zeros(n_users, dtype), "bi_": np.zeros(n_items, dtype)}
        for name in self._factor_names:
            numbered, n = rows[name]
            drawn = self._draw(rng, (len(numbered), n_factors))
            model[name] = np.zeros((n, n_factors), dtype)
            model[name][numbered] = drawn
        self.backend_, self.n_threads_ = resolve("sgd", self.backend).name, resolve_n_threads(self.n_threads)
        arrays = [model[name] for name in ("bu_", "bi_", *self._factor_names)]
        users, items, ratings = self._epoch_order(users, items, ratings, n_users, n_items)
        for epoch in range(n_epochs):
            if self.verbose:
                print(self._epoch_message.format(epoch))
            arrays = self._epoch(users, items, ratings, arrays, rates)
            if not all(np.isfinite(a).all() for a in arrays):
                raise FloatingPointError(f"{type(self).__name__}: the parameters overflowed in epoch {epoch}; "
                                         "lower the learning rates (lr_all, lr_*)")
        for name, array in zip(("bu_", "bi_", *self._factor_names), arrays):
            setattr(self, name, array)
        self._finish_fit(users, items, n_users)
        return self

    def _epoch_order(self, users, items, ratings, n_users, n_items):
        """The ratings in the order the epochs take them (SVD's grid: block by block, once)."""
        return users, items, ratings

    def _finish_fit(self, users, items, n_users):
        """Derived state kept for prediction (SVD++: the implicit term)."""

    # ------------------------------------------------------------------ recommend

    def _user_vectors(self, users):
        return self.pu_[users]

    def recommend(self, users, N=10, *, exclude=None):
        """The ``N`` items with the highest predicted rating, without a users x items matrix.

        The prediction ``mu + b_u + b_i + q_i . x_u`` (``x_u``: ``p_u``, plus the implicit term
        for SVD++) ranks items as the augmented dot product ``[x_u, 1] . [q_i, b_i]``, which
        :func:`turborec.topk_dot` scores tile by tile; ``mu + b_u`` is added afterwards. A user
        without training ratings ranks items by ``b_i`` (SVD) or, unbiased, ties them all.

        Parameters
        ----------
        users : int or array-like of int, shape (n,)
            Indices in ``[0, n_users)``.
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
        scalar = np.ndim(users) == 0
        users = np.atleast_1d(np.asarray(users))
        if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
            raise TypeError(f"users: expected an int or a 1-D array of int indices, got dtype {users.dtype}")
        users = users.astype(np.int64)
        n_users = len(self.bu_)
        if users.size and (users.min() < 0 or users.max() >= n_users):
            raise IndexError(f"users: index out of range [0, {n_users})")
        queries, items = self._user_vectors(users), self.qi_
        offset = np.zeros(len(users))
        if self.biased:
            queries = np.hstack([queries, np.ones((len(users), 1), queries.dtype)])
            items = np.hstack([items, self.bi_[:, None]])
            offset = self.global_mean_ + self.bu_[users].astype(np.float64)
        ids, scores = selection.topk_dot(queries, items, N, exclude=exclude, backend=self.backend,
                                         n_threads=self.n_threads)
        scores = scores.astype(np.float64) + offset[:, None]
        return (ids[0], scores[0]) if scalar else (ids, scores)

    # ------------------------------------------------------------------ persistence

    def save(self, file):
        """Save parameters and fitted state to an ``.npz`` file (no pickled objects).

        A ``random_state`` that is a RandomState instance is saved as None (its state is not a
        parameter value); the fitted arrays are saved exactly.

        Parameters
        ----------
        file : str, path or file object
        """
        params = self.get_params(deep=False)
        if isinstance(params["random_state"], np.random.RandomState):
            params["random_state"] = None
        arrays = {"params": np.array(json.dumps(params, default=_plain)), "class": np.array(type(self).__name__)}
        if hasattr(self, "global_mean_"):
            arrays.update({name: getattr(self, name) for name in self._fitted_names()})
            arrays["global_mean_"] = np.array(self.global_mean_)
            arrays["rating_scale_"] = np.array(self.rating_scale_, dtype=np.float64)
            arrays["backend_"] = np.array(self.backend_)
            arrays["n_threads_"] = np.array(self.n_threads_)
        np.savez(file, **arrays)

    @classmethod
    def load(cls, file):
        """A model saved by :meth:`save`, read with ``allow_pickle=False``.

        Parameters
        ----------
        file : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it.

        Returns
        -------
        model of this class, fitted if it was saved fitted
        """
        if isinstance(file, str) and not file.endswith(".npz"):
            file += ".npz"
        with np.load(file, allow_pickle=False) as data:
            saved = str(data["class"])
            if saved != cls.__name__:
                raise ValueError(f"file: holds a {saved}, not a {cls.__name__}")
            model = cls(**json.loads(str(data["params"])))
            if "global_mean_" in data:
                for name in model._fitted_names():
                    setattr(model, name, data[name])
                model.global_mean_ = float(data["global_mean_"])
                model.rating_scale_ = tuple(float(x) for x in data["rating_scale_"])
                model.backend_, model.n_threads_ = str(data["backend_"]), int(data["n_threads_"])
        return model

    def _fitted_names(self):
        return ("bu_", "bi_", *self._factor_names, "user_counts_", "item_counts_")


class SVD(_SGDFactorisation):
    """Surprise 1.1's ``SVD``: ``r_ui ~ mu + b_u + b_i + q_i . p_u``, fitted by SGD.

    Same parameters, defaults, initialisation (``rng.normal(init_mean, init_std_dev)`` for
    ``pu`` then ``qi``, rows numbered as Surprise numbers users and items), update order and
    prediction rules as Surprise; with the same ratings in the same order and the same integer
    ``random_state``, predictions equal Surprise's (float64: to ~1e-12; the kernels compute
    Surprise's loops in its order). Update rules: :func:`turborec.sgd.svd_epoch`.

    Parameters
    ----------
    n_factors : int, default 100
    n_epochs : int, default 20
    biased : bool, default True
        False: ``r_ui ~ q_i . p_u`` (probabilistic MF); a prediction for an unknown user or
        item is then impossible and gives the global mean, as in Surprise.
    init_mean, init_std_dev : float, default 0 and 0.1
        Normal distribution of the initial factors.
    lr_all, reg_all : float, default 0.005 and 0.02
        Learning rate (> 0) and regularisation (>= 0) of every parameter...
    lr_bu, lr_bi, lr_pu, lr_qi, reg_bu, reg_bi, reg_pu, reg_qi : float, optional
        ...unless given for one parameter.
    random_state : None, int or numpy RandomState
        As Surprise's: None uses numpy's global RandomState.
    verbose : bool, default False
        Print ``Processing epoch <n>`` per epoch, as Surprise does.
    dtype : {"float64", "float32"}, default "float64"
        Arithmetic of the fit (float64 is Surprise's; float32 is faster and not Surprise-exact).
    n_blocks : int, default 1
        1: Surprise's sequential pass. ``G > 1``: FPSGD's ``G x G`` grid of rating blocks
        (:func:`turborec.sgd.svd_epoch`), ``G`` blocks at a time in parallel on ``n_threads``
        threads: not Surprise's numbers, but reproducible for a given ``random_state`` and ``G``
        whatever the thread count.
    backend, n_threads
        Backend of the SGD kernels (native, numba, numpy) and of ``recommend``.

    Attributes
    ----------
    pu_, qi_ : ndarray of shape (n_users, n_factors), (n_items, n_factors)
    bu_, bi_ : ndarray of shape (n_users,), (n_items,)
        Zero rows for users or items without training ratings (unknown to ``predict``).
    global_mean_ : float
    user_counts_, item_counts_ : int64 ndarray
    rating_scale_ : tuple (low, high)
    backend_ : str
    n_threads_ : int
    """

    def __init__(self, n_factors=100, n_epochs=20, biased=True, init_mean=0, init_std_dev=0.1, lr_all=0.005,
                 reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None, reg_bu=None, reg_bi=None,
                 reg_pu=None, reg_qi=None, random_state=None, verbose=False, *, dtype="float64", n_blocks=1,
                 backend=None, n_threads=None):
        self.n_factors, self.n_epochs, self.biased = n_factors, n_epochs, biased
        self.n_blocks = n_blocks
        self.init_mean, self.init_std_dev = init_mean, init_std_dev
        self.lr_all, self.reg_all = lr_all, reg_all
        self.lr_bu, self.lr_bi, self.lr_pu, self.lr_qi = lr_bu, lr_bi, lr_pu, lr_qi
        self.reg_bu, self.reg_bi, self.reg_pu, self.reg_qi = reg_bu, reg_bi, reg_pu, reg_qi
        self.random_state, self.verbose = random_state, verbose
        self.dtype, self.backend, self.n_threads = dtype, backend, n_threads

    def _check_params(self):
        v.as_bool(self.biased, "biased")
        v.check_k(self.n_blocks, "n_blocks")
        return super()._check_params()

    def _epoch_order(self, users, items, ratings, n_users, n_items):
        order, _ = sgd.block_order(users, items, n_users, n_items, self.n_blocks)
        return (users, items, ratings) if order is None else (users[order], items[order], ratings[order])

    def _epoch(self, users, items, ratings, arrays, rates):
        return sgd.svd_epoch(users, items, ratings, *arrays, global_mean=self.global_mean_, biased=self.biased,
                             **rates, n_blocks=self.n_blocks, backend=self.backend, n_threads=self.n_threads)

    def _estimate(self, users, items, known_user, known_item):
        both = known_user & known_item
        dot = np.where(both, np.einsum("ij,ij->i", self.qi_[items].astype(np.float64),
                                       self.pu_[users].astype(np.float64)), 0.0)
        if not self.biased:  # Surprise: impossible unless both are known, then the global mean
            return np.where(both, dot, self.global_mean_), ~both
        estimates = np.full(len(users), self.global_mean_)
        estimates += np.where(known_user, self.bu_[users], 0.0)
        estimates += np.where(known_item, self.bi_[items], 0.0)
        return estimates + dot, np.zeros(len(users), dtype=bool)


class SVDpp(_SGDFactorisation):
    """Surprise 1.1's ``SVDpp``: ``r_ui ~ mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)}
    y_j)``, N(u) the items u rated, fitted by SGD.

    Same parameters, defaults, initialisation (``pu``, ``qi``, then ``yj``), update order and
    prediction rules as Surprise. Update rules and the two modes: :func:`turborec.sgd.svdpp_epoch`.
    ``cache_ratings=True`` (Surprise: a memory/speed trade-off with the same results) selects
    the exact mode here, Surprise's arithmetic (O(|N(u)| k) per rating, float64 predictions
    equal Surprise's to ~1e-12); False (the default) the fast mode, which carries the implicit
    term along each user's ratings in closed form (O(k) per rating, equal to Surprise's up to
    rounding: ~1e-12 on MovieLens 100K).

    Parameters
    ----------
    n_factors : int, default 20
    n_epochs : int, default 20
    init_mean, init_std_dev : float, default 0 and 0.1
    lr_all, reg_all : float, default 0.007 and 0.02
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj : float, optional
    random_state, verbose, dtype, backend, n_threads
        As in :class:`SVD` (verbose prints `` processing epoch <n>``).
    cache_ratings : bool, default False

    Attributes
    ----------
    pu_, qi_, yj_, bu_, bi_, global_mean_, user_counts_, item_counts_, rating_scale_, backend_, n_threads_
        As in :class:`SVD`; ``yj_`` of shape (n_items, n_factors).
    implicit_ : ndarray of shape (n_users, n_factors)
        Each user's implicit term ``sum_j y_j / sqrt|N(u)|`` (summed as Surprise's ``estimate``).
    """

    biased = True
    _rate_names = ("bu", "bi", "pu", "qi", "yj")
    _epoch_message = " processing epoch {}"
    _factor_names = ("pu_", "qi_", "yj_")

    def __init__(self, n_factors=20, n_epochs=20, init_mean=0, init_std_dev=0.1, lr_all=0.007, reg_all=0.02,
                 lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None, lr_yj=None, reg_bu=None, reg_bi=None, reg_pu=None,
                 reg_qi=None, reg_yj=None, random_state=None, verbose=False, cache_ratings=False, *,
                 dtype="float64", backend=None, n_threads=None):
        self.n_factors, self.n_epochs = n_factors, n_epochs
        self.init_mean, self.init_std_dev = init_mean, init_std_dev
        self.lr_all, self.reg_all = lr_all, reg_all
        self.lr_bu, self.lr_bi, self.lr_pu, self.lr_qi, self.lr_yj = lr_bu, lr_bi, lr_pu, lr_qi, lr_yj
        self.reg_bu, self.reg_bi, self.reg_pu, self.reg_qi, self.reg_yj = reg_bu, reg_bi, reg_pu, reg_qi, reg_yj
        self.random_state, self.verbose, self.cache_ratings = random_state, verbose, cache_ratings
        self.dtype, self.backend, self.n_threads = dtype, backend, n_threads

    def _check_params(self):
        v.as_bool(self.cache_ratings, "cache_ratings")
        return super()._check_params()

    def _epoch(self, users, items, ratings, arrays, rates):
        return sgd.svdpp_epoch(users, items, ratings, *arrays, global_mean=self.global_mean_, **rates,
                               exact=bool(self.cache_ratings), backend=self.backend, n_threads=self.n_threads)

    def _finish_fit(self, users, items, n_users):
        # Surprise's estimate: sum(yj[j] for j in ur[u]) / sqrt(|N(u)|), summed in ur[u]'s order
        # (np.add.at adds in index order), in float64.
        total = np.zeros((n_users, self.yj_.shape[1]))
        np.add.at(total, users, self.yj_[items].astype(np.float64))
        counts = np.maximum(self.user_counts_, 1)
        self.implicit_ = total / np.sqrt(counts.astype(np.float64))[:, None]

    def _fitted_names(self):
        return (*super()._fitted_names(), "implicit_")

    def _user_vectors(self, users):
        return self.pu_[users] + self.implicit_[users].astype(self.pu_.dtype)

    def _estimate(self, users, items, known_user, known_item):
        both = known_user & known_item
        x = self.pu_[users].astype(np.float64) + self.implicit_[users]
        dot = np.where(both, np.einsum("ij,ij->i", self.qi_[items].astype(np.float64), x), 0.0)
        estimates = np.full(len(users), self.global_mean_)
        estimates += np.where(known_user, self.bu_[users], 0.0)
        estimates += np.where(known_item, self.bi_[items], 0.0)
        return estimates + dot, np.zeros(len(users), dtype=bool)


def _finite(model, *names):
    for name in names:
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")


def _by_first_appearance(ids, n):
    """The distinct values of ``ids`` in order of first appearance (Surprise's inner numbering)."""
    first = np.full(n, len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
    seen = np.flatnonzero(first < len(ids))
    return seen[np.argsort(first[seen], kind="stable")]


def _plain(value):
    """NumPy scalars as Python numbers in the saved parameters; anything else cannot be saved."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"save: a parameter of type {type(value).__name__} cannot be saved without pickling")
