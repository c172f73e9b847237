"""Process-wide defaults that a ``with turborec.config_context(...)`` block overrides."""

import contextlib
import contextvars

_DEFAULTS = {"backend": None, "n_threads": None}
_config = contextvars.ContextVar("turborec_config", default=_DEFAULTS)


def get_config():
    """Return a copy of the settings in force: ``{"backend": ..., "n_threads": ...}``."""
    return dict(_config.get())


@contextlib.contextmanager
def config_context(*, backend=None, n_threads=None):
    """Set the default ``backend`` and ``n_threads`` inside a ``with`` block.

    Parameters
    ----------
    backend : str, optional
        One of ``"auto"``, ``"native"``, ``"cuda"``, ``"numba"``, ``"cupy"``, ``"numpy"``.
        An explicit ``backend=`` argument to a function still wins.
    n_threads : int, optional
        Default thread count (see :func:`turborec.resolve_n_threads`).

    Examples
    --------
    >>> import turborec
    >>> with turborec.config_context(backend="numpy"):
    ...     pass
    """
    from .backends import check_backend_name
    from ._threads import resolve_n_threads

    new = get_config()
    if backend is not None:
        new["backend"] = check_backend_name(backend)
    if n_threads is not None:
        resolve_n_threads(n_threads)  # validate now, resolve at each call
        new["n_threads"] = n_threads
    token = _config.set(new)
    try:
        yield new
    finally:
        _config.reset(token)
