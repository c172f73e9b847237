"""Bayesian Personalized Ranking with implicit 0.7's ``BayesianPersonalizedRanking`` API, on the
``bpr`` kernels (:mod:`turborec.bpr`). See docs/bpr.md."""

import time

import numpy as np

from .. import _validation as v
from .. import bpr as _bpr
from .._progress import check_show_progress, progress_bar
from ._base import as_user_items
from ._implicit import TrainedFactorModel, check_iterations, check_random_state, float_dtype

_SAVED = ("regularization", "factors", "learning_rate", "verify_negative_samples", "num_threads", "iterations",
               "dtype", "random_state", "backend", "n_threads")


class BayesianPersonalizedRanking(TrainedFactorModel):
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

    _family = "bpr"
    _saved = _SAVED  # implicit's .npz keys (either library loads the other's files), then turborec's own

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

    def _settings(self):
        """Every parameter checked: (factors, learning_rate, regularization, dtype, iterations,
        verify); sets ``backend_`` and ``n_threads_``."""
        factors = v.check_k(self.factors, "factors")
        learning_rate, regularization, _, verify = _bpr.check_settings(self.learning_rate, self.regularization, 0,
                                                                       self.verify_negative_samples)
        dtype = float_dtype(self.dtype)
        iterations = check_iterations(self.iterations)
        self._resolve_runtime()
        return factors, learning_rate, regularization, dtype, iterations, verify

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
        rs = check_random_state(self.random_state)
        self._start(likes, factors, dtype, rs)
        seeds = rs.integers(0, 2**64, size=iterations, dtype=np.uint64)
        with progress_bar(show, total=iterations, desc="BPR", unit="epoch") as bar:
            started = time.perf_counter()

            def on_epoch(epoch, correct, skipped):  # after each epoch, inside the one kernel call
                nonlocal started
                bar.update(1)
                if hasattr(bar, "set_postfix") and likes.nnz > skipped:
                    bar.set_postfix(train_auc=f"{100.0 * correct / (likes.nnz - skipped):.2f}%",
                                    skipped=f"{100.0 * skipped / likes.nnz:.2f}%", refresh=False)
                if callback is not None:
                    callback(epoch, time.perf_counter() - started, correct, skipped)
                started = time.perf_counter()

            _bpr.epochs(likes, self.user_factors, self.item_factors, learning_rate, regularization, seeds, verify,
                        self.backend_, self.n_threads_, on_epoch if show or callback is not None else None)
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
