"""The similarity family (issue 8): sparse_dot_topk and topk_similarity on every backend against
the numpy reference, every measure against a dense brute-force formula, cosine against implicit's
CosineRecommender, and tfidf/bm25 against implicit's own weighting."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from conformance import KernelConformance
from turborec import similarity
from turborec.similarity import bm25_weight, sparse_dot_topk, tfidf_weight, topk_similarity

FAMILY = "similarity"
DTYPES = [np.float32, np.float64]
MEASURES = similarity.MEASURES
ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"


def integer_sparse(rng, n, d, density, dtype=np.float32, low=-3, high=4):
    """Small nonzero integers: every sum is exact, so backends can be compared bit for bit."""
    mask = rng.random((n, d)) < density
    values = rng.integers(low, high, size=(n, d))
    values[values == 0] = 1
    return sp.csr_matrix(np.where(mask, values, 0).astype(dtype))


def parts(csr):
    return csr.indptr, csr.indices, csr.data


def rows_of(csr):
    """[(ids, values)] per row, in stored (best-first) order."""
    return [(csr.indices[csr.indptr[r]:csr.indptr[r + 1]], csr.data[csr.indptr[r]:csr.indptr[r + 1]])
            for r in range(csr.shape[0])]


# ---- conformance: both public kernels on every backend against the reference ----


class TestSparseDotTopkConformance(KernelConformance):
    """Integer values: sums are exact and the cosine weights are computed once above the
    backends, so every backend equals the reference bit for bit."""

    FAMILY = "similarity"

    def make(self, rng, dtype, n, m, k=10):
        d = 12
        A = integer_sparse(rng, n, d, 0.3, dtype)
        B = A.copy() if n == m and n % 2 else integer_sparse(rng, m, d, 0.3, dtype)
        return dict(A=A, B=B, k=k, normalize=bool(m % 2), threshold=0.0 if n % 3 == 0 else None,
                     exclude_self=n == m and n > 1)

    def call(self, inputs, backend, n_threads=None):
        return parts(sparse_dot_topk(**inputs, backend=backend, n_threads=n_threads))

    def test_non_contiguous_and_read_only_inputs(self, backend, rng):
        inputs = self.make(rng, np.float64, 23, 140)
        awkward = dict(inputs, A=strided_read_only(inputs["A"]), B=strided_read_only(inputs["B"]))
        self.assert_same(self.call(awkward, backend), self.reference(inputs))


class TestTopkSimilarityConformance(KernelConformance):
    """Rows of an (n, m) matrix against each other, a different measure and shrinkage per shape."""

    FAMILY = "similarity"

    def make(self, rng, dtype, n, m, k=10):
        measure = MEASURES[(n + m) % len(MEASURES)]
        return dict(X=integer_sparse(rng, n, m, 0.2, dtype, low=1), k=k, measure=measure,
                    shrinkage=float(n % 3), alpha=0.3, threshold=None if m % 2 else 0.05, min_support=(n + m) % 3)

    def call(self, inputs, backend, n_threads=None):
        return parts(topk_similarity(**inputs, backend=backend, n_threads=n_threads))

    def test_non_contiguous_and_read_only_inputs(self, backend, rng):
        inputs = self.make(rng, np.float64, 23, 140)
        awkward = dict(inputs, X=strided_read_only(inputs["X"]))
        self.assert_same(self.call(awkward, backend), self.reference(inputs))


def strided_read_only(csr):
    """The same matrix over strided, read-only index and value arrays."""
    out = sp.csr_matrix(csr.shape, dtype=csr.dtype)
    arrays = []
    for a in (csr.data, csr.indices, csr.indptr):
        b = np.repeat(a, 2)[::2]
        b.flags.writeable = False
        arrays.append(b)
    out.data, out.indices, out.indptr = arrays
    assert not out.indices.flags.c_contiguous
    return out


# ---- the reference and every measure against dense brute force ----


def brute_scores(A, B, measure="dot", alpha=0.5, shrinkage=0.0):
    """Dense float64 scores of every pair and the count of shared entries."""
    a, b = A.toarray().astype(np.float64), B.toarray().astype(np.float64)
    common = (a != 0).astype(float) @ (b != 0).astype(float).T
    dot = a @ b.T
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "dot":
            score = dot
        elif measure == "cosine":
            score = dot / np.outer(na, nb)
        elif measure == "asymmetric_cosine":
            score = dot / np.outer(na ** (2 * alpha), nb ** (2 * (1 - alpha)))
        elif measure == "jaccard":
            sa, sb = (a != 0).sum(1), (b != 0).sum(1)
            score = common / (sa[:, None] + sb[None, :] - common)
        score = score * common / (common + shrinkage) if shrinkage else score
    return np.where(common > 0, score, np.nan), common


def assert_topk_of(result, scores, k, tol, exclude_self=False, threshold=None):
    """Each row of ``result`` holds a correct top-k of ``scores`` (NaN: not scored), best first."""
    n, m = scores.shape
    assert result.shape == (n, m)
    for r, (ids, values) in enumerate(rows_of(result)):
        row = scores[r].copy()
        if exclude_self:
            row[r] = np.nan
        if threshold is not None:
            row[row < threshold] = np.nan
        eligible = np.flatnonzero(~np.isnan(row))
        assert len(ids) == min(k, len(eligible)), r
        assert len(set(ids)) == len(ids) and np.isin(ids, eligible).all()
        np.testing.assert_allclose(values, row[ids], rtol=tol, atol=tol)
        best = np.sort(row[eligible])[::-1][: len(ids)]
        np.testing.assert_allclose(values, best, rtol=tol, atol=tol)
        assert (np.diff(values) <= tol).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_against_dense_brute_force(rng, dtype):
    A = sp.random(40, 25, density=0.2, random_state=rng, format="csr", dtype=dtype)
    B = sp.random(60, 25, density=0.2, random_state=rng, format="csr", dtype=dtype)
    A.data -= 0.5
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for normalize in (False, True):
        got = sparse_dot_topk(A, B, 7, normalize=normalize, backend="numpy")
        assert got.dtype == dtype
        assert_topk_of(got, brute_scores(A, B, "cosine" if normalize else "dot")[0], 7, tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("shrinkage", [0.0, 3.0])
def test_every_measure_against_its_formula(every_backend, rng, dtype, measure, shrinkage):
    X = sp.random(70, 40, density=0.15, random_state=rng, format="csr", dtype=dtype)
    X.data = X.data * 4 + 0.1
    tol = 2e-5 if dtype == np.float32 else 1e-12
    got = topk_similarity(X, 6, measure=measure, alpha=0.3, shrinkage=shrinkage, backend=every_backend)
    assert got.dtype == dtype
    assert_topk_of(got, brute_scores(X, X, measure, 0.3, shrinkage)[0], 6, tol, exclude_self=True)


def test_asymmetric_cosine_at_one_half_is_cosine(backend, rng):
    X = sp.random(50, 30, density=0.2, random_state=rng, format="csr", dtype=np.float64)
    a = topk_similarity(X, 5, measure="asymmetric_cosine", alpha=0.5, backend=backend)
    b = topk_similarity(X, 5, measure="cosine", backend=backend)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_jaccard_ignores_values(backend, rng):
    X = integer_sparse(rng, 40, 30, 0.2, np.float64, low=1, high=9)
    binary = X.copy()
    binary.data[:] = 1
    a, b = (parts(topk_similarity(M, 5, measure="jaccard", backend=backend)) for M in (X, binary))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_dot_topk_with_threshold_and_exclude_self(every_backend, rng, dtype):
    A = sp.random(45, 20, density=0.25, random_state=rng, format="csr", dtype=dtype)
    A.data -= 0.3
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = sparse_dot_topk(A, A, 4, threshold=0.1, exclude_self=True, backend=every_backend)
    assert_topk_of(got, brute_scores(A, A)[0], 4, tol, exclude_self=True, threshold=0.1)
    assert (got.data >= 0.1).all() and not any(r in ids for r, (ids, _) in enumerate(rows_of(got)))


# ---- parity with implicit ----


def implicit_cosine(user_items, K):
    """implicit's item-item cosine neighbours (its similarity includes each item itself)."""
    import implicit.nearest_neighbours as implicit_nn  # a peer, in [test]: missing is a failure
    from implicit.utils import ParameterWarning

    model = implicit_nn.CosineRecommender(K=K, num_threads=1)
    with warnings.catch_warnings():  # its fit hands its own kernel a COO matrix and warns about it
        warnings.simplefilter("ignore", ParameterWarning)
        model.fit(user_items, show_progress=False)
    return model.similarity.tocsr()


