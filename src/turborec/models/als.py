"""implicit 0.7's ``AlternatingLeastSquares`` on turborec's ALS kernels (:mod:`turborec.als`).

Hu, Koren, Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets", with the
conjugate-gradient solver of Takacs, Pilaszy, Tikk (2011). Confidence as implicit 0.7 defines
it: the stored value times ``alpha`` is the confidence ``c``; ``c > 0`` is a positive preference,
``c <= 0`` a negative one with confidence ``|c|``; entries not stored have confidence 1. Hu et
al.'s ``1 + alpha r`` is had by passing ``1 + alpha r`` (with ``alpha=1``). See docs/implicit.md.

Scoring (``recommend``, ``score``) is :class:`~turborec.models.FactorModel`'s, through
:func:`turborec.topk_dot`.
"""

import heapq
import time

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .. import _validation as v
from .. import als as _als
from .._progress import check_show_progress, progress_bar
from .._threads import resolve_n_threads
from ..backends import resolve
from ..datasets import Interactions
from ..similarity._operands import check_number
from ._base import as_user_items
from ._implicit import TrainedFactorModel, check_iterations, _ids, check_random_state, threads_of
from .factors import FactorModel

class AlternatingLeastSquares(TrainedFactorModel):
    """implicit 0.7's ``AlternatingLeastSquares`` (same parameters, defaults and methods).

    Parameters
    ----------
    factors : int, default 100
        Latent factors per user and item.
    regularization : float, default 0.01
        L2 regularization (``>= 0``) added to every row's system.
    alpha : float, default 1.0
        The stored values are multiplied by it to give the confidences (``> 0``).
    dtype : numpy float dtype, default numpy.float32
        float32 or float64 factors.
    use_native : bool, default True
        False runs the NumPy reference kernels (implicit: its pure-Python solvers); ``backend``
        wins when given.
    use_cg : bool, default True
        Conjugate gradient (``cg_steps`` steps per row and half-step, from the current factors)
        rather than the exact Cholesky solve.
    iterations : int, default 15
        ALS iterations (each solves users, then items).
    calculate_training_loss : bool, default False
        Compute implicit's training loss after every iteration (shown on the progress bar,
        passed to ``callback``, kept in ``loss_``).
    num_threads : int, default 0
        implicit's thread count (0: every core); used when ``n_threads`` is None.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        Seeds the initial factors exactly as implicit does: ``default_rng(random_state)``
        draws user factors then item factors, ``random((n, factors)) * 0.01``.
    backend : str, optional
        Of the ALS and top-k kernels (see :mod:`turborec.backends`).
    n_threads : int, optional
        turborec's thread count; wins over ``num_threads`` when given.

    Attributes
    ----------
    user_factors : ndarray of shape (n_users, factors), or None before ``fit``
    item_factors : ndarray of shape (n_items, factors), or None before ``fit``
    cg_steps : int
        Conjugate gradient steps (implicit's attribute; 3).
    loss_ : float or None
        The training loss after the last iteration (``calculate_training_loss``).
    n_users_, n_items_, backend_, n_threads_
    """

    # implicit's .npz keys (either library loads the other's files), then turborec's own
    _saved = ("regularization", "factors", "num_threads", "iterations", "use_native", "use_cg", "cg_steps",
              "calculate_training_loss", "dtype", "random_state", "alpha", "backend", "n_threads")

    def __init__(self, factors=100, regularization=0.01, alpha=1.0, dtype=np.float32, use_native=True, use_cg=True,
                 iterations=15, calculate_training_loss=False, num_threads=0, random_state=None, *, backend=None,
                 n_threads=None):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.dtype = dtype
        self.use_native = use_native
        self.use_cg = use_cg
        self.iterations = iterations
        self.calculate_training_loss = calculate_training_loss
        self.num_threads = num_threads
        self.random_state = random_state
        self.backend = backend
        self.n_threads = n_threads
        self.cg_steps = 3
        self.fit_callback = None  # implicit's older callback hook, used when fit gets none
        self.user_factors = None
        self.item_factors = None
        self.loss_ = None

    def _settings(self):
        """Every parameter checked: (factors, regularization, alpha, dtype, iterations)."""
        factors = v.check_k(self.factors, "factors")
        regularization = check_number(self.regularization, "regularization", 0.0)
        alpha = check_number(self.alpha, "alpha", 0.0)
        if alpha == 0:
            raise ValueError("alpha: expected a finite number > 0, got 0 (every confidence would be 0)")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {self.dtype!r}") from None
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {dtype}")
        iterations = check_iterations(self.iterations)
        for name in ("use_native", "use_cg", "calculate_training_loss"):
            v.as_bool(getattr(self, name), name)
        _als.check_cg_steps(self.cg_steps)
        self._resolve_runtime()
        return factors, regularization, alpha, dtype, iterations

    def _resolve_runtime(self):
        """``backend_`` and ``n_threads_`` from ``backend`` / ``use_native`` and ``n_threads`` /
        ``num_threads``."""
        backend = self.backend if self.backend is not None or self.use_native else "numpy"
        self.backend_ = resolve("als", backend).name
        self.n_threads_ = resolve_n_threads(threads_of(self.n_threads, self.num_threads))

    # ------------------------------------------------------------------ fitting

    def fit(self, user_items, show_progress=True, callback=None):
        """Factorise ``user_items`` (users x items confidences) by alternating least squares.

        Both sides' factors are drawn afresh from ``random_state`` at every call (implicit
        continues from factors already set: a refit of a copy, e.g. in cross-validation, would
        then start from what another fold learned).

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            The stored values times ``alpha`` are the confidences (negative: a dislike). Other
            sparse formats are converted with a ParameterWarning. NaN or inf is a ValueError.
        show_progress : bool, default True
            Draw a progress bar (with the loss when it is computed).
        callback : callable, optional
            ``callback(iteration, elapsed_seconds, loss)`` after every iteration (``loss`` None
            unless ``calculate_training_loss``), as in implicit.

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
        factors, regularization, alpha, dtype, iterations = self._settings()
        cui = _scaled(as_user_items(user_items), alpha)
        n_users, n_items = cui.shape
        user_side = _als.as_confidences(cui, dtype)
        item_side = _als.as_confidences(cui.T.tocsr(), dtype)
        rng = check_random_state(self.random_state)
        self.user_factors = rng.random((n_users, factors), dtype=dtype) * dtype.type(0.01)
        self.item_factors = rng.random((n_items, factors), dtype=dtype) * dtype.type(0.01)
        self.loss_ = None
        callback = callback or self.fit_callback
        with progress_bar(show_progress, total=iterations, desc="ALS", unit="it") as bar:
            for iteration in range(iterations):
                start = time.time()
                self.user_factors = self._solve(user_side, self.user_factors, self.item_factors, regularization)
                self.item_factors = self._solve(item_side, self.item_factors, self.user_factors, regularization)
                bar.update(1)
                if self.calculate_training_loss:
                    self.loss_ = _als.loss(user_side, self.user_factors, self.item_factors, regularization,
                                           self.backend_, self.n_threads_)
                    if show_progress and hasattr(bar, "set_postfix"):
                        bar.set_postfix({"loss": self.loss_})
                if callback is not None:
                    callback(iteration, time.time() - start, self.loss_)
        for name in ("user_factors", "item_factors"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"fit: NaN or inf in {name} (training diverged); raise regularization or lower alpha")
        return self

    def _solve(self, confidences, x, y, regularization, use_cg=None):
        use_cg = self.use_cg if use_cg is None else use_cg
        return _als.solve(confidences, x, y, regularization, use_cg, self.cg_steps, self.backend_, self.n_threads_)

    # ------------------------------------------------------------------ recalculation

    def recalculate_user(self, userid, user_items):
        """Factors of users computed from their rows, exactly (Cholesky), not stored.

        Parameters
        ----------
        userid : int or array-like of int
            Need not be known to the model.
        user_items : scipy.sparse.csr_matrix of shape (1 or len(userid), n_items)
            The users' rows (values before ``alpha``).

        Returns
        -------
        ndarray of shape (factors,) for an int ``userid``, else (len(userid), factors)
        """
        return self._recalculate(userid, user_items, self.item_factors, "userid", "user_items")

    def recalculate_item(self, itemid, item_users):
        """Factors of items computed from their columns (rows of ``item_users``), not stored.

        Parameters
        ----------
        itemid : int or array-like of int
        item_users : scipy.sparse.csr_matrix of shape (1 or len(itemid), n_users)

        Returns
        -------
        ndarray of shape (factors,) for an int ``itemid``, else (len(itemid), factors)
        """
        return self._recalculate(itemid, item_users, self.user_factors, "itemid", "item_users")

    def _recalculate(self, ids, rows, other, id_name, rows_name):
        self._check_fitted()
        scalar, ids = _ids(ids, id_name)
        _, regularization, alpha, dtype, _ = self._settings()
        rows = _scaled(as_user_items(rows, rows_name, stacklevel=4), alpha)
        if rows.shape != (len(ids), len(other)):
            raise ValueError(f"{rows_name}: expected shape ({len(ids)}, {len(other)}) (one row per id in {id_name}), "
                             f"got {rows.shape}")
        confidences = _als.as_confidences(rows, other.dtype, rows_name)
        start = np.zeros((len(ids), other.shape[1]), dtype=other.dtype)
        factors = self._solve(confidences, start, other, regularization, use_cg=False)
        return factors[0] if scalar else factors

    def partial_fit_users(self, userids, user_items):
        """Recompute (and store) the factors of ``userids`` from their rows; new ids grow the model
        (users between get zero factors), as implicit.

        Parameters
        ----------
        userids : array-like of int
        user_items : scipy.sparse.csr_matrix of shape (len(userids), n_items)
        """
        self.user_factors = self._partial_fit(userids, user_items, self.user_factors, self.recalculate_user,
                                              "userids", "user_items")

    def partial_fit_items(self, itemids, item_users):
        """Recompute (and store) the factors of ``itemids`` from their rows of ``item_users``.

        Parameters
        ----------
        itemids : array-like of int
        item_users : scipy.sparse.csr_matrix of shape (len(itemids), n_users)
        """
        self.item_factors = self._partial_fit(itemids, item_users, self.item_factors, self.recalculate_item,
                                              "itemids", "item_users")

    def _partial_fit(self, ids, rows, stored, recalculate, id_name, rows_name):
        self._check_fitted()
        scalar, ids = _ids(ids, id_name)
        if scalar:
            raise TypeError(f"{id_name}: expected an array of ids, got a scalar")
        new = recalculate(ids, rows)
        size = max(len(stored), int(ids.max()) + 1 if len(ids) else 0)
        grown = np.zeros((size, stored.shape[1]), dtype=stored.dtype)
        grown[: len(stored)] = stored
        grown[ids] = new
        return grown

    # ------------------------------------------------------------------ queries

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """Top-``N`` items; see :meth:`RecommenderBase.recommend`. With ``recalculate_user`` the
        users' factors are first recomputed from ``user_items`` (:meth:`recalculate_user`)."""
        if sp.issparse(user_items):
            user_items = as_user_items(user_items)  # here, so that a conversion warning names the caller's line
        if not v.as_bool(recalculate_user, "recalculate_user"):
            return super().recommend(userid, user_items, N, filter_already_liked_items, filter_items, False, items)
        self._check_fitted()
        scalar, users = self._users(userid)
        if isinstance(user_items, Interactions):  # the whole table: these users' rows of it
            user_items = self._liked(users, user_items)
        factors = np.atleast_2d(self.recalculate_user(userid, user_items))
        served = FactorModel(factors, self.item_factors, backend=self.backend_, n_threads=self.n_threads_)
        users = 0 if scalar else np.arange(len(factors))
        return served.recommend(users, user_items, N, filter_already_liked_items, filter_items, False, items)

    def _item_queries(self, itemid, recalculate, item_users):
        if not recalculate:
            return super()._item_queries(itemid, False, item_users)
        return np.ndim(itemid) == 0, np.atleast_2d(self.recalculate_item(itemid, item_users))

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why ``itemid`` scores what it scores for ``userid`` (Hu et al. section 5, implicit's
        formula): with ``W = (Y^T C_u Y + reg I)^-1``, each liked item ``j`` contributes
        ``c_uj * y_i^T W y_j``; the contributions sum to the score ``x_u . y_i`` of the user's
        exact (Cholesky) factors.

        Parameters
        ----------
        userid : int
        user_items : scipy.sparse.csr_matrix
            Every user's row (row ``userid`` is read, as implicit) or the user's row alone.
        itemid : int
        user_weights : tuple, optional
            The Cholesky factor a previous call returned for this user (skips its computation).
        N : int
            Contributions listed.

        Returns
        -------
        total_score : float
        top_contributions : list of (itemid, contribution), largest first
        user_weights : tuple
            ``scipy.linalg.cho_factor`` of ``Y^T C_u Y + reg I``, for the next call.
        """
        self._check_fitted()
        _, (user,) = self._ids_in(userid, self.n_users_, "userid")
        _, (item,) = self._ids_in(itemid, self.n_items_, "itemid")
        N = v.check_k(N, "N")
        _, regularization, alpha, _, _ = self._settings()
        matrix = as_user_items(user_items)
        if matrix.shape[1] != self.n_items_ or matrix.shape[0] not in (1, self.n_users_):
            raise ValueError(f"user_items: expected shape ({self.n_users_}, {self.n_items_}) or (1, {self.n_items_}), "
                             f"got {matrix.shape}")
        row = _scaled(matrix[user] if matrix.shape[0] == self.n_users_ > 1 else matrix[0], alpha)
        liked, confidence = row.indices, row.data.astype(np.float64)
        if not np.isfinite(confidence).all():
            raise ValueError("user_items: contains NaN or inf values")
        y = self.item_factors.astype(np.float64)
        if user_weights is None:
            a = y.T @ y + regularization * np.eye(y.shape[1])
            a += (y[liked].T * (np.abs(confidence) - 1)) @ y[liked]
            user_weights = scipy.linalg.cho_factor(a)
        weighted_item = scipy.linalg.cho_solve(user_weights, y[item])
        keep = confidence >= 0
        contributions = (y[liked[keep]] @ weighted_item) * confidence[keep]
        best = heapq.nlargest(N, zip(contributions.tolist(), liked[keep].tolist()))
        return float(contributions.sum()), [(int(j), float(s)) for s, j in best], user_weights


def _scaled(matrix, alpha):
    """implicit's confidences: the values as float32, times ``alpha`` (a new matrix)."""
    matrix = matrix.astype(np.float32)
    if alpha != 1.0:
        with np.errstate(over="ignore"):  # an overflow to inf is refused by the finite check after
            matrix.data *= np.float32(alpha)
    return matrix
