"""Top-k kernels on every backend against the numpy reference."""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from conformance import KernelConformance

FAMILY = "selection"
DTYPES = [np.float32, np.float64]


def random_exclude(rng, n, m, density):
    mask = rng.random((n, m)) < density
    return sp.csr_matrix(mask.astype(np.float32))


def reference(scores, k, **kw):
    return turborec.topk(scores, k, backend="numpy", **kw)


def assert_same(got, want):
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].dtype == np.int32 and got[1].dtype == want[1].dtype


class TestTopkConformance(KernelConformance):
    FAMILY = "selection"

    def make(self, rng, dtype, n, m, k=10):
        return dict(scores=rng.standard_normal((n, m)).astype(dtype), k=k, exclude=random_exclude(rng, n, m, 0.1),
                    largest=bool(n % 2))

    def call(self, inputs, backend, n_threads=None):
        return turborec.topk(**inputs, backend=backend, n_threads=n_threads)


class TestTopkDotConformance(KernelConformance):
    """Small integer factors: every product is exact, and the cosine scales are computed once
    above the backends, so every backend must equal the reference bit for bit."""

    FAMILY = "selection"

    def make(self, rng, dtype, n, m, k=10):
        return dict(queries=rng.integers(-3, 4, size=(n, 8)).astype(dtype),
                    items=rng.integers(-3, 4, size=(m, 8)).astype(dtype), k=k,
                    exclude=random_exclude(rng, n, m, 0.05), normalize=bool(m % 2))

    def call(self, inputs, backend, n_threads=None):
        return turborec.topk_dot(**inputs, backend=backend, n_threads=n_threads)


# ---- topk over a dense matrix: pure selection, so backends must agree exactly ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("n, m, k", [(37, 300, 10), (5, 9000, 25), (20, 64, 64), (8, 50, 200), (3, 1, 1), (9, 700, 1)])
def test_topk_matches_reference(backend, rng, dtype, largest, n, m, k):
    scores = rng.standard_normal((n, m)).astype(dtype)
    exclude = random_exclude(rng, n, m, 0.1)
    got = turborec.topk(scores, k, exclude=exclude, largest=largest, backend=backend)
    want = reference(scores, k, exclude=exclude, largest=largest)
    assert got[0].shape == (n, min(k, m))
    assert_same(got, want)


def test_reference_against_sort(rng):
    """The oracle itself, against a plain argsort on distinct values."""
    scores = rng.permutation(2000).reshape(20, 100).astype(np.float64)
    ids, values = reference(scores, 7)
    expected = np.argsort(-scores, axis=1)[:, :7]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_ties_go_to_lower_id(backend, rng, dtype):
    scores = rng.integers(0, 4, size=(30, 500)).astype(dtype)  # many exact ties
    for largest in (True, False):
        got = turborec.topk(scores, 40, largest=largest, backend=backend)
        assert_same(got, reference(scores, 40, largest=largest))
    ids, values = turborec.topk(np.zeros((2, 6), dtype), 3, backend=backend)
    np.testing.assert_array_equal(ids, [[0, 1, 2], [0, 1, 2]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_exclusions_and_padding(backend, dtype):
    scores = np.arange(12, dtype=dtype).reshape(3, 4)
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]], dtype=np.float32))
    ids, values = turborec.topk(scores, 3, exclude=exclude, backend=backend)
    np.testing.assert_array_equal(ids, [[3, 2, 1], [-1, -1, -1], [2, 0, -1]])
    np.testing.assert_array_equal(values[1], [-np.inf] * 3)
    assert values[2, 2] == -np.inf
    ids, values = turborec.topk(scores, 3, exclude=exclude, largest=False, backend=backend)
    np.testing.assert_array_equal(ids, [[0, 1, 2], [-1, -1, -1], [0, 2, -1]])
    assert values[1, 0] == np.inf and values[2, 2] == np.inf




# ---- topk_dot: scores come from BLAS, so compare values with a tolerance ----


def exact_scores(queries, items, normalize):
    q, x = queries.astype(np.float64), items.astype(np.float64)
    if normalize:
        qn, xn = np.linalg.norm(q, axis=1), np.linalg.norm(x, axis=1)
        q = q / np.where(qn > 0, qn, 1)[:, None]
        x = x / np.where(xn > 0, xn, 1)[:, None]
    return q @ x.T


