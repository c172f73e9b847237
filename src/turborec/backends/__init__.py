"""Backend registry: which backends exist, which can run here, which families each implements,
and which one a call uses. Nothing else lives here: each kernel family keeps its backends'
implementations in its own folder (``turborec/<family>/_<backend>.py``).

Selection, first match wins: an explicit ``backend=`` argument; ``turborec.config_context(
backend=...)``; the ``TURBOREC_BACKEND`` environment variable; else ``"auto"``. An explicit
request for a backend that cannot run, or that does not implement the family, raises
:class:`BackendUnavailableError` saying why; nothing falls back silently. ``"auto"`` follows the
data: arrays on a GPU (``__cuda_array_interface__``) go to ``cuda``, else ``cupy``; host arrays
go to ``native``, else ``numba``, else ``numpy``, skipping backends that lack the family, with
one :class:`PerformanceWarning` when auto lands below the family's fastest host backend
(``native`` for most families) because that one cannot run here. Auto never moves host data to
a GPU.

Each backend is probed once, lazily, on first use: the probe says whether its runtime can run
here (the module imports, a device is present) and, when not, why and how to get it.
"""

import functools
import importlib
import os
import warnings

import numpy as np

from .._config import get_config
from ..exceptions import BackendUnavailableError, PerformanceWarning

BACKENDS = ("native", "cuda", "numba", "cupy", "numpy")
GPU_BACKENDS = ("cuda", "cupy")
HOST_BACKENDS = ("native", "numba", "numpy")  # also auto's order for host arrays

# The kernel families and the backends each implements: turborec/<family>/_<backend>.py.
FAMILIES = {
    "selection": ("native", "cuda", "numba", "cupy", "numpy"),
    "metrics": ("native", "numba", "numpy"),
    "similarity": ("native", "numba", "cupy", "numpy"),
    "biases": ("numba", "numpy"),  # sequential sweeps: no native, no GPU
    "knn_rating": ("numba", "numpy"),  # per-query sorts of a few hundred candidates: numba suffices
    "sgd": ("native", "numba", "numpy"),  # sequential SGD passes: no GPU
    "bpr": ("native", "numba", "numpy"),  # Hogwild SGD over random rows: no GPU backend yet
    "lmf": ("native", "numba", "numpy"),  # AdaGrad rows with sampled negatives: no GPU backend yet
    "als": ("native", "numba", "numpy"),  # CG and Cholesky half-steps over rows: no GPU backend yet
    "attention": ("native", "numba", "numpy"),  # one forward pass per dispatch: no GPU backend yet
}

_CUPY_HINT = "pip install 'turborec[cupy]' (CuPy for CUDA 13; cupy-cuda12x for CUDA 12)"


class Probe:
    """Outcome of probing one backend: ``available`` and a human ``reason``."""

    def __init__(self, name, available, reason):
        self.name, self.available, self.reason = name, available, reason

    def __repr__(self):
        return f"Probe({self.name!r}, available={self.available}, reason={self.reason!r})"


def _probe_native():
    from .. import _native  # noqa: F401 - registers scipy's BLAS on import

    return None, "C++/OpenMP kernels (turborec._native)"


def _probe_numba():
    try:
        import numba
    except ImportError as exc:
        return f"numba is not installed ({exc}); pip install 'turborec[numba]'", None
    return None, f"Numba {numba.__version__} JIT kernels (CPU)"


def _cupy_device():
    """None when CuPy imports and sees a device, else why not."""
    try:
        import cupy
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); {_CUPY_HINT}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CUDARuntimeError without a driver, and kin
        return f"no usable CUDA device: {exc}"
    return None if count > 0 else "no CUDA device found"


def _probe_cuda():
    try:
        from .. import _cuda
    except ImportError as exc:  # built without nvcc, or TURBOREC_CUDA=0
        return (f"turborec._cuda is not built ({exc}); reinstall with nvcc on PATH or CUDA_HOME set "
                "(TURBOREC_CUDA=1 makes a failed CUDA build an error)"), None
    if _cuda.device_count() == 0:
        return f"no usable CUDA device: {_cuda.device_error()}", None
    return _cupy_device(), "CUDA kernels on CuPy arrays (turborec._cuda)"


def _probe_cupy():
    return _cupy_device(), "CuPy array operations (GPU fallback, no custom kernels)"


def _probe_numpy():
    return None, "NumPy reference (slow; the test oracle)"


_PROBES = {"native": _probe_native, "cuda": _probe_cuda, "numba": _probe_numba, "cupy": _probe_cupy,
           "numpy": _probe_numpy}


