"""Backend registry: which implementations exist, which can run here, and which one a call uses.

Selection, first match wins: an explicit ``backend=`` argument; ``turborec.config_context(
backend=...)``; the ``TURBOREC_BACKEND`` environment variable; else ``"auto"``. An explicit
request for a backend that cannot run raises :class:`BackendUnavailableError` with the reason
found by its probe; nothing falls back silently. ``"auto"`` follows the data: arrays on a GPU
(``__cuda_array_interface__``) go to ``cuda``, else ``cupy``; host arrays go to ``native``, else
``numba``, else ``numpy``, with one :class:`PerformanceWarning` when auto lands below ``native``.
Auto never moves host data to a GPU.

Each backend is probed once, lazily, on first use.
"""

import functools
import importlib
import os
import warnings

from .._config import get_config
from ..exceptions import BackendUnavailableError, PerformanceWarning

BACKENDS = ("native", "cuda", "numba", "cupy", "numpy")
GPU_BACKENDS = ("cuda", "cupy")
_MODULES = {"native": "native", "cuda": "cuda", "numba": "numba_", "cupy": "cupy_", "numpy": "numpy_ref"}




class Probe:
    """Outcome of probing one backend: ``available``, a human ``reason``, and the module."""

    def __init__(self, name, module, reason):
        self.name, self.module, self.reason = name, module, reason

    @property
    def available(self):
        return self.module is not None

    def __repr__(self):
        return f"Probe({self.name!r}, available={self.available}, reason={self.reason!r})"


@functools.cache
def probe(name):
    """Probe backend ``name`` once: import its adapter and ask it whether it can run."""
    name = check_backend_name(name, allow_auto=False)
    try:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    except ImportError as exc:
        return Probe(name, None, f"import failed: {exc}")
    reason = module.probe()  # None when usable, else why not
    if reason is not None:
        return Probe(name, None, reason)
    return Probe(name, module, getattr(module, "description", "available"))


def available():
    """Names of the backends that can run on this machine, in preference order."""
    return tuple(name for name in BACKENDS if probe(name).available)


def check_backend_name(name, allow_auto=True):
    if not isinstance(name, str):
        raise TypeError(f"backend: expected a str, got {type(name).__name__}")
    choices = (("auto",) if allow_auto else ()) + BACKENDS
    if name not in choices:
        raise ValueError(f"backend: expected one of {', '.join(choices)}; got {name!r}")
    return name


def requested_backend(backend=None):
    """The backend name in force for a call: argument > config_context > env > "auto"."""
    if backend is None:
        backend = get_config()["backend"]
    if backend is None:
        backend = os.environ.get("TURBOREC_BACKEND") or "auto"
    return check_backend_name(backend)


_warned_slow = False


def resolve(backend=None, *arrays, kernel=None):
    """The backend module that runs a call on ``arrays``.

    ``kernel`` names the adapter function the call needs; backends without it are skipped by
    auto and refused when asked for explicitly.

    Raises
    ------
    BackendUnavailableError
        The requested backend (or, for GPU arrays under auto, every GPU backend) cannot run.
    TypeError
        A host backend was asked to run on GPU arrays.
    """
    global _warned_slow
    name = requested_backend(backend)
    on_gpu = any(hasattr(a, "__cuda_array_interface__") for a in arrays)
    if name != "auto":
        found = probe(name)
        if not found.available:
            raise BackendUnavailableError(f"backend {name!r} is unavailable: {found.reason}")
        if kernel is not None and not hasattr(found.module, kernel):
            raise BackendUnavailableError(f"backend {name!r} does not implement {kernel}")
        if on_gpu and name not in GPU_BACKENDS:
            raise TypeError(
                f"backend {name!r} runs on host arrays but got a GPU array; "
                "copy it to the host (.get()) or use backend='cuda' or 'cupy'"
            )
        return found.module
    order = GPU_BACKENDS if on_gpu else ("native", "numba", "numpy")
    for candidate in order:
        found = probe(candidate)
        if found.available and (kernel is None or hasattr(found.module, kernel)):
            if not on_gpu and candidate != "native" and not _warned_slow:
                _warned_slow = True
                warnings.warn(
                    f"turborec: backend 'native' is unavailable ({probe('native').reason}); "
                    f"using the slower {candidate!r} backend",
                    PerformanceWarning,
                    stacklevel=3,
                )
            return found.module
    reasons = "; ".join(f"{c}: {probe(c).reason if not probe(c).available else 'no ' + kernel}" for c in order)
    raise BackendUnavailableError(f"no backend can run on these arrays ({reasons})")
