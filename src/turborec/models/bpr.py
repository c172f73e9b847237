"""Bayesian Personalized Ranking with implicit 0.7's ``BayesianPersonalizedRanking`` API, on the
``bpr`` kernels (:mod:`turborec.bpr`). See docs/bpr.md."""

import time
import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .. import bpr as _bpr
from .. import selection as _topk
from .._progress import check_show_progress, progress_bar
from .._threads import resolve_n_threads
from ..backends import resolve
from ..exceptions import ParameterWarning
from ._base import RecommenderBase, as_user_items
from .factors import FactorModel

# implicit's .npz keys (either library loads the other's files), then turborec's own
_FACTORS = ("user_factors", "item_factors")
_PARAMETERS = ("regularization", "factors", "learning_rate", "verify_negative_samples", "num_threads", "iterations",
               "dtype", "random_state", "backend", "n_threads")


class BayesianPersonalizedRanking(FactorModel):
    """Bayesian Personalized Ranking (Rendle et al., UAI 2009): implicit 0.7's model and API.

    Factors are learnt by stochastic gradient ascent on ``ln sigmoid(x_u . (y_i - y_j))`` over
    sampled triples of a user, an item it liked and a negative item, ``nnz`` samples per epoch
    (:func:`turborec.bpr.bpr_epoch` states the sampling and the update). Each factor vector has a
    last column for the item bias: the items' bias, and 1 on the users' side, so that
    ``user_factors @ item_factors.T`` is the score, as in implicit.

    Parameters
    ----------
    factors : int, default 100
        Latent factors (the arrays have ``factors + 1`` columns).
    learning_rate : float >= 0, default 0.01
    regularization : float >= 0, default 0.01
    dtype : numpy.float32 or numpy.float64, default numpy.float32
        Of the factors and of the arithmetic.
    iterations : int >= 0, default 100
        Epochs.
    verify_negative_samples : bool, default True
        Skip samples whose negative item the user liked (they are counted as skipped).
    num_threads : int, default 0
        implicit's thread count: 0 is OpenMP's maximum (every core unless ``OMP_NUM_THREADS``
        says less). With 1 thread and a ``random_state`` fitting is reproducible bit for bit,
        on every backend; with more, updates race (Hogwild, as implicit) and vary between runs.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seeds the initial factors (drawn exactly as implicit draws them) and each epoch's
        sampling sequence.
    backend : str, optional
        Of the BPR and top-k kernels (``"native"``, ``"numba"``, ``"numpy"``; see
        :mod:`turborec.backends`).
    n_threads : int, optional
        turborec's thread count; wins over ``num_threads`` when given.

    Attributes
    ----------
    user_factors : ndarray of shape (n_users, factors + 1), or None before ``fit``
        The last column is 1 (the item bias's user side).
    item_factors : ndarray of shape (n_items, factors + 1), or None before ``fit``
        The last column is the item bias.
    n_users_, n_items_, backend_, n_threads_
    """

    def __init__(self, factors=100, learning_rate=0.01, regularization=0.01, dtype=np.float32, iterations=100,
                 verify_negative_samples=True, num_threads=0, random_state=None, *, backend=None, n_threads=None):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.dtype = dtype
        self.iterations = iterations
        self.verify_negative_samples = verify_negative_samples
        self.num_threads = num_threads
        self.random_state = random_state
        self.backend = backend
        self.n_threads = n_threads
        self.user_factors = None
        self.item_factors = None

    set_params = RecommenderBase.set_params  # FactorModel's would re-validate factors as parameters

    @property
    def n_users_(self):
        if self.user_factors is None:
            raise AttributeError("n_users_: not fitted")
        return len(self.user_factors)

    @property
    def n_items_(self):
        if self.item_factors is None:
            raise AttributeError("n_items_: not fitted")
        return len(self.item_factors)

    def _settings(self):
        """Every parameter checked: (factors, learning_rate, regularization, dtype, iterations,
        verify); sets ``backend_`` and ``n_threads_``."""
        factors = v.check_k(self.factors, "factors")
        learning_rate, regularization, _, verify = _bpr.check_settings(self.learning_rate, self.regularization, 0,
                                                                       self.verify_negative_samples)
        dtype = _float_dtype(self.dtype)
        iterations = v.as_int(self.iterations, "iterations", "an int >= 0")
        if iterations < 0:
            raise ValueError(f"iterations: expected an int >= 0, got {iterations}")
        self._resolve_runtime()
        return factors, learning_rate, regularization, dtype, iterations, verify

    def _resolve_runtime(self):
        threads = self.n_threads
        if threads is None:
            num_threads = v.as_int(self.num_threads, "num_threads", "an int >= 0 (0: every core)")
            if num_threads < 0:
                raise ValueError(f"num_threads: expected 0 (every core) or a positive int, got {num_threads}")
            threads = num_threads or None
        self.backend_ = resolve("bpr", self.backend).name
        self.n_threads_ = resolve_n_threads(threads)

    def fit(self, user_items, show_progress=True, callback=None):
        """Learn the factors by ``iterations`` epochs of BPR.

        As implicit, factors already set with the right shapes and dtype (a previous ``fit``,
        ``load``) are the starting point; otherwise both are drawn from ``random_state``:
        ``(random - 0.5) / factors``, zero rows for users and items without interactions, and 1
        in the users' bias column.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Every stored positive entry is a liked (user, item) pair, its value ignored;
            duplicates count once, stored zeros are dropped. Other sparse formats are converted
            with a ParameterWarning. NaN, inf or negative values are a ValueError.
        show_progress : bool, default True
            Draw a progress bar with the training AUC and the share of skipped samples.
        callback : callable, optional
            Called after each epoch as implicit calls it: ``callback(epoch, seconds, correct,
            skipped)``.

        Returns
        -------
        self
        """
        show = check_show_progress(show_progress)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
        factors, learning_rate, regularization, dtype, iterations, verify = self._settings()
        likes = _bpr.as_likes(as_user_items(user_items, stacklevel=3))
        rs = _generator(self.random_state)
        self._start(likes, factors, dtype, rs)
        seeds = rs.integers(0, 2**64, size=iterations, dtype=np.uint64)
        with progress_bar(show, total=iterations, desc="BPR", unit="epoch") as bar:
            for epoch, seed in enumerate(seeds):
                start = time.perf_counter()
                correct, skipped = _bpr.epoch(likes, self.user_factors, self.item_factors, learning_rate,
                                              regularization, int(seed), verify, self.backend_, self.n_threads_)
                bar.update(1)
                if hasattr(bar, "set_postfix") and likes.nnz > skipped:
                    bar.set_postfix(train_auc=f"{100.0 * correct / (likes.nnz - skipped):.2f}%",
                                    skipped=f"{100.0 * skipped / likes.nnz:.2f}%", refresh=False)
                if callback is not None:
                    callback(epoch, time.perf_counter() - start, correct, skipped)
        if not (np.isfinite(self.user_factors).all() and np.isfinite(self.item_factors).all()):
            raise ValueError("fit: the factors diverged to NaN or inf; lower learning_rate")
        return self

    def _start(self, likes, factors, dtype, rs):
        """The factors training starts from: the current ones when they fit, else implicit's draw."""
        (n_users, n_items), width = likes.shape, factors + 1
        current = (self.user_factors, self.item_factors)
        if all(isinstance(a, np.ndarray) and a.dtype == dtype for a in current) and \
                self.user_factors.shape == (n_users, width) and self.item_factors.shape == (n_items, width):
            self.user_factors, self.item_factors = _bpr.check_factors(*current, likes.shape)
            return
        indptr, indices = likes.arrays
        item_factors = rs.random((n_items, width), dtype=dtype) - 0.5
        item_factors /= factors
        item_factors[np.bincount(indices, minlength=n_items) == 0] = 0
        user_factors = rs.random((n_users, width), dtype=dtype) - 0.5
        user_factors /= factors
        user_factors[np.diff(indptr) == 0] = 0
        user_factors[:, factors] = 1
        self.user_factors, self.item_factors = user_factors, item_factors

    # ------------------------------------------------------------------ queries

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """Top-``N`` items by ``user_factors @ item_factors.T``; see
        :meth:`RecommenderBase.recommend`. ``recalculate_user`` is not supported by BPR
        (NotImplementedError, as in implicit)."""
        if sp.issparse(user_items):
            user_items = as_user_items(user_items)  # here, so that a conversion warning names the caller's line
        self._resolve_runtime()
        return super().recommend(userid, user_items, N, filter_already_liked_items, filter_items, recalculate_user,
                                 items)

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None):
        """Items most similar to ``itemid`` by the cosine of their factors (bias column included,
        as in implicit; the item itself first).

        Parameters
        ----------
        itemid : int or array-like of int
        N : int
            ``min(N, n_items)`` columns (``min(N, len(items))`` with ``items``).
        recalculate_item : bool
            Not supported by BPR (NotImplementedError, as in implicit).
        item_users : ignored
        filter_items, items : array-like of int, optional
            Item ids never returned / the only ids ranked (at most one of them).

        Returns
        -------
        ids : int32 ndarray, shape (width,) or (len(itemid), width)
        scores : float32 ndarray of cosines
        """
        self._check_fitted()
        if v.as_bool(recalculate_item, "recalculate_item"):
            raise NotImplementedError("recalculate_item: not supported by BayesianPersonalizedRanking")
        return self._similar(itemid, self.item_factors, N, filter_items, items, ("itemid", "filter_items", "items"))

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """Users most similar to ``userid`` by the cosine of their factors (the user itself first).

        Parameters
        ----------
        userid : int or array-like of int
        N : int
        filter_users, users : array-like of int, optional
            User ids never returned / the only ids ranked (at most one of them).

        Returns
        -------
        ids : int32 ndarray
        scores : float32 ndarray of cosines
        """
        self._check_fitted()
        return self._similar(userid, self.user_factors, N, filter_users, users, ("userid", "filter_users", "users"))

    def _similar(self, ids, factors, N, filtered, only, names):
        id_name, filter_name, only_name = names
        n = len(factors)
        scalar = np.ndim(ids) == 0
        queried = np.atleast_1d(np.asarray(ids))
        if queried.ndim != 1 or (queried.size and not np.issubdtype(queried.dtype, np.integer)):
            raise TypeError(f"{id_name}: expected an int or a 1-D array of ints, got {np.asarray(ids).dtype} "
                            f"of shape {np.shape(ids)}")
        if queried.size and (queried.min() < 0 or queried.max() >= n):
            raise IndexError(f"{id_name}: {queried.min() if queried.min() < 0 else queried.max()} out of range [0, {n})")
        N = v.check_k(N, "N")
        if filtered is not None and only is not None:
            raise ValueError(f"{filter_name} and {only_name}: give at most one of them")
        candidates = None
        if filtered is not None:
            candidates = np.setdiff1d(np.arange(n), v.as_candidates(filtered, n, filter_name))
        elif only is not None:
            candidates = v.as_candidates(only, n, only_name)
        self._resolve_runtime()
        found, scores = self._rank_cosine(factors[queried], factors, N, candidates)
        return (found[0], scores[0]) if scalar else (found, scores)

    def _rank_cosine(self, queries, factors, N, candidates):
        ids, scores = _topk.topk_dot(queries, factors, N, candidates=candidates, normalize=True,
                                     backend=self.backend_, n_threads=self.n_threads_)
        return ids.astype(np.int32), scores.astype(np.float32)

    # ------------------------------------------------------------------ persistence

    def save(self, fileobj_or_path):
        """Save to ``.npz`` with implicit's keys (the factors and each parameter; None ones left
        out). A ``random_state`` that is not an int cannot be stored without pickling: it is left
        out with a ParameterWarning.

        Parameters
        ----------
        fileobj_or_path : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it (as ``numpy.savez`` does).
        """
        arrays = {name: getattr(self, name) for name in _FACTORS if getattr(self, name) is not None}
        for name in _PARAMETERS:
            value = getattr(self, name)
            if name == "dtype":
                value = _float_dtype(value).name
            elif name == "random_state" and value is not None and not isinstance(value, (int, np.integer)):
                warnings.warn(f"random_state: a {type(value).__name__} cannot be saved without pickling; not saved",
                              ParameterWarning, stacklevel=2)
                value = None
            if value is not None:
                arrays[name] = np.asarray(value)
        np.savez(fileobj_or_path, **arrays)

    @classmethod
    def load(cls, fileobj_or_path):
        """A model saved by :meth:`save` (or by implicit's ``save``), read with
        ``allow_pickle=False``.

        Parameters
        ----------
        fileobj_or_path : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it.

        Returns
        -------
        BayesianPersonalizedRanking
        """
        if isinstance(fileobj_or_path, str) and not fileobj_or_path.endswith(".npz"):
            fileobj_or_path += ".npz"
        model = cls()
        with np.load(fileobj_or_path, allow_pickle=False) as data:
            for key in data.files:
                if key not in _PARAMETERS and key not in _FACTORS:
                    raise ValueError(f"fileobj_or_path: unexpected entry {key!r} (not a saved {cls.__name__})")
                value = data[key]
                if key == "dtype":
                    value = np.dtype(str(value)).type
                elif value.shape == () and key not in _FACTORS:
                    value = value.item()
                setattr(model, key, value)
        return model


def _float_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {dtype}")
    return dtype


def _generator(random_state):
    """implicit's ``check_random_state``: a Generator from an int, None, a Generator or a
    RandomState (which seeds a fresh Generator with one draw)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    seed = v.as_int(random_state, "random_state", "an int, a numpy Generator or RandomState, or None")
    if seed < 0:
        raise ValueError(f"random_state: expected a non-negative int, got {seed}")
    return np.random.default_rng(seed)
