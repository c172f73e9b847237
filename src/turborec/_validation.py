"""Validate and coerce user input once, visibly, before any backend sees it.

Every error names the argument, what it got and what was expected. Arrays stay on the device
they came on (NumPy on the host, CuPy on a GPU); ``_dispatch`` moves them when a backend needs.
"""

import contextlib
import operator

import numpy as np
import scipy.sparse as sp

FLOAT_DTYPES = (np.float32, np.float64)
CHECK_CHUNK = 1 << 20  # elements a check reads per step: its temporaries stay ~1 MiB, not input-sized
INT32_MAX = int(np.iinfo(np.int32).max)


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


def as_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def check_id_range(n, name, what="columns"):
    """Ids handed back are int32: a dimension whose ids would not fit is an error, not a wrap."""
    if n > INT32_MAX + 1:
        raise ValueError(f"{name}: {n} {what} do not fit the int32 ids turborec returns (at most {INT32_MAX + 1})")


def is_gpu_array(x):
    return hasattr(x, "__cuda_array_interface__")


def array_module(x):
    """``cupy`` for a GPU array, else ``numpy``."""
    if is_gpu_array(x):
        import cupy

        return cupy
    return np


def gpu_device(*arrays):
    """A context manager under which CuPy works on the device of the GPU arrays among ``arrays``,
    a no-op when none is on a GPU. CuPy allocates and launches on the current device, so checks,
    copies and derived arrays (norms, candidate lookups) of arrays on another device would land
    on the wrong one, or fail where the devices lack peer access. Arrays on two GPUs are a
    ValueError."""
    on_gpu = [a for a in arrays if is_gpu_array(a)]
    if not on_gpu:
        return contextlib.nullcontext()
    import cupy

    devices = sorted({cupy.asarray(a).device.id for a in on_gpu})
    if len(devices) > 1:
        raise ValueError(f"inputs: expected arrays on one GPU, got arrays on devices {devices}")
    return cupy.cuda.Device(devices[0])


def as_array(x, name):
    """``np.asarray(x)``, with a ragged nested list reported under ``name``."""
    try:
        return np.asarray(x)
    except ValueError as exc:
        raise ValueError(f"{name}: expected a rectangular array ({exc})") from None


def _all_finite(x, xp):
    flat = x.reshape(-1)
    return all(bool(xp.isfinite(flat[i:i + CHECK_CHUNK]).all()) for i in range(0, flat.size, CHECK_CHUNK))