def assert_same_neighbours_as_implicit(user_items, k, backend):
    """turborec's top-k (self excluded) against implicit's top-(k+1) with the item itself removed:
    the same neighbours, scores to 1e-5; only ties at the k-th score may pick differently."""
    theirs = implicit_cosine(user_items, k + 1)
    ours = topk_similarity(user_items.T.tocsr(), k, measure="cosine", backend=backend)
    compared = 0
    for item, (ids, values) in enumerate(rows_of(ours)):
        lo, hi = theirs.indptr[item], theirs.indptr[item + 1]
        their_ids, their_values = theirs.indices[lo:hi], theirs.data[lo:hi]
        keep = (their_ids != item) & (their_values != 0)
        their_ids, their_values = their_ids[keep], their_values[keep]
        order = np.lexsort((their_ids, -their_values))[:k]
        their_ids, their_values = their_ids[order], their_values[order]
        assert len(ids) == len(their_ids), item
        np.testing.assert_allclose(values, their_values, rtol=1e-5, atol=1e-5)
        if len(values):
            clear = values > values[-1] + 1e-5  # away from the cut, the neighbours must agree
            assert set(ids[clear]) == set(their_ids[their_values > values[-1] + 1e-5]), item
            compared += len(ids)
    assert compared > 0


def movielens_user_items():
    path = ML100K
    if not path.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    table = np.loadtxt(path, dtype=np.int64, usecols=(0, 1, 2))
    users, items, ratings = table[:, 0] - 1, table[:, 1] - 1, table[:, 2]
    return sp.csr_matrix((ratings.astype(np.float32), (users, items)))


