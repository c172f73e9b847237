"""The similarity family's ``cupy`` backend (``similarity/_cupy.py``) on the CPU, honestly labelled.

It runs against ``fake_cupy`` (a NumPy-backed CuPy double: see its docstring for what it cannot
cover) and is compared with the NumPy reference on fresh random inputs and the edge cases: every
sparse measure and every co-rated one, min_support, shrinkage, thresholds, exclude_self, empty
rows, k of 1 and past the width, float32 and float64, and the blocked and chunked paths (shrunk
budgets). Where the sums are exact (small integers, halves) the comparison is bit for bit; on
real-valued data within rounding, since a GPU's atomics add in no fixed order (the fake adds in
index order, so it cannot show that). ``test_similarity_gpu.py`` runs the real backend on a device.
"""

import importlib
import re
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from test_selection_fakegpu import _clear_registry, _restore, _snapshot
from test_similarity import integer_sparse, parts
from test_similarity_rating_topk import centred_ratings, dyadic_baselines
from turborec import backends, similarity
from turborec.exceptions import BackendUnavailableError
from turborec.similarity import corated_similarity, sparse_dot_topk, topk_similarity

DTYPES = (np.float32, np.float64)
_CUPY_MODULES = ("turborec.selection._gpu_tiles", "turborec.selection._cupy", "turborec.similarity._cupy")


@pytest.fixture
def fake(monkeypatch):
    """``fake_cupy`` installed as ``cupy``, the CuPy backends' modules re-imported against it and
    the registry's caches cleared; all undone afterwards. Yields ``cp`` (the fake) and ``impl``
    (the re-imported ``similarity/_cupy.py``)."""
    import fake_cupy

    state = _snapshot(_CUPY_MODULES)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setattr(fake_cupy, "DEVICE_COUNT", 1)
    try:
        for name in _CUPY_MODULES:
            sys.modules.pop(name, None)
        _clear_registry()
        impl = importlib.import_module("turborec.similarity._cupy")
        assert impl.cupy is fake_cupy and impl.selection.cupy is fake_cupy
        yield types.SimpleNamespace(cp=fake_cupy, impl=impl)
    finally:
        _restore(state)


def test_fixture_installs_the_fake(fake):
    assert backends.probe("cupy").available
    assert backends.resolve("similarity", "cupy").impl is fake.impl


def test_no_fake_left_behind():
    # Runs after the tests above in file order: the real registry again.
    assert "fake_cupy" not in repr(sys.modules.get("cupy"))
    impl = sys.modules.get("turborec.similarity._cupy")
    assert impl is None or "fake_cupy" not in repr(getattr(impl, "cupy", None))
    if not backends.probe("cupy").available:  # never a silent fallback
        with pytest.raises(BackendUnavailableError, match="backend 'cupy' is unavailable"):
            sparse_dot_topk(sp.eye(3, format="csr"), sp.eye(3, format="csr"), 1, backend="cupy")


def with_empty_rows(X, every=7):
    """``X`` with an empty row inserted before every ``every``-th row (stored zeros kept)."""
    empty = sp.csr_matrix((1, X.shape[1]), dtype=X.dtype)
    blocks = []
    for r0 in range(0, X.shape[0], every):
        blocks += [empty, X[r0 : r0 + every]]
    out = sp.vstack(blocks, format="csr")
    assert out.nnz == X.nnz
    return out


def assert_same_csr(got, want, exact=True):
    assert type(got) is sp.csr_matrix and got.shape == want.shape and got.dtype == want.dtype
    for part in ("indptr", "indices", "data"):
        assert type(getattr(got, part)) is np.ndarray  # noqa: E721 - host arrays, not the fake's
    np.testing.assert_array_equal(got.indptr, want.indptr)
    if exact:
        np.testing.assert_array_equal(got.indices, want.indices)
        assert got.data.tobytes() == want.data.tobytes()  # bit for bit, -0.0 told from 0.0 too
    else:
        tol = 2e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got.data, want.data, rtol=tol, atol=tol)


# ---- sparse_dot_topk and the sparse measures (exact: small integers) ----

