"""The GPU backends' Python code on the CPU, honestly labelled.

1. The ``cupy`` backend (``selection/_cupy.py``, ``_gpu_tiles.py``) and ``_dispatch``'s device
   handling run against ``fake_cupy`` (a NumPy-backed CuPy double, see its docstring for what it
   cannot cover) and are compared with the NumPy reference, exactly where the maths is exact.
   The ``cuda`` backend's Python glue (``selection/_cuda.py``) runs the same comparisons against
   ``fake_cuda``, a NumPy model of ``turborec._cuda``'s launchers with the real planner: it
   checks the glue, not the CUDA kernels.
2. The CUDA binding's argument checks (``csrc/cuda/device_array.hpp``, ``bind_selection.cpp``)
   run without a device: objects with a hand-made ``__cuda_array_interface__`` must give a
   TypeError/ValueError naming the argument, never a crash, and a well-formed one whose pointer
   is host memory must be refused before any launch.

These do not replace ``test_topk_gpu.py``, which runs the real backends on a real device.
"""

import importlib
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
import turborec.selection
from turborec import backends
from turborec.exceptions import BackendUnavailableError

DTYPES = (np.float32, np.float64)
_CUPY_MODULES = ("turborec.selection._gpu_tiles", "turborec.selection._cupy")
_MISSING = object()


def _clear_registry():
    backends.probe.cache_clear()
    backends._backend.cache_clear()


def _snapshot(names):
    """The sys.modules entry and parent-package attribute of each module in ``names``."""
    state = {}
    for name in names:
        parent, attr = name.rsplit(".", 1)
        state[name] = (sys.modules.get(name, _MISSING), getattr(sys.modules[parent], attr, _MISSING))
    return state


def _restore(state):
    for name, (module, attribute) in state.items():
        parent, attr = name.rsplit(".", 1)
        if module is _MISSING:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
        if attribute is _MISSING:
            vars(sys.modules[parent]).pop(attr, None)
        else:
            setattr(sys.modules[parent], attr, attribute)
    _clear_registry()


@pytest.fixture
def fake(monkeypatch):
    """``fake_cupy`` installed as ``cupy``, with the registry's caches cleared and the CuPy
    backend's modules re-imported against it; all undone afterwards (the original modules and
    package attributes restored, the caches cleared again). Yields a namespace with ``cp`` (the
    fake), ``impl`` (the re-imported ``_cupy``) and ``tiles`` (the ``_gpu_tiles`` it uses)."""
    import fake_cupy

    state = _snapshot(_CUPY_MODULES)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(fake_cupy, "DEVICE_COUNT", 1)
    try:
        for name in _CUPY_MODULES:
            sys.modules.pop(name, None)
        _clear_registry()
        impl = importlib.import_module("turborec.selection._cupy")
        tiles = sys.modules["turborec.selection._gpu_tiles"]
        assert impl.cupy is fake_cupy and impl.topk_dot_tiles.__globals__ is vars(tiles)
        yield types.SimpleNamespace(name="cupy", cp=fake_cupy, impl=impl, tiles=tiles, budget="BLOCK_BYTES")
    finally:
        _restore(state)


@pytest.fixture(params=["cupy", "cuda"])
def gpu(request, fake):
    """Each GPU backend on the doubles: ``cupy`` on fake_cupy; ``cuda`` on fake_cupy and
    fake_cuda (a NumPy model of turborec._cuda's launchers with the real planner, so skipped
    where turborec._cuda is not built), its ``_cuda.py`` re-imported against them."""
    if request.param == "cupy":
        yield fake
        return
    pytest.importorskip("turborec._cuda", reason="turborec._cuda is not built: fake_cuda uses its planner")
    import fake_cuda

    names = ("turborec._cuda", "turborec.selection._cuda")
    state = _snapshot(names)
    try:
        sys.modules.pop("turborec.selection._cuda", None)
        sys.modules["turborec._cuda"] = turborec._cuda = fake_cuda
        _clear_registry()
        impl = importlib.import_module("turborec.selection._cuda")
        assert impl._cuda is fake_cuda and impl.cupy is fake.cp and impl.topk_dot_tiles.__globals__ is vars(fake.tiles)
        yield types.SimpleNamespace(name="cuda", cp=fake.cp, impl=impl, tiles=fake.tiles, budget="SCRATCH_BYTES")
    finally:
        _restore(state)


def test_fixture_undoes_itself(fake):
    # Inside: the registry sees a GPU through the fake. (Outside, see test_no_fake_left_behind.)
    assert backends.probe("cupy").available
    assert backends.resolve("selection", "cupy").impl is fake.impl


