"""topk_similarity's rating measures (adjusted_cosine and Surprise's co-rated ones, on the
``corated_topk`` kernel) and ``min_support`` for every measure: every backend against the numpy
reference, the top-k of ``corated_similarity``'s dense matrix, Surprise's own
``surprise.similarities`` matrices (MovieLens 100K and random data), adjusted cosine against a
plain formula, and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

from conformance import KernelConformance
from test_similarity import assert_topk_of, brute_scores, integer_sparse, parts, rows_of, strided_read_only
from test_similarity_corated import SurpriseData, random_frame
from turborec import similarity
from turborec.backends import GPU_BACKENDS
from turborec.similarity import CORATED_MEASURES, MEASURES, RATING_MEASURES, corated_similarity, topk_similarity

FAMILY = "similarity"
DTYPES = [np.float32, np.float64]


def centred_ratings(rng, n, m, density, dtype=np.float64):
    """Ratings on halves around a half-integer centre per column, the offsets of each column
    summing to 0: every sum is exact and so is each column's mean (adjusted cosine's centre), so
    the backends can be compared bit for bit. Stored zeros happen (they are ratings)."""
    rows, cols = np.nonzero(rng.random((n, m)) < density)
    values = rng.integers(-4, 5, len(rows)) / 2
    for c in np.unique(cols):
        at = np.flatnonzero(cols == c)
        values[at[-1]] = -values[at[:-1]].sum()
        values[at] += rng.integers(2, 10) / 2
    return sp.csr_matrix((values.astype(dtype), (rows, cols)), shape=(n, m))


def dyadic_baselines(rng, n, m):
    return rng.integers(-4, 5, n) / 4, rng.integers(-4, 5, m) / 4, 3.5


def pattern_counts(X):
    """Common stored entries of every pair of rows (stored zeros count: they are ratings)."""
    pattern = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)
    return (pattern @ pattern.T).toarray()


def topk_of_dense(dense, supported, k, dtype):
    """Each row's best k of ``dense`` (cast to ``dtype``) over the supported off-diagonal pairs,
    best first, ties to the lower id, as (ids, values) per row."""
    dense = dense.astype(dtype)
    out = []
    for r in range(dense.shape[0]):
        ok = supported[r].copy()
        ok[r] = False
        ids = np.flatnonzero(ok)
        ids = ids[np.lexsort((ids, -dense[r, ids]))][:k]
        out.append((ids, dense[r, ids]))
    return out


def assert_rows_equal(result, want):
    got = rows_of(result)
    assert len(got) == len(want)
    for r, ((ids, values), (want_ids, want_values)) in enumerate(zip(got, want)):
        np.testing.assert_array_equal(ids, want_ids, err_msg=f"row {r}")
        np.testing.assert_array_equal(values, want_values, err_msg=f"row {r}")


def effective_support(measure, min_support):
    return max(1, min_support, 2 if measure == "pearson_baseline" else 0)


# ---- conformance: every rating measure on every backend against the reference ----


class TestRatingTopkConformance(KernelConformance):
    """Exact sums (see ``centred_ratings``): every backend equals the reference bit for bit."""

    FAMILY = "similarity"

    def make(self, rng, dtype, n, m, k=10):
        measure = RATING_MEASURES[(n + m) % len(RATING_MEASURES)]
        inputs = dict(X=centred_ratings(rng, n, m, 0.3, dtype), k=k, measure=measure, min_support=n % 4,
                      shrinkage=None if m % 3 else float(m % 7), threshold=None if n % 2 else 0.1)
        if measure == "pearson_baseline":
            inputs["baselines"] = dyadic_baselines(rng, n, m)
        return inputs

    def call(self, inputs, backend, n_threads=None):
        return parts(topk_similarity(**inputs, backend=backend, n_threads=n_threads))

    def test_non_contiguous_and_read_only_inputs(self, backend, rng):
        for n, m in ((23, 140), (23, 141)):  # (23 + 140) % 5 == 3: pearson; 4: pearson_baseline
            inputs = self.make(rng, np.float64, n, m)
            awkward = dict(inputs, X=strided_read_only(inputs["X"]))
            if "baselines" in inputs:
                row_bias, col_bias, mean = inputs["baselines"]
                awkward["baselines"] = (np.repeat(row_bias, 2)[::2], np.repeat(col_bias, 2)[::2], mean)
            self.assert_same(self.call(awkward, backend), self.reference(inputs))


@pytest.mark.parametrize("measure", RATING_MEASURES)
def test_every_rating_measure_on_every_backend(backend, rng, measure):
    """Each measure explicitly (the conformance suite rotates them), both dtypes, several supports."""
    for dtype in DTYPES:
        X = centred_ratings(rng, 50, 30, 0.3, dtype)
        kwargs = {"baselines": dyadic_baselines(rng, 50, 30)} if measure == "pearson_baseline" else {}
        for min_support, k in ((0, 5), (3, 8), (6, 60)):
            want = parts(topk_similarity(X, k, measure=measure, min_support=min_support, backend="numpy", **kwargs))
            got = parts(topk_similarity(X, k, measure=measure, min_support=min_support, backend=backend, **kwargs))
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
            assert got[2].dtype == dtype


# ---- the top-k of corated_similarity's dense matrix ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_topk_of_the_dense_matrix(every_backend, rng, dtype, measure):
    """Real-valued ratings: the dense and the top-k kernels of one backend accumulate in one order
    and share the formula, so the top-k equals the dense matrix's bit for bit."""
    n, m = 45, 30
    X = sp.random(n, m, density=0.3, random_state=rng, format="csr", data_rvs=lambda size: rng.uniform(1, 5, size))
    X = X.astype(dtype)
    common = pattern_counts(X)
    for min_support, shrinkage in ((0, 0.0), (1, 0.0), (3, 10.0), (5, 0.0)):
        kwargs = {}
        if measure == "pearson_baseline":
            kwargs = dict(baselines=(rng.normal(0, 0.3, n), rng.normal(0, 0.3, m), 3.3), shrinkage=shrinkage)
        dense = corated_similarity(X, measure, min_support=min_support, backend=every_backend, **kwargs)
        supported = common >= effective_support(measure, min_support)
        for k in (1, 6, n + 3):
            got = topk_similarity(X, k, measure=measure, min_support=min_support, backend=every_backend, **kwargs)
            assert got.dtype == dtype and got.shape == (n, n)
            if every_backend in GPU_BACKENDS:  # atomics add in no fixed order: two runs agree to rounding
                tol = 1e-5 if dtype == np.float32 else 1e-12
                assert_topk_of(got, np.where(supported, dense, np.nan), k, tol, exclude_self=True)
            else:
                assert_rows_equal(got, topk_of_dense(dense, supported, k, dtype))


