"""``implicit.utils``: the names code written for implicit imports from it."""

from ...exceptions import ParameterWarning

__all__ = ["ParameterWarning", "nonzeros"]


def nonzeros(m, row):
    """The ``(column, value)`` pairs stored in row ``row`` of the CSR matrix ``m``, as implicit's."""
    for index in range(m.indptr[row], m.indptr[row + 1]):
        yield m.indices[index], m.data[index]