def test_no_fake_left_behind():
    # Runs after test_fixture_undoes_itself in file order.
    assert "fake_cupy" not in repr(sys.modules.get("cupy"))
    cupy_impl = sys.modules.get("turborec.selection._cupy")
    assert cupy_impl is None or "fake_cupy" not in repr(getattr(cupy_impl, "cupy", None))
    assert "fake_cuda" not in repr(sys.modules.get("turborec._cuda")) and "fake_cuda" not in repr(
        getattr(turborec, "_cuda", None))


# ---- inputs ----


def _scores(rng, n, m, dtype, ties=True, specials=True):
    """Random scores; ``ties``: small integers; ``specials``: NaN, +-inf and -0.0 sprinkled."""
    scores = (rng.integers(0, 4, size=(n, m)) if ties else rng.standard_normal((n, m))).astype(dtype)
    if specials:
        u = rng.random((n, m))
        scores[u < 0.05] = np.nan
        scores[(u >= 0.05) & (u < 0.08)] = np.inf
        scores[(u >= 0.08) & (u < 0.11)] = -np.inf
        scores[(u >= 0.11) & (u < 0.16)] = -0.0
    return scores


def _exclusion(rng, n, m, per_row, index_dtype=np.int32, full_rows=()):
    """CSR of excluded columns, unsorted within rows, with duplicates, stored with ``index_dtype``;
    the rows in ``full_rows`` exclude every column."""
    rows = []
    for r in range(n):
        cols = np.arange(m) if r in full_rows else rng.integers(0, m, size=int(rng.integers(0, 2 * per_row + 1)))
        rows.append(rng.permutation(np.concatenate([cols, cols[: len(cols) // 3]])))  # some twice
    indptr = np.concatenate(([0], np.cumsum([len(c) for c in rows]))).astype(index_dtype)
    indices = np.concatenate(rows + [np.zeros(0, np.int64)]).astype(index_dtype)
    matrix = sp.csr_matrix((n, m))
    # Set the arrays directly: the constructor would sort, merge or downcast them.
    matrix.data = np.ones(len(indices))
    matrix.indices, matrix.indptr = indices, indptr
    assert matrix.indices.dtype == index_dtype
    return matrix


def _factors(rng, n, d, dtype):
    """Small integers: every dot product is exact, in any order of summation."""
    return rng.integers(-3, 4, size=(n, d)).astype(dtype)


def _assert_same(got, want, cp):
    ids, values = got
    assert isinstance(ids, cp.ndarray) and isinstance(values, cp.ndarray)
    assert ids.dtype == np.int32 and values.dtype == want[1].dtype
    assert ids.shape == want[0].shape and values.shape == want[1].shape
    np.testing.assert_array_equal(ids.get(), want[0])
    np.testing.assert_array_equal(values.get(), want[1])
    # Bit for bit, so -0.0 and 0.0 are told apart too.
    assert values.get().tobytes() == want[1].tobytes()


# ---- topk ----

TOPK_CASES = {
    # name: (n, m, k, exclusions per row, index dtype, fully excluded rows)
    "small": (7, 50, 5, 5, np.int32, ()),
    "k1": (9, 300, 1, 20, np.int32, (2,)),
    "k_is_m": (6, 40, 40, 6, np.int32, (0,)),
    "k_above_m": (4, 50, 80, 10, np.int64, (3,)),
    "int64_exclusion": (11, 200, 17, 30, np.int64, (0, 10)),
    "many_short_rows": (300, 12, 4, 2, np.int32, (5, 6)),
    "single_column": (5, 1, 3, 0, np.int32, (1,)),
    "no_exclusion": (6, 500, 37, None, None, ()),
    "k_above_1024": (3, 1500, 1100, 50, np.int32, (1,)),  # the cuda backend's merge scratch
}


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TOPK_CASES)
def test_topk_matches_numpy(gpu, rng, case, dtype, largest):
    n, m, k, per_row, index_dtype, full_rows = TOPK_CASES[case]
    scores = _scores(rng, n, m, dtype)
    exclude = None if per_row is None else _exclusion(rng, n, m, per_row, index_dtype, full_rows)
    want = turborec.topk(scores, k, exclude=exclude, largest=largest, backend="numpy")
    gpu_scores = gpu.cp.asarray(scores)
    got = turborec.topk(gpu_scores, k, exclude=exclude, largest=largest, backend=gpu.name)
    _assert_same(got, want, gpu.cp)
    assert got[0].shape == (n, min(k, m))
    np.testing.assert_array_equal(gpu_scores.get(), scores)  # never written
    for r in full_rows:
        np.testing.assert_array_equal(got[0].get()[r], -1)


@pytest.mark.parametrize("k", [6, 1100])
@pytest.mark.parametrize("budget", [1, 20_000])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_in_row_blocks(gpu, rng, monkeypatch, budget, k, largest):
    # cupy's BLOCK_BYTES: 1 gives one row per block, 20000 bytes of float32 x 1200 columns four
    # rows (the last block short, exclusions cut at block edges). cuda's SCRATCH_BYTES: k > 1024
    # needs merge scratch, at least one row's whatever the budget.
    monkeypatch.setattr(gpu.impl, gpu.budget, budget)
    scores = _scores(rng, 13, 1200, np.float32)
    exclude = _exclusion(rng, 13, 1200, 40, full_rows=(4,))
    want = turborec.topk(scores, k, exclude=exclude, largest=largest, backend="numpy")
    got = turborec.topk(gpu.cp.asarray(scores), k, exclude=exclude, largest=largest, backend=gpu.name)
    _assert_same(got, want, gpu.cp)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_rows_without_eligible_entries_are_padded(gpu, largest):
    pad = -np.inf if largest else np.inf
    rows = [[np.nan] * 6, [pad] * 6, [1, 2, 3, 4, 5, 6], [3, 1, 3, 1, 3, 1]]
    scores = np.array(rows, dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0] * 6, [0] * 6, [1] * 6, [0, 1, 0, 1, 0, 0]]))
    ids, values = turborec.topk(gpu.cp.asarray(scores), 4, exclude=exclude, largest=largest, backend=gpu.name)
    np.testing.assert_array_equal(ids.get()[:3], -1)
    np.testing.assert_array_equal(values.get()[:3], pad)
    # Row 3 keeps columns 0, 2, 4 (score 3) and 5 (score 1); ties go to the lower id.
    assert ids.get()[3].tolist() == ([0, 2, 4, 5] if largest else [5, 0, 2, 4])


# ---- topk_dot ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 10, 70, 300, 700])
def test_topk_dot_matches_numpy_across_tiles(gpu, rng, monkeypatch, dtype, k):
    # Items per tile: max(TILE_ITEMS, 4k) capped at m; TILE_BYTES makes several row tiles, the
    # last one short. k=700 > m=650: a single tile of items, selected straight into the output.
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 16)
    monkeypatch.setattr(gpu.tiles, "TILE_BYTES", 16 * 7 * np.dtype(dtype).itemsize)
    n, m = 37, 650
    queries, items = _factors(rng, n, 5, dtype), _factors(rng, m, 5, dtype)
    exclude = _exclusion(rng, n, m, 40, full_rows=(3,))
    want = turborec.topk_dot(queries, items, k, exclude=exclude, backend="numpy")
    got = turborec.topk_dot(gpu.cp.asarray(queries), gpu.cp.asarray(items), k, exclude=exclude, backend=gpu.name)
    _assert_same(got, want, gpu.cp)
    np.testing.assert_array_equal(got[0].get()[3], -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_overflowing_scores(gpu, rng, monkeypatch, dtype):
    # Finite factors whose products overflow: +inf scores are selected, -inf never. One huge
    # coordinate per vector, so a score is +-inf in any summation order, with or without FMA.
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 32)
    big = 1e30 if dtype == np.float32 else 1e200
    queries, items = _factors(rng, 20, 4, dtype), _factors(rng, 300, 4, dtype)
    queries[:, 0] = rng.choice([0.0, big, -big], size=20)
    items[:, 0] = rng.choice([0.0, 0.0, 1.0, big, -big], size=300)
    with np.errstate(over="ignore"):  # the NumPy reference's matmul warns
        exact = queries @ items.T
        want = turborec.topk_dot(queries, items, 40, backend="numpy")
    assert np.isposinf(exact).any() and np.isneginf(exact).any() and not np.isnan(exact).any()
    got = turborec.topk_dot(gpu.cp.asarray(queries), gpu.cp.asarray(items), 40, backend=gpu.name)
    _assert_same(got, want, gpu.cp)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_topk_dot_candidates(gpu, rng, monkeypatch, index_dtype):
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 32)
    queries, items = _factors(rng, 20, 6, np.float32), _factors(rng, 900, 6, np.float32)
    exclude = _exclusion(rng, 20, 900, 30, index_dtype, full_rows=(7,))
    candidates = rng.choice(900, size=250, replace=False)
    candidates = np.concatenate([candidates, candidates[:40]])  # a set: repeats are ignored
    want = turborec.topk_dot(queries, items, 15, exclude=exclude, candidates=candidates, backend="numpy")
    for given in (candidates, gpu.cp.asarray(candidates)):
        got = turborec.topk_dot(gpu.cp.asarray(queries), gpu.cp.asarray(items), 15, exclude=exclude,
                                candidates=given, backend=gpu.name)
        _assert_same(got, want, gpu.cp)
    assert set(got[0].get()[got[0].get() >= 0].tolist()) <= set(candidates.tolist())


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_normalize(gpu, rng, monkeypatch, dtype):
    # Cosines of tiles and of the whole product may round differently: values within a
    # tolerance, each returned id checked by its exact cosine.
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 64)
    monkeypatch.setattr(gpu.tiles, "TILE_BYTES", 64 * 8 * np.dtype(dtype).itemsize)  # 8 queries per tile
    queries, items = rng.standard_normal((30, 16)), rng.standard_normal((700, 16))
    items[5] = 0.0  # a zero vector has cosine 0 with everything
    queries[2] = 0.0
    exact = (queries / np.maximum(np.linalg.norm(queries, axis=1), 1e-300)[:, None]) @ (
        items / np.maximum(np.linalg.norm(items, axis=1), 1e-300)[:, None]).T
    queries, items = queries.astype(dtype), items.astype(dtype)
    _, want_values = turborec.topk_dot(queries, items, 12, normalize=True, backend="numpy")
    ids, values = turborec.topk_dot(gpu.cp.asarray(queries), gpu.cp.asarray(items), 12, normalize=True,
                                    backend=gpu.name)
    assert isinstance(ids, gpu.cp.ndarray) and values.dtype == dtype
    ids, values = ids.get(), values.get()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(values, want_values, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.take_along_axis(exact, ids, axis=1), values, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(values[2], 0.0)  # the zero query: cosine 0 with every item


def test_topk_dot_exact_cosine_matches_numpy(gpu, rng, monkeypatch):
    # Factors whose norms are powers of two: cosines are exact, so ids must match exactly.
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 16)
    monkeypatch.setattr(gpu.tiles, "TILE_BYTES", 16 * 2 * 8)  # 2 queries per tile
    queries, items = np.zeros((9, 4)), np.zeros((120, 4))
    queries[np.arange(9), rng.integers(0, 4, 9)] = rng.choice([-2.0, 1.0, 4.0], 9)
    items[np.arange(120), rng.integers(0, 4, 120)] = rng.choice([-1.0, 0.5, 8.0], 120)
    want = turborec.topk_dot(queries, items, 25, normalize=True, backend="numpy")
    got = turborec.topk_dot(gpu.cp.asarray(queries), gpu.cp.asarray(items), 25, normalize=True, backend=gpu.name)
    _assert_same(got, want, gpu.cp)


