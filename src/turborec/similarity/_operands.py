"""Inputs of the similarity family, prepared once above the backends: canonical CSR operands of
the output dtype, checked numbers, and the per-row quantities the measures weight scores by."""

import numpy as np
import scipy.sparse as sp

from .. import _validation as v


def output_dtype(*dtypes):
    """float64 when any input is float64, else float32 (float32, ints and bools)."""
    return np.dtype(np.float64 if any(np.dtype(d) == np.float64 for d in dtypes) else np.float32)


def as_operand(matrix, name, dtype=None):
    """A fresh canonical CSR (duplicates summed as scipy sums them, stored zeros dropped, indices
    sorted) of float32 or float64 values (``dtype``, else by :func:`output_dtype`), from a
    matrix ``v.as_csr`` has checked; the caller's matrix is never modified. Non-finite values
    are a ValueError."""
    data = np.asarray(matrix.data[: matrix.indptr[-1]])
    if data.dtype.kind == "c":
        raise TypeError(f"{name}: expected real values, got dtype {data.dtype}")
    dtype = output_dtype(data.dtype) if dtype is None else dtype
    data = data.astype(dtype)  # a copy: never the caller's array
    if not v._all_finite(data, np):
        raise ValueError(f"{name}: contains NaN or inf values")
    out = sp.csr_matrix((data, np.array(matrix.indices[: matrix.indptr[-1]]), np.array(matrix.indptr)),
                        shape=matrix.shape)
    out.sum_duplicates()
    out.eliminate_zeros()
    if not v._all_finite(out.data, np):
        raise ValueError(f"{name}: summing duplicate entries overflowed to inf")
    return out


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
    """Sum of squares of each row of a canonical CSR, in float64."""
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    wide = x.data.astype(np.float64)
    return np.bincount(rows, weights=wide * wide, minlength=x.shape[0])


def power(values, exponent, dtype):
    """``values ** exponent`` for positive values, 0 where values are 0, in ``dtype``."""
    out = np.zeros(len(values))
    positive = values > 0
    out[positive] = values[positive] ** exponent
    return out.astype(dtype)