def test_cosine_equals_implicit_on_movielens(host_backend):
    assert_same_neighbours_as_implicit(movielens_user_items(), 20, host_backend)


def test_cosine_equals_implicit_on_random_data(host_backend, rng):
    user_items = sp.random(400, 300, density=0.05, random_state=rng, format="csr", dtype=np.float32)
    user_items.data = np.ceil(user_items.data * 5)
    user_items = sp.csr_matrix(user_items.toarray() * (np.arange(300) % 37 != 0))  # items without users
    assert (np.diff(user_items.tocsc().indptr) == 0).any()  # have no entries, in both
    assert_same_neighbours_as_implicit(user_items, 10, host_backend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_tfidf_and_bm25_equal_implicits(dtype, rng):
    import implicit.nearest_neighbours as implicit_nn  # a peer, in [test]: missing is a failure
    X = sp.random(200, 150, density=0.05, random_state=rng, format="csr")
    X.data = np.ceil(X.data * 10)
    X = X.astype(dtype)
    before = parts(X.copy())
    for ours, theirs in ((tfidf_weight(X), implicit_nn.tfidf_weight(X.copy())),
                         (bm25_weight(X), implicit_nn.bm25_weight(X.copy())),
                         (bm25_weight(X, K1=1.2, B=0.75), implicit_nn.bm25_weight(X.copy(), 1.2, 0.75))):
        assert isinstance(ours, sp.csr_matrix) and ours.dtype == (np.float64 if dtype == np.float64 else np.float32)
        np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-6, atol=1e-6)
    for a, b in zip(parts(X), before):
        np.testing.assert_array_equal(a, b)  # X untouched


def test_tfidf_and_bm25_of_movielens_equal_implicits():
    import implicit.nearest_neighbours as implicit_nn  # a peer, in [test]: missing is a failure
    X = movielens_user_items().T.tocsr()
    np.testing.assert_allclose(tfidf_weight(X).toarray(), implicit_nn.tfidf_weight(X).toarray(), rtol=1e-6)
    np.testing.assert_allclose(bm25_weight(X).toarray(), implicit_nn.bm25_weight(X).toarray(), rtol=1e-6)


def test_weighting_edge_cases():
    empty = sp.csr_matrix((3, 4), dtype=np.float32)
    for f in (tfidf_weight, bm25_weight):
        out = f(empty)
        assert out.shape == (3, 4) and out.nnz == 0 and out.dtype == np.float32
        with pytest.raises(ValueError, match="X: expected non-negative values"):
            f(sp.csr_matrix(np.array([[1.0, -1.0]])))
        with pytest.raises(ValueError, match="X: contains NaN or inf"):
            f(sp.csr_matrix(np.array([[1.0, np.nan]])))
    with pytest.raises(ValueError, match="B: expected a finite number in \\[0.0, 1.0\\]"):
        bm25_weight(empty, B=1.5)
    with pytest.raises(TypeError, match="K1: expected a real number"):
        bm25_weight(empty, K1="1")


