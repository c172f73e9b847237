"""Epochs of explicit-rating matrix factorisation: Surprise 1.1's SVD and SVD++ (stochastic
gradient descent) and NMF (multiplicative) updates, in the order the ratings are given (Surprise's
order gives Surprise's numbers, SVD's to rounding: ~1e-13 in float64), on the native, numba and
numpy backends.

The passes in the given order are sequential (an SGD pass in a fixed order has no parallelism
that keeps its numbers); ``svd_epoch(n_blocks=G)`` with ``G > 1`` runs FPSGD's block grid
instead, in parallel. Results never depend on ``n_threads``. The update
rules, and how SVD++'s implicit term is carried from rating to rating: ``_numpy.py``,
``csrc/include/turborec/sgd.hpp`` and docs/factorisation.md.
"""

import numbers

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch
from .._sorting import stable_argsort
from .._threads import resolve_n_threads
from ..backends import resolve

__all__ = ["balanced_ranges", "block_order", "nmf_epoch", "pair_dots", "svd_epoch", "svdpp_epoch"]

MAX_BLOCKS = 65536  # n_blocks**2 offsets are allocated: far above any useful grid

# The order of the ``rates`` tuple every backend receives (C++: struct SgdRates).
RATE_NAMES = ("lr_bu", "lr_bi", "lr_pu", "lr_qi", "lr_yj", "reg_bu", "reg_bi", "reg_pu", "reg_qi", "reg_yj")


def check_rates(**rates):
    """The learning rates (finite, > 0) and regularisations (finite, >= 0) as floats, in
    :data:`RATE_NAMES` order; a rate not given (SVD has no ``lr_yj``, NMF no ``lr_pu``) is 0."""
    out = []
    for name in RATE_NAMES:
        value = rates.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: expected a number, got {value!r}")
        value = float(value)
        learning = name.startswith("lr_") and name in rates
        if not np.isfinite(value) or value < 0 or (learning and value == 0):
            raise ValueError(f"{name}: expected a finite number {'> 0' if learning else '>= 0'}, got {value!r}")
        out.append(value)
    return tuple(out)


def _model(bu, bi, pu, qi, yj=None):
    """The model's arrays, checked against each other: contiguous, one float dtype (pu's)."""
    pu = v.as_float_matrix(pu, "pu", np, finite=True)
    dtype, (n_users, k) = pu.dtype, pu.shape
    qi = v.as_float_matrix(qi, "qi", np, finite=True)
    if qi.dtype != dtype or qi.shape[1] != k:
        raise ValueError(f"qi: expected {k} columns of dtype {dtype} like pu, got shape {qi.shape}, dtype {qi.dtype}")
    n_items = qi.shape[0]
    arrays = [None, None, pu, qi]
    for slot, (name, vector, n) in enumerate((("bu", bu, n_users), ("bi", bi, n_items))):
        vector = np.ascontiguousarray(v.as_array(vector, name))
        if vector.shape != (n,) or vector.dtype != dtype:
            raise ValueError(f"{name}: expected shape ({n},) and dtype {dtype}, got shape {vector.shape}, "
                             f"dtype {vector.dtype}")
        if not np.isfinite(vector).all():
            raise ValueError(f"{name}: contains NaN or inf")
        arrays[slot] = vector
    if yj is not None:
        yj = v.as_float_matrix(yj, "yj", np, finite=True)
        if yj.shape != qi.shape or yj.dtype != dtype:
            raise ValueError(f"yj: expected shape {qi.shape} and dtype {dtype} like qi, got shape {yj.shape}, "
                             f"dtype {yj.dtype}")
        arrays.append(yj)
    return arrays, n_users, n_items


def _indices(ids, name, extent):
    """int64 indices in ``[0, extent)``, as a contiguous 1-D array."""
    ids = v.as_array(ids, name)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"{name}: expected a 1-D array of int indices, got dtype {ids.dtype}, shape {ids.shape}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= extent):
        raise IndexError(f"{name}: index out of range [0, {extent})")
    return ids