def test_shrinkage_defaults_and_the_other_measures_shrink_too(backend, rng):
    """shrinkage=None: 100 for pearson_baseline (Surprise's default), 0 for the others; a given
    shrinkage multiplies the other rating measures by n / (n + shrinkage)."""
    X = centred_ratings(rng, 40, 25, 0.35)
    baselines = dyadic_baselines(rng, 40, 25)
    default = parts(topk_similarity(X, 5, measure="pearson_baseline", baselines=baselines, backend=backend))
    hundred = parts(topk_similarity(X, 5, measure="pearson_baseline", shrinkage=100, baselines=baselines,
                                    backend=backend))
    for a, b in zip(default, hundred):
        np.testing.assert_array_equal(a, b)
    common = pattern_counts(X)
    for measure in ("msd", "pearson", "corated_cosine", "adjusted_cosine"):
        for a, b in zip(parts(topk_similarity(X, 5, measure=measure, backend=backend)),
                        parts(topk_similarity(X, 5, measure=measure, shrinkage=0, backend=backend))):
            np.testing.assert_array_equal(a, b)
        if measure == "adjusted_cosine":
            continue
        dense = corated_similarity(X, measure, backend=backend) * (common / (common + 7.5))
        got = topk_similarity(X, 40, measure=measure, shrinkage=7.5, backend=backend)
        assert_topk_of(got, np.where(common > 0, dense, np.nan), 40, 1e-14, exclude_self=True)


# ---- Surprise's own matrices ----


SURPRISE_MATRICES = {}


def assert_topk_of_surprise(result, matrix, common, measure, min_support, k):
    scores = np.where(common >= effective_support(measure, min_support), matrix, np.nan)
    assert_topk_of(result, scores, k, 1e-9, exclude_self=True)