# ---- empty problems, devices, dispatch ----


@pytest.mark.parametrize("on_gpu", [True, False])
def test_empty_problems(gpu, on_gpu):
    to = gpu.cp.asarray if on_gpu else np.asarray
    kind = gpu.cp.ndarray if on_gpu else np.ndarray
    cases = [
        turborec.topk(to(np.zeros((0, 5), np.float32)), 3, backend=gpu.name),
        turborec.topk(to(np.zeros((4, 0), np.float64)), 3, backend=gpu.name),
        turborec.topk_dot(to(np.zeros((0, 3), np.float32)), to(np.ones((6, 3), np.float32)), 2, backend=gpu.name),
        turborec.topk_dot(to(np.ones((4, 3))), to(np.zeros((0, 3))), 2, normalize=True, backend=gpu.name),
        turborec.topk_dot(to(np.ones((4, 3))), to(np.ones((6, 3))), 2, candidates=np.zeros(0, np.int64),
                          backend=gpu.name),
    ]
    shapes = [(0, 3), (4, 0), (0, 2), (4, 0), (4, 0)]
    for (ids, values), shape in zip(cases, shapes):
        assert type(ids) is kind and type(values) is kind  # noqa: E721 - the exact class matters
        assert ids.shape == values.shape == shape and ids.dtype == np.int32