# ---- edge cases ----


def test_hand_computed_dot(every_backend):
    A = sp.csr_matrix(np.array([[1, 2, 0], [0, 0, 0], [0, 1, 1]], np.float32))
    B = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 5], [3, 0, 0]], np.float32))
    got = sparse_dot_topk(A, B, 2, backend=every_backend)
    np.testing.assert_array_equal(got.indptr, [0, 2, 2, 4])
    np.testing.assert_array_equal(got.indices, [3, 1, 2, 1])  # best first; row 1 shares nothing
    np.testing.assert_array_equal(got.data, [3, 2, 5, 1])
    assert got.dtype == np.float32 and got.shape == (3, 4)


def test_ties_go_to_the_lower_id_across_buffer_cuts(every_backend, rng):
    """Binary rows over few columns: many equal scores, more touched columns than the candidate
    buffer holds, visited in the order first touched (not by id)."""
    X = sp.csr_matrix((rng.random((300, 12)) < 0.5).astype(np.float32))
    got = topk_similarity(X, 3, measure="dot", backend=every_backend)
    dense = X.toarray() @ X.toarray().T
    dense[dense == 0] = -np.inf  # binary rows: a dot of 0 shares nothing
    np.fill_diagonal(dense, -np.inf)
    for r, (ids, values) in enumerate(rows_of(got)):
        want = np.lexsort((np.arange(300), -dense[r]))[:3]
        want = want[dense[r, want] > -np.inf]
        np.testing.assert_array_equal(ids, want)
        np.testing.assert_array_equal(values, dense[r, want])


def test_cancelled_sums_are_stored_and_unshared_columns_are_not(every_backend):
    A = sp.csr_matrix(np.array([[1.0, 1.0, 0.0]]))
    B = sp.csr_matrix(np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]]))
    got = sparse_dot_topk(A, B, 5, backend=every_backend)
    np.testing.assert_array_equal(got.indices, [2, 0])  # column 1 shares nothing: absent
    np.testing.assert_array_equal(got.data, [2.0, 0.0])  # column 0 summed to 0: stored


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.float32, np.float64])
def test_int_and_bool_data(every_backend, rng, dtype):
    X = integer_sparse(rng, 30, 20, 0.3, np.float64, low=1, high=3)
    typed = X.astype(dtype)
    got = topk_similarity(typed, 4, measure="dot", backend=every_backend)
    assert got.dtype == (np.float64 if dtype == np.float64 else np.float32)
    want = topk_similarity(typed.astype(np.float64), 4, measure="dot", backend="numpy")
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data.astype(got.dtype))


def test_mixed_dtypes_give_float64(backend, rng):
    A = integer_sparse(rng, 5, 6, 0.5, np.float32)
    assert sparse_dot_topk(A, A.astype(np.float64), 2, backend=backend).dtype == np.float64


def test_duplicates_are_summed_and_stored_zeros_dropped(every_backend):
    rows, cols = np.array([0, 0, 1, 1, 2]), np.array([0, 0, 0, 1, 1])
    coo = sp.coo_matrix((np.array([1.0, 2.0, 1.0, 0.0, 4.0]), (rows, cols)), shape=(3, 2))
    summed = sp.csr_matrix(np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 4.0]]))
    for f in (lambda M: sparse_dot_topk(M, M, 3, backend=every_backend),
              lambda M: topk_similarity(M, 3, measure="jaccard", backend=every_backend)):
        got, want = f(coo), f(summed)
        for a, b in zip(parts(got), parts(want)):
            np.testing.assert_array_equal(a, b)
    # the explicit zero at (1, 1) is no shared entry: rows 1 and 2 have nothing in common
    assert topk_similarity(coo, 3, measure="dot", backend=every_backend)[1].nnz == 1


def test_empty_rows_columns_and_k_past_n(every_backend, rng):
    X = integer_sparse(rng, 12, 10, 0.4, np.float32, low=1)
    X = sp.csr_matrix(X.toarray() * (np.arange(12) % 3 != 0)[:, None] * (np.arange(10) % 4 != 0))
    got = topk_similarity(X, 50, measure="cosine", backend=every_backend)
    assert got.shape == (12, 12)
    for r in range(0, 12, 3):
        assert got[r].nnz == 0 and got[:, r].nnz == 0  # empty rows share nothing
    want = topk_similarity(X, 11, measure="cosine", backend="numpy")
    for a, b in zip(parts(got), parts(want)):
        np.testing.assert_array_equal(a, b)
    assert sparse_dot_topk(sp.csr_matrix((3, 0)), sp.csr_matrix((2, 0)), 4, backend=every_backend).nnz == 0


