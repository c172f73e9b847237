"""corated_similarity (issue 8): Surprise 1.1's co-rated similarity matrices, against Surprise's
own ``surprise.similarities`` functions (called with the arguments ``AlgoBase.compute_similarities``
passes them) on MovieLens 100K and on random data, and every backend that has the kernel against
the numpy reference. Surprise is a [test] peer: imported directly, so a missing one fails."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from surprise import BaselineOnly, Dataset, KNNBaseline, KNNBasic, Reader
from surprise import similarities as surprise_similarities

from conformance import KernelConformance
from turborec import backends
from turborec._dispatch import dispatch
from turborec.exceptions import BackendUnavailableError, PerformanceWarning
from turborec.similarity import CORATED_MEASURES, corated_similarity

FAMILY = "similarity"
ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"
SURPRISE_NAMES = {"corated_cosine": "cosine", "msd": "msd", "pearson": "pearson",
                  "pearson_baseline": "pearson_baseline"}
ATOL = 1e-9


# ---- Surprise's side ----


class SurpriseData:
    """A Surprise trainset, its ratings as CSR over inner ids (users x items), and the baselines
    ``compute_baselines`` gives (Surprise's default ALS options)."""

    def __init__(self, frame):
        self.trainset = Dataset.load_from_df(frame, Reader(rating_scale=(0, 5))).build_full_trainset()
        ts = self.trainset
        users, items, ratings = (np.array(a) for a in zip(*ts.all_ratings()))
        self.ratings = sp.csr_matrix((ratings.astype(np.float64), (users, items)), shape=(ts.n_users, ts.n_items))
        algo = BaselineOnly(verbose=False)
        algo.fit(ts)
        self.bu, self.bi = algo.bu, algo.bi

    def rows(self, user_based):
        """The matrix to pass for user- or item-based similarities, and its baselines."""
        if user_based:
            return self.ratings, (self.bu, self.bi, self.trainset.global_mean)
        return self.ratings.T, (self.bi, self.bu, self.trainset.global_mean)

    def surprise(self, measure, user_based, min_support=1, shrinkage=100):
        """Surprise's own matrix, with the arguments AlgoBase.compute_similarities passes."""
        ts = self.trainset
        n_x, yr = (ts.n_users, ts.ir) if user_based else (ts.n_items, ts.ur)
        args = [n_x, yr, min_support]
        if measure == "pearson_baseline":
            bx, by = (self.bu, self.bi) if user_based else (self.bi, self.bu)
            args += [ts.global_mean, bx, by, shrinkage]
        return getattr(surprise_similarities, SURPRISE_NAMES[measure])(*args)

    def ours(self, measure, user_based, backend, **kwargs):
        X, baselines = self.rows(user_based)
        if measure == "pearson_baseline":
            kwargs["baselines"] = baselines
        return corated_similarity(X, measure, backend=backend, **kwargs)


def random_frame(rng, n_users, n_items, density, halves=True):
    """Raw (user, item, rating) triples: half stars from 0.5 to 5 (sums exact), else floats in [1, 5]."""
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ratings = rng.integers(1, 11, len(users)) / 2 if halves else rng.uniform(1, 5, len(users))
    order = rng.permutation(len(users))  # raw ids appear in any order: inner ids differ from them
    return pd.DataFrame({"user": users[order] * 7 + 3, "item": items[order] * 5 + 1, "rating": ratings[order]})


@pytest.fixture(scope="module")
def movielens():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    frame = pd.read_csv(ML100K, sep="\t", names=["user", "item", "rating", "timestamp"])
    return SurpriseData(frame[["user", "item", "rating"]])


# ---- parity with Surprise ----


@pytest.mark.parametrize("user_based", [True, False], ids=["user_based", "item_based"])
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_movielens_equals_surprise(movielens, every_backend, measure, user_based):
    want = movielens.surprise(measure, user_based)
    got = movielens.ours(measure, user_based, every_backend)
    assert got.dtype == np.float64 and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@pytest.mark.parametrize("min_support", [3, 20])
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_movielens_min_support_equals_surprise(movielens, measure, min_support):
    want = movielens.surprise(measure, False, min_support=min_support)
    np.testing.assert_allclose(movielens.ours(measure, False, "numba", min_support=min_support), want, rtol=0,
                               atol=ATOL)
    assert (want == 0).sum() > (movielens.surprise(measure, False) == 0).sum()  # the support mattered


@pytest.mark.parametrize("halves", [True, False], ids=["half_stars", "floats"])
@pytest.mark.parametrize("user_based", [True, False], ids=["user_based", "item_based"])
@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_random_equals_surprise(every_backend, rng, measure, user_based, halves):
    data = SurpriseData(random_frame(rng, 40, 25, 0.3, halves))
    for min_support in (1, 2, 4):
        want = data.surprise(measure, user_based, min_support=min_support)
        got = data.ours(measure, user_based, every_backend, min_support=min_support)
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@pytest.mark.parametrize("shrinkage", [0, 1, 37.5, 100, 1e6])
def test_pearson_baseline_shrinkage_equals_surprise(every_backend, rng, shrinkage):
    data = SurpriseData(random_frame(rng, 30, 20, 0.4))
    for user_based in (True, False):
        want = data.surprise("pearson_baseline", user_based, min_support=3, shrinkage=shrinkage)
        got = data.ours("pearson_baseline", user_based, every_backend, min_support=3, shrinkage=shrinkage)
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_min_support_zero_and_pairs_without_common_ratings(rng):
    """Surprise's pearson and pearson_baseline accept min_support 0 (their other measures divide
    by zero there); turborec scores a pair with no common column 0 under every measure."""
    data = SurpriseData(random_frame(rng, 30, 20, 0.15))
    for measure in ("pearson", "pearson_baseline"):
        np.testing.assert_allclose(data.ours(measure, True, "numba", min_support=0),
                                   data.surprise(measure, True, min_support=0), rtol=0, atol=ATOL)
    X = data.ratings
    common = (X != 0).astype(np.float64) @ (X != 0).T.astype(np.float64)
    assert (common.toarray() == 0).any()
    for measure in CORATED_MEASURES:
        zero = data.ours(measure, True, "numba", min_support=0)
        np.testing.assert_array_equal(zero, data.ours(measure, True, "numba", min_support=1))


def test_knn_algorithms_fit_the_same_matrices(rng):
    """What Surprise's own KNN algorithms store after fit (``algo.sim``) is what turborec returns."""
    data = SurpriseData(random_frame(rng, 25, 15, 0.4))
    for measure in CORATED_MEASURES:
        options = {"name": SURPRISE_NAMES[measure], "user_based": False, "min_support": 2, "shrinkage": 10}
        algo = (KNNBaseline if measure == "pearson_baseline" else KNNBasic)(sim_options=options, verbose=False)
        algo.fit(data.trainset)
        got = data.ours(measure, False, "numba", min_support=2,
                        **({"shrinkage": 10} if measure == "pearson_baseline" else {}))
        np.testing.assert_allclose(got, algo.sim, rtol=0, atol=ATOL)


# ---- hand-computed cases: the diagonal, stored zeros, zero denominators ----


def test_hand_computed_values_and_stored_zero_ratings():
    # rows 0 and 1 share columns 0 and 1; row 1 stores a rating of 0 at column 1; row 2 is empty
    # (without the stored 0, only column 0 would be common: msd 1/2, cosine 1, pearson 0)
    X = sp.csr_matrix((np.array([3.0, 2.0, 4.0, 2.0, 0.0]), np.array([0, 1, 2, 0, 1]), np.array([0, 3, 5, 5])),
                      shape=(3, 3))
    assert X.nnz == 5
    for backend in ("numba", "numpy"):
        msd = corated_similarity(X, "msd", backend=backend)
        np.testing.assert_allclose(msd, [[1, 1 / ((1 + 4) / 2 + 1), 0], [1 / 3.5, 1, 0], [0, 0, 1]], rtol=1e-15)
        cosine = corated_similarity(X, "corated_cosine", backend=backend)
        assert cosine[0, 1] == cosine[1, 0] == pytest.approx(6 / np.sqrt(13 * 4), rel=1e-15)
        pearson = corated_similarity(X, "pearson", backend=backend)
        assert pearson[0, 1] == pytest.approx(1.0, rel=1e-15)  # (3, 2) against (2, 0): perfectly correlated
    for measure in CORATED_MEASURES:
        kwargs = {"baselines": (np.zeros(3), np.zeros(3), 0.0)} if measure == "pearson_baseline" else {}
        out = corated_similarity(X, measure, backend="numba", **kwargs)
        np.testing.assert_array_equal(np.diag(out), 1.0)  # the diagonal is 1, empty row included
        assert out[2, 0] == out[0, 2] == 0.0
        np.testing.assert_array_equal(out, out.T)


def test_zero_denominators_are_zero():
    """Surprise's pearson returns 0 when a row's co-rated ratings do not vary; its cosine and
    pearson_baseline raise ZeroDivisionError where the co-rated values are all 0: turborec gives 0."""
    X = sp.csr_matrix((np.array([0.0, 0.0, 2.0, 5.0]), np.array([0, 1, 0, 1]), np.array([0, 2, 4])), shape=(2, 2))
    trainset_like = {0: [(0, 0.0), (1, 2.0)], 1: [(0, 0.0), (1, 5.0)]}
    with pytest.raises(ZeroDivisionError):
        surprise_similarities.cosine(2, trainset_like, 1)
    assert surprise_similarities.pearson(2, trainset_like, 1)[0, 1] == 0.0
    for backend in ("numba", "numpy"):
        for measure in ("corated_cosine", "pearson", "pearson_baseline"):
            kwargs = {"baselines": (np.zeros(2), np.zeros(2), 0.0)} if measure == "pearson_baseline" else {}
            out = corated_similarity(X, measure, backend=backend, **kwargs)
            np.testing.assert_array_equal(out, np.eye(2))
        assert corated_similarity(X, "msd", backend=backend)[0, 1] == 1 / ((4 + 25) / 2 + 1)


def test_input_formats_and_empty_matrices():
    X = sp.random(12, 9, density=0.4, random_state=3, format="csr", data_rvs=lambda n: np.arange(1, n + 1) % 5 + 1)
    want = corated_similarity(X, "pearson", backend="numba")
    for other in (X.tocsc(), X.tocoo(), X.tolil(), X.astype(np.float32), X.astype(np.int64)):
        np.testing.assert_array_equal(corated_similarity(other, "pearson", backend="numba"), want)
    np.testing.assert_array_equal(corated_similarity(sp.csr_matrix((4, 6)), backend="numba"), np.eye(4))
    assert corated_similarity(sp.csr_matrix((0, 6)), backend="numba").shape == (0, 0)
    huge = corated_similarity(X, "pearson", min_support=10**30, backend="numba")  # past int64: every pair is 0
    np.testing.assert_array_equal(huge, np.eye(12))
    np.testing.assert_array_equal(corated_similarity(sp.csr_matrix((3, 0)), backend="numba"), np.eye(3))


# ---- backends ----


class TestCoratedConformance(KernelConformance):
    """Dyadic ratings and baselines: every sum is exact, so numba equals the reference bit for bit."""

    FAMILY = "similarity"

    def make(self, rng, dtype, n, m, k=10):
        mask = rng.random((n, m)) < 0.3
        rows, cols = np.nonzero(mask)
        values = (rng.integers(0, 11, len(rows)) / 2).astype(dtype)  # 0 to 5 by halves: 0 is a rating
        ratings = sp.csr_matrix((values, (rows, cols)), shape=(n, m))
        measure = CORATED_MEASURES[(n + m) % len(CORATED_MEASURES)]
        inputs = dict(ratings=ratings, measure=measure, min_support=n % 3, shrinkage=float(m % 7))
        if measure == "pearson_baseline":
            inputs["baselines"] = (rng.integers(-4, 5, n) / 4, rng.integers(-4, 5, m) / 4, 3.5)
        return inputs

    def call(self, inputs, backend, n_threads=None):
        return (corated_similarity(**inputs, backend=backend, n_threads=n_threads),)

    def test_non_contiguous_and_read_only_inputs(self, backend, rng):
        inputs = self.make(rng, np.float64, 23, 140)  # (23 + 140) % 4 == 3: pearson_baseline
        row_bias, col_bias, global_mean = inputs["baselines"]
        awkward = dict(inputs, ratings=strided_read_only(inputs["ratings"]),
                       baselines=(strided_read_only(row_bias), strided_read_only(col_bias), global_mean))
        self.assert_same(self.call(awkward, backend), self.reference(inputs))


def strided_read_only(a):
    """The same array (or CSR, over its arrays) strided and read-only."""
    if sp.issparse(a):
        out = sp.csr_matrix(a.shape, dtype=a.dtype)
        out.data, out.indices, out.indptr = (strided_read_only(x) for x in (a.data, a.indices, a.indptr))
        assert not out.indices.flags.c_contiguous
        return out
    out = np.repeat(a, 2)[::2]
    out.flags.writeable = False
    return out


@pytest.mark.parametrize("measure", CORATED_MEASURES)
def test_compiled_backends_match_reference_on_float_ratings(backend, rng, measure):
    n, m = 60, 45
    X = sp.random(n, m, density=0.25, random_state=rng, format="csr", data_rvs=lambda k: rng.uniform(1, 5, k))
    baselines = (rng.normal(0, 0.3, n), rng.normal(0, 0.3, m), 3.3)
    kwargs = {"baselines": baselines} if measure == "pearson_baseline" else {}
    for min_support in (0, 1, 3):
        want = corated_similarity(X, measure, min_support=min_support, backend="numpy", **kwargs)
        got = corated_similarity(X, measure, min_support=min_support, backend=backend, **kwargs)
        # pearson's one-pass form (Surprise's) cancels digits: sums in another order differ more
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 if measure == "pearson" else 1e-13)
        np.testing.assert_array_equal(got, got.T)
        # the compiled host backends sum in the same order (each row by column id): equal bit for
        # bit; a GPU's atomics add in no fixed order (the tolerance above is all it promises)
        if backend not in backends.GPU_BACKENDS:
            np.testing.assert_array_equal(got, corated_similarity(X, measure, min_support=min_support,
                                                                  backend="numba", **kwargs))


