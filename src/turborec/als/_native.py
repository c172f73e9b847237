"""C++/OpenMP ALS kernels (``csrc/include/turborec/als.hpp`` via ``bind_als.cpp``). The contract
is in ``_numpy.py``."""

import contextlib

from .. import _native
from .._threads import blas_single_thread
from . import SOLVERS

if tuple(_native.ALS_SOLVERS) != SOLVERS:
    raise ImportError(f"turborec._native numbers the ALS solvers {_native.ALS_SOLVERS}, expected {SOLVERS}: "
                      "rebuild the extension (pip install .)")


def least_squares(cui, data, x0, y, regularization, solver, cg_steps, n_threads, out):
    # Cholesky calls LAPACK from every OpenMP thread: BLAS pinned to one thread meanwhile.
    pinned = blas_single_thread() if SOLVERS[solver] == "cholesky" else contextlib.nullcontext()
    with pinned:
        _native.als_solve(*cui, data, x0, y, regularization, solver, cg_steps, n_threads, out)


def calculate_loss(cui, data, x, y, regularization, n_threads, out):
    _native.als_loss(*cui, data, x, y, regularization, n_threads, out)