def test_host_inputs_come_back_on_the_host(gpu, rng):
    scores = _scores(rng, 8, 40, np.float32)
    exclude = _exclusion(rng, 8, 40, 3)
    got = turborec.topk(scores, 6, exclude=exclude, backend=gpu.name)
    want = turborec.topk(scores, 6, exclude=exclude, backend="numpy")
    for a, b in zip(got, want):
        assert type(a) is np.ndarray  # noqa: E721 - a plain NumPy array, not the fake
        np.testing.assert_array_equal(a, b)
    queries, items = _factors(rng, 5, 3, np.float64), _factors(rng, 30, 3, np.float64)
    ids, values = turborec.topk_dot(queries, items, 4, backend=gpu.name)
    assert type(ids) is np.ndarray and type(values) is np.ndarray  # noqa: E721
    np.testing.assert_array_equal(ids, turborec.topk_dot(queries, items, 4, backend="numpy")[0])


def test_auto_follows_the_data(gpu, rng):
    scores = _scores(rng, 5, 30, np.float64)
    # Auto prefers cuda (here: with fake_cuda installed), else cupy.
    assert backends.resolve("selection", "auto", (gpu.cp.asarray(scores),)).name == gpu.name
    ids, values = turborec.topk(gpu.cp.asarray(scores), 4)
    assert isinstance(ids, gpu.cp.ndarray) and values.dtype == np.float64
    np.testing.assert_array_equal(ids.get(), turborec.topk(scores, 4, backend="numpy")[0])
    # Host arrays never go to a GPU by themselves, even with a GPU present.
    assert backends.resolve("selection", "auto", (scores,)).name in backends.HOST_BACKENDS
    ids, values = turborec.topk(scores, 4)
    assert type(ids) is np.ndarray  # noqa: E721


