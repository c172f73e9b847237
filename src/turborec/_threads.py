"""The one thread rule: resolve ``n_threads`` once in Python, pass it to every kernel."""

import contextlib
import itertools
import os
import threading

from ._config import get_config
from ._validation import as_int

_MAX_THREADS = 4096  # far above any machine; = kMaxThreads of common.hpp, which the bindings enforce


def cpu_count():
    """Cores this process may run on (respects CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _openmp_max_threads():
    try:
        from . import _native
    except ImportError:
        return cpu_count()
    return _native.max_threads()


def resolve_n_threads(n_threads=None):
    """Turn a user's ``n_threads`` into the positive thread count given to kernels.

    Parameters
    ----------
    n_threads : int or None
        ``None``: the ``config_context`` default, else OpenMP's maximum (which honours
        ``OMP_NUM_THREADS`` and threadpoolctl limits). ``-1``: every core this process may
        use. A positive int: exactly that many. ``0`` and other negatives are errors.

    Returns
    -------
    int
        At least 1.
    """
    if n_threads is None:
        n_threads = get_config()["n_threads"]
        if n_threads is None:
            return max(1, _openmp_max_threads())
    n_threads = as_int(n_threads, "n_threads", "an int or None")
    if n_threads == -1:
        return cpu_count()
    if n_threads <= 0 or n_threads > _MAX_THREADS:
        raise ValueError(f"n_threads: expected a positive int up to {_MAX_THREADS}, -1 (all cores) or None, "
                         f"got {n_threads}")
    return n_threads


_controller = None  # threadpoolctl's, made on first use
_thread_setters = None  # found on first use: [(get, set)] per OpenBLAS, or False (use threadpoolctl)
_pin_lock = threading.Lock()
_pin_users = 0  # pins open now (Python threads overlap while the GIL is released)
_pin_saved = []  # the thread counts the first of them found, restored by the last


def _openblas_thread_setters():
    """``(get, set)`` thread-count functions of every BLAS loaded, when each is an OpenBLAS with its
    own thread pool (not its OpenMP layer); else False."""
    from threadpoolctl import ThreadpoolController

    found = []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.internal_api != "openblas" or getattr(lib, "threading_layer", None) == "openmp":
            return False
        for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):  # threadpoolctl's names
            get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                found.append((get, set_))
                break
        else:
            return False
    return found


@contextlib.contextmanager
def blas_single_thread():
    """Pin BLAS to one thread while our own OpenMP threads call it (no oversubscription).

    OpenBLAS splits a gemm of more than 2^18 multiply-adds over its own threads, which on a busy
    machine wait for the other core far longer than the gemm takes. threadpoolctl's pin costs ~30
    us (more than a one-user attention layer), so where every BLAS loaded is a pthreads OpenBLAS
    the pin calls its ``openblas_get/set_num_threads`` directly (~1 us) and restores the previous
    counts when the last of overlapping pins (other Python threads') ends: BLAS threading outside
    our calls is never changed. Other BLAS: threadpoolctl's limit.
    """
    global _controller, _thread_setters, _pin_users, _pin_saved
    if _thread_setters is None:
        _thread_setters = _openblas_thread_setters()
    if not _thread_setters:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        with _controller.limit(limits=1, user_api="blas"):
            yield
        return
    with _pin_lock:
        if _pin_users == 0:
            _pin_saved = [get() for get, _ in _thread_setters]
            for _, set_ in _thread_setters:
                set_(1)
        _pin_users += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pin_users -= 1
            if _pin_users == 0:
                for (_, set_), count in zip(_thread_setters, _pin_saved):
                    set_(count)