def as_float_matrix(x, name, xp=None, *, finite=False):
    """A C-contiguous 2-D float32/float64 array, on the device it came on (or on ``xp``), copied
    only if needed; ``finite``: NaN and inf are a ValueError."""
    if isinstance(x, (list, tuple)):
        x = as_array(x, name)
    if isinstance(x, np.ma.MaskedArray):  # its mask would be dropped: a silent wrong answer
        raise TypeError(f"{name}: masked arrays are not supported; fill them first (e.g. .filled(np.nan))")
    if sp.issparse(x) or (hasattr(x, "tocsr") and not is_gpu_array(x)):
        raise TypeError(f"{name}: expected a dense 2-D array (numpy or cupy), got a sparse {type(x).__name__}; "
                        "densify it with .toarray()")
    if not hasattr(x, "dtype") or not hasattr(x, "ndim"):
        raise TypeError(f"{name}: expected a 2-D array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    xp = xp or array_module(x)
    x = xp.ascontiguousarray(xp.asarray(x))
    if finite and not _all_finite(x, xp):
        raise ValueError(f"{name}: contains NaN or inf")
    return x


# ---- the one CSR check ----


def as_csr(matrix, name, shape=None, *, canonical=False):
    """A checked ``scipy.sparse.csr_matrix`` with sorted column indices, never the caller's
    object modified.

    The structure is checked with NumPy alone BEFORE any scipy routine runs on the matrix (scipy's
    own C routines read and write out of bounds on a malformed indptr): indptr of length
    ``n_rows + 1``, starting at 0, never decreasing, ending within the indices (and data);
    indices in ``[0, n_cols)``; 1-D numeric data. CSC is checked likewise before conversion;
    other formats go through COO by scipy's NumPy-only ``tocoo`` (a LIL's list lengths checked
    first), and COO coordinates are checked before ``tocsr``. Sortedness is computed, never taken
    from the matrix's cached flag (stale after an in-place edit of its indices). ``canonical``
    also merges duplicates and drops stored zeros (then a stored entry is exactly one
    interaction). GPU (cupyx) sparse matrices are checked on a host copy.
    """
    if hasattr(matrix, "get") and hasattr(matrix, "tocsr") and not sp.issparse(matrix):
        matrix = matrix.get()  # cupyx.scipy.sparse
    if not sp.issparse(matrix):
        raise TypeError(f"{name}: expected a scipy.sparse matrix, got {type(matrix).__name__}")
    if len(matrix.shape) != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix, got shape {tuple(matrix.shape)}")
    if shape is not None and tuple(matrix.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(matrix.shape)}")
    n_rows, n_cols = matrix.shape
    if matrix.format == "csr":
        _check_compressed(matrix, n_rows, n_cols, name, "row", "column")
    elif matrix.format == "csc":
        _check_compressed(matrix, n_cols, n_rows, name, "column", "row")
        matrix = matrix.tocsr()
    else:
        if matrix.format != "coo":
            matrix = _to_coo(matrix, name)
        _check_coo(matrix, n_rows, n_cols, name)
        matrix = matrix.tocsr()
    if canonical or not _sorted_within_rows(matrix.indptr, matrix.indices):
        matrix = _fresh_csr(matrix, wide=canonical)
        if canonical:
            matrix.sum_duplicates()  # sorts too
            matrix.eliminate_zeros()
        else:
            matrix.sort_indices()
    return matrix


def as_csr_of_transpose(matrix, name):
    """``as_csr(matrix, name).T`` as a checked CSR. A CSC matrix's arrays are already the CSR of
    its transpose: they are checked and used as such, with no conversion (item-item similarity is
    usually asked of ``user_items.T``, a CSC view of a CSR)."""
    if not (sp.issparse(matrix) and matrix.format == "csc" and len(matrix.shape) == 2):
        return as_csr(matrix, name).T.tocsr()
    n_rows, n_cols = matrix.shape
    _check_compressed(matrix, n_cols, n_rows, name, "column", "row")
    nnz = int(matrix.indptr[-1])
    transposed = sp.csr_matrix((matrix.data[:nnz], matrix.indices[:nnz], matrix.indptr), shape=(n_cols, n_rows),
                               copy=False)
    return as_csr(transposed, name)


def _check_compressed(matrix, n_major, n_minor, name, major, minor):
    fmt = matrix.format.upper()
    indptr, indices = np.asarray(matrix.indptr), np.asarray(matrix.indices)
    for label, a in (("indptr", indptr), ("indices", indices)):
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name}: malformed {fmt}, {label} must be a 1-D integer array, "
                            f"got {a.dtype} of shape {a.shape}")
    data = _check_data(matrix.data, name, fmt)
    if len(indptr) != n_major + 1:
        raise ValueError(f"{name}: malformed {fmt}, indptr has {len(indptr)} entries for {n_major} {major}s")
    if indptr[0] != 0 or (n_major and bool((indptr[1:] < indptr[:-1]).any())):
        raise ValueError(f"{name}: malformed {fmt} indptr (must start at 0 and never decrease)")
    nnz = int(indptr[-1])
    stored = min(len(indices), len(data))
    if nnz > stored:
        raise ValueError(f"{name}: malformed {fmt}, indptr ends at {nnz} but only {stored} entries are stored")
    _check_range(indices[:nnz], n_minor, name, minor)


def _check_data(data, name, fmt):
    """The stored values: a 1-D array of numbers or bools (what scipy's routines accept)."""
    data = np.asarray(data)
    if data.ndim != 1:
        raise ValueError(f"{name}: malformed {fmt}, data must be 1-D, got shape {data.shape}")
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        raise TypeError(f"{name}: expected numeric values, got dtype {data.dtype}")
    return data


def _to_coo(matrix, name):
    """Any other format as COO, by scipy's NumPy-only conversions; whatever they trip over in a
    malformed matrix is reported as such."""
    fmt = matrix.format.upper()
    try:
        if matrix.format == "lil":  # scipy's flattening writes past its buffer when lengths differ
            rows, data = matrix.rows, matrix.data
            if len(rows) != matrix.shape[0] or len(data) != len(rows) or any(
                    len(r) != len(d) for r, d in zip(rows, data)):
                raise ValueError("rows and data must hold one list of equal length per row")
        return matrix.tocoo()
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        error = TypeError if isinstance(exc, TypeError) else ValueError
        raise error(f"{name}: malformed {fmt} matrix ({exc})") from None