def test_thresholds(every_backend, rng):
    X = integer_sparse(rng, 40, 15, 0.3, np.float64, low=1)
    full = topk_similarity(X, 40, measure="cosine", backend=every_backend)
    for threshold in (-1.0, 0.0, 0.5, 0.99, 2.0):
        got = topk_similarity(X, 40, measure="cosine", threshold=threshold, backend=every_backend)
        assert got.nnz == (full.data >= threshold).sum()
        assert (got.data >= threshold).all()
    assert topk_similarity(X, 5, threshold=np.float32(0.5), backend=every_backend).nnz > 0


def test_shrinkage_formula(every_backend):
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]))
    got = topk_similarity(X, 2, measure="dot", shrinkage=2.0, backend=every_backend)
    # rows 0 and 1 share 2 entries (dot 2): 2 * 2 / (2 + 2) = 1; rows 0 and 2 share 1 (dot 2): 2 / 3
    np.testing.assert_allclose(got[0].toarray(), [[0, 1.0, 2 / 3]])


def test_row_blocks_give_the_same_result(every_backend, rng, monkeypatch):
    X = integer_sparse(rng, 90, 30, 0.2, np.float32, low=1)
    whole = parts(topk_similarity(X, 7, backend=every_backend))
    monkeypatch.setattr(similarity._padded, "BLOCK_ENTRIES", 20)  # 2 rows of 7 per block
    for a, b in zip(parts(topk_similarity(X, 7, backend=every_backend)), whole):
        np.testing.assert_array_equal(a, b)


def test_binary_data_takes_the_count_path(every_backend, rng):
    """All values 1: the kernels keep counts only (``Scoring.accumulate`` COUNTS). Cosine of 2 * X runs the
    general path and, scaled by powers of two, must agree bit for bit."""
    X = sp.csr_matrix((rng.random((80, 40)) < 0.2).astype(np.float32))
    ones = parts(topk_similarity(X, 6, measure="cosine", backend=every_backend))
    twos = parts(topk_similarity(X * 2, 6, measure="cosine", backend=every_backend))
    for a, b in zip(ones, twos):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ones, parts(topk_similarity(X, 6, measure="cosine", backend="numpy"))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("values, path", [
    ((1, 1), similarity.COUNTS), ((1, 5), similarity.SUMS), ((-2, 3), similarity.SUMS_AND_COUNTS),
    ((1e-30, 1e-30), similarity.SUMS_AND_COUNTS),  # positive, but the products underflow to 0
])
def test_every_accumulator_gives_the_reference_answer(every_backend, rng, values, path):
    low, high = values
    X = sp.random(60, 30, density=0.2, random_state=rng, format="csr", dtype=np.float32)
    if low == 1e-30:
        X.data[:] = 1e-30
    else:
        X.data = rng.integers(low, high, size=X.nnz, endpoint=True).astype(np.float32)
        X.data[X.data == 0] = 1
    indptr, indices, data = parts(X)
    scoring = similarity.Scoring(similarity.SCALE, np.float32(0), np.float32(-np.inf), True)
    assert similarity._accumulate(data, X.T.tocsr().data, scoring) == path
    got = parts(topk_similarity(X, 5, measure="dot", backend=every_backend))
    for a, b in zip(got, parts(topk_similarity(X, 5, measure="dot", backend="numpy"))):
        np.testing.assert_array_equal(a, b)
    if low == 1e-30:
        assert len(got[2]) > 0 and (got[2] == 0).all()  # shared entries whose products underflowed: stored 0


@pytest.mark.parametrize("measure", MEASURES)
def test_csc_input_is_read_as_its_transpose(every_backend, rng, measure):
    """``user_items.T`` (CSC) takes the path that reuses its arrays: same result as its CSR."""
    user_items = integer_sparse(rng, 120, 50, 0.1, np.float32, low=1)
    user_items.data[::3] = 1.5  # not a pattern
    before = parts(user_items.copy())
    got = parts(topk_similarity(user_items.T, 6, measure=measure, shrinkage=1.0, backend=every_backend))
    for a, b in zip(got, parts(topk_similarity(user_items.T.tocsr(), 6, measure=measure, shrinkage=1.0,
                                               backend=every_backend))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(parts(user_items), before):
        np.testing.assert_array_equal(a, b)


def test_cosine_of_zero_rows(every_backend):
    A = sp.csr_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]))
    got = sparse_dot_topk(A, A, 2, normalize=True, backend=every_backend)
    np.testing.assert_array_equal(got.indptr, [0, 0, 1])
    np.testing.assert_array_equal(got.data, [1.0])


