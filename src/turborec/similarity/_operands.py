"""Inputs of the similarity family, prepared once above the backends: canonical CSR operands of
the output dtype, checked numbers, and the per-row quantities the measures weight scores by."""

import numpy as np
import scipy.sparse as sp

from .. import _validation as v


def output_dtype(*dtypes):
    """float64 when any input is float64, else float32 (float32, ints and bools)."""
    return np.dtype(np.float64 if any(np.dtype(d) == np.float64 for d in dtypes) else np.float32)


def as_operand(matrix, name, dtype=None):
    """A canonical CSR (indices sorted, duplicates summed, no stored zeros) of float32 or float64
    values (``dtype``, else by :func:`output_dtype`), from a matrix ``v.as_csr`` has checked.
    Values are converted to the float dtype first, then duplicates summed as scipy sums them
    (so two ``True`` entries of a bool matrix sum to 2). The caller's matrix is never modified:
    a canonical input of the right dtype is shared read-only (nothing downstream writes to it),
    anything else is copied. Non-finite values are a ValueError."""
    nnz = int(matrix.indptr[-1])
    data = np.asarray(matrix.data[:nnz])
    if data.dtype.kind == "c":
        raise TypeError(f"{name}: expected real values, got dtype {data.dtype}")
    dtype = output_dtype(data.dtype) if dtype is None else dtype
    if data.dtype != dtype:
        data = data.astype(dtype)
    if not v._all_finite(data, np):
        raise ValueError(f"{name}: contains NaN or inf values")
    indices, indptr = matrix.indices[:nnz], matrix.indptr
    if _canonical(indptr, indices, data):
        return sp.csr_matrix((data, indices, indptr), shape=matrix.shape, copy=False)
    out = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=matrix.shape)
    out.sum_duplicates()
    out.eliminate_zeros()
    if not v._all_finite(out.data, np):
        raise ValueError(f"{name}: summing duplicate entries overflowed to inf")
    return out


def _canonical(indptr, indices, data):
    """Whether a CSR with indices sorted within rows has no duplicates and no stored zeros."""
    if np.count_nonzero(data) != len(data):
        return False
    repeats = np.flatnonzero(indices[1:] == indices[:-1]) + 1  # positions equal to their left neighbour
    if len(repeats) == 0:
        return True
    at = np.minimum(np.searchsorted(indptr, repeats), len(indptr) - 1)
    return bool((indptr[at] == repeats).all())  # each must start a row


def check_threshold(threshold, dtype):
    if threshold is None:
        return dtype.type(-np.inf)
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise TypeError(f"threshold: expected a real number or None, got {type(threshold).__name__}")
    if np.isnan(threshold):
        raise ValueError("threshold: expected a number, got NaN")
    return dtype.type(threshold)


def check_number(value, name, low, high=np.inf):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    if not low <= value <= high or not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number in [{low}, {high}], got {value}")
    return float(value)


def squared_norms(x):
    """Sum of squares of each row of a canonical CSR, in float64 (0 for empty rows)."""
    out = np.zeros(x.shape[0])
    starts = x.indptr[:-1]
    nonempty = np.flatnonzero(np.diff(x.indptr) > 0)
    if len(nonempty):
        wide = x.data[: x.nnz].astype(np.float64)
        np.square(wide, out=wide)  # in place: a fresh temporary costs its page faults
        # segments between consecutive non-empty row starts are exactly those rows' entries
        out[nonempty] = np.add.reduceat(wide, starts[nonempty])
    return out


def power(values, exponent, dtype):
    """``values ** exponent`` for positive values, 0 where values are 0, in ``dtype``."""
    out = np.zeros(len(values))
    positive = values > 0
    out[positive] = values[positive] ** exponent
    return out.astype(dtype)


def cosine_rows(x):
    """``x`` with every row whose largest magnitude is so small or large that its sums or its
    inverse norm would leave the dtype's range (as ``selection.cosine_operands``: float32 values of
    1e-30 summed to 0 and scored NaN) multiplied by the power of two that brings that magnitude
    into [0.5, 1). Scaling by a power of two is exact and leaves cosines unchanged; ``x`` itself
    when no row needs it (always, for data within the range)."""
    if x.nnz == 0:
        return x
    limit = 2.0 ** (np.finfo(x.dtype).maxexp // 2 - 4)  # 2**60 for float32, as cosine_operands
    data = x.data[: x.nnz]
    low, high = data.min(), data.max()
    if low >= 1 / limit and high <= limit:  # positive data in range (counts, ratings): no pass needed
        return x
    nonempty = np.flatnonzero(np.diff(x.indptr) > 0)
    largest = np.maximum.reduceat(np.abs(data), x.indptr[:-1][nonempty])
    exponent = np.frexp(largest)[1]
    shift = np.where((largest < 1 / limit) | (largest > limit), exponent, 0)
    if not shift.any():
        return x
    per_row = np.zeros(x.shape[0], np.int64)
    per_row[nonempty] = shift
    scaled = np.ldexp(data, -np.repeat(per_row, np.diff(x.indptr))).astype(x.dtype)
    return sp.csr_matrix((scaled, x.indices[: x.nnz], x.indptr), shape=x.shape)


def check_min_support(min_support):
    """An int >= 0 (a Python int: the caller clips it to what its kernel can count)."""
    min_support = v.as_int(min_support, "min_support", "an int >= 0")
    if min_support < 0:
        raise ValueError(f"min_support: expected an int >= 0, got {min_support}")
    return min_support