def test_a_backend_module_without_the_kernel_is_refused_by_name_and_skipped_by_auto(monkeypatch):
    """A family's backend module may lack one kernel (native had no corated_similarity at
    first): an explicit request names the kernel; auto skips it with the one PerformanceWarning."""
    from turborec.similarity import _native

    X = sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 0.0]]))
    want = corated_similarity(X, backend="numba")
    assert backends.resolve("similarity", "auto", (), "corated_similarity").name == "native"
    monkeypatch.delattr(_native, "corated_similarity")
    with pytest.raises(BackendUnavailableError,
                       match="backend 'native' does not implement the 'corated_similarity' kernel of the "
                             r"'similarity' family \(available here on: numba, numpy\)"):
        corated_similarity(X, backend="native")
    monkeypatch.setattr(backends, "_warned_slow", False)
    with pytest.warns(PerformanceWarning, match="'native' does not implement the 'corated_similarity' kernel"):
        auto = corated_similarity(X, backend="auto")
    np.testing.assert_array_equal(auto, want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        corated_similarity(X, backend="auto")
    assert backends.resolve("similarity", "auto", (), "corated_similarity").name == "numba"
    assert backends.resolve("similarity", "auto", (), "sparse_dot_topk").name == "native"


def test_native_binding_refuses_inconsistent_arrays():
    """The binding is the last line of defence: raw calls with bad arrays are errors, never crashes."""
    from turborec import _native

    indptr, indices, values = np.array([0, 2, 3], np.int32), np.array([0, 1, 1], np.int32), np.ones(3)
    t_indptr, t_indices = np.array([0, 1, 3], np.int32), np.array([0, 0, 1], np.int32)
    out = np.empty((2, 2))

    def call(**changes):
        args = dict(indptr=indptr, indices=indices, values=values, n=2, m=2, t_indptr=t_indptr, t_indices=t_indices,
                    t_values=values, measure=1, min_support=1, shrinkage=0.0, n_threads=1, out=out)
        args.update(changes)
        _native.corated_similarity(**args)

    call()
    np.testing.assert_array_equal(out, [[1, 1], [1, 1]])
    for changes, error, message in [
        (dict(out=np.empty((2, 3))), ValueError, r"out: expected shape \(n, n\)"),
        (dict(out=np.empty((2, 2), np.float32)), TypeError, "out: expected dtype float64"),
        (dict(measure=4), ValueError, "measure: expected 0"),
        (dict(min_support=-1), ValueError, "min_support"),
        (dict(shrinkage=np.inf), ValueError, "shrinkage"),
        (dict(values=values.astype(np.float32)), TypeError, "values: expected dtype float64"),
        (dict(values=np.ones(2)), ValueError, "values: fewer values than stored entries"),
        (dict(t_indices=np.array([0, 0, 2], np.int32)), ValueError, r"r_t.indices: 2 out of range \[0, 2\)"),
        (dict(t_indptr=t_indptr.astype(np.int64), t_indices=t_indices.astype(np.int64)), ValueError,
         "r_t.indptr: expected the index dtype of r.indptr"),
        (dict(indptr=np.array([0, 3, 2], np.int32)), ValueError, "r.indptr: must never decrease"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ]:
        with pytest.raises(error, match=message):
            call(**changes)
    read_only = np.empty((2, 2))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="out: array is read-only"):
        call(out=read_only)


def test_dispatch_of_a_kernel_no_backend_has_is_a_clear_error():
    out = [((1,), np.float64)]
    with pytest.raises(BackendUnavailableError, match="backend 'numpy' does not implement the 'no_such' kernel"):
        dispatch("similarity", "no_such", inputs=(), outputs=out, backend="numpy")
    with pytest.raises(BackendUnavailableError, match="no backend can run the 'no_such' kernel of the 'similarity'"):
        dispatch("similarity", "no_such", inputs=(np.zeros(1),), outputs=out, backend="auto")


# ---- bad input ----


def _ratings():
    return sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 4.0]]))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(measure="cosine"), ValueError, "measure: expected one of corated_cosine, msd, pearson, pearson_baseline; "
                                         "got 'cosine'"),
    (dict(measure=None), TypeError, "measure: expected a str"),
    (dict(measure="pearson_baseline"), ValueError, "baselines: measure='pearson_baseline' needs baselines="),
    (dict(measure="msd", baselines=(np.zeros(2), np.zeros(3), 3.0)), ValueError,
     "baselines: only measure='pearson_baseline' uses them"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(3), np.zeros(3), 3.0)), ValueError,
     r"baselines: row_bias must have shape \(2,\)"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(2), np.zeros(2), 3.0)), ValueError,
     r"baselines: col_bias must have shape \(3,\)"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(2), np.full(3, np.nan), 3.0)), ValueError,
     "baselines: col_bias contains NaN"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(2), np.zeros(3), np.inf)), ValueError,
     "baselines: global_mean: expected a finite number"),
    (dict(measure="pearson_baseline", baselines=(np.zeros(2), np.zeros(3))), TypeError,
     r"baselines: expected a tuple \(row_bias, col_bias, global_mean\)"),
    (dict(min_support=-1), ValueError, "min_support: expected an int >= 0, got -1"),
    (dict(min_support=1.5), TypeError, "min_support: expected an int >= 0, got float"),
    (dict(min_support=True), TypeError, "min_support: expected an int >= 0"),
    (dict(shrinkage=-1.0), ValueError, "shrinkage: expected a finite number in"),
    (dict(shrinkage=np.nan), ValueError, "shrinkage: expected a finite number in"),
    (dict(backend="gpu"), ValueError, "backend: expected one of"),
])
def test_bad_arguments_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        corated_similarity(_ratings(), **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_ratings_are_refused(every_backend, bad):
    X = _ratings()
    X.data[1] = bad
    with pytest.raises(ValueError, match="ratings: contains NaN or inf values"):
        corated_similarity(X, backend=every_backend)


def test_bad_ratings_matrices_are_refused():
    with pytest.raises(TypeError, match="ratings: expected a scipy.sparse matrix, got ndarray"):
        corated_similarity(np.ones((2, 2)))
    with pytest.raises(TypeError, match="ratings: expected real values"):
        corated_similarity(sp.csr_matrix(np.array([[1 + 1j]])))
    duplicated = sp.coo_matrix((np.array([4.0, 5.0]), (np.array([1, 1]), np.array([2, 2]))), shape=(3, 3))
    with pytest.raises(ValueError, match=r"ratings: duplicate entries \(row 1, column 2 is stored twice\)"):
        corated_similarity(duplicated)
    unsummed = sp.csr_matrix((np.array([1.0, 4.0, 5.0]), np.array([0, 2, 2]), np.array([0, 1, 1, 3])), shape=(3, 3))
    with pytest.raises(ValueError, match=r"ratings: duplicate entries \(row 2, column 2 is stored twice\)"):
        corated_similarity(unsummed)
    across_rows = sp.csr_matrix((np.array([1.0, 4.0]), np.array([2, 2]), np.array([0, 1, 2, 2])), shape=(3, 3))
    np.testing.assert_array_equal(corated_similarity(across_rows, "msd", backend="numba")[0, 1], 1 / (9 + 1))
    malformed = sp.csr_matrix(np.eye(2))
    malformed.indptr = np.array([0, 1, 5])
    with pytest.raises(ValueError, match="ratings: malformed CSR"):
        corated_similarity(malformed)
