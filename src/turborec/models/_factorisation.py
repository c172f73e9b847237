"""What Surprise 1.1's factorisation models (``SVD``, ``SVDpp``, ``NMF``) share: Surprise's
order, numbering and initialisation, the epoch loop with its monitoring (``eval_set``, early
stopping, callback, progress bar), ``recommend`` through ``topk_dot``, ``save`` / ``load``."""

import numbers
import time

import numpy as np

from .. import _validation as v
from .. import selection, sgd
from .._progress import progress_bar
from .._threads import resolve_n_threads
from ..backends import resolve
from ._base import open_saved, saved_params
from ._rating_base import RatingPredictor, as_rating_triples, recommend_users
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
    _all_epochs_at_once = False  # True: _epoch(..., n_epochs) runs several epochs in one call

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

    def fit(self, data, rating_scale=None, *, numbering="appearance", eval_set=None, early_stopping_rounds=None,
            callback=None, show_progress=False):
        """Fit by ``n_epochs`` passes over the ratings in Surprise's order.

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
        numbering : {"appearance", "index"}, default "appearance"
            How Surprise would number the users and items, which decides which random row each
            gets: ``"appearance"``, by first appearance in ``data`` (Surprise's numbering of raw
            ids read in this order); ``"index"``, the indices are Surprise's inner ids already
            (e.g. a Surprise ``Trainset``'s ``all_ratings()``, as an ``AlgoBase`` adapter sees it).
        eval_set : Interactions with ratings, or a tuple ``(users, items, ratings)``, optional
            Validation ratings (indices of the training data; unknown ones predicted as
            :meth:`predict` does): their RMSE and MAE after every epoch go to ``history_``,
            the callback and the progress bar. Monitoring changes nothing in the fit.
        early_stopping_rounds : int, optional
            With ``eval_set``: stop once the validation RMSE has not improved for this many
            epochs, and keep the parameters of the best epoch (``best_epoch_``).
        callback : callable, optional
            Called after every epoch as ``callback(epoch, elapsed_seconds, metrics)``, with
            ``metrics`` the epoch's ``{"rmse": ..., "mae": ...}`` (empty without ``eval_set``).
        show_progress : bool, default False
            A tqdm bar over the epochs (Surprise prints nothing by default; see ``verbose``).

        Returns
        -------
        self
        """
        n_factors, n_epochs, rates = self._check_params()
        monitor = _Monitor(eval_set, early_stopping_rounds, callback)
        rng = get_rng(self.random_state)
        users, items, ratings, n_users, n_items, scale = as_rating_triples(data, rating_scale)
        if rating_scale is not None and (ratings.min() < scale[0] or ratings.max() > scale[1]):
            raise ValueError(f"data: ratings from {ratings.min()} to {ratings.max()} fall outside "
                             f"rating_scale={scale}")
        dtype = np.dtype(self.dtype)
        # Surprise numbers users and items by first appearance in the given ratings and draws
        # the factors row by row in that numbering: pu, then qi (then yj).
        if numbering not in ("appearance", "index"):
            raise ValueError(f"numbering: expected 'appearance' or 'index', got {numbering!r}")
        number = _by_first_appearance if numbering == "appearance" else lambda ids, n: np.arange(n)
        rows = {"pu_": (number(users, n_users), n_users)}
        rows.update({name: (number(items, n_items), n_items) for name in self._factor_names[1:]})
        order = surprise_order(users, n_users)
        users, items, ratings = users[order], items[order], ratings[order]
        state = {"rating_scale_": scale, "global_mean_": float(np.mean(ratings)),  # in all_ratings() order
                 "user_counts_": np.bincount(users, minlength=n_users),
                 "item_counts_": np.bincount(items, minlength=n_items),
                 "bu_": np.zeros(n_users, dtype), "bi_": np.zeros(n_items, dtype),
                 "backend_": resolve("sgd", self.backend).name, "n_threads_": resolve_n_threads(self.n_threads)}
        for name in self._factor_names:
            numbered, n = rows[name]
            drawn = self._draw(rng, (len(numbered), n_factors))
            state[name] = np.zeros((n, n_factors), dtype)
            state[name][numbered] = drawn
        self._forget()
        self.__dict__.update(state)
        try:
            self._train(self._epoch_order(users, items, ratings, n_users, n_items), n_epochs, rates, monitor,
                        show_progress)
        except BaseException:
            self._forget()  # a failed fit leaves an unfitted model, never a half-fitted one
            raise
        return self

    def partial_fit(self, data, n_epochs=1, *, eval_set=None, early_stopping_rounds=None, callback=None,
                    show_progress=False):
        """Continue training: ``n_epochs`` more epochs over ``data``, from the fitted parameters.

        ``data`` becomes the training data the model knows (its users and items are the known
        ones; SVD++'s N(u) are its ratings), as in :meth:`fit`, but nothing is drawn anew and
        ``global_mean_`` and ``rating_scale_`` stay the first fit's. On the same data,
        ``fit(n_epochs=a)`` then ``partial_fit(n_epochs=b)`` equals ``fit(n_epochs=a + b)``.

        Parameters
        ----------
        data : Interactions with ratings, or a tuple ``(users, items, ratings)``
            Indices of the fitted model (``[0, n_users)``, ``[0, n_items)``): a model does not
            grow here; refit for new users or items.
        n_epochs : int >= 0, default 1
        eval_set, early_stopping_rounds, callback, show_progress
            As in :meth:`fit`.

        Returns
        -------
        self
        """
        self._check_fitted()
        _, _, rates = self._check_params()
        n_epochs = v.as_int(n_epochs, "n_epochs", "a non-negative int")
        if n_epochs < 0:
            raise ValueError(f"n_epochs: expected a non-negative int, got {n_epochs}")
        users, items, ratings, n_users, n_items, scale = as_rating_triples(data, self.rating_scale_)
        if ratings.min() < scale[0] or ratings.max() > scale[1]:
            raise ValueError(f"data: ratings from {ratings.min()} to {ratings.max()} fall outside the fitted "
                             f"rating_scale_={scale}")
        if n_users > len(self.bu_) or n_items > len(self.bi_):
            raise ValueError(f"data: indices up to {n_users - 1} (users) and {n_items - 1} (items), beyond the "
                             f"fitted model's {len(self.bu_)} users and {len(self.bi_)} items; refit to add some")
        n_users, n_items = len(self.bu_), len(self.bi_)
        order = surprise_order(users, n_users)
        users, items, ratings = users[order], items[order], ratings[order]
        self.user_counts_ = np.bincount(users, minlength=n_users)
        self.item_counts_ = np.bincount(items, minlength=n_items)
        self._train(self._epoch_order(users, items, ratings, n_users, n_items), n_epochs, rates,
                    _Monitor(eval_set, early_stopping_rounds, callback), show_progress)
        return self

    def _train(self, ratings, n_epochs, rates, monitor, show_progress):
        names = ("bu_", "bi_", *self._factor_names)
        arrays = [getattr(self, name) for name in names]
        start = time.perf_counter()
        # Without a per-epoch hook, a model that can (SVD) runs all its epochs in one kernel call.
        chunk = max(n_epochs, 1) if self._all_epochs_at_once and not (monitor.active or self.verbose) else 1
        with progress_bar(show_progress, total=n_epochs, desc=type(self).__name__, unit="epoch") as bar:
            for epoch in range(0, n_epochs, chunk):
                if self.verbose:
                    print(self._epoch_message.format(epoch))
                arrays = self._epoch(*ratings, arrays, rates) if chunk == 1 else self._epoch(*ratings, arrays, rates,
                                                                                             chunk)
                if not all(np.isfinite(a).all() for a in arrays):
                    when = f"in epoch {epoch}" if chunk == 1 else f"within {chunk} epochs"
                    raise FloatingPointError(f"{type(self).__name__}: the parameters overflowed {when}; "
                                             "lower the learning rates")
                if monitor.active:
                    self.__dict__.update(zip(names, arrays))
                    self._finish_fit(*ratings[:2])
                    stop = monitor.after_epoch(self, epoch, time.perf_counter() - start, bar)
                    if stop:
                        break
                bar.update(chunk)
        if not monitor.active:
            self.__dict__.update(zip(names, arrays))
            self._finish_fit(*ratings[:2])
        monitor.finish(self)

    def _forget(self):
        for name in (*self._fitted_names(), "global_mean_", "rating_scale_", "backend_", "n_threads_", "history_",
                     "best_epoch_"):
            self.__dict__.pop(name, None)

    def _epoch_order(self, users, items, ratings, n_users, n_items):
        """The ratings in the order the epochs take them (SVD's grid: block by block, once)."""
        return users, items, ratings

    def _finish_fit(self, users, items):
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
        scalar, users = recommend_users(users, len(self.bu_))
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
        arrays = {"params": saved_params(params), "class": np.array(type(self).__name__)}
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
        with open_saved(file, cls) as (data, params):
            model = cls(**params)
            if "global_mean_" in data:
                for name in model._fitted_names():
                    setattr(model, name, data[name])
                model.global_mean_ = float(data["global_mean_"])
                model.rating_scale_ = tuple(float(x) for x in data["rating_scale_"])
                model.backend_, model.n_threads_ = str(data["backend_"]), int(data["n_threads_"])
        return model

    def _fitted_names(self):
        return ("bu_", "bi_", *self._factor_names, "user_counts_", "item_counts_")