@pytest.mark.parametrize("user_based", [True, False], ids=["user_based", "item_based"])
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_movielens_equals_surprise(movielens, backend, measure, user_based):
    ratings, baselines = movielens.rows(user_based)
    common = pattern_counts(ratings.tocsr())
    min_support, shrinkage = 3, 50.0
    key = (measure, user_based)
    if key not in SURPRISE_MATRICES:  # one Surprise run per matrix, whatever the backend
        SURPRISE_MATRICES[key] = movielens.surprise(measure, user_based, min_support=min_support, shrinkage=shrinkage)
    want = SURPRISE_MATRICES[key]
    kwargs = {"baselines": baselines, "shrinkage": shrinkage} if measure == "pearson_baseline" else {}
    got = topk_similarity(ratings, 20, measure=measure, min_support=min_support, backend=backend, **kwargs)
    assert got.shape == want.shape
    assert_topk_of_surprise(got, want, common, measure, min_support, 20)
    # native and numba sum each pair in Surprise's order: equal to it bit for bit, ties and all (a
    # GPU's atomics add in no fixed order: the tolerance above is all it promises)
    if backend not in GPU_BACKENDS:
        assert_rows_equal(got, topk_of_dense(want, common >= effective_support(measure, min_support), 20,
                                             np.float64))


@pytest.mark.parametrize("user_based", [True, False], ids=["user_based", "item_based"])
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_random_equals_surprise(every_backend, rng, measure, user_based):
    data = SurpriseData(random_frame(rng, 40, 25, 0.3, halves=False))
    X, baselines = data.rows(user_based)
    common = pattern_counts(X.tocsr())
    for min_support, shrinkage in ((1, 100), (2, 0), (4, 37.5)):
        want = data.surprise(measure, user_based, min_support=min_support, shrinkage=shrinkage)
        kwargs = {"baselines": baselines, "shrinkage": shrinkage} if measure == "pearson_baseline" else {}
        for k in (3, 50):
            got = topk_similarity(X, k, measure=measure, min_support=min_support, backend=every_backend, **kwargs)
            assert_topk_of_surprise(got, want, common, measure, min_support, k)


@pytest.fixture(scope="module")
def movielens():
    from test_similarity_corated import ML100K
    import pandas as pd

    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    frame = pd.read_csv(ML100K, sep="\t", names=["user", "item", "rating", "timestamp"])
    return SurpriseData(frame[["user", "item", "rating"]])


# ---- adjusted cosine against the plain formula ----


def adjusted_cosine(X):
    """Sarwar et al. (2001), pair by pair: over the columns (users) both rows (items) rated, the
    entries centred on each column's mean rating; the cosine with norms over those columns."""
    R = X.toarray()
    rated = pattern_counts(X) > 0
    stored = np.zeros(X.shape, bool)
    stored[np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)), X.indices] = True
    means = np.array([R[stored[:, c], c].mean() if stored[:, c].any() else 0.0 for c in range(X.shape[1])])
    out = np.full((X.shape[0],) * 2, np.nan)
    for i in range(X.shape[0]):
        for j in range(X.shape[0]):
            both = stored[i] & stored[j]
            if not rated[i, j] or not both.any():
                continue
            a, b = R[i, both] - means[both], R[j, both] - means[both]
            norms = np.sqrt((a * a).sum() * (b * b).sum())
            out[i, j] = (a * b).sum() / norms if norms > 0 else 0.0
    return out, pattern_counts(X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adjusted_cosine_equals_the_formula(every_backend, rng, dtype):
    X = sp.random(35, 50, density=0.25, random_state=rng, format="csr", data_rvs=lambda size: rng.integers(1, 6, size))
    X = X.astype(dtype)
    want, common = adjusted_cosine(X)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for min_support, shrinkage, threshold in ((1, 0.0, None), (3, 0.0, None), (2, 4.0, 0.1)):
        got = topk_similarity(X, 7, measure="adjusted_cosine", min_support=min_support, shrinkage=shrinkage,
                              threshold=threshold, backend=every_backend)
        factor = common / (common + shrinkage) if shrinkage else 1.0
        scores = np.where(common >= min_support, want * factor, np.nan)
        assert got.dtype == dtype
        assert_topk_of(got, scores, 7, tol, exclude_self=True, threshold=threshold)


def test_adjusted_cosine_hand_computed():
    # items x users; user means 2.5, 2, 4. Items 0 and 1 share users 0 and 1, centred (1.5, -1)
    # and (-1.5, 1): cosine -1. Item 2 shares user 0 with both, centred 0 there: a zero norm,
    # so 0 (a neighbour of score 0, as corated_similarity's 0); user 2 rated item 2 alone.
    X = sp.csr_matrix(np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.0], [2.5, 0.0, 4.0]]))
    for backend in ("native", "numba", "numpy"):
        got = topk_similarity(X, 2, measure="adjusted_cosine", backend=backend)
        np.testing.assert_array_equal(got.toarray(), [[0, -1, 0], [-1, 0, 0], [0, 0, 0]])
        np.testing.assert_array_equal(got.indices, [2, 1, 2, 0, 0, 1])  # the 0s are stored neighbours
        np.testing.assert_array_equal(got.indptr, [0, 2, 4, 6])


