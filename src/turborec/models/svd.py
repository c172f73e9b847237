"""Surprise 1.1's ``SVD`` and ``SVDpp``: explicit-rating matrix factorisation fitted by SGD with
Surprise's initialisation, update order and prediction rules (docs/factorisation.md)."""

import numpy as np

from .. import _validation as v
from .. import sgd
from ._factorisation import _SGDFactorisation


class SVD(_SGDFactorisation):
    """Surprise 1.1's ``SVD``: ``r_ui ~ mu + b_u + b_i + q_i . p_u``, fitted by SGD.

    Same parameters, defaults, initialisation (``rng.normal(init_mean, init_std_dev)`` for
    ``pu`` then ``qi``, rows numbered as Surprise numbers users and items), update order and
    prediction rules as Surprise; with the same ratings in the same order and the same integer
    ``random_state``, predictions equal Surprise's to rounding (float64: within ~1e-13 on
    MovieLens 100K; the kernels make Surprise's updates in its order, and sum and round them
    otherwise, ~4.6x faster). Update rules: :func:`turborec.sgd.svd_epoch`.

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
        Arithmetic of the fit (float64: predictions within ~1e-13 of Surprise's; float32: ~1e-4,
        and ~20% faster).
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

    _all_epochs_at_once = True  # _epoch(..., n_epochs): a fit's epochs in one kernel call

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
        order, bounds = sgd.block_order(users, items, n_users, n_items, self.n_blocks, user_chunk=USER_CHUNK,
                                        backend=self.backend, n_threads=self.n_threads)
        if order is not None:
            users, items, ratings = users[order], items[order], ratings[order]
        return users, items, np.ascontiguousarray(ratings, dtype=self.dtype), bounds

    def _epoch(self, users, items, ratings, bounds, arrays, rates, n_epochs=1):
        return sgd.svd_epoch_in_blocks(users, items, ratings, bounds, arrays, float(self.global_mean_),
                                       bool(self.biased), sgd.check_rates(**rates), self.n_blocks, self.backend,
                                       self.n_threads, n_epochs)

    def _estimate(self, users, items, known_user, known_item):
        both = known_user & known_item
        dot = np.where(both, sgd.pair_dots(self.qi_, items, self.pu_, users, backend=self.backend,
                                           n_threads=self.n_threads), 0.0)
        if not self.biased:  # Surprise: impossible unless both are known, then the global mean
            return np.where(both, dot, self.global_mean_), ~both
        estimates = np.full(len(users), self.global_mean_)
        estimates += np.where(known_user, self.bu_[users], 0.0)
        estimates += np.where(known_item, self.bi_[items], 0.0)
        return estimates + dot, np.zeros(len(users), dtype=bool)


USER_CHUNK = 16  # users whose factor rows (16 x 400 bytes at 100 float32 factors) share the L1 cache


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

    def _finish_fit(self, users, items):
        # Surprise's estimate: sum(yj[j] for j in ur[u]) / sqrt(|N(u)|), summed in ur[u]'s order
        # (np.add.at adds in index order), in float64.
        total = np.zeros((len(self.pu_), self.yj_.shape[1]))
        np.add.at(total, users, self.yj_[items].astype(np.float64))
        counts = np.maximum(self.user_counts_, 1)
        self.implicit_ = total / np.sqrt(counts.astype(np.float64))[:, None]

    def _fitted_names(self):
        return (*super()._fitted_names(), "implicit_")

    def _user_vectors(self, users):
        return self.pu_[users] + self.implicit_[users].astype(self.pu_.dtype)

    def _estimate(self, users, items, known_user, known_item):
        both = known_user & known_item
        x = self.pu_.astype(np.float64)[users] + self.implicit_[users]
        dot = np.where(both, np.einsum("ij,ij->i", self.qi_.astype(np.float64)[items], x), 0.0)
        estimates = np.full(len(users), self.global_mean_)
        estimates += np.where(known_user, self.bu_[users], 0.0)
        estimates += np.where(known_item, self.bi_[items], 0.0)
        return estimates + dot, np.zeros(len(users), dtype=bool)