class _Monitor:
    """``fit``'s per-epoch work beyond the epoch itself: validation metrics, callback, early stop."""

    def __init__(self, eval_set, early_stopping_rounds, callback):
        self.eval = None
        if eval_set is not None:
            users, items, ratings = as_rating_triples(eval_set)[:3]
            self.eval = users, items, ratings
        if early_stopping_rounds is not None:
            early_stopping_rounds = v.check_k(early_stopping_rounds, "early_stopping_rounds")
            if self.eval is None:
                raise ValueError("early_stopping_rounds: needs an eval_set to watch")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        self.rounds, self.callback = early_stopping_rounds, callback
        self.active = self.eval is not None or callback is not None
        self.history, self.best = [], None  # best: (rmse, epoch, {name: array})

    def after_epoch(self, model, epoch, elapsed, bar):
        """Record the epoch; True when training should stop."""
        metrics = {}
        if self.eval is not None:
            users, items, ratings = self.eval
            errors = model.predict(users, items) - ratings
            metrics = {"rmse": float(np.sqrt(np.mean(errors ** 2))), "mae": float(np.mean(np.abs(errors)))}
            self.history.append({"epoch": epoch, **metrics})
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(metrics, refresh=False)
        if self.callback is not None:
            self.callback(epoch, elapsed, metrics)
        if self.rounds is None:
            return False
        if self.best is None or metrics["rmse"] < self.best[0]:
            kept = {name: np.copy(getattr(model, name)) for name in model._fitted_names()}
            self.best = (metrics["rmse"], epoch, kept)
        return epoch - self.best[1] >= self.rounds

    def finish(self, model):
        if self.eval is not None:
            model.history_ = self.history
        if self.best is not None:
            model.__dict__.update(self.best[2])
            model.best_epoch_ = self.best[1]


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


