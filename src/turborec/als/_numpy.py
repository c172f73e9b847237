"""NumPy reference of the ALS kernels: slow, obviously correct, the test oracle.

Contract every backend meets (``__init__.py`` has validated and coerced everything):

- ``cui`` is a CSR's ``(indptr, indices)`` (int32 or int64, indices sorted within rows, in
  range), ``data`` its stored confidences in the factors' dtype (finite), one per entry;
- ``x0`` (n_rows, d) and ``y`` (n_cols, d) share that dtype; ``regularization >= 0``;
- ``least_squares`` writes every row of ``out`` (n_rows, d): zeros for a row without stored
  entries, else the conjugate-gradient iterate (``solver`` 0: ``cg_steps`` steps of implicit's
  algorithm from ``x0``'s row, stopping once the squared residual norm is below
  ``CG_TOLERANCE``) or the exact solution (``solver`` 1; a ValueError naming the row when its
  system is not positive definite);
- ``least_squares_explicit`` (explicit ALS-WR) takes the ratings as ``cui``/``data`` and ``y``
  (n_cols, d): it writes every row of ``out`` (n_rows, d), zeros for a row without ratings, else
  ``(sum y_i y_i^T + regularization * n_u I)^-1 sum r_ui y_i`` (a ValueError naming the row when
  that matrix is not positive definite);
- ``calculate_loss`` writes implicit's loss to ``out[0]`` (float64; NaN when the denominator is 0).
"""

import numpy as np

from . import CG_TOLERANCE


def _gram(y, regularization, dtype):
    return (y.T @ y + regularization * np.eye(y.shape[1])).astype(dtype)


def least_squares(cui, data, x0, y, regularization, solver, cg_steps, n_threads, out):
    indptr, indices = cui
    gram = _gram(y, regularization, y.dtype)
    for u in range(len(out)):
        row = slice(indptr[u], indptr[u + 1])
        ys, confidence = y[indices[row]], data[row]
        if len(confidence) == 0:
            out[u] = 0
        elif solver == 0:
            out[u] = _cg(gram, ys, confidence, x0[u].copy(), cg_steps)
        else:
            out[u] = _exact(gram, ys, confidence, u)


def _exact(gram, ys, confidence, u):
    """x = (G + sum (|c|-1) y y^T)^-1 sum_{c>0} c y, in float64."""
    ys = ys.astype(np.float64)
    a = gram.astype(np.float64) + (ys.T * (np.abs(confidence) - 1)) @ ys
    b = ys.T @ np.where(confidence > 0, confidence, 0).astype(np.float64)
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise ValueError(f"regularization: the system of row {u} is not positive definite (Cholesky failed); "
                         "increase the regularization") from None
    return np.linalg.solve(a, b)


def _cg(gram, ys, confidence, x, cg_steps):
    """implicit's least_squares_cg for one row, in the factors' dtype."""
    dtype = x.dtype
    magnitude = np.abs(confidence)
    positive = np.where(confidence > 0, confidence, 0).astype(dtype)

    def product(v):  # (G + sum (|c|-1) y y^T) v without forming the matrix
        return gram @ v + ys.T @ ((magnitude - 1) * (ys @ v))

    r = (ys.T @ positive - product(x)).astype(dtype)
    p = r.copy()
    rs_old = r @ r
    if rs_old < CG_TOLERANCE:
        return x
    for _ in range(cg_steps):
        ap = product(p).astype(dtype)
        alpha = dtype.type(rs_old / (p @ ap))
        x += alpha * p
        r -= alpha * ap
        rs_new = r @ r
        if rs_new < CG_TOLERANCE:
            break
        p = r + dtype.type(rs_new / rs_old) * p
        rs_old = rs_new
    return x


def calculate_loss(cui, data, x, y, regularization, n_threads, out):
    indptr, indices = cui
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    scores = x64 @ y64.T
    rows = np.repeat(np.arange(len(x)), np.diff(indptr))
    stored = scores[rows, indices[: indptr[-1]]]
    c = data.astype(np.float64)
    magnitude = np.abs(c)
    # unstored entries: (0 - s)^2; each stored one turns its s^2 into |c| (p - s)^2, and (as in
    # implicit) a negative one also adds |c|
    loss = (scores ** 2).sum() + ((magnitude - 1) * stored ** 2 - 2 * np.maximum(c, 0) * stored + magnitude).sum()
    loss += regularization * ((x64 ** 2).sum() + (y64 ** 2).sum())
    denominator = magnitude.sum() + len(x) * len(y) - len(c)
    out[0] = loss / denominator if denominator != 0 else np.nan


def least_squares_explicit(ratings, data, y, regularization, n_threads, out):
    indptr, indices = ratings
    d = y.shape[1]
    for u in range(len(out)):
        row = slice(indptr[u], indptr[u + 1])
        ys, r = y[indices[row]].astype(np.float64), data[row].astype(np.float64)
        if len(r) == 0:
            out[u] = 0
            continue
        a = ys.T @ ys + regularization * len(r) * np.eye(d)
        try:
            np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise ValueError(f"regularization: the system of row {u} is not positive definite (Cholesky failed); "
                             "increase the regularization") from None
        out[u] = np.linalg.solve(a, ys.T @ r)
