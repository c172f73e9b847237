"""Numba baseline estimation: the loops of ``_numpy.py`` (see its docstring for the contract and
the mathematics), compiled. Serial: SGD is sequential by definition, and ALS is
memory-bound and fast enough on one thread; float64 throughout and no ``fastmath``, so the
results equal the reference and Surprise's."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _half_step(rows, others, ratings, global_mean, other_bias, reg, count, dev, bias):
    """One side's ALS update: ``bias[r] = sum (r - mu - other_bias) / (reg + count[r])``, in order."""
    dev[:] = 0.0
    for k in range(len(ratings)):
        dev[rows[k]] += (ratings[k] - global_mean) - other_bias[others[k]]
    for r in range(len(bias)):
        if count[r] > 0:
            bias[r] = dev[r] / (reg + count[r])


@njit(cache=True, nogil=True)
def _als(users, items, ratings, n_users, n_items, global_mean, n_epochs, reg_u, reg_i, bu, bi):
    count_u = np.zeros(n_users)
    count_i = np.zeros(n_items)
    for k in range(len(ratings)):
        count_u[users[k]] += 1.0
        count_i[items[k]] += 1.0
    dev_u = np.zeros(n_users)
    dev_i = np.zeros(n_items)
    for _ in range(n_epochs):
        _half_step(items, users, ratings, global_mean, bu, reg_i, count_i, dev_i, bi)
        _half_step(users, items, ratings, global_mean, bi, reg_u, count_u, dev_u, bu)


@njit(cache=True, nogil=True)
def _sgd(users, items, ratings, global_mean, n_epochs, reg, learning_rate, bu, bi):
    for _ in range(n_epochs):
        for k in range(len(ratings)):
            u = users[k]
            i = items[k]
            err = ratings[k] - (global_mean + bu[u] + bi[i])
            bu[u] += learning_rate * (err - reg * bu[u])
            bi[i] += learning_rate * (err - reg * bi[i])


def baseline_als(users, items, ratings, n_users, n_items, global_mean, n_epochs, reg_u, reg_i, n_threads, bu, bi):
    """ALS biases, written into ``bu`` and ``bi``."""
    bu[:] = 0.0
    bi[:] = 0.0
    _als(users, items, ratings, n_users, n_items, float(global_mean), int(n_epochs), float(reg_u), float(reg_i),
         bu, bi)


def baseline_sgd(users, items, ratings, n_users, n_items, global_mean, n_epochs, reg, learning_rate, n_threads, bu,
                 bi):
    """SGD biases, written into ``bu`` and ``bi``."""
    bu[:] = 0.0
    bi[:] = 0.0
    _sgd(users, items, ratings, float(global_mean), int(n_epochs), float(reg), float(learning_rate), bu, bi)