# ---- min_support for the sparse measures ----


@pytest.mark.parametrize("measure", MEASURES)
def test_min_support_of_the_sparse_measures(every_backend, rng, measure):
    X = sp.random(60, 30, density=0.2, random_state=rng, format="csr", dtype=np.float64)
    X.data = X.data * 4 + 0.1
    scores, common = brute_scores(X, X, measure, 0.3, 2.0)
    for min_support in (0, 1, 2, 4, 31):
        got = topk_similarity(X, 6, measure=measure, alpha=0.3, shrinkage=2.0, min_support=min_support,
                              backend=every_backend)
        assert_topk_of(got, np.where(common >= min_support, scores, np.nan), 6, 1e-12, exclude_self=True)
    assert topk_similarity(X, 6, measure=measure, min_support=10**30, backend=every_backend).nnz == 0


@pytest.mark.parametrize("values", ["ones", "positive"])
def test_min_support_takes_an_accumulator_with_counts(every_backend, rng, values):
    """Binary data (counts only) and positive data (sums only without min_support) both need the
    counts for min_support: the results are the reference's."""
    X = integer_sparse(rng, 80, 25, 0.25, np.float32, low=1, high=2 if values == "ones" else 5)
    scoring = similarity.Scoring(similarity.SCALE, np.float32(0), np.float32(-np.inf), True, 3)
    want = similarity.COUNTS if values == "ones" else similarity.SUMS_AND_COUNTS
    assert similarity._accumulate(X.data, X.T.tocsr().data, scoring) == want
    assert similarity._accumulate(X.data, X.T.tocsr().data, scoring._replace(min_support=1)) == (
        similarity.COUNTS if values == "ones" else similarity.SUMS)
    for measure in ("dot", "cosine"):
        got = parts(topk_similarity(X, 5, measure=measure, min_support=3, backend=every_backend))
        for a, b in zip(got, parts(topk_similarity(X, 5, measure=measure, min_support=3, backend="numpy"))):
            np.testing.assert_array_equal(a, b)
        full = topk_similarity(X, 80, measure=measure, backend=every_backend)
        assert topk_similarity(X, 80, measure=measure, min_support=3, backend=every_backend).nnz < full.nnz


# ---- edge cases ----


def test_empty_rows_k_past_n_thresholds_and_row_blocks(every_backend, rng, monkeypatch):
    kept = np.flatnonzero(np.arange(30) % 4 != 0)  # every 4th row empty
    Y = centred_ratings(rng, len(kept), 12, 0.4)
    counts = np.zeros(30, np.int64)
    counts[kept] = np.diff(Y.indptr)
    X = sp.csr_matrix((Y.data, Y.indices, np.concatenate([[0], np.cumsum(counts)])), shape=(30, 12))
    for measure in RATING_MEASURES:
        kwargs = {"baselines": dyadic_baselines(rng, 30, 12)} if measure == "pearson_baseline" else {}
        whole = topk_similarity(X, 100, measure=measure, backend=every_backend, **kwargs)
        for r in range(0, 30, 4):
            assert whole[r].nnz == 0 and r not in whole.indices
        for a, b in zip(parts(whole), parts(topk_similarity(X, 29, measure=measure, backend="numpy", **kwargs))):
            np.testing.assert_array_equal(a, b)
        for threshold in (-0.5, 0.0, 0.5):
            got = topk_similarity(X, 100, measure=measure, threshold=threshold, backend=every_backend, **kwargs)
            assert got.nnz == (whole.data >= threshold).sum() and (got.data >= threshold).all()
        monkeypatch.setattr(similarity._padded, "BLOCK_ENTRIES", 20)  # 2 rows of 9 per block
        for a, b in zip(parts(topk_similarity(X, 9, measure=measure, backend=every_backend, **kwargs)),
                        parts(topk_similarity(X, 9, measure=measure, backend="numpy", **kwargs))):
            np.testing.assert_array_equal(a, b)
        monkeypatch.undo()
    assert topk_similarity(sp.csr_matrix((0, 3)), 2, measure="msd", backend=every_backend).shape == (0, 0)
    assert topk_similarity(sp.csr_matrix((4, 0)), 2, measure="msd", backend=every_backend).nnz == 0