def _ratings(users, items, ratings, n_users, n_items, dtype):
    """int64 users and items in range, finite ratings in the model's dtype (a visible cast)."""
    out = [_indices(users, "users", n_users), _indices(items, "items", n_items)]
    ratings = v.as_array(ratings, "ratings")
    if ratings.ndim != 1 or not np.issubdtype(ratings.dtype, np.number) or np.iscomplexobj(ratings):
        raise TypeError(f"ratings: expected a 1-D array of real numbers, got dtype {ratings.dtype}, "
                        f"shape {ratings.shape}")
    ratings = np.ascontiguousarray(ratings, dtype=dtype)
    if not np.isfinite(ratings).all():
        raise ValueError("ratings: contains NaN or inf (or values beyond the model's dtype)")
    if not len(out[0]) == len(out[1]) == len(ratings):
        raise ValueError(f"users, items, ratings: expected one length, got {len(out[0])}, {len(out[1])}, "
                         f"{len(ratings)}")
    return out[0], out[1], ratings


def _mean(global_mean):
    if isinstance(global_mean, bool) or not isinstance(global_mean, numbers.Real):
        raise TypeError(f"global_mean: expected a number, got {global_mean!r}")
    if not np.isfinite(global_mean):
        raise ValueError(f"global_mean: expected a finite number, got {global_mean!r}")
    return float(global_mean)


def implicit_sets(users, items, n_users):
    """N(u) of every user as a CSR ``(indptr, indices)``: the items of u's ratings, in the
    order the ratings are given (Surprise's ``trainset.ur[u]`` for ratings in its order)."""
    order = stable_argsort(users, n_users)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return indptr, np.ascontiguousarray(items[order])


def block_order(users, items, n_users, n_items, n_blocks, *, user_chunk=None, backend=None, n_threads=None):
    """The FPSGD grid of :func:`svd_epoch`: ``(order, bounds)``.

    With ``G = n_blocks``, users fall in ``G`` contiguous index ranges holding about equal
    numbers of ratings (:func:`balanced_ranges`), items likewise; rating ``r`` is in block
    ``(s, b)`` with ``b`` its user's range and ``s = (item range - b) mod G``. ``order`` (int64,
    or None when ``G`` is 1) lists the ratings block by block, ``s`` major; block ``(s, b)`` is
    ``order[bounds[s * G + b]:bounds[s * G + b + 1]]``. (Contiguous ranges, not ``u % G``: the
    threads then write disjoint stretches of the bias vectors, not neighbouring entries of one
    cache line. Ranges of equal counts, not of equal sizes: with popular items and active users,
    equal index ranges made blocks up to 4.6 times the mean on MovieLens 100K, and a thread
    waited for the other's big blocks.)

    Parameters
    ----------
    users, items : array-like of int, shape (n,)
        Indices in ``[0, n_users)`` and ``[0, n_items)``.
    n_users, n_items, n_blocks : int
    user_chunk : int, optional
        None: each block in the given order. ``c >= 1``: each block in turns, the order
        :class:`turborec.models.SVD` runs (for ratings given with each user's ratings together,
        as Surprise's order has them): the block's ratings fall into groups (maximal stretches
        whose users share ``user // c``), a group into runs (maximal stretches of one user), and
        each group lists every run's first rating, in the runs' order, then every run's second,
        and so on. Consecutive ratings then name different users, which the kernel overlaps, and
        a group's user rows stay in the L1 cache (-10% of the epoch on MovieLens 100K).
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy; they return the same order,
        whatever the thread count). Native: one counting sort, ~8x faster than NumPy's at 10M ratings.

    Returns
    -------
    order : int64 ndarray of shape (n,), or None
    bounds : int64 ndarray of shape (G * G + 1,)
    """
    n_blocks = v.check_k(n_blocks, "n_blocks")
    if n_blocks > MAX_BLOCKS:
        raise ValueError(f"n_blocks: expected at most {MAX_BLOCKS}, got {n_blocks}")
    chunk = 0 if user_chunk is None else v.check_k(user_chunk, "user_chunk")
    users, items = _indices(users, "users", n_users), _indices(items, "items", n_items)
    user_range, item_range = balanced_ranges(users, n_users, n_blocks), balanced_ranges(items, n_items, n_blocks)
    if len(users) != len(items):
        raise ValueError(f"users, items: expected one length, got {len(users)} and {len(items)}")
    if n_blocks == 1:  # nothing to order; the arguments are checked all the same
        resolve("sgd", backend, (), "block_order")
        resolve_n_threads(n_threads)
        return None, np.array([0, len(users)], dtype=np.int64)
    return tuple(dispatch("sgd", "block_order", inputs=(users, items, user_range, item_range),
                          params=(n_blocks, chunk),
                          outputs=[((len(users),), np.int64), ((n_blocks * n_blocks + 1,), np.int64)],
                          backend=backend, n_threads=n_threads))