def test_host_backend_refuses_gpu_arrays(fake):
    scores = fake.cp.asarray(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="runs on host arrays but got a GPU array"):
        turborec.topk(scores, 2, backend="numpy")
    with pytest.raises(TypeError, match="items: expected an array on the same device"):
        turborec.topk_dot(scores, np.ones((5, 4), np.float32), 2, backend="cupy")


def test_gpu_backends_unavailable_without_cupy():
    # No fixture: the real registry on this machine. Asking for cupy where it cannot run is an
    # error with the probe's reason, never a silent fallback.
    if backends.probe("cupy").available:
        pytest.skip("CuPy and a device are present here")
    with pytest.raises(BackendUnavailableError, match="cupy"):
        turborec.topk(np.ones((2, 3)), 1, backend="cupy")


def test_outputs_follow_the_inputs_device(gpu, monkeypatch, rng):
    monkeypatch.setattr(gpu.cp, "DEVICE_COUNT", 2)
    scores = _scores(rng, 6, 20, np.float32)
    with gpu.cp.cuda.Device(1):
        on_one = gpu.cp.asarray(scores)
    assert on_one.device.id == 1 and gpu.cp.cuda.Device().id == 0
    ids, values = turborec.topk(on_one, 3, backend=gpu.name)
    assert ids.device.id == 1 and values.device.id == 1  # allocated inside Device(1)
    np.testing.assert_array_equal(ids.get(), turborec.topk(scores, 3, backend="numpy")[0])
    with gpu.cp.cuda.Device(1):
        items = gpu.cp.asarray(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"inputs: expected arrays on one GPU, got arrays on devices \[0, 1\]"):
        turborec.topk_dot(gpu.cp.asarray(np.ones((2, 3), np.float32)), items, 1, backend=gpu.name)


@pytest.mark.parametrize("normalize", [False, True])
def test_issue_7_arrays_on_a_device_other_than_the_current_one(gpu, monkeypatch, rng, normalize):
    # Issue 7: the public functions checked, copied and derived GPU arrays (finite check,
    # contiguous copy, cosine norms, candidate lookups) on the current device, not the inputs'.
    # CuPy then fails (no peer access between the devices) or computes on the wrong device: the
    # norms landed on device 0 beside queries on device 1 and dispatch refused them.
    monkeypatch.setattr(gpu.cp, "DEVICE_COUNT", 2)
    monkeypatch.setattr(gpu.tiles, "TILE_ITEMS", 16)
    queries, items = _factors(rng, 7, 4, np.float64), _factors(rng, 90, 4, np.float64)
    scores = _scores(rng, 9, 30, np.float32)
    exclude = _exclusion(rng, 7, 90, 5)
    candidates = rng.choice(90, size=40, replace=False)
    with gpu.cp.cuda.Device(1):
        gpu_queries, gpu_items = gpu.cp.asarray(queries), gpu.cp.asarray(items)
        gpu_scores_t = gpu.cp.asarray(np.ascontiguousarray(scores.T)).T  # not C-contiguous: copied
    got = turborec.topk_dot(gpu_queries, gpu_items, 6, exclude=exclude, candidates=candidates, normalize=normalize,
                            backend=gpu.name)
    assert got[0].device.id == 1 and got[1].device.id == 1
    want = turborec.topk_dot(queries, items, 6, exclude=exclude, candidates=candidates, normalize=normalize,
                             backend="numpy")
    np.testing.assert_array_equal(got[0].get(), want[0])
    np.testing.assert_allclose(got[1].get(), want[1], rtol=1e-12)
    got = turborec.topk(gpu_scores_t, 5, backend=gpu.name)
    assert got[0].device.id == 1
    _assert_same(got, turborec.topk(scores, 5, backend="numpy"), gpu.cp)
    assert gpu.cp.cuda.Device().id == 0  # and the current device is left as it was


