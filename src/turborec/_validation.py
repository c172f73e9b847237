"""Validate and coerce user input once, visibly, before any backend sees it.

Every error names the argument, what it got and what was expected.
"""

import operator

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_int(value, name, expected):
    """``value`` as a Python int (any integer type; bools refused), else a TypeError that says
    ``{name}: expected {expected}``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected {expected}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected {expected}, got {type(value).__name__}") from None


def check_k(k, name="k"):
    """A positive int."""
    k = as_int(k, name, "a positive int")
    if k <= 0:
        raise ValueError(f"{name}: expected a positive int, got {k}")
    return k


def is_gpu_array(x):
    return hasattr(x, "__cuda_array_interface__")


def as_float_matrix(x, name, xp):
    """A C-contiguous 2-D float32/float64 array of module ``xp`` (copied only if needed)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not hasattr(x, "dtype") or not hasattr(x, "ndim"):
        raise TypeError(f"{name}: expected a 2-D array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    return xp.ascontiguousarray(xp.asarray(x))


def as_exclude(exclude, shape, xp):
    """``None`` or ``(indptr, indices)`` of a CSR matrix of ``shape``, checked, on ``xp``.

    Any scipy (or cupyx) sparse matrix is accepted and converted to CSR; column ids must be in
    range; duplicates do not matter. Unsorted rows are sorted in a copy (kernels rely on it).
    """
    if exclude is None:
        return None
    if not hasattr(exclude, "tocsr"):
        raise TypeError(f"exclude: expected a scipy.sparse matrix, got {type(exclude).__name__}")
    exclude = exclude.tocsr()
    if not exclude.has_sorted_indices:
        exclude = exclude.sorted_indices()
    if tuple(exclude.shape) != tuple(shape):
        raise ValueError(f"exclude: expected shape {tuple(shape)}, got {tuple(exclude.shape)}")
    indptr, indices = exclude.indptr, exclude.indices
    if len(indptr) != shape[0] + 1:
        raise ValueError(f"exclude: malformed CSR, indptr has {len(indptr)} entries for {shape[0]} rows")
    nnz = int(indptr[-1])
    if int(indptr[0]) != 0 or nnz > len(indices) or bool((indptr[1:] < indptr[:-1]).any()):
        raise ValueError("exclude: malformed CSR indptr (must start at 0 and never decrease)")
    indices = indices[:nnz]
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= shape[1]):
        bad = int(indices.min()) if int(indices.min()) < 0 else int(indices.max())
        raise IndexError(f"exclude: column index {bad} out of range [0, {shape[1]})")
    wide = indptr.dtype == np.int64 or indices.dtype == np.int64
    dtype = np.int64 if wide else np.int32
    return (xp.ascontiguousarray(xp.asarray(indptr, dtype=dtype)),
            xp.ascontiguousarray(xp.asarray(indices, dtype=dtype)))


def as_candidates(candidates, n_items, name="candidates"):
    """Sorted unique int64 item ids in ``[0, n_items)`` (a set: order and repeats ignored)."""
    if is_gpu_array(candidates):
        candidates = candidates.get()
    candidates = np.asarray(candidates)
    if candidates.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of item ids, got shape {candidates.shape}")
    if candidates.size and not np.issubdtype(candidates.dtype, np.integer):
        raise TypeError(f"{name}: expected integer item ids, got dtype {candidates.dtype}")
    candidates = np.unique(candidates.astype(np.int64))
    if candidates.size and (candidates[0] < 0 or candidates[-1] >= n_items):
        bad = candidates[0] if candidates[0] < 0 else candidates[-1]
        raise IndexError(f"{name}: item id {bad} out of range [0, {n_items})")
    return candidates


def restrict_columns(indptr, indices, columns, n_columns):
    """CSR ``(indptr, indices)`` keeping only the sorted ``columns``, re-indexed to positions in it."""
    position = np.full(n_columns, -1, dtype=indices.dtype)
    position[columns] = np.arange(len(columns), dtype=indices.dtype)
    mapped = position[indices[: indptr[-1]]]
    keep = mapped >= 0
    kept_before = np.concatenate(([0], np.cumsum(keep)))
    return kept_before[indptr].astype(indptr.dtype), mapped[keep]