@functools.cache
def probe(name):
    """Probe backend ``name`` once: can its runtime run here, and if not, why not."""
    name = check_backend_name(name, allow_auto=False)
    try:
        problem, description = _PROBES[name]()
    except ImportError as exc:
        problem, description = f"import failed: {exc}", None
    return Probe(name, problem is None, description if problem is None else problem)


def available(family=None):
    """Names of the backends that can run on this machine (and implement ``family``, when
    given), in preference order."""
    names = BACKENDS if family is None else FAMILIES[check_family(family)]
    return tuple(name for name in names if probe(name).available)


def check_backend_name(name, allow_auto=True):
    if not isinstance(name, str):
        raise TypeError(f"backend: expected a str, got {type(name).__name__}")
    choices = (("auto",) if allow_auto else ()) + BACKENDS
    if name not in choices:
        raise ValueError(f"backend: expected one of {', '.join(choices)}; got {name!r}")
    return name


def check_family(family):
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {', '.join(FAMILIES)}; got {family!r}")
    return family


def requested_backend(backend=None):
    """The backend name in force for a call: argument > config_context > env > "auto"."""
    if backend is None:
        backend = get_config()["backend"]
    if backend is None:
        backend = os.environ.get("TURBOREC_BACKEND") or "auto"
    return check_backend_name(backend)


class Backend:
    """The backend chosen for one call of a family: its name, array module (``xp``), whether it
    runs on a GPU, and the family's implementation module for it (``impl``)."""

    def __init__(self, name, family):
        self.name, self.family = name, family
        self.on_gpu = name in GPU_BACKENDS
        self.xp = importlib.import_module("cupy") if self.on_gpu else np
        self.impl = importlib.import_module(f"turborec.{family}._{name}")

    def __repr__(self):
        return f"Backend({self.name!r}, family={self.family!r})"


@functools.cache
def _backend(name, family):
    return Backend(name, family)


def _why_not(name, family, kernel=None):
    """None when ``name`` can run ``family`` (and its ``kernel``, when given) here, else the reason.
    A family's backend module may lack one of the family's kernels (a kernel not yet written in
    C++): it is checked only once the probe succeeded, since only then may the module be imported."""
    if name not in FAMILIES[family]:
        return f"backend {name!r} does not implement the {family!r} kernels (it has: {', '.join(FAMILIES[family])})"
    found = probe(name)
    if not found.available:
        return f"backend {name!r} is unavailable: {found.reason}"
    if kernel is not None and not callable(getattr(_backend(name, family).impl, kernel, None)):
        having = ", ".join(b for b in FAMILIES[family] if b != name and probe(b).available
                           and callable(getattr(_backend(b, family).impl, kernel, None)))
        return (f"backend {name!r} does not implement the {kernel!r} kernel of the {family!r} family"
                f" (available here on: {having or 'none'})")
    return None


_warned_slow = False


def resolve(family, backend=None, arrays=(), kernel=None):
    """The :class:`Backend` that runs a call of ``family`` on ``arrays`` (and implements the
    family's ``kernel``, when given: auto skips a backend whose module lacks it, an explicit
    request for one is refused naming the kernel).

    Raises
    ------
    BackendUnavailableError
        The requested backend cannot run or lacks the family or kernel (or, under auto, no backend for
        the arrays' device can).
    TypeError
        A host backend was asked to run on GPU arrays.
    """
    global _warned_slow
    check_family(family)
    name = requested_backend(backend)
    on_gpu = any(hasattr(a, "__cuda_array_interface__") for a in arrays)
    if name != "auto":
        reason = _why_not(name, family, kernel)
        if reason is not None:
            raise BackendUnavailableError(reason)
        if on_gpu and name not in GPU_BACKENDS:
            raise TypeError(f"backend {name!r} runs on host arrays but got a GPU array; copy it to the host "
                            "(.get()) or use backend='cuda' or 'cupy'")
        return _backend(name, family)
    order = GPU_BACKENDS if on_gpu else HOST_BACKENDS
    for candidate in order:
        if _why_not(candidate, family, kernel) is None:
            best = next(b for b in FAMILIES[family] if b in order)
            if not on_gpu and candidate != best and not _warned_slow:  # a faster one of the family cannot run
                _warned_slow = True
                warnings.warn(f"turborec: {_why_not(best, family, kernel)}; using the slower {candidate!r} backend",
                              PerformanceWarning, stacklevel=4)
            return _backend(candidate, family)
    reasons = "; ".join(f"{c}: {_why_not(c, family, kernel)}" for c in order)
    what = f"{family!r} kernels" if kernel is None else f"{kernel!r} kernel of the {family!r} family"
    raise BackendUnavailableError(f"no backend can run the {what} on these arrays ({reasons})")
