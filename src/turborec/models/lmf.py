"""Logistic Matrix Factorization with implicit 0.7's ``LogisticMatrixFactorization`` API, on the
``lmf`` kernel (:mod:`turborec.lmf`). See docs/lmf.md."""

import time

import numpy as np

from .. import _validation as v
from .. import lmf as _lmf
from .._progress import check_show_progress, progress_bar
from ._base import as_user_items
from ._implicit import TrainedFactorModel, check_iterations, check_random_state, float_dtype

_SAVED = ("regularization", "factors", "learning_rate", "neg_prop", "num_threads", "iterations", "dtype",
               "random_state", "backend", "n_threads")


class LogisticMatrixFactorization(TrainedFactorModel):
    """Logistic Matrix Factorization (Johnson, NIPS 2014 workshop): implicit 0.7's model and API.

    Each epoch takes one AdaGrad step for every user, the items fixed, then one for every item,
    the users fixed (:func:`turborec.lmf.lmf_update` states the step and the negative
    sampling). Each factor vector has two more columns: ``user_factors[:, -2]`` is 1 and
    ``user_factors[:, -1]`` the user bias; ``item_factors[:, -2]`` the item bias and
    ``item_factors[:, -1]`` is 1, so that ``user_factors @ item_factors.T`` is the score, as
    in implicit.

    Parameters
    ----------
    factors : int, default 30
        Latent factors (the arrays have ``factors + 2`` columns).
    learning_rate : float >= 0, default 1.0
        AdaGrad's step size.
    regularization : float >= 0, default 0.6
    dtype : numpy.float32 or numpy.float64, default numpy.float32
        Of the factors and of the arithmetic.
    iterations : int >= 0, default 30
        Epochs.
    neg_prop : int >= 0, default 30
        Negatives sampled per interaction, at most ``factors + 2`` per user or item (as
        implicit).
    num_threads : int, default 0
        implicit's thread count: 0 is OpenMP's maximum. The factors do not depend on it: with a
        ``random_state`` fitting is reproducible bit for bit on every backend and thread count.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seeds the initial factors (standard normal, drawn as implicit draws them) and the
        sampling sequences.
    backend : str, optional
        Of the LMF and top-k kernels (``"native"``, ``"numba"``, ``"numpy"``).
    n_threads : int, optional
        turborec's thread count; wins over ``num_threads`` when given.

    Attributes
    ----------
    user_factors : ndarray of shape (n_users, factors + 2), or None before ``fit``
    item_factors : ndarray of shape (n_items, factors + 2), or None before ``fit``
    n_users_, n_items_, backend_, n_threads_
    """

    _family = "lmf"
    _saved = _SAVED  # implicit's .npz keys (either library loads the other's files), then turborec's own

    def __init__(self, factors=30, learning_rate=1.00, regularization=0.6, dtype=np.float32, iterations=30,
                 neg_prop=30, num_threads=0, random_state=None, *, backend=None, n_threads=None):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.dtype = dtype
        self.iterations = iterations
        self.neg_prop = neg_prop
        self.num_threads = num_threads
        self.random_state = random_state
        self.backend = backend
        self.n_threads = n_threads
        self.user_factors = None
        self.item_factors = None

    def _settings(self):
        """Every parameter checked: (factors, learning_rate, regularization, neg_prop, dtype,
        iterations); sets ``backend_`` and ``n_threads_``."""
        factors = v.check_k(self.factors, "factors")
        learning_rate, regularization, neg_prop, _ = _lmf.check_settings(self.learning_rate, self.regularization,
                                                                         self.neg_prop, 0)
        dtype = float_dtype(self.dtype)
        iterations = check_iterations(self.iterations)
        self._resolve_runtime()
        return factors, learning_rate, regularization, neg_prop, dtype, iterations

    def fit(self, user_items, show_progress=True, callback=None):
        """Learn the factors by ``iterations`` epochs (a users' half-step, then an items' one).

        As implicit, factors already set with the right shapes and dtype (a previous ``fit``,
        ``load``) are the starting point; otherwise both are drawn from ``random_state``: items
        then users, standard normal in float32 (implicit's draws whatever ``dtype``), zero rows for items and users without interactions, and
        the constant columns set to 1. AdaGrad's sums start at zero on every ``fit``.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Confidences: finite values >= 0 (stored zeros dropped, duplicates summed). Other
            sparse formats are converted with a ParameterWarning. NaN, inf or negative values
            are a ValueError.
        show_progress : bool, default True
            Draw a progress bar.
        callback : callable, optional
            Called after each epoch as implicit calls it: ``callback(epoch, seconds)``.

        Returns
        -------
        self
        """
        show = check_show_progress(show_progress)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable or None, got {type(callback).__name__}")
        factors, learning_rate, regularization, neg_prop, dtype, iterations = self._settings()
        users, items = _lmf.as_rows(as_user_items(user_items, stacklevel=3), dtype)
        rs = check_random_state(self.random_state)
        self._start(users, factors, dtype, rs)
        x, y = self.user_factors, self.item_factors
        x_sums, y_sums = np.zeros_like(x), np.zeros_like(y)
        seeds = rs.integers(0, 2**64, size=(iterations, 2), dtype=np.uint64)
        with progress_bar(show, total=iterations, desc="LMF", unit="epoch") as bar:
            for epoch, (user_seed, item_seed) in enumerate(seeds):
                start = time.perf_counter()
                _lmf.update(users, y, x, x_sums, learning_rate, regularization, neg_prop, int(user_seed),
                            self.backend_, self.n_threads_)
                x[:, -2] = 1
                _lmf.update(items, x, y, y_sums, learning_rate, regularization, neg_prop, int(item_seed),
                            self.backend_, self.n_threads_)
                y[:, -1] = 1
                bar.update(1)
                if callback is not None:
                    callback(epoch, time.perf_counter() - start)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("fit: the factors diverged to NaN or inf; lower learning_rate")
        return self

    def _start(self, users, factors, dtype, rs):
        """The factors training starts from: the current ones when they fit, else implicit's draw."""
        (n_users, n_items), width = users.shape, factors + 2
        current = (self.user_factors, self.item_factors)
        if all(isinstance(a, np.ndarray) and a.dtype == dtype for a in current) and \
                self.user_factors.shape == (n_users, width) and self.item_factors.shape == (n_items, width):
            x = v.as_float_matrix(self.user_factors, "user_factors", np, finite=True)
            y = v.as_float_matrix(self.item_factors, "item_factors", np, finite=True)
            self.user_factors, self.item_factors = x, y
            return
        indptr, indices = users.arrays
        item_factors = rs.standard_normal((n_items, width), dtype=np.float32).astype(dtype)  # as implicit
        item_factors[:, -1] = 1
        item_factors[np.bincount(indices, minlength=n_items) == 0] = 0
        user_factors = rs.standard_normal((n_users, width), dtype=np.float32).astype(dtype)
        user_factors[:, -2] = 1
        user_factors[np.diff(indptr) == 0] = 0
        self.user_factors, self.item_factors = user_factors, item_factors

    # ------------------------------------------------------------------ queries
