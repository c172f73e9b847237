"""The similarity family's GPU backend (``cupy``: ``similarity/_cupy.py``) on a real device against
the NumPy reference. Every test skips with the backend probe's reason where it cannot run (no
CuPy, no device); ``test_similarity_fakegpu.py`` runs the same Python code here on a CuPy double.

Sums of small integers (and halves) are exact in any order, so there the comparison is bit for
bit; on real-valued data the GPU's atomics add in no fixed order, so scores are compared within
rounding and each returned id is checked against the exact (float64) score. The blocked and
chunked paths are forced by shrinking the module's budgets. (The family's other test modules
also run every test that takes ``backend`` or ``every_backend`` on cupy where a device is present.)
"""

import numpy as np
import pytest
import scipy.sparse as sp

from test_similarity import assert_topk_of, brute_scores, integer_sparse
from test_similarity_fakegpu import assert_same_csr, with_empty_rows
from test_similarity_rating_topk import centred_ratings, dyadic_baselines
from turborec import similarity
from turborec.backends import resolve
from turborec.similarity import corated_similarity, sparse_dot_topk, topk_similarity

pytestmark = pytest.mark.gpu
FAMILY = "similarity"
DTYPES = (np.float32, np.float64)


def _module(gpu_backend):
    """The similarity family's implementation module for ``gpu_backend``."""
    return resolve("similarity", gpu_backend).impl


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 25, 700])
def test_sparse_dot_topk_exact_on_integers(gpu_backend, rng, dtype, k):
    A = with_empty_rows(integer_sparse(rng, 400, 150, 0.05, dtype))
    B = integer_sparse(rng, 600, 150, 0.05, dtype)
    before = A.copy()
    for options in ({}, dict(normalize=True), dict(threshold=1.0)):
        want = sparse_dot_topk(A, B, k, backend="numpy", **options)
        assert_same_csr(sparse_dot_topk(A, B, k, backend=gpu_backend, **options), want)
    want = sparse_dot_topk(A, A, k, exclude_self=True, normalize=True, backend="numpy")
    assert_same_csr(sparse_dot_topk(A, A, k, exclude_self=True, normalize=True, backend=gpu_backend), want)
    np.testing.assert_array_equal(A.toarray(), before.toarray())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", similarity.MEASURES)
def test_every_sparse_measure_exact_on_integers(gpu_backend, rng, measure, dtype):
    X = integer_sparse(rng, 300, 200, 0.05, dtype, low=1)
    for shrinkage, min_support, threshold in ((0.0, 1, None), (5.0, 2, 0.1), (0.0, 0, None)):
        options = dict(measure=measure, alpha=0.3, shrinkage=shrinkage, min_support=min_support, threshold=threshold)
        assert_same_csr(topk_similarity(X, 15, backend=gpu_backend, **options),
                        topk_similarity(X, 15, backend="numpy", **options))


@pytest.mark.parametrize("block_bytes, triples", [(1, 1), (1, 100), (50_000, 3_000)])
def test_row_blocks_and_chunks(gpu_backend, rng, monkeypatch, block_bytes, triples):
    monkeypatch.setattr(_module(gpu_backend), "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(_module(gpu_backend), "TRIPLES", triples)
    monkeypatch.setattr(similarity._padded, "BLOCK_ENTRIES", 600)  # several padded blocks of rows
    dense = integer_sparse(rng, 120, 90, 0.08, np.float32, low=-3).toarray()
    dense[:, 0] = 1  # one column every row stores: its right row is longer than a chunk of TRIPLES
    X = sp.csr_matrix(dense)
    for options in (dict(measure="dot"), dict(measure="jaccard", min_support=3), dict(measure="cosine")):
        assert_same_csr(topk_similarity(X, 12, backend=gpu_backend, **options),
                        topk_similarity(X, 12, backend="numpy", **options))
    R = centred_ratings(rng, 80, 40, 0.2)
    for measure in ("msd", "pearson", "adjusted_cosine"):
        assert_same_csr(topk_similarity(R, 9, measure=measure, backend=gpu_backend),
                        topk_similarity(R, 9, measure=measure, backend="numpy"))
    assert corated_similarity(R, "pearson", backend=gpu_backend).tobytes() == corated_similarity(
        R, "pearson", backend="numpy").tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_real_valued_data_within_rounding(gpu_backend, rng, dtype):
    A = sp.random(300, 120, density=0.05, random_state=rng, format="csr", dtype=dtype)
    B = sp.random(500, 120, density=0.05, random_state=rng, format="csr", dtype=dtype)
    A.data -= 0.5
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for normalize in (False, True):
        got = sparse_dot_topk(A, B, 10, normalize=normalize, backend=gpu_backend)
        want = sparse_dot_topk(A, B, 10, normalize=normalize, backend="numpy")
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_allclose(got.data, want.data, rtol=tol, atol=tol)
        assert_topk_of(got, brute_scores(A, B, "cosine" if normalize else "dot")[0], 10, tol)


def test_products_that_overflow_never_give_nan(gpu_backend):
    big = sp.csr_matrix(np.array([[3e38, 3e38], [3e38, -3e38]], np.float32))
    got = sparse_dot_topk(big, big, 2, backend=gpu_backend)
    assert not np.isnan(got.data).any() and np.isinf(got.data).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", similarity.RATING_MEASURES)
def test_every_rating_measure_exact_on_halves(gpu_backend, rng, measure, dtype):
    X = with_empty_rows(centred_ratings(rng, 240, 80, 0.15, dtype), every=8)
    extra = {"baselines": dyadic_baselines(rng, X.shape[0], 80)} if measure == "pearson_baseline" else {}
    for min_support, shrinkage, threshold, k in ((0, None, None, 10), (3, 2.5, 0.1, 300)):
        options = dict(measure=measure, min_support=min_support, shrinkage=shrinkage, threshold=threshold, **extra)
        assert_same_csr(topk_similarity(X, k, backend=gpu_backend, **options),
                        topk_similarity(X, k, backend="numpy", **options))


@pytest.mark.parametrize("measure", similarity.CORATED_MEASURES)
def test_corated_similarity(gpu_backend, rng, measure):
    X = centred_ratings(rng, 200, 60, 0.2)
    extra = {"baselines": dyadic_baselines(rng, 200, 60)} if measure == "pearson_baseline" else {}
    for min_support in (0, 4):
        got = corated_similarity(X, measure, min_support=min_support, backend=gpu_backend, **extra)
        want = corated_similarity(X, measure, min_support=min_support, backend="numpy", **extra)
        assert type(got) is np.ndarray and got.tobytes() == want.tobytes()  # noqa: E721
    n, m = 150, 50
    Y = sp.random(n, m, density=0.25, random_state=rng, format="csr", data_rvs=lambda size: rng.uniform(1, 5, size))
    extra = {"baselines": (rng.normal(0, 0.3, n), rng.normal(0, 0.3, m), 3.3)} if measure == "pearson_baseline" else {}
    atol = 1e-10 if measure == "pearson" else 1e-13  # pearson's one-pass form cancels digits
    dense = corated_similarity(Y, measure, backend=gpu_backend, **extra)
    np.testing.assert_allclose(dense, corated_similarity(Y, measure, backend="numpy", **extra), rtol=0, atol=atol)
    np.testing.assert_array_equal(dense, dense.T)  # symmetric although (u, v) and (v, u) are summed apart