def test_non_default_stream(gpu, rng):
    scores = _scores(rng, 50, 300, np.float32)
    want = turborec.topk(scores, 120, backend="numpy")
    with gpu.cp.cuda.Stream(non_blocking=True) as stream:
        assert gpu.cp.cuda.get_current_stream() is stream and stream.ptr != 0
        got = turborec.topk(gpu.cp.asarray(scores), 120, backend=gpu.name)
        stream.synchronize()
    _assert_same(got, want, gpu.cp)


def test_fake_keeps_cupys_host_device_wall(fake):
    # The double is only worth something if host arrays cannot slip into device code unnoticed.
    cp = fake.cp
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.where(a > 1, np.zeros((2, 3)), a)
    with pytest.raises(TypeError, match="Unsupported type"):
        a[...] = np.ones(3)
    with pytest.raises(TypeError, match="incorrect type"):
        cp.ascontiguousarray(np.ones(3))
    with pytest.raises(AttributeError):
        cp.argsort  # noqa: B018 - not part of the double: a new use must be added knowingly
    assert type(a.get()) is np.ndarray and type(a.sum()) is cp.ndarray and a.sum().ndim == 0  # noqa: E721
    np.testing.assert_array_equal(a[np.array([1, 0])].get(), [[3, 4, 5], [0, 1, 2]])  # host indices: fine
    iface = a.T.__cuda_array_interface__
    assert iface["strides"] == (8, 24) and iface["typestr"] == "<f8" and iface["data"][1] is False


# ---- the CUDA binding's argument checks, without a device ----


@pytest.fixture(scope="module")
def cuda_module():
    return pytest.importorskip("turborec._cuda", reason="turborec._cuda is not built (no nvcc at install time)")


class DeviceLike:
    """Host memory behind a hand-made ``__cuda_array_interface__`` (entries overridable; a value
    of ``_DROP`` removes the entry)."""

    def __init__(self, host_shape, dtype, /, **entries):
        self.host = np.zeros(host_shape, dtype)
        iface = {"shape": self.host.shape, "typestr": self.host.dtype.str, "data": (self.host.ctypes.data, False),
                 "strides": None, "version": 3}
        iface.update(entries)
        self.__cuda_array_interface__ = {k: v for k, v in iface.items() if v is not _DROP}


_DROP = object()
_SHARED = np.zeros(1024, np.uint8)  # memory that two hand-made interfaces point into
NO_DEVICE = "no usable CUDA device|expected device memory, got a host pointer"


def _topk_args(**over):
    """Arguments of _cuda.topk for a (3, 8) float32 matrix and k=2, any of them replaced."""
    args = dict(scores=DeviceLike((3, 8), np.float32), exclude_indptr=None, exclude_indices=None, k=2, col_base=0,
                largest=True, scratch=None, stream=0, ids=DeviceLike((3, 2), np.int32),
                values=DeviceLike((3, 2), np.float32))
    args.update(over)
    return args


def _merge_args(**over):
    args = dict(a_ids=DeviceLike((3, 2), np.int32), a_values=DeviceLike((3, 2), np.float32),
                b_ids=DeviceLike((3, 2), np.int32), b_values=DeviceLike((3, 2), np.float32), largest=True,
                stream=0, ids=DeviceLike((3, 2), np.int32), values=DeviceLike((3, 2), np.float32))
    args.update(over)
    return args