# ---- validation ----


@pytest.mark.parametrize("call, error, match", [
    (lambda A: sparse_dot_topk(A, A, 0), ValueError, "k: expected a positive int"),
    (lambda A: sparse_dot_topk(A, A, 2.0), TypeError, "k: expected a positive int"),
    (lambda A: sparse_dot_topk(A, A[:, :2], 2), ValueError, "B: expected 3 columns like A"),
    (lambda A: sparse_dot_topk(A, A[:2], 2, exclude_self=True), ValueError, "exclude_self: needs A and B"),
    (lambda A: sparse_dot_topk(A, A, 2, normalize=1), TypeError, "normalize: expected a bool"),
    (lambda A: sparse_dot_topk(A, A, 2, threshold=np.nan), ValueError, "threshold: expected a number, got NaN"),
    (lambda A: sparse_dot_topk(A, A, 2, threshold="0"), TypeError, "threshold: expected a real number"),
    (lambda A: sparse_dot_topk(A.toarray(), A, 2), TypeError, "A: expected a scipy.sparse matrix"),
    (lambda A: sparse_dot_topk(A, sp.csr_matrix(np.array([[np.inf, 0, 0]])), 2), ValueError, "B: contains NaN or inf"),
    (lambda A: sparse_dot_topk(A.astype(np.complex64), A, 2), TypeError, "A: expected real values"),
    (lambda A: topk_similarity(A, 2, measure="pearsons"), ValueError,
     "measure: expected one of dot, cosine, jaccard, asymmetric_cosine, adjusted_cosine, corated_cosine, msd, "
     "pearson, pearson_baseline; got 'pearsons'"),
    (lambda A: topk_similarity(A, 2, min_support=-1), ValueError, "min_support: expected an int >= 0, got -1"),
    (lambda A: topk_similarity(A, 2, min_support=2.0), TypeError, "min_support: expected an int >= 0, got float"),
    (lambda A: topk_similarity(A, 2, min_support=True), TypeError, "min_support: expected an int >= 0"),
    (lambda A: topk_similarity(A, 2, baselines=(np.zeros(3), np.zeros(3), 1.0)), ValueError,
     "baselines: only measure='pearson_baseline' uses them, got measure='cosine'"),
    (lambda A: topk_similarity(A, 2, measure=None), TypeError, "measure: expected a str"),
    (lambda A: topk_similarity(A, 2, alpha=1.5), ValueError, "alpha: expected a finite number in \\[0.0, 1.0\\]"),
    (lambda A: topk_similarity(A, 2, shrinkage=-1), ValueError, "shrinkage: expected a finite number"),
    (lambda A: topk_similarity(A, 2, shrinkage=np.inf), ValueError, "shrinkage: expected a finite number"),
    (lambda A: topk_similarity(A, -3), ValueError, "k: expected a positive int"),
    (lambda A: topk_similarity(sp.csr_matrix(np.array([[np.nan, 1.0]])), 1), ValueError, "X: contains NaN or inf"),
])
def test_bad_arguments_name_themselves(call, error, match):
    A = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]))
    with pytest.raises(error, match=match):
        call(A)


def test_backend_rules(rng):
    X = integer_sparse(rng, 5, 4, 0.5)
    with pytest.raises(turborec.BackendUnavailableError, match="does not implement the 'similarity' kernels"):
        topk_similarity(X, 2, backend="cuda")  # cupy implements the family; cuda does not
    assert turborec.available("similarity")[0] == "native"


def test_native_combine_codes_match_the_package():
    from turborec import _native

    assert tuple(_native.SIMILARITY_COMBINE) == similarity.COMBINE
    assert tuple(_native.SIMILARITY_ACCUMULATE) == similarity.ACCUMULATE


