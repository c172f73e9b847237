"""Every public error and warning class of turborec, in one place.

They are re-exported where users met them first (``turborec.BackendUnavailableError``,
``turborec.models.ParameterWarning``, ``turborec.datasets.DataWarning``); catching the class
from here or from there is the same thing.
"""

__all__ = ["BackendUnavailableError", "DataWarning", "ParameterWarning", "PerformanceWarning"]


class BackendUnavailableError(RuntimeError):
    """An explicitly requested backend cannot run here, or does not implement the kernel asked
    for; the message says why (the backend's probe reason, or the missing family)."""


class PerformanceWarning(UserWarning):
    """Automatic selection fell back to a slower backend than the kernel family's fastest (``native``
    for most families) because that one cannot run here (warned once per process)."""


class ParameterWarning(UserWarning):
    """An argument was accepted but converted (e.g. a non-CSR matrix to CSR, at a copy's cost)."""


class DataWarning(UserWarning):
    """Data was dropped on the way in, and counted: unreadable rows a reader skipped
    (``on_bad_line="skip"``), or test interactions of users or items the training data does not
    know (``like=train`` with ``unknown="drop"``). The message names the file or argument, says
    how many, and quotes the first few."""