TOPK_ARGUMENT_ERRORS = {
    # name: (replaced arguments, exception, message)
    "scores_typestr": (dict(scores=DeviceLike((3, 8), np.int32)), TypeError,
                       "scores: expected typestr <f4, got <i4"),
    "values_typestr": (dict(values=DeviceLike((3, 2), np.float64)), TypeError, "values: expected typestr <f4"),
    "ids_typestr": (dict(ids=DeviceLike((3, 2), np.int64)), TypeError, "ids: expected typestr <i4, got <i8"),
    "scores_ndim": (dict(scores=DeviceLike((24,), np.float32)), ValueError,
                    r"scores: expected a 2-D array, got shape \(24,\)"),
    "ids_ndim": (dict(ids=DeviceLike((6,), np.int32)), ValueError, "ids: expected a 2-D array"),
    "scores_strides": (dict(scores=DeviceLike((3, 8), np.float32, strides=(4, 12))), ValueError,
                       "scores: expected a C-contiguous array"),
    "values_strides": (dict(values=DeviceLike((3, 2), np.float32, strides=(4, 12))), ValueError,
                       "values: expected a C-contiguous array"),
    "ids_read_only": (dict(ids=DeviceLike((3, 2), np.int32, data=(8, True))), ValueError, "ids: array is read-only"),
    "scratch_read_only": (dict(scratch=DeviceLike((64,), np.uint8, data=(8, True))), ValueError,
                          "scratch: array is read-only"),
    "scores_missing": (dict(scores=np.zeros((3, 8), np.float32)), TypeError,
                       "scores: expected a device array .with __cuda_array_interface__., got ndarray"),
    "values_missing": (dict(values=[[0.0, 0.0]] * 3), TypeError, "values: expected a device array"),
    "output_shape": (dict(ids=DeviceLike((3, 3), np.int32), values=DeviceLike((3, 3), np.float32)), ValueError,
                     r"ids/values: expected shape \(n, k\) = \(3, 2\)"),
    "values_shape": (dict(values=DeviceLike((2, 2), np.float32)), ValueError, "ids/values: expected shape"),
    "k_above_m": (dict(k=9, ids=DeviceLike((3, 9), np.int32), values=DeviceLike((3, 9), np.float32)), ValueError,
                  "k: expected 1 <= k <= m = 8, got 9"),
    "k_zero": (dict(k=0, ids=DeviceLike((3, 0), np.int32), values=DeviceLike((3, 0), np.float32)), ValueError,
               "k: expected 1 <= k <= m = 8, got 0"),
    "col_base": (dict(col_base=2**31 - 4), ValueError, "col_base: expected col_base >= 0"),
    "outputs_overlap": (dict(values=DeviceLike((3, 2), np.float32, data=(_SHARED.ctypes.data + 8, False)),
                             ids=DeviceLike((3, 2), np.int32, data=(_SHARED.ctypes.data, False))), ValueError,
                        "ids/values: must not overlap scores or each other"),
    "scratch_overlaps": (dict(scores=DeviceLike((3, 8), np.float32, data=(_SHARED.ctypes.data, False)),
                              scratch=DeviceLike((64,), np.uint8, data=(_SHARED.ctypes.data + 64, False))),
                         ValueError, "scratch: must not overlap scores"),
    "exclusion_half": (dict(exclude_indptr=DeviceLike((4,), np.int32)), ValueError, "give both or neither"),
    "exclusion_rows": (dict(exclude_indptr=DeviceLike((3,), np.int32), exclude_indices=DeviceLike((5,), np.int32)),
                       ValueError, r"exclude_indptr: expected 4 entries \(rows \+ 1\), got 3"),
    "exclusion_typestr": (dict(exclude_indptr=DeviceLike((4,), np.int64), exclude_indices=DeviceLike((5,), np.int32)),
                          TypeError, "exclude_indices: expected typestr <i8, got <i4"),
    # Malformed interfaces: a clear error naming the argument, not a KeyError or a cast failure.
    "not_a_dict": (dict(scores=types.SimpleNamespace(__cuda_array_interface__=5)), TypeError,
                   "scores: __cuda_array_interface__ must be a dict, got int"),
    "no_typestr": (dict(scores=DeviceLike((3, 8), np.float32, typestr=_DROP)), TypeError,
                   "scores: __cuda_array_interface__ has no 'typestr' entry"),
    "no_shape": (dict(values=DeviceLike((3, 2), np.float32, shape=_DROP)), TypeError,
                 "values: __cuda_array_interface__ has no 'shape' entry"),
    "float_shape": (dict(scores=DeviceLike((3, 8), np.float32, shape=(3.0, 8))), TypeError,
                    "scores: __cuda_array_interface__ shape entry must be an int, got float"),
    "data_none": (dict(ids=DeviceLike((3, 2), np.int32, data=None)), TypeError,
                  "ids: __cuda_array_interface__ data must be a tuple, got NoneType"),
    "null_pointer": (dict(scores=DeviceLike((3, 8), np.float32, data=(0, False))), ValueError,
                     "scores: null data pointer"),
    "masked": (dict(scores=DeviceLike((3, 8), np.float32, mask=DeviceLike((3, 8), np.bool_))), ValueError,
               "scores: masked device arrays are not supported"),
    # A negative dimension used to skip the device check (size <= 0) and, with a GPU, reach
    # host.front() of an empty vector in check_exclusion; an overflowing one wrapped around.
    "negative_rows": (dict(scores=DeviceLike((3, 8), np.float32, shape=(-1, 8)),
                           ids=DeviceLike((3, 2), np.int32, shape=(-1, 2)),
                           values=DeviceLike((3, 2), np.float32, shape=(-1, 2)),
                           exclude_indptr=DeviceLike((0,), np.int32), exclude_indices=DeviceLike((0,), np.int32)),
                      ValueError, r"scores: negative dimension in shape \(-1, 8\)"),
    "negative_k": (dict(k=-2, ids=DeviceLike((3, 2), np.int32, shape=(3, -2))), ValueError,
                   r"ids: negative dimension in shape \(3, -2\)"),
    "huge_shape": (dict(scores=DeviceLike((3, 8), np.float32, shape=(2**40, 2**40))), ValueError,
                   "scores: shape .* is too large"),
    # Well-formed, but the memory is the host's: refused before any launch.
    "host_pointer": ({}, ValueError, "scores: .*(" + NO_DEVICE + ")"),
    "host_pointer_exclusion": (dict(exclude_indptr=DeviceLike((4,), np.int32),
                                    exclude_indices=DeviceLike((5,), np.int32)),
                               ValueError, "scores: .*(" + NO_DEVICE + ")"),
}


