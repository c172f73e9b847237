"""C++/OpenMP ALS kernels (``csrc/include/turborec/als.hpp`` via ``bind_als.cpp``). The contract
is in ``_numpy.py``."""

from .. import _native
from .._threads import blas_single_thread
from . import SOLVERS

if tuple(_native.ALS_SOLVERS) != SOLVERS:
    raise ImportError(f"turborec._native numbers the ALS solvers {_native.ALS_SOLVERS}, expected {SOLVERS}: "
                      "rebuild the extension (pip install .)")

# BLAS is pinned to one thread around every call: Cholesky calls LAPACK from every OpenMP thread,
# and BLAS threads left spinning after the Gram matrix's syrk would take cores from the OpenMP
# threads (the syrk is a small part of a half-step).


def least_squares(cui, data, x0, y, regularization, solver, cg_steps, n_threads, out):
    with blas_single_thread():
        _native.als_solve(*cui, data, x0, y, regularization, solver, cg_steps, n_threads, out)


def calculate_loss(cui, data, x, y, regularization, n_threads, out):
    with blas_single_thread():
        _native.als_loss(*cui, data, x, y, regularization, n_threads, out)


def least_squares_explicit(ratings, data, y, regularization, n_threads, out):
    with blas_single_thread():
        _native.als_explicit_solve(*ratings, data, y, regularization, n_threads, out)
