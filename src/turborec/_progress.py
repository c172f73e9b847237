"""The one meaning of ``show_progress`` in turborec (as in implicit): True, the default of any work
that can take over a second (fitting, evaluating, downloading), draws a tqdm bar on stderr once
the work has run ~1 s; False draws nothing. Work that always finishes in well under a second
accepts the argument, checks it, and draws nothing.

tqdm is a runtime dependency; should it be missing all the same, the bars are simply not drawn.
"""

import numpy as np

try:
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - tqdm is a dependency
    _tqdm = None

_DELAY_S = 1.0  # work shorter than this draws nothing (as tqdm's ``delay``)


def check_show_progress(show_progress):
    """``show_progress`` as a bool, else a TypeError naming it."""
    if not isinstance(show_progress, (bool, np.bool_)):
        raise TypeError(f"show_progress: expected a bool, got {type(show_progress).__name__}")
    return bool(show_progress)


def progress_bar(show, *, total, desc, unit, **options):
    """A tqdm bar to ``update(n)`` (a context manager), or a silent stand-in when ``show`` is false.

    Parameters
    ----------
    show : bool
        Whether to draw it.
    total : int or None
        The amount of work (None: unknown, the bar counts up).
    desc, unit : str
        Its label and the unit counted (``"users"``, ``"B"``, ...).
    **options
        More tqdm options (e.g. ``unit_scale=True``).
    """
    if not check_show_progress(show) or _tqdm is None:
        return _NoBar()
    return _tqdm(total=total, desc=desc, unit=unit, delay=_DELAY_S, **options)


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
