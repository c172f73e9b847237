"""Numba ALS kernels, mirroring ``csrc/include/turborec/als.hpp``'s arithmetic. The contract is
in ``_numpy.py``. Two differences, both of rounding only: the Cholesky solve is written out (no
LAPACK call inside the parallel loop; native calls LAPACK ``posv``), and CG reads each entry's
factors from ``Y`` one entry at a time (native first gathers a row's factors into a contiguous
buffer and sums four entries per pass, a memory optimisation)."""

import numba
import numpy as np
from numba import prange

from .. import _jit
from . import CG_TOLERANCE, SOLVERS

_CG = SOLVERS.index("cg")


@numba.njit(cache=True, nogil=True, inline="always")
def _dot(a, b):
    s = a.dtype.type(0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@numba.njit(cache=True, nogil=True, inline="always")
def _axpy(a, x, y):
    for j in range(x.shape[0]):
        y[j] += a * x[j]


@numba.njit(cache=True, nogil=True)
def _symv(gram, x, scale, out):
    """out = scale * gram @ x as weighted rows of the symmetric gram, four at a time (als.hpp's)."""
    out[:] = 0
    d = gram.shape[0]
    j = 0
    while j + 4 <= d:
        a0, a1, a2, a3 = scale * x[j], scale * x[j + 1], scale * x[j + 2], scale * x[j + 3]
        for i in range(d):
            out[i] += a0 * gram[j, i] + a1 * gram[j + 1, i] + a2 * gram[j + 2, i] + a3 * gram[j + 3, i]
        j += 4
    while j < d:
        _axpy(scale * x[j], gram[j], out)
        j += 1


@numba.njit(cache=True, nogil=True)
def _cg_row(gram, y, indices, conf, cg_steps, x, r, p, ap):
    one = x.dtype.type(1)
    _symv(gram, x, -one, r)
    for e in range(indices.shape[0]):
        yi = y[indices[e]]
        c = conf[e]
        weight = c if c > 0 else x.dtype.type(0)
        magnitude = c if c > 0 else -c
        _axpy(weight - (magnitude - one) * _dot(yi, x), yi, r)
    p[:] = r
    rs_old = _dot(r, r)
    if rs_old < CG_TOLERANCE:
        return
    for _ in range(cg_steps):
        _symv(gram, p, one, ap)
        for e in range(indices.shape[0]):
            yi = y[indices[e]]
            c = conf[e]
            magnitude = c if c > 0 else -c
            _axpy((magnitude - one) * _dot(yi, p), yi, ap)
        alpha = rs_old / _dot(p, ap)
        _axpy(alpha, p, x)
        _axpy(-alpha, ap, r)
        rs_new = _dot(r, r)
        if rs_new < CG_TOLERANCE:
            break
        beta = rs_new / rs_old
        for j in range(p.shape[0]):
            p[j] = r[j] + beta * p[j]
        rs_old = rs_new


@numba.njit(cache=True, nogil=True)
def _cholesky_row(gram, y, indices, conf, a, x):
    """x = A^-1 b with A = G + sum (|c|-1) y y^T (lower triangle), b = sum_{c>0} c y; False when A
    is not positive definite."""
    d = x.shape[0]
    one = x.dtype.type(1)
    a[:, :] = gram
    x[:] = 0
    for e in range(indices.shape[0]):
        yi = y[indices[e]]
        c = conf[e]
        if c > 0:
            _axpy(c, yi, x)
        weight = (c if c > 0 else -c) - one
        for i in range(d):
            _axpy(weight * yi[i], yi[: i + 1], a[i, : i + 1])
    return _cholesky_solve(a, x)


@numba.njit(cache=True, nogil=True)
def _cholesky_solve(a, x):
    """x = A^-1 x in place for the symmetric A given by its lower triangle, A overwritten by L;
    False when A is not positive definite."""
    d = x.shape[0]
    # A = L L^T in place (lower triangle), then L z = b, L^T x = z
    for j in range(d):
        s = a[j, j] - _dot(a[j, :j], a[j, :j])
        if not s > 0:
            return False
        a[j, j] = np.sqrt(s)
        for i in range(j + 1, d):
            a[i, j] = (a[i, j] - _dot(a[i, :j], a[j, :j])) / a[j, j]
    for i in range(d):
        x[i] = (x[i] - _dot(a[i, :i], x[:i])) / a[i, i]
    for i in range(d - 1, -1, -1):
        s = x[i]
        for k in range(i + 1, d):
            s -= a[k, i] * x[k]
        x[i] = s / a[i, i]
    return True


@numba.njit(cache=True, nogil=True, parallel=True)
def _solve(indptr, indices, data, x0, y, gram, solver, cg_steps, out, failed):
    n, d = out.shape
    for u in prange(n):
        begin, end = indptr[u], indptr[u + 1]
        x = out[u]
        if begin == end:
            x[:] = 0
        elif solver == _CG:
            x[:] = x0[u]
            scratch = np.empty((3, d), dtype=out.dtype)
            _cg_row(gram, y, indices[begin:end], data[begin:end], cg_steps, x, scratch[0], scratch[1], scratch[2])
        else:
            a = np.empty((d, d), dtype=out.dtype)
            failed[u] = not _cholesky_row(gram, y, indices[begin:end], data[begin:end], a, x)


def least_squares(cui, data, x0, y, regularization, solver, cg_steps, n_threads, out):
    indptr, indices = _jit.csr_int64(cui, len(out))
    gram = y.T @ y + np.eye(y.shape[1], dtype=y.dtype) * y.dtype.type(regularization)
    failed = np.zeros(len(out), dtype=np.bool_)
    _jit.launch(_solve, n_threads, indptr, indices, data, x0, y, np.ascontiguousarray(gram), solver, cg_steps, out,
                failed)
    if failed.any():
        raise ValueError(f"regularization: the system of row {np.flatnonzero(failed)[0]} is not positive definite "
                         "(Cholesky failed); increase the regularization")


@numba.njit(cache=True, nogil=True, parallel=True)
def _loss_rows(indptr, indices, data, x, y, gram, terms, confidence):
    n, d = x.shape
    one = x.dtype.type(1)
    for u in prange(n):
        r = np.empty(d, dtype=x.dtype)
        xu = x[u]
        _symv(gram, xu, one, r)
        total = 0.0
        for e in range(indptr[u], indptr[u + 1]):
            yi = y[indices[e]]
            c = data[e]
            magnitude = c if c > 0 else -c
            positive = -2 * c if c > 0 else x.dtype.type(0)
            _axpy(positive + (magnitude - one) * _dot(yi, xu), yi, r)
            total += magnitude
        terms[u] = total + _dot(r, xu)
        confidence[u] = total


def calculate_loss(cui, data, x, y, regularization, n_threads, out):
    indptr, indices = _jit.csr_int64(cui, len(x))
    terms = np.zeros(len(x))
    confidence = np.zeros(len(x))
    gram = np.ascontiguousarray(y.T @ y)
    _jit.launch(_loss_rows, n_threads, indptr, indices, data, x, y, gram, terms, confidence)
    norms = float(np.einsum("ij,ij->", x, x, dtype=np.float64) + np.einsum("ij,ij->", y, y, dtype=np.float64))
    loss = float(terms.sum()) + regularization * norms
    denominator = float(confidence.sum()) + len(x) * len(y) - int(indptr[-1])
    out[0] = loss / denominator if denominator != 0 else np.nan


@numba.njit(cache=True, nogil=True, parallel=True)
def _explicit_rows(indptr, indices, data, y, regularization, out, failed):
    """als.hpp's als_explicit_solve: A = sum y y^T + reg n_u I (lower triangle), b = sum r y."""
    n, d = out.shape
    for u in prange(n):
        begin, end = indptr[u], indptr[u + 1]
        x = out[u]
        x[:] = 0
        if begin == end:
            continue
        a = np.zeros((d, d), dtype=out.dtype)
        diagonal = regularization * out.dtype.type(end - begin)
        for j in range(d):
            a[j, j] = diagonal
        for e in range(begin, end):
            yi = y[indices[e]]
            _axpy(data[e], yi, x)
            for i in range(d):
                _axpy(yi[i], yi[: i + 1], a[i, : i + 1])
        failed[u] = not _cholesky_solve(a, x)


def least_squares_explicit(ratings, data, y, regularization, n_threads, out):
    indptr, indices = _jit.csr_int64(ratings, len(out))
    failed = np.zeros(len(out), dtype=np.bool_)
    _jit.launch(_explicit_rows, n_threads, indptr, indices, data, y, y.dtype.type(regularization), out, failed)
    if failed.any():
        raise ValueError(f"regularization: the system of row {np.flatnonzero(failed)[0]} is not positive definite "
                         "(Cholesky failed); increase the regularization")