def test_ties_go_to_the_lower_id(every_backend, rng):
    """Equal ratings everywhere: msd is 1 for every co-rated pair, so every row's neighbours are its
    lowest-id co-raters, across candidate buffer cuts."""
    X = sp.csr_matrix((rng.random((200, 10)) < 0.5).astype(np.float64) * 3)
    got = topk_similarity(X, 4, measure="msd", backend=every_backend)
    common = pattern_counts(X)
    assert_rows_equal(got, topk_of_dense(np.ones((200, 200)), common > 0, 4, np.float64))


def test_stored_zeros_are_ratings_for_the_rating_measures(every_backend):
    X = sp.csr_matrix((np.array([2.0, 0.0, 4.0, 5.0]), np.array([0, 1, 0, 1]), np.array([0, 2, 4])), shape=(2, 2))
    assert X.nnz == 4
    msd = topk_similarity(X, 1, measure="msd", min_support=2, backend=every_backend)
    np.testing.assert_allclose(msd.toarray(), [[0, 1 / ((4 + 25) / 2 + 1)], [1 / 15.5, 0]], rtol=1e-15)
    assert topk_similarity(X, 1, measure="dot", min_support=2, backend=every_backend).nnz == 0  # zero dropped


def test_inputs_are_never_modified_and_formats_agree(rng):
    X = centred_ratings(rng, 20, 15, 0.4)
    before = [a.copy() for a in parts(X)]
    want = parts(topk_similarity(X, 4, measure="adjusted_cosine", backend="native"))
    for other in (X.tocsc(), X.tocoo(), X.T.T.tocsc(), X.tolil()):
        for a, b in zip(parts(topk_similarity(other, 4, measure="adjusted_cosine", backend="native")), want):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(parts(X), before):
        np.testing.assert_array_equal(a, b)


# ---- bad input ----


def _X():
    return sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 4.0]]))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(k=0), ValueError, "k: expected a positive int, got 0"),
    (dict(k=-2), ValueError, "k: expected a positive int"),
    (dict(min_support=-1), ValueError, "min_support: expected an int >= 0, got -1"),
    (dict(min_support=2.5), TypeError, "min_support: expected an int >= 0, got float"),
    (dict(min_support="2"), TypeError, "min_support: expected an int >= 0, got str"),
    (dict(measure="pearson_baseline"), ValueError, "baselines: measure='pearson_baseline' needs baselines="),
    (dict(measure="pearson", baselines=(np.zeros(2), np.zeros(3), 3.0)), ValueError,
     "baselines: only measure='pearson_baseline' uses them"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(3), np.zeros(3), 3.0)), ValueError,
     r"baselines: row_bias must have shape \(2,\)"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(2), np.full(3, np.nan), 3.0)), ValueError,
     "baselines: col_bias contains NaN"),
    (dict(measure="msd", shrinkage=-1.0), ValueError, "shrinkage: expected a finite number"),
    (dict(measure="msd", shrinkage=np.nan), ValueError, "shrinkage: expected a finite number"),
    (dict(measure="msd", threshold=np.nan), ValueError, "threshold: expected a number, got NaN"),
    (dict(measure="adjusted_cosine", threshold="0"), TypeError, "threshold: expected a real number"),
])
def test_bad_arguments_name_the_argument(kwargs, error, message):
    kwargs = {"k": 2, "measure": "msd", **kwargs}
    with pytest.raises(error, match=message):
        topk_similarity(_X(), **kwargs)