@pytest.mark.parametrize("case", TOPK_ARGUMENT_ERRORS)
def test_cuda_topk_argument_errors(cuda_module, case):
    over, error, message = TOPK_ARGUMENT_ERRORS[case]
    with pytest.raises(error, match=message):
        cuda_module.topk(**_topk_args(**over))


MERGE_ARGUMENT_ERRORS = {
    # The dtype follows a_values: the other value arrays must match it.
    "values_dtypes_differ": (dict(a_values=DeviceLike((3, 2), np.float64)), TypeError,
                             "b_values: expected typestr <f8, got <f4"),
    "a_values_typestr": (dict(a_values=DeviceLike((3, 2), np.int32)), TypeError, "a_values: expected typestr <f4"),
    "b_ids_typestr": (dict(b_ids=DeviceLike((3, 2), np.float32)), TypeError, "b_ids: expected typestr <i4"),
    "b_values_missing": (dict(b_values=np.zeros((3, 2), np.float32)), TypeError, "b_values: expected a device array"),
    "ids_ndim": (dict(ids=DeviceLike((6,), np.int32)), ValueError, "ids: expected a 2-D array"),
    "values_strides": (dict(values=DeviceLike((3, 2), np.float32, strides=(4, 12))), ValueError,
                       "values: expected a C-contiguous array"),
    "values_read_only": (dict(values=DeviceLike((3, 2), np.float32, data=(8, True))), ValueError,
                         "values: array is read-only"),
    "rows_differ": (dict(b_ids=DeviceLike((4, 2), np.int32), b_values=DeviceLike((4, 2), np.float32)), ValueError,
                    r"merge_topk: expected a_ids/a_values \(n, a_len\)"),
    "out_too_long": (dict(ids=DeviceLike((3, 5), np.int32), values=DeviceLike((3, 5), np.float32)), ValueError,
                     "ids: expected 1 <= out_len <= a_len \\+ b_len"),
    "negative_rows": (dict(a_ids=DeviceLike((3, 2), np.int32, shape=(-1, 2))), ValueError,
                      "a_ids: negative dimension"),
    "host_pointer": ({}, ValueError, "a_ids: .*(" + NO_DEVICE + ")"),
}


@pytest.mark.parametrize("case", MERGE_ARGUMENT_ERRORS)
def test_cuda_merge_topk_argument_errors(cuda_module, case):
    over, error, message = MERGE_ARGUMENT_ERRORS[case]
    with pytest.raises(error, match=message):
        cuda_module.merge_topk(**_merge_args(**over))


def test_cuda_binding_refuses_fake_gpu_arrays(cuda_module, fake):
    # fake_cupy's arrays are host memory: the real kernels must never run on them.
    cp = fake.cp
    scores = cp.asarray(np.ones((3, 8), np.float32))
    ids, values = cp.empty((3, 2), np.int32), cp.empty((3, 2), np.float32)
    with pytest.raises(ValueError, match="scores: .*(" + NO_DEVICE + ")"):
        cuda_module.topk(scores, None, None, 2, 0, True, None, cp.cuda.get_current_stream().ptr, ids, values)
    read_only = cp.empty((3, 2), np.int32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="ids: array is read-only"):
        cuda_module.topk(scores, None, None, 2, 0, True, None, 0, read_only, values)
    with pytest.raises(ValueError, match="ids: expected a C-contiguous array"):
        cuda_module.topk(scores, None, None, 2, 0, True, None, 0, cp.empty((2, 3), np.int32).T, values)


def test_cuda_binding_empty_problem_needs_no_device(cuda_module):
    # Nothing to do: no device is asked for, nothing is launched.
    cuda_module.topk(**_topk_args(scores=DeviceLike((0, 8), np.float32), ids=DeviceLike((0, 2), np.int32),
                                  values=DeviceLike((0, 2), np.float32)))
    cuda_module.merge_topk(**{name: DeviceLike((0, 2), np.int32 if "ids" in name else np.float32)
                              for name in ("a_ids", "a_values", "b_ids", "b_values", "ids", "values")},
                           largest=True, stream=0)