DOT_CASES = {
    # name: (n, m, d, density, k, options)
    "small": (30, 45, 12, 0.3, 7, {}),
    "k1_normalize": (25, 60, 10, 0.3, 1, dict(normalize=True)),
    "k_is_m": (12, 20, 8, 0.4, 20, dict(threshold=0.0)),
    "k_above_m": (15, 18, 9, 0.4, 40, dict(normalize=True, threshold=0.25)),
    "sparse_rows": (40, 50, 30, 0.03, 5, {}),  # many rows share nothing: empty result rows
    "self": (35, 35, 10, 0.3, 6, dict(exclude_self=True, normalize=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", DOT_CASES)
def test_sparse_dot_topk_matches_the_reference(fake, rng, case, dtype):
    n, m, d, density, k, options = DOT_CASES[case]
    A = with_empty_rows(integer_sparse(rng, n, d, density, dtype))  # rows 0, 8, 16, ... empty
    B = A.copy() if case == "self" else integer_sparse(rng, m, d, density, dtype)
    before = A.copy()
    want = sparse_dot_topk(A, B, k, backend="numpy", **options)
    got = sparse_dot_topk(A, B, k, backend="cupy", **options)
    assert_same_csr(got, want)
    assert np.diff(got.indptr)[::8].max() == 0
    np.testing.assert_array_equal(A.toarray(), before.toarray())  # never modified
    if case == "sparse_rows":
        assert (np.diff(got.indptr) < k).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", similarity.MEASURES)
def test_every_sparse_measure_shrinkage_and_min_support(fake, rng, measure, dtype):
    X = integer_sparse(rng, 50, 30, 0.25, dtype, low=1)
    for shrinkage, min_support, threshold in ((0.0, 1, None), (3.0, 0, None), (0.0, 3, 0.2), (10.0, 2, 0.05)):
        options = dict(measure=measure, alpha=0.3, shrinkage=shrinkage, min_support=min_support, threshold=threshold)
        want = topk_similarity(X, 6, backend="numpy", **options)
        assert_same_csr(topk_similarity(X, 6, backend="cupy", **options), want)


@pytest.mark.parametrize("values, path", [((1, 1), similarity.COUNTS), ((1, 5), similarity.SUMS),
                                          ((-2, 3), similarity.SUMS_AND_COUNTS)])
def test_every_accumulator(fake, rng, values, path):
    X = sp.random(60, 30, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    X.data = rng.integers(*values, size=X.nnz, endpoint=True).astype(np.float32)
    X.data[X.data == 0] = 1
    scoring = similarity.Scoring(similarity.SCALE, np.float32(0), np.float32(-np.inf), True)
    assert similarity._accumulate(X.data, X.T.tocsr().data, scoring) == path
    for measure in ("dot", "cosine"):
        assert_same_csr(topk_similarity(X, 5, measure=measure, backend="cupy"),
                        topk_similarity(X, 5, measure=measure, backend="numpy"))


@pytest.mark.parametrize("block_bytes, triples", [(1, 1), (1, 7), (3000, 40), (1 << 30, 1 << 30)])
def test_row_blocks_chunks_and_padded_blocks(fake, rng, monkeypatch, block_bytes, triples):
    # BLOCK_BYTES 1: one row per block; TRIPLES 1 or 7: chunks cut inside rows; the padded
    # blocks of _padded (rows (r0, r1) with r0 > 0) and the selection's own blocks shrunk too.
    monkeypatch.setattr(fake.impl, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(fake.impl, "TRIPLES", triples)
    monkeypatch.setattr(fake.impl.selection, "BLOCK_BYTES", 200)
    monkeypatch.setattr(similarity._padded, "BLOCK_ENTRIES", 40)
    X = integer_sparse(rng, 45, 25, 0.25, np.float32, low=-2)
    for options in (dict(measure="dot"), dict(measure="jaccard", min_support=2), dict(measure="cosine", threshold=0.1)):
        assert_same_csr(topk_similarity(X, 6, backend="cupy", **options), topk_similarity(X, 6, backend="numpy",
                                                                                          **options))
    Y = integer_sparse(rng, 33, 25, 0.25, np.float64)
    assert_same_csr(sparse_dot_topk(X, Y, 9, backend="cupy"), sparse_dot_topk(X, Y, 9, backend="numpy"))


@pytest.mark.parametrize("triples", [1, 4, 25, 10_000])
def test_triples_are_every_product_once_in_bounded_chunks(fake, rng, monkeypatch, triples):
    monkeypatch.setattr(fake.impl, "TRIPLES", triples)
    A, B = with_empty_rows(integer_sparse(rng, 20, 15, 0.3, np.float64)), integer_sparse(rng, 25, 15, 0.4, np.float64)
    bt = B.T.tocsr()
    to = fake.cp.asarray
    left, right = tuple(map(to, parts(A))), tuple(map(to, parts(bt)))
    b0, b1, m = 2, 17, B.shape[0]
    dense = (A.toarray() @ B.toarray().T)[b0:b1]
    longest = np.diff(bt.indptr).max()
    got, count = np.zeros((b1 - b0) * m), 0
    for flat, x, y in fake.impl._triples(left, right, b0, b1, m):
        assert len(flat) <= triples + longest
        np.add.at(got, flat.get(), (x * y).get())
        count += len(flat)
    np.testing.assert_array_equal(got.reshape(b1 - b0, m), dense)
    pattern = (A != 0).astype(int) @ (B != 0).astype(int).T
    assert count == pattern[b0:b1].sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_real_valued_data_within_rounding(fake, rng, dtype):
    A = sp.random(40, 30, density=0.2, random_state=rng, format="csr", dtype=dtype)
    B = sp.random(55, 30, density=0.2, random_state=rng, format="csr", dtype=dtype)
    A.data -= 0.5
    for normalize in (False, True):
        want = sparse_dot_topk(A, B, 8, normalize=normalize, backend="numpy")
        assert_same_csr(sparse_dot_topk(A, B, 8, normalize=normalize, backend="cupy"), want, exact=False)


def test_products_that_overflow_never_give_nan(fake):
    big = sp.csr_matrix(np.array([[3e38, 3e38], [3e38, -3e38]], np.float32))
    got = sparse_dot_topk(big, big, 2, backend="cupy")
    assert not np.isnan(got.data).any() and np.isinf(got.data).any()
    assert_same_csr(got, sparse_dot_topk(big, big, 2, backend="native"))


# ---- the co-rated measures ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", similarity.RATING_MEASURES)
def test_every_rating_measure_topk(fake, rng, measure, dtype):
    # halves centred per column: every sum is exact, so bit for bit
    X = with_empty_rows(centred_ratings(rng, 40, 30, 0.3, dtype), every=8)  # rows 0, 9, ... empty
    extra = {"baselines": dyadic_baselines(rng, 45, 30)} if measure == "pearson_baseline" else {}
    for min_support, shrinkage, threshold, k in ((0, None, None, 5), (3, 2.5, None, 8), (1, None, 0.1, 60)):
        options = dict(measure=measure, min_support=min_support, shrinkage=shrinkage, threshold=threshold, **extra)
        want = topk_similarity(X, k, backend="numpy", **options)
        got = topk_similarity(X, k, backend="cupy", **options)
        assert_same_csr(got, want)
        assert (np.diff(got.indptr)[::9] == 0).all()


@pytest.mark.parametrize("measure", similarity.CORATED_MEASURES)
def test_corated_similarity(fake, rng, monkeypatch, measure):
    X = centred_ratings(rng, 40, 25, 0.3)
    extra = {"baselines": dyadic_baselines(rng, 40, 25), "shrinkage": 7.0} if measure == "pearson_baseline" else {}
    for block_bytes in (1 << 30, 1):  # whole, then one row per block
        monkeypatch.setattr(fake.impl, "BLOCK_BYTES", block_bytes)
        for min_support in (0, 2, 5):
            want = corated_similarity(X, measure, min_support=min_support, backend="numpy", **extra)
            got = corated_similarity(X, measure, min_support=min_support, backend="cupy", **extra)
            assert type(got) is np.ndarray and got.dtype == np.float64  # noqa: E721
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("measure", similarity.CORATED_MEASURES)
def test_real_valued_ratings_within_rounding(fake, rng, measure):
    n, m = 50, 35
    X = sp.random(n, m, density=0.25, random_state=rng, format="csr", data_rvs=lambda size: rng.uniform(1, 5, size))
    extra = {"baselines": (rng.normal(0, 0.3, n), rng.normal(0, 0.3, m), 3.3)} if measure == "pearson_baseline" else {}
    atol = 1e-10 if measure == "pearson" else 1e-13  # pearson's one-pass form cancels digits
    dense = corated_similarity(X, measure, backend="cupy", **extra)
    np.testing.assert_allclose(dense, corated_similarity(X, measure, backend="numpy", **extra), rtol=0, atol=atol)
    np.testing.assert_array_equal(dense, dense.T)
    got = topk_similarity(X, 7, measure=measure, backend="cupy", **extra)
    want = topk_similarity(X, 7, measure=measure, backend="numpy", **extra)
    np.testing.assert_array_equal(np.diff(got.indptr), np.diff(want.indptr))
    np.testing.assert_allclose(got.data, want.data, rtol=0, atol=atol)


# ---- empty problems, host results, auto ----


@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (0, 0), (1, 1), (6, 3)])
def test_empty_and_tiny_problems(fake, shape):
    X = sp.csr_matrix(shape, dtype=np.float32)  # no stored entry at all
    for call in (lambda b: sparse_dot_topk(X, X, 3, backend=b), lambda b: topk_similarity(X, 2, backend=b),
                 lambda b: topk_similarity(X, 2, measure="pearson", backend=b)):
        try:
            want = call("numpy")
        except (ValueError, TypeError) as error:
            with pytest.raises(type(error), match="^" + re.escape(str(error)) + "$"):
                call("cupy")
            continue
        assert_same_csr(call("cupy"), want)
    want = corated_similarity(X, "msd", backend="numpy")
    np.testing.assert_array_equal(corated_similarity(X, "msd", backend="cupy"), want)


def test_auto_keeps_host_data_on_the_host(fake, rng):
    X = integer_sparse(rng, 10, 8, 0.4)
    for kernel in ("sparse_dot_topk", "corated_topk", "corated_similarity"):
        assert backends.resolve("similarity", "auto", (X.data,), kernel).name in backends.HOST_BACKENDS
    assert backends.resolve("similarity", "auto", (fake.cp.asarray(X.data),), "sparse_dot_topk").name == "cupy"
    assert_same_csr(topk_similarity(X, 3), topk_similarity(X, 3, backend="numpy"))


def test_inputs_on_another_current_device(fake, rng, monkeypatch):
    # Host inputs go to the current device; the results come back to the host all the same.
    monkeypatch.setattr(fake.cp, "DEVICE_COUNT", 2)
    X = integer_sparse(rng, 20, 10, 0.3)
    with fake.cp.cuda.Device(1):
        got = topk_similarity(X, 4, backend="cupy")
    assert_same_csr(got, topk_similarity(X, 4, backend="numpy"))


def test_fake_scatter_add_keeps_cupys_limits(fake):
    cp = fake.cp
    a = cp.zeros(4, np.float32)
    cp.add.at(a, cp.asarray(np.array([1, 1, 3])), cp.asarray(np.array([1.0, 2.0, 5.0], np.float32)))
    np.testing.assert_array_equal(a.get(), [0, 3, 0, 5])  # repeated indices all add
    with pytest.raises(TypeError, match="scatter_add only supports"):
        cp.add.at(cp.zeros(4, np.int64), np.array([0]), 1)  # no 64-bit integer atomics
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.add.at(a, np.array([0]), np.ones(1, np.float32))  # host values
    with pytest.raises(TypeError, match="must be a cupy.ndarray"):
        cp.add.at(np.zeros(4), np.array([0]), 1.0)
    with pytest.raises(TypeError, match="not callable"):
        cp.add(a, a)
