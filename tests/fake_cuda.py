"""A NumPy model of ``turborec._cuda``'s selection launchers, on ``fake_cupy`` arrays. A test
double, not the kernels.

Installed as ``turborec._cuda`` (with ``fake_cupy`` as ``cupy``) by the ``gpu`` fixture of
``test_selection_fakegpu.py``, it lets the ``cuda`` backend's Python glue
(``selection/_cuda.py``: scratch sizing, the exclusion rows handed to each call, ``col_base``,
the shared tile-and-merge loop with the kernel's select and merge) run without a GPU.

What is real: the planning functions (``topk_scratch_bytes``, ``MAX_K_ONE_PASS``) are the built
module's own, so the scratch ``_cuda.py`` allocates is checked against the real need. What is
modelled: ``topk`` and ``merge_topk`` do what ``csrc/cuda/selection.cuh`` documents (exclusion
``indptr`` of absolute offsets into ``indices`` holding global ids ``col_base + column``, ids
outside the tile ignored; best key first, ties to the lower id, NaN and padding-valued keys never
selected, padding id -1) after the binding's argument checks (typestr, ndim, C order, read-only
outputs, shapes, the current device). What it cannot cover: the CUDA kernels themselves (their
tiling, shared memory, merge network, k > 1024 path), launches and streams, device memory.
"""

import numpy as np

import fake_cupy
from turborec import _cuda as _real

MAX_K_ONE_PASS = _real.MAX_K_ONE_PASS
topk_scratch_bytes = _real.topk_scratch_bytes


def device_count():
    return fake_cupy.DEVICE_COUNT


def device_error():
    return ""


def _host(a, name, dtype, ndim, writable=False):
    """The binding's checks of one argument, then its memory as a NumPy array."""
    if not hasattr(a, "__cuda_array_interface__"):
        raise TypeError(f"{name}: expected a device array (with __cuda_array_interface__), got {type(a).__name__}")
    iface = a.__cuda_array_interface__
    if iface["typestr"] != np.dtype(dtype).str:
        raise TypeError(f"{name}: expected typestr {np.dtype(dtype).str}, got {iface['typestr']}")
    if len(iface["shape"]) != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {iface['shape']}")
    if iface["strides"] is not None:
        raise ValueError(f"{name}: expected a C-contiguous array")
    if writable and iface["data"][1]:
        raise ValueError(f"{name}: array is read-only")
    current = fake_cupy.cuda.Device().id
    if a.size and a.device.id != current:
        raise ValueError(f"{name}: array is on device {a.device.id}, the call runs on device {current}")
    return a.view(np.ndarray)


def _keys(values, largest):
    keys = np.array(values if largest else -values, copy=True)
    keys[np.isnan(keys)] = -np.inf
    return keys


def _write_best(keys, ids, values, largest, out_ids, out_values):
    """Per row, the best ``out_ids.shape[1]`` of (keys, ids, values): key descending, id
    ascending; -inf keys become padding (id -1 and -inf, or +inf when not ``largest``)."""
    order = np.lexsort((ids, -keys), axis=-1)[:, : out_ids.shape[1]]
    best = np.take_along_axis(keys, order, axis=1) > -np.inf
    out_ids[...] = np.where(best, np.take_along_axis(ids, order, axis=1), -1)
    out_values[...] = np.where(best, np.take_along_axis(values, order, axis=1), -np.inf if largest else np.inf)


def topk(scores, exclude_indptr, exclude_indices, k, col_base, largest, scratch, stream, ids, values):
    dtype = np.float64 if scores.__cuda_array_interface__["typestr"] == "<f8" else np.float32
    s = _host(scores, "scores", dtype, 2)
    n, m = s.shape
    out_ids, out_values = _host(ids, "ids", np.int32, 2, True), _host(values, "values", dtype, 2, True)
    if out_ids.shape != (n, k) or out_values.shape != (n, k):
        raise ValueError(f"ids/values: expected shape (n, k) = ({n}, {k})")
    if not 1 <= k <= m:
        raise ValueError(f"k: expected 1 <= k <= m = {m}, got {k}")
    need = topk_scratch_bytes(n, m, k, np.dtype(dtype).name, 0)  # budget 0: one row's need
    if need and (scratch is None or _host(scratch, "scratch", np.uint8, 1, True).size < need):
        raise ValueError("topk: scratch smaller than one row's need (see topk_scratch_bytes)")
    keys = _keys(s, largest)
    if (exclude_indptr is None) != (exclude_indices is None):
        raise ValueError("exclude_indptr/exclude_indices: give both or neither")
    if exclude_indptr is not None:
        index = np.int64 if exclude_indptr.__cuda_array_interface__["typestr"] == "<i8" else np.int32
        indptr = _host(exclude_indptr, "exclude_indptr", index, 1)
        indices = _host(exclude_indices, "exclude_indices", index, 1)
        if len(indptr) != n + 1:
            raise ValueError(f"exclude_indptr: expected {n + 1} entries (rows + 1), got {len(indptr)}")
        if (np.diff(indptr) < 0).any() or indptr[0] < 0 or indptr[-1] > len(indices):
            raise ValueError("exclude_indptr: offsets must never decrease and lie within exclude_indices")
        # Absolute offsets: row r excludes indices[indptr[r]:indptr[r + 1]], global ids.
        rows = np.repeat(np.arange(n), np.diff(indptr))
        cols = indices[indptr[0] : indptr[-1]].astype(np.int64) - col_base
        inside = (cols >= 0) & (cols < m)
        keys[rows[inside], cols[inside]] = -np.inf
    columns = np.broadcast_to(np.arange(m, dtype=np.int64) + col_base, (n, m))
    _write_best(keys, columns, s, largest, out_ids, out_values)


def merge_topk(a_ids, a_values, b_ids, b_values, largest, stream, ids, values):
    dtype = np.float64 if a_values.__cuda_array_interface__["typestr"] == "<f8" else np.float32
    ai, av = _host(a_ids, "a_ids", np.int32, 2), _host(a_values, "a_values", dtype, 2)
    bi, bv = _host(b_ids, "b_ids", np.int32, 2), _host(b_values, "b_values", dtype, 2)
    oi, ov = _host(ids, "ids", np.int32, 2, True), _host(values, "values", dtype, 2, True)
    n = ai.shape[0]
    if av.shape != ai.shape or bv.shape != bi.shape or ov.shape != oi.shape or bi.shape[0] != n or oi.shape[0] != n:
        raise ValueError("merge_topk: expected a_ids/a_values (n, a_len), b_ids/b_values (n, b_len), "
                         "ids/values (n, out_len)")
    if not 1 <= oi.shape[1] <= ai.shape[1] + bi.shape[1]:
        raise ValueError("ids: expected 1 <= out_len <= a_len + b_len")
    if any(np.shares_memory(o, x) for o in (oi, ov) for x in (ai, av, bi, bv)):
        raise ValueError("ids/values: must not overlap the runs being merged")
    all_ids, all_values = np.concatenate([ai, bi], axis=1), np.concatenate([av, bv], axis=1)
    keys = _keys(all_values, largest)
    keys[all_ids < 0] = -np.inf  # padding
    _write_best(keys, all_ids, all_values, largest, oi, ov)