def _check_coo(matrix, n_rows, n_cols, name):
    data = _check_data(matrix.data, name, "COO")
    for coords, extent, what in ((matrix.row, n_rows, "row"), (matrix.col, n_cols, "column")):
        coords = np.asarray(coords)
        if coords.shape != data.shape:
            raise ValueError(f"{name}: malformed COO, {what} indices have shape {coords.shape} "
                             f"for data of shape {data.shape}")
        _check_range(coords, extent, name, what)


def _check_range(ids, extent, name, what):
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name}: {what} indices must be integers, got {ids.dtype}")
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= extent:
            raise IndexError(f"{name}: {what} index {low if low < 0 else high} out of range [0, {extent})")


def _sorted_within_rows(indptr, indices):
    """Whether column ids never decrease inside a row: every descent between neighbours must be
    at a row start. Compared, not subtracted (no unsigned wrap), a chunk at a time."""
    nnz = int(indptr[-1])
    for c0 in range(0, max(nnz - 1, 0), CHECK_CHUNK):
        c1 = min(nnz - 1, c0 + CHECK_CHUNK)
        later = np.flatnonzero(indices[c0 + 1:c1 + 1] < indices[c0:c1]) + (c0 + 1)  # positions after a descent
        if later.size:  # each must start a row: be in indptr (sorted, so a binary search)
            at = np.minimum(np.searchsorted(indptr, later), len(indptr) - 1)
            if not (indptr[at] == later).all():
                return False
    return True


def _fresh_csr(matrix, wide=False):
    """A copy sharing nothing with ``matrix`` (and none of its cached flags), indices trimmed to
    nnz, index dtypes unified by scipy's constructor; ``wide``: integer values widened to at least
    int64, so that summing duplicates cannot wrap (uint8 255 + 1 is not 0). Float and bool values
    keep their dtype."""
    nnz = int(matrix.indptr[-1])
    dtype = matrix.data.dtype
    if wide and np.issubdtype(dtype, np.integer):
        dtype = np.result_type(dtype, np.int64)
    return type(matrix)((np.array(matrix.data[:nnz], dtype=dtype), np.array(matrix.indices[:nnz]),
                         np.array(matrix.indptr)), shape=matrix.shape)


def csr_arrays(matrix):
    """``(indptr, indices)`` of a checked CSR as C-contiguous int32, or int64 when either index
    dtype could hold more (int64, uint32, uint64)."""
    wide = any(a.dtype.itemsize > 4 or a.dtype == np.uint32 for a in (matrix.indptr, matrix.indices))
    dtype = np.int64 if wide else np.int32
    nnz = int(matrix.indptr[-1])
    return (np.ascontiguousarray(matrix.indptr, dtype=dtype),
            np.ascontiguousarray(matrix.indices[:nnz], dtype=dtype))


def as_candidates(candidates, n_items, name="candidates"):
    """Sorted unique int64 item ids in ``[0, n_items)`` (a set: order and repeats ignored)."""
    if is_gpu_array(candidates):
        candidates = candidates.get()
    candidates = as_array(candidates, name)
    if candidates.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of item ids, got shape {candidates.shape}")
    if candidates.size and not np.issubdtype(candidates.dtype, np.integer):
        raise TypeError(f"{name}: expected integer item ids, got dtype {candidates.dtype}")
    candidates = np.unique(candidates)
    if candidates.size and (int(candidates[0]) < 0 or int(candidates[-1]) >= n_items):
        bad = candidates[0] if candidates[0] < 0 else candidates[-1]
        raise IndexError(f"{name}: item id {bad} out of range [0, {n_items})")
    return candidates.astype(np.int64)


def restrict_columns(indptr, indices, columns, n_columns):
    """CSR ``(indptr, indices)`` keeping only the sorted ``columns``, re-indexed to positions in it."""
    position = np.full(n_columns, -1, dtype=indices.dtype)
    position[columns] = np.arange(len(columns), dtype=indices.dtype)
    mapped = position[indices[: indptr[-1]]]
    keep = mapped >= 0
    kept_before = np.concatenate(([0], np.cumsum(keep)))
    return kept_before[indptr].astype(indptr.dtype), mapped[keep]
