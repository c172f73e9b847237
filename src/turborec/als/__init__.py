"""Implicit-feedback alternating least squares kernels (Hu, Koren, Volinsky 2008), with
implicit 0.7's definitions: the ALS half-step and the training loss.

The confidence matrix ``C`` (rows x cols, CSR) holds one value per observed entry: ``c > 0`` is
a positive preference (``p = 1``) with confidence ``c``; ``c <= 0`` a negative preference
(``p = 0``) with confidence ``|c|``; entries not stored have ``p = 0`` and confidence 1. (implicit
multiplies the values by ``alpha`` before; :class:`turborec.models.AlternatingLeastSquares` does
the same.) Stored entries are used as they are: duplicates count once each, as in implicit.

:func:`least_squares` solves, for every row ``u``,
``x_u = (Y^T C_u Y + regularization I)^-1 Y^T C_u p_u`` by conjugate gradient (``cg_steps``
steps from the current factors, implicit's ``least_squares_cg``) or exactly (Cholesky,
implicit's ``least_squares``); rows without stored entries get zero factors.
:func:`calculate_loss` is implicit's ``calculate_loss``.

:func:`least_squares_explicit` is the half-step of explicit-feedback ALS-WR (Zhou et al. 2008,
Spark MLlib's explicit ALS) behind :class:`turborec.models.ALSWR`.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch
from ..similarity._operands import check_number

__all__ = ["calculate_loss", "least_squares", "least_squares_explicit"]

SOLVERS = ("cg", "cholesky")  # the codes of als.hpp's AlsSolver, in order
CG_TOLERANCE = 1e-20  # implicit's: CG stops once the squared residual norm falls below it


class Confidences:
    """A checked confidence matrix as the kernels take it: ``arrays`` (its CSR ``(indptr,
    indices)``), ``data`` (its stored values in one float dtype, finite) and ``shape``. Built once
    by :func:`as_confidences`, then given to any number of half-steps."""

    __slots__ = ("arrays", "data", "shape")

    def __init__(self, arrays, data, shape):
        self.arrays, self.data, self.shape = arrays, data, shape


def as_confidences(user_items, dtype, name="user_items", shape=None):
    """``user_items`` (any scipy sparse matrix) checked and converted once, values in ``dtype``."""
    cui = v.as_csr(user_items, name, shape=shape)
    data = np.ascontiguousarray(cui.data[: cui.indptr[-1]], dtype=dtype)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: contains NaN or inf values (expected finite confidences)")
    return Confidences(v.csr_arrays(cui), data, cui.shape)


def solve(confidences, x0, y, regularization, use_cg, cg_steps, backend, n_threads):
    """:func:`least_squares` on operands already checked (the fitting loop calls it directly)."""
    solver = SOLVERS.index("cg" if use_cg else "cholesky")
    return dispatch("als", "least_squares", inputs=(confidences.arrays, confidences.data, x0, y),
                    params=(regularization, solver, cg_steps), outputs=[(x0.shape, x0.dtype)], backend=backend,
                    n_threads=n_threads)


def loss(confidences, x, y, regularization, backend, n_threads):
    """:func:`calculate_loss` on operands already checked."""
    out = dispatch("als", "calculate_loss", inputs=(confidences.arrays, confidences.data, x, y),
                   params=(regularization,), outputs=[((1,), np.float64)], backend=backend, n_threads=n_threads)
    return float(out[0])


def _operands(user_items, user_factors, item_factors, regularization):
    """The checked confidences (values in the factors' dtype), factors and regularization."""
    user_factors = v.as_float_matrix(user_factors, "user_factors", np, finite=True)
    item_factors = v.as_float_matrix(item_factors, "item_factors", np, finite=True)
    if item_factors.dtype != user_factors.dtype:
        raise TypeError(f"item_factors: expected dtype {user_factors.dtype} like user_factors, "
                        f"got {item_factors.dtype}")
    if item_factors.shape[1] != user_factors.shape[1]:
        raise ValueError(f"item_factors: expected {user_factors.shape[1]} columns like user_factors, "
                         f"got shape {item_factors.shape}")
    confidences = as_confidences(user_items, user_factors.dtype, shape=(len(user_factors), len(item_factors)))
    return confidences, user_factors, item_factors, check_number(regularization, "regularization", 0.0)


def least_squares(user_items, user_factors, item_factors, regularization, *, use_cg=True, cg_steps=3, backend=None,
                  n_threads=None):
    """One ALS half-step: new factors for every row of ``user_items`` given the other side's.

    Parameters
    ----------
    user_items : scipy.sparse matrix of shape (n_rows, n_cols)
        Confidences (see the module docstring); converted to CSR, never modified.
    user_factors : float32 or float64 array of shape (n_rows, n_factors)
        The current factors: conjugate gradient starts from them (Cholesky ignores them).
    item_factors : array of shape (n_cols, n_factors), same dtype
        The other side's factors ``Y``.
    regularization : float
        ``>= 0``; added to the diagonal of ``Y^T C_u Y``.
    use_cg : bool, default True
        Conjugate gradient (implicit's default) or the exact Cholesky solution.
    cg_steps : int, default 3
        Conjugate gradient steps per row (implicit's ``cg_steps``).
    backend, n_threads
        See :mod:`turborec.backends`.

    Returns
    -------
    ndarray of shape (n_rows, n_factors), the factors' dtype
        A new array; the inputs are not modified.

    Raises
    ------
    ValueError
        NaN or inf values or factors; a row whose Cholesky system is not positive definite
        (possible with negative or small confidences and no regularization).
    """
    confidences, x0, y, regularization = _operands(user_items, user_factors, item_factors, regularization)
    use_cg = v.as_bool(use_cg, "use_cg")
    cg_steps = check_cg_steps(cg_steps)
    return solve(confidences, x0, y, regularization, use_cg, cg_steps, backend, n_threads)


def calculate_loss(user_items, user_factors, item_factors, regularization, *, backend=None, n_threads=None):
    """implicit's ALS training loss.

    ``[sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + regularization (|X|^2 + |Y|^2)] / (sum |c| +
    n_rows n_cols - nnz)``, entries not stored counting with confidence 1 and ``p = 0``; like
    implicit, every stored entry adds its ``|c|`` (a negative preference's too).

    Parameters
    ----------
    user_items, user_factors, item_factors, regularization
        As in :func:`least_squares`.
    backend, n_threads
        See :mod:`turborec.backends`.

    Returns
    -------
    float
        NaN for an empty matrix (the denominator is 0).
    """
    confidences, x, y, regularization = _operands(user_items, user_factors, item_factors, regularization)
    return loss(confidences, x, y, regularization, backend, n_threads)


def check_cg_steps(cg_steps):
    """An int >= 0."""
    cg_steps = v.as_int(cg_steps, "cg_steps", "an int >= 0")
    if cg_steps < 0:
        raise ValueError(f"cg_steps: expected an int >= 0, got {cg_steps}")
    return cg_steps


def as_ratings(ratings, dtype, name="ratings", shape=None):
    """``ratings`` (any scipy sparse matrix) checked and converted once, values in ``dtype``
    (finite): a :class:`Confidences` whose data are the ratings."""
    matrix = v.as_csr(ratings, name, shape=shape)
    data = np.ascontiguousarray(matrix.data[: matrix.indptr[-1]], dtype=dtype)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: contains NaN or inf values (expected finite ratings)")
    return Confidences(v.csr_arrays(matrix), data, matrix.shape)


def solve_explicit(ratings, y, regularization, backend, n_threads):
    """:func:`least_squares_explicit` on operands already checked (the fitting loop calls it)."""
    return dispatch("als", "least_squares_explicit", inputs=(ratings.arrays, ratings.data, y),
                    params=(regularization,), outputs=[((ratings.shape[0], y.shape[1]), y.dtype)], backend=backend,
                    n_threads=n_threads)


def least_squares_explicit(ratings, other_factors, regularization, *, backend=None, n_threads=None):
    """One half-step of explicit ALS-WR: new factors for every row of ``ratings``.

    For every row ``u`` with ratings ``r_ui`` at the columns ``i in R_u`` (``n_u`` of them):
    ``x_u = (sum_{i in R_u} y_i y_i^T + regularization * n_u * I)^-1 sum_{i in R_u} r_ui y_i``,
    solved by Cholesky: the exact minimiser of ``sum_{i in R_u} (r_ui - x_u . y_i)^2 +
    regularization * n_u * |x_u|^2`` (the "weighted-lambda" regularisation of Zhou, Wilkinson,
    Schreiber and Pan 2008, as in Spark MLlib's explicit ALS). Rows without ratings get zeros.
    Every stored entry is one rating: duplicates count once each, stored zeros are ratings of 0.

    Parameters
    ----------
    ratings : scipy.sparse matrix of shape (n_rows, n_cols)
        Converted to CSR, never modified; values finite.
    other_factors : float32 or float64 array of shape (n_cols, n_factors)
        The other side's factors ``Y``; the result has their dtype.
    regularization : float
        ``lambda >= 0``. With 0, a row with fewer ratings than factors (or with linearly
        dependent ``y_i``) has a singular system: a ValueError where the Cholesky factorisation
        meets a non-positive pivot, but rounding can hide an exactly singular system, so use
        ``regularization > 0`` for a guaranteed unique solution.
    backend, n_threads
        See :mod:`turborec.backends`.

    Returns
    -------
    ndarray of shape (n_rows, n_factors), the factors' dtype
        A new array; the inputs are not modified.

    Raises
    ------
    ValueError
        NaN or inf ratings or factors, a negative regularization, shapes that disagree, a row
        whose system is not positive definite.
    """
    y = v.as_float_matrix(other_factors, "other_factors", np, finite=True)
    checked = as_ratings(ratings, y.dtype)
    if checked.shape[1] != len(y):
        raise ValueError(f"other_factors: expected {checked.shape[1]} rows (one per column of ratings), "
                         f"got shape {y.shape}")
    return solve_explicit(checked, y, check_number(regularization, "regularization", 0.0), backend, n_threads)