def assert_valid_topk_dot(ids, values, scores, k, exclude=None, candidates=None):
    """ids/values are a correct top-k of `scores` up to rounding (float64 `scores` is exact)."""
    n, m = scores.shape
    tol = 1e-4 if values.dtype == np.float32 else 1e-10
    allowed = np.ones((n, m), bool)
    if exclude is not None:
        allowed &= exclude.toarray() == 0
    if candidates is not None:
        in_candidates = np.zeros(m, bool)
        in_candidates[candidates] = True
        allowed &= in_candidates
    eligible = np.where(allowed, scores, -np.inf)
    width = min(k, m if candidates is None else len(np.unique(candidates)))
    assert ids.shape == values.shape == (n, width)
    best = -np.sort(-eligible, axis=1)[:, :width]
    for r in range(n):
        valid = ids[r] >= 0
        assert valid.sum() == min(width, allowed[r].sum())
        assert (ids[r, ~valid] == -1).all() and (values[r, ~valid] == -np.inf).all()
        row_ids = ids[r, valid]
        assert len(set(row_ids)) == len(row_ids) and allowed[r, row_ids].all()
        np.testing.assert_allclose(values[r, valid], scores[r, row_ids], rtol=tol, atol=tol)
        np.testing.assert_allclose(values[r, valid], best[r, : valid.sum()], rtol=tol, atol=tol)
        assert (np.diff(values[r, valid]) <= tol).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("n, m, d, k", [(150, 2500, 16, 10), (70, 1100, 7, 1), (20, 300, 32, 300), (9, 40, 5, 100), (3, 1, 4, 2)])
def test_topk_dot_matches_exact_scores(backend, rng, dtype, normalize, n, m, d, k):
    queries = rng.standard_normal((n, d)).astype(dtype)
    items = rng.standard_normal((m, d)).astype(dtype)
    exclude = random_exclude(rng, n, m, 0.05)
    ids, values = turborec.topk_dot(queries, items, k, exclude=exclude, normalize=normalize, backend=backend)
    assert ids.dtype == np.int32 and values.dtype == dtype
    assert_valid_topk_dot(ids, values, exact_scores(queries, items, normalize), k, exclude)


def test_topk_dot_equals_topk_of_product_on_integers(backend, rng):
    """Small integer factors make every product exact: results must equal topk(q @ x.T) bit for bit."""
    queries = rng.integers(-3, 4, size=(60, 8)).astype(np.float32)
    items = rng.integers(-3, 4, size=(2100, 8)).astype(np.float32)  # many ties, across tiles
    exclude = random_exclude(rng, 60, 2100, 0.02)
    got = turborec.topk_dot(queries, items, 30, exclude=exclude, backend=backend)
    assert_same(got, reference(queries @ items.T, 30, exclude=exclude))


@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dot_candidates(backend, rng, dtype):
    queries = rng.standard_normal((40, 12)).astype(dtype)
    items = rng.standard_normal((900, 12)).astype(dtype)
    exclude = random_exclude(rng, 40, 900, 0.1)
    candidates = rng.choice(900, size=300, replace=False)
    candidates = np.concatenate([candidates, candidates[:10]])  # repeats are ignored
    ids, values = turborec.topk_dot(queries, items, 20, exclude=exclude, candidates=candidates, backend=backend)
    assert_valid_topk_dot(ids, values, exact_scores(queries, items, False), 20, exclude, candidates)
    ids, _ = turborec.topk_dot(queries, items, 500, candidates=candidates[:5], backend=backend)
    assert ids.shape == (40, 5) and set(ids.ravel()) == set(candidates[:5])
    ids, _ = turborec.topk_dot(queries, items, 5, candidates=np.array([], np.int64), backend=backend)
    assert ids.shape == (40, 0)


def test_topk_dot_zero_vectors_have_cosine_zero(backend):
    queries = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    items = np.array([[0.0, 0.0], [-1.0, 0.0], [2.0, 0.0]], np.float32)
    ids, values = turborec.topk_dot(queries, items, 3, normalize=True, backend=backend)
    np.testing.assert_array_equal(ids, [[0, 1, 2], [2, 0, 1]])
    np.testing.assert_allclose(values, [[0, 0, 0], [1, 0, -1]])


def test_topk_dot_fully_excluded_rows(backend, rng):
    queries = rng.standard_normal((4, 6)).astype(np.float32)
    items = rng.standard_normal((50, 6)).astype(np.float32)
    exclude = sp.csr_matrix(np.vstack([np.ones(50), np.zeros((3, 50))]))
    ids, values = turborec.topk_dot(queries, items, 5, exclude=exclude, backend=backend)
    assert (ids[0] == -1).all() and (values[0] == -np.inf).all()
    assert (ids[1:] >= 0).all()


def test_topk_dot_without_factors_scores_zero(backend):
    ids, values = turborec.topk_dot(np.ones((2, 0)), np.ones((3, 0)), 2, backend=backend)  # d == 0
    np.testing.assert_array_equal(ids, [[0, 1], [0, 1]])
    np.testing.assert_array_equal(values, np.zeros((2, 2)))


def test_topk_dot_large_k(backend, rng):
    queries = rng.standard_normal((6, 8)).astype(np.float32)
    items = rng.standard_normal((3000, 8)).astype(np.float32)
    ids, values = turborec.topk_dot(queries, items, 2000, backend=backend)
    assert_valid_topk_dot(ids, values, exact_scores(queries, items, False), 2000)
