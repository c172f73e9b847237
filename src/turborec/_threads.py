"""The one thread rule: resolve ``n_threads`` once in Python, pass it to every kernel."""

import contextlib
import os

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


_controller = None


@contextlib.contextmanager
def blas_single_thread():
    """Pin BLAS to one thread while our own OpenMP threads call it (no oversubscription)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
