"""User and item biases of explicit ratings, ``r_ui ~ mu + b_u + b_i``, by Surprise 1.1's two
procedures (ALS and SGD, its update order), on the numba backend and the NumPy reference.

The bias family has no native or GPU backend: both procedures are sequential sweeps (SGD by
definition) over a few hundred thousand ratings, which numba runs in milliseconds. Definitions
and parity with Surprise: ``_numpy.py`` and docs/ratings.md.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch

__all__ = ["baseline_als", "baseline_sgd"]


def _ratings(users, items, ratings, n_users, n_items):
    users = np.ascontiguousarray(v.as_array(users, "users"), dtype=np.int64)
    items = np.ascontiguousarray(v.as_array(items, "items"), dtype=np.int64)
    ratings = np.ascontiguousarray(v.as_array(ratings, "ratings"), dtype=np.float64)
    if not users.shape == items.shape == ratings.shape or users.ndim != 1:
        raise ValueError(f"users, items, ratings: expected three 1-D arrays of one length, got shapes "
                         f"{users.shape}, {items.shape}, {ratings.shape}")
    for name, ids, extent in (("users", users, n_users), ("items", items, n_items)):
        if ids.size and (ids.min() < 0 or ids.max() >= extent):
            raise IndexError(f"{name}: index out of range [0, {extent})")
    if not np.isfinite(ratings).all():
        raise ValueError("ratings: contains NaN or inf")
    return users, items, ratings


def _arguments(users, items, ratings, n_users, n_items, global_mean):
    """The checked ratings as ``dispatch`` inputs, the sizes and mean as its first parameters,
    and the outputs ``bu`` (n_users,) and ``bi`` (n_items,)."""
    n_users = v.as_int(n_users, "n_users", "a non-negative int")
    n_items = v.as_int(n_items, "n_items", "a non-negative int")
    inputs = _ratings(users, items, ratings, n_users, n_items)
    return dict(inputs=inputs, outputs=[((n_users,), np.float64), ((n_items,), np.float64)]), (
        n_users, n_items, float(global_mean))


def baseline_als(users, items, ratings, n_users, n_items, global_mean, *, n_epochs=10, reg_u=15.0, reg_i=10.0,
                 backend=None, n_threads=None):
    """Biases by alternating least squares (Surprise's ``baseline_als``).

    Parameters
    ----------
    users, items : array-like of int, shape (n,)
        Indices in ``[0, n_users)`` and ``[0, n_items)``.
    ratings : array-like of float, shape (n,)
        Finite; summed in the given order (Surprise's trainset order gives Surprise's numbers).
    n_users, n_items : int
        Sizes of the outputs; users or items without ratings get a bias of 0.
    global_mean : float
        ``mu``.
    n_epochs : int
    reg_u, reg_i : float
        Regularisation of the user and item biases.
    backend, n_threads
        See :func:`turborec.topk` (backends: numba, numpy).

    Returns
    -------
    bu : float64 ndarray of shape (n_users,)
    bi : float64 ndarray of shape (n_items,)
    """
    arrays, sizes = _arguments(users, items, ratings, n_users, n_items, global_mean)
    return dispatch("biases", "baseline_als", **arrays, params=(*sizes, int(n_epochs), float(reg_u), float(reg_i)),
                    backend=backend, n_threads=n_threads)


def baseline_sgd(users, items, ratings, n_users, n_items, global_mean, *, n_epochs=20, reg=0.02,
                 learning_rate=0.005, backend=None, n_threads=None):
    """Biases by stochastic gradient descent (Surprise's ``baseline_sgd``), one sweep over the
    ratings in the given order per epoch.

    Parameters
    ----------
    users, items, ratings, n_users, n_items, global_mean
        As in :func:`baseline_als`.
    n_epochs : int
    reg : float
        Regularisation of both biases.
    learning_rate : float
    backend, n_threads
        See :func:`turborec.topk` (backends: numba, numpy).

    Returns
    -------
    bu : float64 ndarray of shape (n_users,)
    bi : float64 ndarray of shape (n_items,)
    """
    arrays, sizes = _arguments(users, items, ratings, n_users, n_items, global_mean)
    return dispatch("biases", "baseline_sgd", **arrays,
                    params=(*sizes, int(n_epochs), float(reg), float(learning_rate)), backend=backend,
                    n_threads=n_threads)