def balanced_ranges(ids, n, n_ranges):
    """The range in ``[0, n_ranges)`` of each row ``0 .. n-1``: contiguous, non-decreasing in
    the row, and holding about equal numbers of the ``ids`` (a row's range is the quantile its
    ids' midpoint falls in: ``floor((ids before it + half its own) * n_ranges / len(ids))``)."""
    n = v.as_int(n, "n", "a non-negative int")
    if n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n}")
    n_ranges = v.check_k(n_ranges, "n_ranges")
    counts = np.bincount(_indices(ids, "ids", n), minlength=n).astype(np.int64)
    after = np.cumsum(counts)
    total = max(int(after[-1]) if n else 0, 1)
    return np.minimum((after + after - counts) * n_ranges // (2 * total), n_ranges - 1)


def svd_epoch(users, items, ratings, bu, bi, pu, qi, *, global_mean, biased=True, lr_bu=0.005, lr_bi=0.005,
              lr_pu=0.005, lr_qi=0.005, reg_bu=0.02, reg_bi=0.02, reg_pu=0.02, reg_qi=0.02, n_blocks=1, n_epochs=1,
              backend=None, n_threads=None):
    """One epoch of Surprise's SVD (or ``n_epochs``): one SGD step per rating, in the given order.

    For each rating ``r`` of user ``u`` and item ``i``: ``e = r - (mu + b_u + b_i + q_i . p_u)``,
    then, when ``biased``, ``b_u += lr_bu (e - reg_bu b_u)`` and ``b_i += lr_bi (e - reg_bi
    b_i)``, then ``p_u += lr_pu (e q_i - reg_pu p_u)`` and ``q_i += lr_qi (e p_u - reg_qi q_i)``
    with the old ``p_u``, ``q_i``. Unbiased: ``mu`` is 0 and the biases are returned unchanged.
    Surprise's updates, rounded otherwise: the dot product summed in 32 interleaved lanes and
    the factor updates computed as ``p_u = (1 - lr_pu reg_pu) p_u + (lr_pu e) q_i`` (every
    backend alike, bit for bit; float64 predictions within ~1e-13 of Surprise's).

    Parameters
    ----------
    users, items : array-like of int, shape (n,)
        Indices in ``[0, n_users)`` and ``[0, n_items)``.
    ratings : array-like of float, shape (n,)
        Finite; cast to the model's dtype.
    bu, bi : ndarray of shape (n_users,), (n_items,)
        Biases, of the factors' dtype.
    pu, qi : float32 or float64 ndarray of shape (n_users, k), (n_items, k)
        Factors; their dtype is the arithmetic's.
    global_mean : float
        ``mu``.
    biased : bool, default True
    lr_bu, lr_bi, lr_pu, lr_qi : float, > 0
    reg_bu, reg_bi, reg_pu, reg_qi : float, >= 0
    n_blocks : int, default 1
        1: one sequential pass in the given order (Surprise's SVD with Surprise's order). ``G > 1``:
        the FPSGD grid of :func:`block_order`: the epoch runs ``G`` sub-epochs, sub-epoch ``s``
        processes its ``G`` blocks, which share no user and no item, in parallel on
        ``n_threads`` threads, each block's ratings in the given order. The result depends on
        ``G``, never on ``n_threads``.
    n_epochs : int, default 1
        Epochs run one after the other over the same order in one call: the same result as
        ``n_epochs`` calls, without their fixed costs (the kernels copy the factors into rows
        padded to whole cache lines once per call).
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy).

    Returns
    -------
    bu, bi, pu, qi : new ndarrays of the inputs' shapes and dtype (the inputs are not modified)
    """
    arrays, n_users, n_items = _model(bu, bi, pu, qi)
    users, items, ratings = _ratings(users, items, ratings, n_users, n_items, arrays[2].dtype)
    rates = check_rates(lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi, reg_bu=reg_bu, reg_bi=reg_bi,
                        reg_pu=reg_pu, reg_qi=reg_qi)
    n_blocks = v.check_k(n_blocks, "n_blocks")
    if n_blocks > MAX_BLOCKS:
        raise ValueError(f"n_blocks: expected at most {MAX_BLOCKS}, got {n_blocks}")
    n_epochs = v.check_k(n_epochs, "n_epochs")
    order, bounds = block_order(users, items, n_users, n_items, n_blocks)
    if order is not None:
        users, items, ratings = users[order], items[order], ratings[order]
    return svd_epoch_in_blocks(users, items, ratings, bounds, arrays, _mean(global_mean), v.as_bool(biased, "biased"),
                               rates, n_blocks, backend, n_threads, n_epochs)


def svd_epoch_in_blocks(users, items, ratings, bounds, arrays, global_mean, biased, rates, n_blocks, backend,
                        n_threads, n_epochs=1):
    """:func:`svd_epoch` on checked arguments: int64 ``users``, ``items`` in range, finite
    ``ratings`` of the model's dtype, already in :func:`block_order` (``bounds`` its offsets),
    ``arrays`` ``[bu, bi, pu, qi]`` as ``_model`` returns them, ``rates`` from
    :func:`check_rates`. For a model's epochs: the checks and the grid's order once per fit,
    not once per epoch."""
    return dispatch("sgd", "svd_epoch", inputs=(users, items, ratings, bounds, *arrays),
                    params=(global_mean, biased, rates, n_blocks, n_epochs),
                    outputs=[(a.shape, a.dtype) for a in arrays], backend=backend, n_threads=n_threads)


def svdpp_epoch(users, items, ratings, bu, bi, pu, qi, yj, *, global_mean, lr_bu=0.007, lr_bi=0.007, lr_pu=0.007,
                lr_qi=0.007, lr_yj=0.007, reg_bu=0.02, reg_bi=0.02, reg_pu=0.02, reg_qi=0.02, reg_yj=0.02,
                exact=False, backend=None, n_threads=None):
    """One epoch of Surprise's SVD++: one SGD step per rating, in the given order.

    User ``u``'s implicit term is ``s_u = sum_{j in N(u)} y_j / sqrt(|N(u)|)``, where ``N(u)``
    is the items of u's ratings in the given order. Per rating: ``e = r - (mu + b_u + b_i + q_i
    . (p_u + s_u))``; ``b_u``, ``b_i``, ``p_u`` as in :func:`svd_epoch`; ``q_i += lr_qi (e (p_u +
    s_u) - reg_qi q_i)``; every ``y_j`` of N(u): ``y_j += lr_yj (e q_i / sqrt|N(u)| - reg_yj
    y_j)`` (old ``p_u``, ``q_i``).

    Parameters
    ----------
    users, items, ratings, bu, bi, pu, qi, global_mean
        As in :func:`svd_epoch`.
    yj : ndarray of shape (n_items, k)
        Implicit item factors.
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj : float, > 0
    reg_bu, reg_bi, reg_pu, reg_qi, reg_yj : float, >= 0
    exact : bool, default False
        True: recompute ``s_u`` from ``y`` before every rating, as Surprise does (cost
        ``O(|N(u)| k)`` per rating). False: compute ``s_u`` once per run of consecutive ratings
        of one user and carry it, and the ``y_j`` updates, forward in closed form (``O(k)`` per
        rating, ``O(|N(u)| k)`` per run): the same numbers up to rounding.
    backend, n_threads
        As in :func:`svd_epoch`. The numpy reference always computes the exact definition.

    Returns
    -------
    bu, bi, pu, qi, yj : new ndarrays (the inputs are not modified)
    """
    arrays, n_users, n_items = _model(bu, bi, pu, qi, yj)
    users, items, ratings = _ratings(users, items, ratings, n_users, n_items, arrays[2].dtype)
    rates = check_rates(lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi, lr_yj=lr_yj, reg_bu=reg_bu,
                        reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi, reg_yj=reg_yj)
    implicit = implicit_sets(users, items, n_users)
    return dispatch("sgd", "svdpp_epoch", inputs=(users, items, ratings, implicit, *arrays),
                    params=(_mean(global_mean), rates, v.as_bool(exact, "exact")),
                    outputs=[(a.shape, a.dtype) for a in arrays], backend=backend, n_threads=n_threads)


def pair_dots(a, rows_a, b, rows_b, *, backend=None, n_threads=None):
    """The dot products ``a[rows_a[e]] . b[rows_b[e]]`` of pairs of rows, in float64: a
    factorisation model's predictions (``qi[items] . pu[users]``) without gathering the pairs.

    Parameters
    ----------
    a, b : float32 or float64 array-like, shape (n_a, k) and (n_b, k)
        Converted to float64 factor by factor (one dtype: float32 only when both are).
    rows_a, rows_b : array-like of int, shape (n,)
        Indices in ``[0, n_a)`` and ``[0, n_b)``.
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy). The result does not depend
        on ``n_threads``; the backends agree to rounding (the compiled ones bit for bit).

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    a = v.as_float_matrix(a, "a", np)
    b = v.as_float_matrix(b, "b", np)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"b: expected {a.shape[1]} columns like a, got shape {b.shape}")
    if a.dtype != b.dtype:
        a, b = a.astype(np.float64), b.astype(np.float64)
    rows = [_indices(rows_a, "rows_a", len(a)), _indices(rows_b, "rows_b", len(b))]
    if len(rows[0]) != len(rows[1]):
        raise ValueError(f"rows_b: expected {len(rows[0])} entries like rows_a, got {len(rows[1])}")
    return dispatch("sgd", "pair_dots", inputs=(a, rows[0], b, rows[1]), outputs=[((len(rows[0]),), np.float64)],
                    backend=backend, n_threads=n_threads)


def nmf_epoch(users, items, ratings, bu, bi, pu, qi, *, global_mean, biased=False, lr_bu=0.005, lr_bi=0.005,
              reg_pu=0.06, reg_qi=0.06, reg_bu=0.02, reg_bi=0.02, backend=None, n_threads=None):
    """One epoch of Surprise's NMF: multiplicative updates that keep non-negative factors so.

    Over the ratings in the given order: ``est = mu + b_u + b_i + q_i . p_u``, ``e = r - est``;
    when ``biased``, ``b_u`` and ``b_i`` move as in :func:`svd_epoch`; every user accumulates
    ``num_u += q_i r`` and ``den_u += q_i est``, every item ``num_i += p_u r`` and ``den_i +=
    p_u est`` (per factor, in order). Then for every user with ratings and every non-zero
    ``p_uf``: ``p_uf *= num_uf / (den_uf + |R(u)| reg_pu p_uf)``, then the items likewise with
    ``reg_qi``. Unbiased: ``mu`` is 0 and the biases are returned unchanged.

    Parameters
    ----------
    users, items, ratings, bu, bi, pu, qi, global_mean, biased, backend, n_threads
        As in :func:`svd_epoch` (here ``biased`` defaults to False, as Surprise's NMF).
    lr_bu, lr_bi : float, > 0
    reg_pu, reg_qi, reg_bu, reg_bi : float, >= 0

    Returns
    -------
    bu, bi, pu, qi : new ndarrays (the inputs are not modified)
    """
    arrays, n_users, n_items = _model(bu, bi, pu, qi)
    users, items, ratings = _ratings(users, items, ratings, n_users, n_items, arrays[2].dtype)
    rates = check_rates(lr_bu=lr_bu, lr_bi=lr_bi, reg_bu=reg_bu, reg_bi=reg_bi, reg_pu=reg_pu, reg_qi=reg_qi)
    return dispatch("sgd", "nmf_epoch", inputs=(users, items, ratings, *arrays),
                    params=(_mean(global_mean), v.as_bool(biased, "biased"), rates),
                    outputs=[(a.shape, a.dtype) for a in arrays], backend=backend, n_threads=n_threads)