def _raw_args(**changes):
    a = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]], np.float32))
    bt = a.T.tocsr()
    args = dict(a_indptr=a.indptr, a_indices=a.indices, a_data=a.data, n=2, bt_indptr=bt.indptr,
                bt_indices=bt.indices, bt_data=bt.data, d=2, m=2, row_begin=0, row_end=2, k=2, combine=0,
                row_weight=None, col_weight=None, shrinkage=0.0, min_score=-np.inf, min_support=1, exclude_self=False,
                accumulate=0, capacity=18, n_threads=1, out_ids=np.empty((2, 2), np.int32),
                out_values=np.empty((2, 2), np.float32))
    return {**args, **changes}


@pytest.mark.parametrize("changes, error, match", [
    (dict(a_indices=np.array([0, 1, 1], np.int32), a_indptr=np.array([0, 1, 3], np.int32),
          a_data=np.ones(3, np.float32)), ValueError, "a.indices: duplicate entry"),
    (dict(a_indptr=np.array([0, 5, 3], np.int32)), ValueError, "a.indptr: must never decrease"),
    (dict(bt_indices=np.array([0, 7, 1], np.int32)), ValueError, "bt.indices: 7 out of range"),
    (dict(bt_indptr=np.array([0, 2, 3], np.int64), bt_indices=np.array([0, 1, 1], np.int64)), ValueError,
     "bt.indptr: expected the index dtype of a.indptr"),
    (dict(a_data=np.ones(3, np.float64)), TypeError, "bt_data: expected dtype float64"),
    (dict(a_data=np.ones(1, np.float32)), ValueError, "a_data: fewer values than stored entries"),
    (dict(k=3), ValueError, "k: expected 1 to m = 2"),
    (dict(row_end=3), ValueError, "row_begin/row_end"),
    (dict(capacity=2), ValueError, "capacity: expected more than k"),
    (dict(combine=2), ValueError, "combine: expected 0"),
    (dict(combine=1), ValueError, "jaccard needs both"),
    (dict(row_weight=np.ones(2, np.float32)), ValueError, "row_weight/col_weight: give both"),
    (dict(row_weight=np.ones(3, np.float32), col_weight=np.ones(2, np.float32)), ValueError,
     "row_weight: expected length 2"),
    (dict(shrinkage=-1.0), ValueError, "shrinkage"),
    (dict(min_score=np.nan), ValueError, "min_score"),
    (dict(m=3, bt_indptr=np.array([0, 2, 3], np.int32), exclude_self=True, out_ids=np.empty((2, 2), np.int32)),
     ValueError, "exclude_self: needs"),
    (dict(out_values=np.empty((2, 3), np.float32)), ValueError, "out_ids/out_values: expected shape"),
    (dict(n_threads=0), ValueError, "n_threads: expected"),
    (dict(accumulate=1, a_data=np.array([1.0, 2.0, 1.0], np.float32)), ValueError,
     "accumulate: counts only, but a_data holds a value other than 1"),
    (dict(accumulate=2, a_data=np.array([1.0, -2.0, 1.0], np.float32), bt_data=np.array([-1.0, 1.0, 1.0], np.float32)),
     ValueError, "accumulate: sums only, but a product of a_data and bt_data may not be positive"),
    (dict(accumulate=2, a_data=np.array([1.0, -2.0, 1.0], np.float32)), ValueError,
     "accumulate: sums only, but a product of a_data and bt_data may not be positive"),
    (dict(accumulate=2, a_data=np.array([1.0, 1e-30, 1.0], np.float32),
          bt_data=np.array([1e-20, 1.0, 1.0], np.float32)),
     ValueError, "accumulate: sums only, but a product"),
    (dict(accumulate=2, shrinkage=1.0), ValueError, "accumulate: sums only \\(2\\) cannot serve jaccard or shrinkage"),
    (dict(accumulate=3), ValueError, "accumulate: expected 0"),
    (dict(min_support=-1), ValueError, "min_support: expected an int >= 0"),
    (dict(accumulate=2, min_support=2), ValueError, "accumulate: sums only \\(2\\) cannot serve min_support > 1"),
])
def test_raw_binding_refuses_inconsistent_arrays(changes, error, match):
    from test_hostile import fails
    from turborec import _native

    fails(error, match, _native.sparse_dot_topk, **_raw_args(**changes))
    ids, values = np.empty((2, 2), np.int32), np.empty((2, 2), np.float32)
    _native.sparse_dot_topk(**_raw_args(out_ids=ids, out_values=values))
    np.testing.assert_array_equal(ids, [[0, 1], [1, 0]])
