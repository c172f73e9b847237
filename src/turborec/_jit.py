"""What every family's ``_numba.py`` shares: launching a parallel kernel with a thread count,
and CSR index arrays in the one dtype the kernels are compiled for."""

import threading

import numba
import numpy as np

# The workqueue threading layer aborts the process when two threads launch parallel kernels at
# once; tbb and omp do not. Until the first launch reveals the layer, launches are serialized.
_launch_lock = threading.Lock()
_layer_is_threadsafe = False


def launch(kernel, n_threads, *args):
    """Run the ``parallel=True`` kernel on ``n_threads`` threads (restored afterwards)."""
    global _layer_is_threadsafe
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if _layer_is_threadsafe:
            kernel(*args)
        else:
            with _launch_lock:
                kernel(*args)
                _layer_is_threadsafe = numba.threading_layer() in ("tbb", "omp")
    finally:
        numba.set_num_threads(previous)


def csr_int64(csr, n_rows):
    """A CSR ``(indptr, indices)`` as int64 (one compiled variant); all rows empty when None."""
    if csr is None:
        return np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int64)
    indptr, indices = csr
    return indptr.astype(np.int64, copy=False), indices.astype(np.int64, copy=False)
