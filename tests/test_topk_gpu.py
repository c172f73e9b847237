"""GPU top-k: the ``cuda`` and ``cupy`` backends against the NumPy reference.

CuPy arrays in, CuPy arrays out; the tiled paths (k > 1024, few long rows, topk_dot tiles) are
forced with small sizes or by shrinking the adapters' tile budgets. Every test skips with the
backend probe's reason where that backend cannot run (no device, no CuPy, no ``_cuda`` build).
"""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec.backends import probe, resolve
from turborec.selection import _gpu_tiles

pytestmark = pytest.mark.gpu
FAMILY = "selection"

DTYPES = (np.float32, np.float64)


def _skip_unless(name):
    found = probe(name)
    return pytest.mark.skipif(not found.available, reason=f"backend {name!r}: {found.reason}")


@pytest.fixture
def cp(gpu_backend):
    import cupy

    return cupy


def _module(gpu_backend):
    """The selection family's implementation module for ``gpu_backend``."""
    return resolve("selection", gpu_backend).impl


def _scores(rng, n, m, dtype, ties=False, specials=False):
    """Random scores; ``ties``: small integers; ``specials``: NaN, +-inf and -0.0 sprinkled."""
    scores = rng.integers(0, 4, size=(n, m)) if ties else rng.standard_normal((n, m))
    scores = scores.astype(dtype)
    if specials:
        u = rng.random((n, m))
        scores[u < 0.03] = np.nan
        scores[(u >= 0.03) & (u < 0.04)] = np.inf
        scores[(u >= 0.04) & (u < 0.05)] = -np.inf
        scores[(u >= 0.05) & (u < 0.10)] = -0.0
    return scores


def _exclusion(rng, n, m, per_row, index_dtype=np.int32):
    """CSR of excluded columns, unsorted, with duplicates, stored with ``index_dtype``."""
    counts = rng.integers(0, 2 * per_row + 1, size=n)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(index_dtype)
    indices = rng.integers(0, m, size=int(indptr[-1])).astype(index_dtype)
    matrix = sp.csr_matrix((n, m))
    # Set the arrays directly: the constructor would sort, merge or downcast them.
    matrix.data = np.ones(len(indices))
    matrix.indices, matrix.indptr = indices, indptr
    return matrix


def _assert_same(got, want, cp):
    ids, values = got
    assert isinstance(ids, cp.ndarray) and isinstance(values, cp.ndarray)
    assert ids.dtype == np.int32 and values.dtype == want[1].dtype
    np.testing.assert_array_equal(ids.get(), want[0])
    np.testing.assert_array_equal(values.get(), want[1])


TOPK_CASES = {
    # name: (n, m, k, ties, specials, exclusions per row, index dtype)
    "small": (7, 50, 5, True, True, 5, np.int32),
    "k1": (9, 300, 1, False, True, 20, np.int32),
    "k_above_m": (4, 50, 80, True, True, 10, np.int64),
    "k1024": (3, 1500, 1024, True, True, 100, np.int32),
    "k_above_1024": (5, 3000, 2000, True, True, 200, np.int32),
    "k_is_m_above_1024": (3, 2100, 2100, True, True, 150, np.int64),
    "few_long_rows": (2, 100_000, 10, True, True, 500, np.int32),
    "many_short_rows": (600, 64, 10, True, True, 4, np.int32),
    "no_exclusion": (6, 5000, 37, False, True, 0, None),
}


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TOPK_CASES)
def test_topk_matches_numpy(gpu_backend, cp, case, dtype, largest):
    n, m, k, ties, specials, per_row, index_dtype = TOPK_CASES[case]
    rng = np.random.default_rng([list(TOPK_CASES).index(case), np.dtype(dtype).itemsize, largest])
    scores = _scores(rng, n, m, dtype, ties, specials)
    exclude = _exclusion(rng, n, m, per_row, index_dtype) if index_dtype else None
    want = turborec.topk(scores, k, exclude=exclude, largest=largest, backend="numpy")
    gpu_scores = cp.asarray(scores)
    got = turborec.topk(gpu_scores, k, exclude=exclude, largest=largest, backend=gpu_backend)
    _assert_same(got, want, cp)
    np.testing.assert_array_equal(gpu_scores.get(), scores)  # never written


def test_topk_k_above_1024_in_row_batches(gpu_backend, cp, monkeypatch):
    # A scratch budget below two rows' need makes the cuda backend merge one row at a time.
    monkeypatch.setattr(_module(gpu_backend), "SCRATCH_BYTES" if gpu_backend == "cuda" else "BLOCK_BYTES", 1)
    rng = np.random.default_rng(7)
    scores = _scores(rng, 4, 2500, np.float32, ties=True, specials=True)
    exclude = _exclusion(rng, 4, 2500, 50)
    want = turborec.topk(scores, 1300, exclude=exclude, backend="numpy")
    got = turborec.topk(cp.asarray(scores), 1300, exclude=exclude, backend=gpu_backend)
    _assert_same(got, want, cp)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_rows_without_eligible_entries_are_padded(gpu_backend, cp, largest):
    pad = -np.inf if largest else np.inf
    rows = [[np.nan] * 6, [pad] * 6, [1, 2, 3, 4, 5, 6], [3, 1, 3, 1, 3, 1]]
    scores = np.array(rows, dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0] * 6, [0] * 6, [1] * 6, [0, 1, 0, 1, 0, 0]]))
    ids, values = turborec.topk(
        cp.asarray(scores), 4, exclude=exclude, largest=largest, backend=gpu_backend
    )
    np.testing.assert_array_equal(ids.get()[:3], -1)
    np.testing.assert_array_equal(values.get()[:3], pad)
    # Row 3 keeps columns 0, 2, 4 (score 3) and 5 (score 1); ties go to the lower id.
    assert ids.get()[3].tolist() == ([0, 2, 4, 5] if largest else [5, 0, 2, 4])


