"""Reference (NumPy and plain Python) baseline estimation, the oracle of ``_numba.py``.

Contract of every backend of the family: ``baseline_als`` and ``baseline_sgd`` take the ratings
as int64 ``users``, ``items`` and float64 ``ratings`` (validated in ``__init__.py``, in the order
the sweep must follow), the sizes, the global mean, the options, ``n_threads`` (unused: both
procedures are sequential), then the float64 outputs ``bu`` (n_users,) and ``bi`` (n_items,),
written in full.

The model ``r_ui ~ mu + b_u + b_i`` (Koren, "Factor in the neighbors", 2010, section 2.1) is fitted
by Surprise 1.1's two procedures, with its update order, so that the results equal Surprise's:

- ALS: each epoch sets every item's ``b_i = sum_u (r_ui - mu - b_u) / (reg_i + |R(i)|)`` from the
  previous user biases, then every user's ``b_u = sum_i (r_ui - mu - b_i) / (reg_u + |R(u)|)``
  from the new item biases. Each sum runs over the ratings in their given order.
- SGD: each epoch visits the ratings once, in the given order, with
  ``e = r_ui - (mu + b_u + b_i)``, ``b_u += lr (e - reg b_u)``, ``b_i += lr (e - reg b_i)``
  (``b_i`` updated with the new ``b_u`` already in ``e``'s place: ``e`` is computed once).

A user or item with no rating keeps a bias of 0 (Surprise never visits it).
"""

import numpy as np


def baseline_als(users, items, ratings, n_users, n_items, global_mean, n_epochs, reg_u, reg_i, n_threads, bu, bi):
    """Alternating least squares, vectorised: ``np.bincount`` adds its weights one by one in
    input order, which is the order of Surprise's per-item and per-user sums."""
    bu[:] = 0.0
    bi[:] = 0.0
    count_u = np.bincount(users, minlength=n_users).astype(np.float64)
    count_i = np.bincount(items, minlength=n_items).astype(np.float64)
    rated_u, rated_i = count_u > 0, count_i > 0
    centred = ratings - global_mean
    for _ in range(n_epochs):
        dev_i = np.bincount(items, weights=centred - bu[users], minlength=n_items)
        bi[rated_i] = dev_i[rated_i] / (reg_i + count_i[rated_i])
        dev_u = np.bincount(users, weights=centred - bi[items], minlength=n_users)
        bu[rated_u] = dev_u[rated_u] / (reg_u + count_u[rated_u])


def baseline_sgd(users, items, ratings, n_users, n_items, global_mean, n_epochs, reg, learning_rate, n_threads, bu,
                 bi):
    """Stochastic gradient descent, one Python loop over the ratings per epoch (slow; exact)."""
    bu[:] = 0.0
    bi[:] = 0.0
    triples = list(zip(users.tolist(), items.tolist(), ratings.tolist()))
    for _ in range(n_epochs):
        for u, i, r in triples:
            err = r - (global_mean + bu[u] + bi[i])
            bu[u] += learning_rate * (err - reg * bu[u])
            bi[i] += learning_rate * (err - reg * bi[i])