@pytest.mark.parametrize("measure", RATING_MEASURES)
def test_bad_matrices_are_refused(every_backend, measure):
    kwargs = {"baselines": (np.zeros(2), np.zeros(3), 3.0)} if measure == "pearson_baseline" else {}
    for bad in (np.nan, np.inf):
        X = _X()
        X.data[1] = bad
        with pytest.raises(ValueError, match="X: contains NaN or inf values"):
            topk_similarity(X, 2, measure=measure, backend=every_backend, **kwargs)
    with pytest.raises(TypeError, match="X: expected a scipy.sparse matrix, got ndarray"):
        topk_similarity(_X().toarray(), 2, measure=measure, backend=every_backend, **kwargs)
    duplicated = sp.coo_matrix((np.array([4.0, 5.0]), (np.array([1, 1]), np.array([2, 2]))), shape=(2, 3))
    with pytest.raises(ValueError, match=r"X: duplicate entries \(row 1, column 2 is stored twice\)"):
        topk_similarity(duplicated, 2, measure=measure, backend=every_backend, **kwargs)


def test_native_corated_topk_refuses_inconsistent_arrays():
    """The binding is the last line of defence: raw calls with bad arrays are errors, never crashes."""
    from test_hostile import fails
    from turborec import _native

    indptr, indices, values = np.array([0, 2, 3], np.int32), np.array([0, 1, 1], np.int32), np.array([1.0, 2.0, 3.0])
    t_indptr, t_indices, t_values = np.array([0, 1, 3], np.int32), np.array([0, 0, 1], np.int32), np.array([1, 2, 3.0])

    def args(**changes):
        out = dict(indptr=indptr, indices=indices, values=values, n=2, m=2, t_indptr=t_indptr, t_indices=t_indices,
                   t_values=t_values, measure=1, min_support=1, shrinkage=0.0, row_begin=0, row_end=2, k=1,
                   min_score=-np.inf, capacity=18, n_threads=1, out_ids=np.empty((2, 1), np.int32),
                   out_values=np.empty((2, 1)))
        return {**out, **changes}

    ids, scores = np.empty((2, 1), np.int32), np.empty((2, 1), np.float32)
    _native.corated_topk(**args(out_ids=ids, out_values=scores))
    np.testing.assert_array_equal(ids, [[1], [0]])
    np.testing.assert_array_equal(scores, [[1 / (1 + 1)], [0.5]])  # msd over column 1: (2 - 3)^2 = 1
    for changes, error, match in [
        (dict(measure=4), ValueError, "measure: expected 0"),
        (dict(min_support=-1), ValueError, "min_support"),
        (dict(shrinkage=np.inf), ValueError, "shrinkage"),
        (dict(k=3, out_ids=np.empty((2, 3), np.int32), out_values=np.empty((2, 3))), ValueError, "k: expected 1 to n"),
        (dict(row_end=3), ValueError, "row_begin/row_end"),
        (dict(capacity=1), ValueError, "capacity: expected more than k"),
        (dict(min_score=np.nan), ValueError, "min_score: expected a number, got NaN"),
        (dict(out_values=np.empty((2, 2))), ValueError, "out_ids/out_values: expected shape"),
        (dict(out_values=np.empty((2, 1), np.int64)), TypeError, "out_values: expected dtype float32"),
        (dict(values=values.astype(np.float32)), TypeError, "values: expected dtype float64"),
        (dict(values=np.ones(2)), ValueError, "values: fewer values than stored entries"),
        (dict(t_indices=np.array([0, 0, 2], np.int32)), ValueError, r"r_t.indices: 2 out of range \[0, 2\)"),
        (dict(t_indptr=t_indptr.astype(np.int64), t_indices=t_indices.astype(np.int64)), ValueError,
         "r_t.indptr: expected the index dtype of r.indptr"),
        (dict(indptr=np.array([0, 3, 2], np.int32)), ValueError, "r.indptr: must never decrease"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ]:
        fails(error, match, _native.corated_topk, **args(**changes))
    read_only = np.empty((2, 1))
    read_only.flags.writeable = False
    fails(ValueError, "out_values: array is read-only", _native.corated_topk, **args(out_values=read_only))