def _factors(rng, n, d, dtype):
    """Small integers: every dot product is exact, so GPU and NumPy agree to the bit."""
    return rng.integers(-3, 4, size=(n, d)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 10, 300, 1100])
def test_topk_dot_matches_numpy_across_tiles(gpu_backend, cp, monkeypatch, dtype, k):
    monkeypatch.setattr(_gpu_tiles, "TILE_ITEMS", 64)  # items per tile: max(64, 4k)
    monkeypatch.setattr(_gpu_tiles, "TILE_BYTES", 4096 * 64)
    rng = np.random.default_rng(k)
    queries, items = _factors(rng, 37, 8, dtype), _factors(rng, 5000, 8, dtype)
    exclude = _exclusion(rng, 37, 5000, 40)
    want = turborec.topk_dot(queries, items, k, exclude=exclude, backend="numpy")
    got = turborec.topk_dot(
        cp.asarray(queries), cp.asarray(items), k, exclude=exclude, backend=gpu_backend
    )
    _assert_same(got, want, cp)


def test_topk_dot_candidates(gpu_backend, cp):
    rng = np.random.default_rng(3)
    queries, items = _factors(rng, 20, 6, np.float32), _factors(rng, 900, 6, np.float32)
    exclude = _exclusion(rng, 20, 900, 30)
    candidates = rng.choice(900, size=250, replace=False)
    kwargs = dict(exclude=exclude, candidates=candidates)
    want = turborec.topk_dot(queries, items, 15, backend="numpy", **kwargs)
    got = turborec.topk_dot(cp.asarray(queries), cp.asarray(items), 15, backend=gpu_backend, **kwargs)
    _assert_same(got, want, cp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_normalize(gpu_backend, cp, dtype):
    # Cosines round differently on the GPU (cuBLAS) and in NumPy: compare values with a
    # tolerance and check each returned id by its exact cosine.
    rng = np.random.default_rng(11)
    queries, items = rng.standard_normal((30, 16)), rng.standard_normal((700, 16))
    items[5] = 0.0  # a zero vector has cosine 0 with everything
    exact = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        items / np.maximum(np.linalg.norm(items, axis=1), 1e-300)[:, None]
    ).T
    queries, items = queries.astype(dtype), items.astype(dtype)
    _, want_values = turborec.topk_dot(queries, items, 12, normalize=True, backend="numpy")
    ids, values = turborec.topk_dot(
        cp.asarray(queries), cp.asarray(items), 12, normalize=True, backend=gpu_backend
    )
    ids, values = ids.get(), values.get()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(values, want_values, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.take_along_axis(exact, ids, axis=1), values, rtol=rtol, atol=rtol)


def test_host_inputs_come_back_on_the_host(gpu_backend):
    scores = _scores(np.random.default_rng(5), 8, 40, np.float32)
    ids, values = turborec.topk(scores, 6, backend=gpu_backend)
    assert isinstance(ids, np.ndarray) and isinstance(values, np.ndarray)
    want = turborec.topk(scores, 6, backend="numpy")
    np.testing.assert_array_equal(ids, want[0])
    np.testing.assert_array_equal(values, want[1])


def test_non_default_stream(gpu_backend, cp):
    scores = _scores(np.random.default_rng(9), 50, 3000, np.float32, ties=True)
    want = turborec.topk(scores, 1200, backend="numpy")
    with cp.cuda.Stream(non_blocking=True) as stream:
        got = turborec.topk(cp.asarray(scores), 1200, backend=gpu_backend)
        stream.synchronize()
    _assert_same(got, want, cp)


@_skip_unless("cuda")
def test_auto_picks_cuda_for_cupy_inputs():
    import cupy

    scores = cupy.asarray(_scores(np.random.default_rng(1), 5, 30, np.float64))
    assert resolve("selection", "auto", (scores,)).name == "cuda"
    ids, values = turborec.topk(scores, 4)
    assert isinstance(ids, cupy.ndarray) and values.dtype == np.float64
    want = turborec.topk(scores.get(), 4, backend="numpy")
    np.testing.assert_array_equal(ids.get(), want[0])


@_skip_unless("cuda")
def test_cuda_build_info():
    from turborec import _cuda

    info = _cuda.build_info()
    assert _cuda.device_count() > 0 and info["device_count"] == _cuda.device_count()
    assert info["archs"] and info["cuda_version"]
    assert _cuda.MAX_K_ONE_PASS >= 1024
