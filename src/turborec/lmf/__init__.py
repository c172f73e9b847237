"""Logistic Matrix Factorization (Johnson, NIPS 2014 workshop): one half-step of implicit 0.7's
CPU ``lmf_update``, the kernel behind :class:`turborec.models.LogisticMatrixFactorization`.

:func:`lmf_update` updates the factors ``X`` of every row ``u`` of a matrix with interactions
(the users of ``user_items``, or the items of its transpose) by one AdaGrad step on the row's
log-likelihood, the other side ``Y`` fixed::

    g  = sum_i c_ui y_i - sum_i c_ui sigmoid(x_u . y_i) y_i - sum_t sigmoid(x_u . y_jt) y_jt - reg x_u
    G_u += g * g
    x_u += lr / sqrt(1e-6 + G_u) * g                                       (element-wise)

over the row's stored entries ``i`` (confidences ``c_ui``) and ``min(F + 2, count_u * neg_prop)``
sampled negatives ``j_t`` (implicit caps the count at the factor width ``F + 2``: its
``n_items`` reads the factors' width). Negative ``t`` of row ``u`` is the column of the stored
entry ``below(splitmix64(seed, indptr[u] * neg_prop + t + 1), nnz)`` (negatives follow
popularity, as in implicit; :func:`turborec.bpr.splitmix64`). ``_numpy.py`` states the
arithmetic exactly; every backend does the same operations in the same order, and a row depends
only on its own draws, so the result is the same bits on every backend and any thread count.
See docs/lmf.md.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch
from ..bpr import LANES, below, splitmix64  # noqa: F401 - the shared counter-based draws
from ..similarity._operands import check_number

__all__ = ["lmf_update"]

EPSILON = 1e-6  # AdaGrad's guard, cast to the factors' dtype (lmf.hpp)
MAX_NEG_PROP = 1 << 31
MAX_INTERACTIONS = 1 << 32


class Rows:
    """A checked interaction matrix as the kernel takes it: ``arrays`` (CSR ``(indptr,
    indices)``, rows sorted, no duplicates, no stored zeros), ``data`` (confidences in the
    factors' dtype) and ``shape``. ``transpose()`` gives the items' side."""

    __slots__ = ("arrays", "data", "shape")

    def __init__(self, arrays, data, shape):
        self.arrays, self.data, self.shape = arrays, data, shape


def as_rows(user_items, dtype, name="user_items"):
    """``user_items`` (any scipy sparse matrix) checked once: finite values >= 0, stored zeros
    dropped, duplicates summed; the confidences cast to ``dtype``. Returns ``(users, items)``,
    the :class:`Rows` of the matrix and of its transpose."""
    matrix = v.as_csr(user_items, name)
    data = matrix.data[: matrix.indptr[-1]]
    if data.dtype == np.bool_:
        data = data.view(np.uint8)
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise TypeError(f"{name}: expected real values, got dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: contains NaN or inf values")
    if (data < 0).any():
        raise ValueError(f"{name}: contains negative values; LMF takes confidences >= 0")
    matrix = v.as_csr(matrix, name, canonical=True)
    if matrix.nnz > MAX_INTERACTIONS:
        raise ValueError(f"{name}: {matrix.nnz} stored interactions; at most 2**32 are supported")
    v.check_id_range(matrix.shape[0], name, "rows")
    v.check_id_range(matrix.shape[1], name, "columns")
    with np.errstate(over="ignore"):  # a value past the dtype's range is the error just below
        values = matrix.data.astype(dtype)
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError(f"{name}: values must be > 0 and finite in {np.dtype(dtype).name}")
    matrix = matrix.__class__((values, matrix.indices, matrix.indptr), shape=matrix.shape)
    sides = []
    for side in (matrix, matrix.T.tocsr()):
        side.sort_indices()
        sides.append(Rows(v.csr_arrays(side), side.data, side.shape))
    return tuple(sides)


def check_factors(factors, other, deriv_sum_sq, shape):
    """The three arrays of a half-step checked against each other and ``shape`` (rows, others)."""
    x = v.as_float_matrix(factors, "factors", np, finite=True)
    y = v.as_float_matrix(other, "other", np, finite=True)
    g = v.as_float_matrix(deriv_sum_sq, "deriv_sum_sq", np, finite=True)
    for name, a in (("other", y), ("deriv_sum_sq", g)):
        if a.dtype != x.dtype:
            raise TypeError(f"{name}: expected dtype {x.dtype} like factors, got {a.dtype}")
    if x.shape[1] < 1 or y.shape[1] != x.shape[1] or g.shape != x.shape:
        raise ValueError(f"factors, other, deriv_sum_sq: expected one number of columns (factors + 2) and "
                         f"deriv_sum_sq shaped like factors, got shapes {x.shape}, {y.shape}, {g.shape}")
    if (len(x), len(y)) != tuple(shape):
        raise ValueError(f"factors, other: expected {shape[0]} and {shape[1]} rows (user_items is {shape[0]} x "
                         f"{shape[1]}), got shapes {x.shape} and {y.shape}")
    if (g < 0).any():
        raise ValueError("deriv_sum_sq: expected sums of squares (>= 0)")
    return x, y, g


def check_settings(learning_rate, regularization, neg_prop, seed):
    """The plain parameters of a half-step, checked."""
    learning_rate = check_number(learning_rate, "learning_rate", 0.0)
    regularization = check_number(regularization, "regularization", 0.0)
    neg_prop = v.as_int(neg_prop, "neg_prop", "an int in [0, 2**31]")
    if not 0 <= neg_prop <= MAX_NEG_PROP:
        raise ValueError(f"neg_prop: expected an int in [0, 2**31], got {neg_prop}")
    seed = v.as_int(seed, "seed", "an int in [0, 2**64)")
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed: expected an int in [0, 2**64), got {seed}")
    return learning_rate, regularization, neg_prop, seed


def update(rows, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop, seed, backend, n_threads):
    """:func:`lmf_update` on operands already checked, updating ``factors`` and ``deriv_sum_sq``
    IN PLACE (the model's own arrays); returns the number of negatives drawn."""
    drawn = dispatch("lmf", "lmf_update", inputs=(rows.arrays, rows.data, other, factors, deriv_sum_sq),
                     params=(learning_rate, regularization, neg_prop, seed), outputs=[((1,), np.int64)],
                     backend=backend, n_threads=n_threads)
    return int(drawn[0])


def lmf_update(user_items, factors, other, deriv_sum_sq, *, learning_rate=1.0, regularization=0.6, neg_prop=30,
               seed=0, backend=None, n_threads=None):
    """One LMF half-step (implicit 0.7's ``lmf_update``): an AdaGrad step for every row.

    Parameters
    ----------
    user_items : scipy.sparse matrix of shape (n_rows, n_other)
        Confidences ``c_ui``: finite values >= 0; stored zeros are dropped, duplicates summed.
        Pass the transpose to update the items. Rows without entries are left alone.
    factors : array of shape (n_rows, factors + 2), float32 or float64
        ``X``, the side updated.
    other : array of shape (n_other, factors + 2), same dtype
        ``Y``, the fixed side.
    deriv_sum_sq : array shaped like ``factors``, same dtype, values >= 0
        AdaGrad's running sums of squared gradients (zeros at the start of a fit).
    learning_rate, regularization : float >= 0
    neg_prop : int in [0, 2**31]
        Negatives per stored entry, at most ``factors + 2`` per row (as implicit).
    seed : int in [0, 2**64)
        The splitmix64 sequence of the negatives.
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy). The result does not depend
        on either: the same bits everywhere.

    Returns
    -------
    factors, deriv_sum_sq : ndarray
        Updated copies (the arguments are not modified).
    drawn : int
        Negatives drawn.
    """
    matrix = v.as_csr(user_items, "user_items")
    x = v.as_float_matrix(factors, "factors", np, finite=True)
    rows, _ = as_rows(matrix, x.dtype)
    x, y, g = check_factors(x, other, deriv_sum_sq, rows.shape)
    settings = check_settings(learning_rate, regularization, neg_prop, seed)
    x, g = x.copy(), g.copy()
    drawn = update(rows, y, x, g, *settings, backend, n_threads)
    return x, g, drawn
