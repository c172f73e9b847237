"""Hostile inputs (issue 7, "never a crash") on every backend of each family, the numpy reference
included; the raw bindings' own checks are in test_hostile_bindings.py.

Every call either equals the reference on a clean copy of its input, or raises a ValueError,
TypeError or IndexError whose message names the argument; and afterwards, returned or raised, the
caller's inputs are unchanged (``call`` compares every array inside them, scipy matrices' too).
A case that crashed the process once names issue 7; explore new ones in a subprocess first.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import metrics
from turborec.metrics import ranking_metrics

# ---- the one helper: run a call, then check it changed none of its inputs ----


def _state(x):
    """What a caller could see change in ``x``: every array inside it (bytes, dtype, shape,
    writeability), through scipy matrices, lists, tuples and dicts."""
    if isinstance(x, np.ndarray):
        content = repr(x.tolist()) if x.dtype == object else x.tobytes()
        return x.dtype.str, x.shape, x.flags.writeable, content
    if sp.issparse(x):
        return type(x), {k: _state(v) for k, v in vars(x).items() if isinstance(v, (np.ndarray, tuple, list, dict))}
    if isinstance(x, (list, tuple)):
        return tuple(_state(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted((repr(k), _state(v)) for k, v in x.items()))
    return repr(x)


def call(f, *args, **kwargs):
    """``f(*args, **kwargs)``; returned or raised, its inputs must be unchanged (keyword
    arguments named ``out*`` are the raw bindings' outputs, written by design)."""
    watched = args, {k: v for k, v in kwargs.items() if not k.startswith("out")}
    before = _state(watched)
    try:
        return f(*args, **kwargs)
    finally:
        assert _state(watched) == before, f"{getattr(f, '__name__', f)} changed an input"


def fails(error, match, f, *args, **kwargs):
    assert error in (ValueError, TypeError, IndexError)
    with pytest.raises(error, match=match):
        call(f, *args, **kwargs)


def assert_same(got, want):
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


# ---- sparse matrices: malformed in every way, and valid but awkward ----


def _raw(indptr, indices, data=None, shape=(3, 4), kind=sp.csr_matrix):
    """A compressed matrix holding exactly these arrays (scipy's constructor would refuse them)."""
    m = kind(shape)
    m.indptr, m.indices = np.asarray(indptr), np.asarray(indices)
    m.data = np.ones(len(m.indices)) if data is None else np.asarray(data)
    return m


def _mutated(m, **attributes):
    for name, value in attributes.items():
        setattr(m, name, np.asarray(value) if isinstance(value, list) else value)
    return m


def _coo(**attributes):
    return _mutated(sp.coo_matrix(([1.0, 1.0], ([0, 2], [1, 3])), shape=(3, 4)), **attributes)


def _bsr(**attributes):
    return _mutated(sp.bsr_matrix(np.eye(3, 4), blocksize=(1, 1)), **attributes)


def _lil(row, data):
    m = sp.lil_matrix(np.eye(3, 4))
    m.rows[0], m.data[0] = row, data
    return m


def _dok_with(key):
    m = sp.dok_matrix(np.eye(3, 4))
    m._dict[key] = 1.0  # past dok's own bounds check
    return m


# Each builds a (3, 4) matrix; "{}" in the message is the argument's name.
MALFORMED = {
    "indptr too short": (lambda: _raw([0, 1, 2], [0, 1]), ValueError, "{}: malformed CSR, indptr has 3 entries for 3 rows"),
    "indptr too long": (lambda: _raw([0, 1, 2, 3, 3], [0, 1, 2]), ValueError, "{}: malformed CSR, indptr has 5 entries"),
    "indptr not from 0": (lambda: _raw([1, 1, 2, 3], [0, 1, 2]), ValueError, "{}: malformed CSR indptr \\(must start at 0"),
    # issue 7: [0, 1000, ...] used to segfault scipy's own routines
    "indptr decreasing": (lambda: _raw([0, 1000, 4, 4], [0, 1, 2, 3]), ValueError, "{}: malformed CSR indptr .*never decrease"),
    "indptr past indices": (lambda: _raw([0, 1, 2, 9], [0, 1, 2]), ValueError, "{}: malformed CSR, indptr ends at 9 but only 3"),
    "indptr past data": (lambda: _raw([0, 1, 2, 3], [0, 1, 2], [1.0]), ValueError, "{}: .*only 1 entries are stored"),
    "negative index": (lambda: _raw([0, 1, 2, 3], [0, -1, 2]), IndexError, "{}: column index -1 out of range \\[0, 4\\)"),
    "index past the columns": (lambda: _raw([0, 1, 2, 3], [0, 4, 2]), IndexError, "{}: column index 4 out of range"),
    "float indices": (lambda: _raw([0, 1, 2, 3], [0.0, 1.0, 2.0]), TypeError, "{}: malformed CSR, indices must be a 1-D integer"),
    "float indptr": (lambda: _raw([0.0, 1.0, 2.0, 3.0], [0, 1, 2]), TypeError, "{}: malformed CSR, indptr must be a 1-D integer"),
    "2-D data": (lambda: _raw([0, 1, 2, 3], [0, 1, 2], np.ones((3, 2))), ValueError, "{}: malformed CSR, data must be 1-D"),
    "string data": (lambda: _raw([0, 1, 2, 3], [0, 1, 2], ["a", "b", "c"]), TypeError, "{}: expected numeric values"),
    "object data": (lambda: _raw([0, 1, 2, 3], [0, 1, 2], np.ones(3, object)), TypeError, "{}: expected numeric values"),
    "CSC indptr decreasing": (lambda: _raw([0, 1000, 2, 3, 3], [0, 1, 2], kind=sp.csc_matrix), ValueError,
                              "{}: malformed CSC indptr"),
    "CSC row past the rows": (lambda: _raw([0, 1, 2, 3, 3], [0, 3, 2], kind=sp.csc_matrix), IndexError,
                              "{}: row index 3 out of range \\[0, 3\\)"),
    "COO row past the rows": (lambda: _coo(row=[0, 7]), IndexError, "{}: row index 7 out of range \\[0, 3\\)"),
    "COO negative column": (lambda: _coo(col=[-1, 3]), IndexError, "{}: column index -1 out of range"),
    "COO lengths differ": (lambda: _coo(row=[0, 1, 2]), ValueError, "{}: malformed COO, row indices have shape \\(3,\\)"),
    # issue 7: scipy's BSR and LIL conversions wrote out of bounds (a crash at exit)
    "BSR indptr decreasing": (lambda: _bsr(indptr=[0, 1000, 2, 3]), ValueError, "{}: malformed BSR matrix"),
    "BSR column past the columns": (lambda: _bsr(indices=[0, 1, 7]), ValueError, "{}: malformed BSR matrix"),
    "LIL data longer than rows": (lambda: _lil([0], [1.0] * 1000), ValueError, "{}: malformed LIL matrix"),
    "LIL column past the columns": (lambda: _lil([9], [1.0]), ValueError, "{}: malformed LIL matrix"),
    "LIL column not an int": (lambda: _lil(["a"], [1.0]), TypeError, "{}: malformed LIL matrix"),
    "DOK key past the shape": (lambda: _dok_with((9, 9)), ValueError, "{}: malformed DOK matrix"),
    "1-D sparse array": (lambda: sp.coo_array(([1.0], ([1],)), shape=(4,)), ValueError, "{}: expected a 2-D sparse matrix"),
    "dense": (lambda: np.eye(3, 4), TypeError, "{}: expected a scipy.sparse matrix, got ndarray"),
}

# (rows, cols, values): unsorted within rows, (0, 3) twice, an explicit zero at (1, 1).
ENTRIES = np.array([0, 0, 2, 2, 1, 0]), np.array([3, 1, 2, 0, 1, 3]), np.array([1.0, 1, 1, 1, 0, 1])


def _compressed(index_dtype=np.int32, indptr_dtype=None, kind=sp.csr_matrix, values=ENTRIES[2], **attributes):
    """ENTRIES as a CSR in the order given (unsorted, duplicates and the zero kept)."""
    rows, cols, _ = ENTRIES
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=3))))
    m = _raw(indptr.astype(indptr_dtype or index_dtype), cols[order].astype(index_dtype), values[order], kind=kind)
    return _mutated(m, **attributes)


def _stale_sorted_flag():
    m = _compressed()
    m.has_sorted_indices = True  # a lie scipy caches, e.g. after an in-place edit of indices
    return m


def _read_only_csr():
    m = _compressed()
    for a in (m.indptr, m.indices, m.data):
        a.flags.writeable = False
    return m


def _strided():
    m = _compressed()
    m.indices, m.data = np.repeat(m.indices, 2)[::2], np.repeat(m.data, 2)[::2]
    return m


def _trailing():
    m = _compressed()
    m.indices, m.data = np.append(m.indices, [99, -5]), np.append(m.data, [7.0, 7.0])  # past nnz: ignored
    return m


AWKWARD = {
    "unsorted, duplicates, explicit zero": _compressed,
    "int64 indices": lambda: _compressed(np.int64),
    "int64 indptr, int32 indices": lambda: _compressed(np.int32, np.int64),
    "uint16 indices, uint32 indptr": lambda: _compressed(np.uint16, np.uint32),
    "stale sorted flag": _stale_sorted_flag,
    # issue 7: summing the duplicate (0, 3) wrapped 255 + 1 to 0, and the item was not relevant
    "uint8 duplicates summing to 256": lambda: _compressed(values=np.array([255, 1, 1, 1, 0, 1], np.uint8)),
    "read-only arrays": _read_only_csr,
    "strided arrays": _strided,
    "entries past nnz": _trailing,
    "csr_array": lambda: sp.csr_array(_compressed()),
    "COO": lambda: sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4)),
    "CSC": lambda: sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4)).tocsc(),
    "BSR": lambda: sp.bsr_matrix(sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4)).tocsr(), blocksize=(1, 1)),
    "LIL": lambda: sp.lil_matrix(sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4))),
    "DOK": lambda: sp.dok_matrix(sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4))),
    "DIA": lambda: sp.dia_matrix(sp.coo_matrix((ENTRIES[2], ENTRIES[:2]), shape=(3, 4))),
}


def _entries(m):
    """(row, column, value) of every stored entry, read without trusting scipy on the matrix."""
    if m.format in ("csr", "csc"):
        major = np.repeat(np.arange(len(m.indptr) - 1), np.diff(m.indptr))
        minor, values = m.indices[: m.indptr[-1]], m.data[: m.indptr[-1]]
        return (major, minor, values) if m.format == "csr" else (minor, major, values)
    coo = m.tocoo()
    return coo.row, coo.col, coo.data


def _clean(m, stored_only):
    """A plain sorted CSR of ``m``'s stored entries (``stored_only``) or of its nonzero sums."""
    rows, cols, values = _entries(m)
    dense = np.zeros(m.shape)
    np.add.at(dense, (rows, cols), 1.0 if stored_only else values)
    return sp.csr_matrix(dense != 0)


# ---- selection ----


BAD_DTYPES = [np.int64, np.int32, np.uint8, np.float16, np.complex128, np.bool_, object, "U3", ">f4"]
BAD_K = [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("3", TypeError), (None, TypeError),
         (True, TypeError), (np.float64(2), TypeError), ([3], TypeError)]
BAD_THREADS = [(0, ValueError), (-2, ValueError), (2**31, ValueError), (2**70, ValueError), (1.5, TypeError),
               ("3", TypeError), (True, TypeError), (np.float64(2), TypeError), ([3], TypeError)]
BAD_BACKENDS = [(3, TypeError, "backend: expected a str"), (b"native", TypeError, "backend: expected a str"),
                (["native"], TypeError, "backend: expected a str"), ("NATIVE", ValueError, "backend: expected one of"),
                ("", ValueError, "backend: expected one of")]
NOT_BOOLS = ["yes", 1, 0, None, np.float64(1), [True]]


class TestSelection:
    FAMILY = "selection"

    @staticmethod
    def scores(rng, n=6, m=9, dtype=np.float64):
        return rng.standard_normal((n, m)).astype(dtype)

    @pytest.mark.parametrize("largest", [True, False])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_nan_and_inf_scores_match_the_reference_and_are_never_returned(self, every_backend, rng, largest, dtype):
        scores = self.scores(rng, 40, 120, dtype)
        for value, share in ((np.nan, 0.2), (np.inf, 0.05), (-np.inf, 0.05)):
            scores[rng.random(scores.shape) < share] = value
        scores[3] = np.nan
        exclude = sp.random(40, 120, density=0.1, format="csr", random_state=1)
        got = call(turborec.topk, scores, 110, exclude=exclude, largest=largest, backend=every_backend)
        assert_same(got, turborec.topk(scores, 110, exclude=exclude, largest=largest, backend="numpy"))
        ids = got[0]
        assert (ids[3] == -1).all()
        picked = np.take_along_axis(scores, np.maximum(ids, 0), 1)[ids >= 0]
        assert not np.isnan(picked).any() and not (picked == (-np.inf if largest else np.inf)).any()

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_non_finite_factors_are_refused(self, every_backend, bad):
        finite, hostile = np.ones((5, 4), np.float32), np.ones((3, 4), np.float32)
        hostile[1, 2] = bad
        fails(ValueError, "queries: contains NaN or inf", turborec.topk_dot, hostile, finite, 2, backend=every_backend)
        fails(ValueError, "items: contains NaN or inf", turborec.topk_dot, finite, hostile, 2, backend=every_backend)

    @pytest.mark.parametrize("n, m", [(0, 5), (4, 0), (0, 0)])
    def test_empty_scores(self, every_backend, n, m):
        ids, values = call(turborec.topk, np.zeros((n, m), np.float32), 3, exclude=sp.csr_matrix((n, m)),
                           backend=every_backend)
        assert ids.shape == values.shape == (n, min(3, m)) and ids.dtype == np.int32 and values.dtype == np.float32

    @pytest.mark.parametrize("n, m, d", [(0, 5, 4), (3, 0, 4), (0, 0, 4), (2, 3, 0)])
    @pytest.mark.parametrize("normalize", [False, True])
    def test_empty_factors(self, every_backend, n, m, d, normalize):
        ids, values = call(turborec.topk_dot, np.ones((n, d)), np.ones((m, d)), 2, exclude=sp.csr_matrix((n, m)),
                           normalize=normalize, backend=every_backend)
        assert ids.shape == values.shape == (n, min(2, m)) and values.dtype == np.float64
        np.testing.assert_array_equal(ids, np.broadcast_to(np.arange(min(2, m)), ids.shape))  # all scores 0
        np.testing.assert_array_equal(values, 0)

    @pytest.mark.parametrize("dtype, exponents", [(np.float32, (-146, -70, 0, 70, 125)),
                                                  (np.float64, (-1070, -520, 0, 520, 1021))])
    def test_cosine_of_tiny_and_huge_vectors(self, every_backend, dtype, exponents):
        """Regression (issue 7): float32 norms of 1e-20 scored inf; of 1e-45, NaN (never returned);
        (review) squared norms of 3e19 overflowed float32 and cosines came out 0."""
        for e in exponents:
            for f in exponents:
                queries, items = np.ldexp(np.array([[3.0, 4.0]], dtype), e), np.ldexp(np.eye(2, dtype=dtype), f)
                ids, values = call(turborec.topk_dot, queries, items, 2, normalize=True, backend=every_backend)
                np.testing.assert_array_equal(ids, [[1, 0]])
                np.testing.assert_allclose(values, [[0.8, 0.6]], rtol=1e-6)

    def test_empty_candidate_set(self, every_backend, rng):
        ids, values = call(turborec.topk_dot, rng.random((3, 2)), rng.random((4, 2)), 2, candidates=np.array([], int),
                           backend=every_backend)
        assert ids.shape == values.shape == (3, 0)

    @pytest.mark.parametrize("dtype", BAD_DTYPES)
    def test_wrong_dtypes(self, every_backend, dtype):
        bad, good = np.zeros((3, 4), dtype), np.zeros((3, 4))
        match = "{}: expected dtype float32 or float64, got"
        fails(TypeError, match.format("scores"), turborec.topk, bad, 2, backend=every_backend)
        fails(TypeError, match.format("queries"), turborec.topk_dot, bad, good, 2, backend=every_backend)
        fails(TypeError, match.format("items"), turborec.topk_dot, good, bad, 2, backend=every_backend)

    @pytest.mark.parametrize("bad, error, match", [
        (np.zeros(4), ValueError, "expected a 2-D array, got shape \\(4,\\)"),
        (np.zeros((2, 3, 4)), ValueError, "expected a 2-D array, got shape \\(2, 3, 4\\)"),
        (np.float64(1), ValueError, "expected a 2-D array, got shape \\(\\)"),
        ("abc", TypeError, "expected a 2-D array, got str"),
        (None, TypeError, "expected a 2-D array, got NoneType"),
        ([[1.0, 2.0], [3.0]], ValueError, "expected a rectangular array"),
        # issue 7: the mask was dropped and masked scores returned
        (np.ma.array(np.zeros((3, 4)), mask=True), TypeError, "masked arrays are not supported"),
        (sp.csr_matrix((3, 4)), TypeError, "expected a dense 2-D array"),
    ])
    def test_wrong_ndim_and_types(self, every_backend, bad, error, match):
        fails(error, f"scores: {match}", turborec.topk, bad, 2, backend=every_backend)
        fails(error, f"queries: {match}", turborec.topk_dot, bad, np.zeros((3, 4)), 2, backend=every_backend)

    @pytest.mark.parametrize("view", [
        lambda a: np.ascontiguousarray(a.T).T, lambda a: np.repeat(a, 3, axis=-1)[..., ::3],
        lambda a: a[::-1], "read-only",
    ], ids=["transposed", "strided", "reversed", "read-only"])
    def test_non_contiguous_and_read_only_inputs_work(self, every_backend, rng, view):
        def make(a):
            if view == "read-only":
                a = a.copy()
                a.flags.writeable = False
                return a
            return view(a)

        scores = make(self.scores(rng, 12, 18))
        exclude = sp.random(*scores.shape, density=0.2, format="csr", random_state=2)
        assert_same(call(turborec.topk, scores, 4, exclude=exclude, backend=every_backend),
                    turborec.topk(scores.copy(), 4, exclude=exclude, backend="numpy"))
        queries, items = make(self.scores(rng, 8, 6)), make(self.scores(rng, 14, 6))
        got = call(turborec.topk_dot, queries, items, 3, candidates=make(np.arange(10)), normalize=True,
                   backend=every_backend)
        want = turborec.topk_dot(queries.copy(), items.copy(), 3, candidates=np.arange(10), normalize=True,
                                 backend="numpy")
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)

    @pytest.mark.parametrize("case", MALFORMED)
    def test_malformed_exclude(self, every_backend, rng, case):
        build, error, match = MALFORMED[case]
        scores = self.scores(rng, 3, 4)
        fails(error, match.format("exclude"), turborec.topk, scores, 2, exclude=build(), backend=every_backend)
        fails(error, match.format("exclude"), turborec.topk_dot, scores, self.scores(rng, 4, 4), 2, exclude=build(),
              backend=every_backend)

    def test_exclude_of_the_wrong_shape(self, every_backend):
        fails(ValueError, "exclude: expected shape \\(3, 4\\), got \\(4, 3\\)", turborec.topk, np.zeros((3, 4)), 2,
              exclude=sp.csr_matrix((4, 3)), backend=every_backend)

    @pytest.mark.parametrize("case", AWKWARD)
    def test_awkward_exclude_gives_the_reference_answer(self, every_backend, rng, case):
        exclude = AWKWARD[case]()
        clean = _clean(exclude, stored_only=True)  # values ignored: an explicit zero excludes too
        scores = self.scores(rng, 3, 4)
        for largest in (True, False):
            assert_same(call(turborec.topk, scores, 4, exclude=exclude, largest=largest, backend=every_backend),
                        turborec.topk(scores, 4, exclude=clean, largest=largest, backend="numpy"))
        items = self.scores(rng, 4, 4)
        got = call(turborec.topk_dot, scores, items, 3, exclude=exclude, backend=every_backend)
        want = turborec.topk_dot(scores, items, 3, exclude=clean, backend="numpy")
        np.testing.assert_array_equal(got[0], want[0])

    @pytest.mark.parametrize("k, error", BAD_K)
    def test_bad_k(self, every_backend, k, error):
        fails(error, "k: expected a positive int", turborec.topk, np.zeros((2, 3)), k, backend=every_backend)
        fails(error, "k: expected a positive int", turborec.topk_dot, np.zeros((2, 3)), np.zeros((4, 3)), k,
              backend=every_backend)

    @pytest.mark.parametrize("k", [2**31, 2**70, np.int8(2), np.uint64(3)])
    def test_awkward_k_gives_the_reference_answer(self, every_backend, rng, k):
        scores = self.scores(rng)
        assert_same(call(turborec.topk, scores, k, backend=every_backend), turborec.topk(scores, k, backend="numpy"))

    @pytest.mark.parametrize("n_threads, error", BAD_THREADS)
    def test_bad_n_threads(self, every_backend, n_threads, error):
        fails(error, "n_threads: expected", turborec.topk, np.zeros((2, 3)), 2, n_threads=n_threads,
              backend=every_backend)
        fails(error, "n_threads: expected", turborec.topk_dot, np.zeros((2, 3)), np.zeros((4, 3)), 2,
              n_threads=n_threads, backend=every_backend)

    @pytest.mark.parametrize("n_threads", [None, -1, 1, np.int64(2), np.uint8(3)])
    def test_awkward_n_threads_give_the_reference_answer(self, every_backend, rng, n_threads):
        scores = self.scores(rng)
        assert_same(call(turborec.topk, scores, 3, n_threads=n_threads, backend=every_backend),
                    turborec.topk(scores, 3, backend="numpy"))

    @pytest.mark.parametrize("backend_name, error, match", BAD_BACKENDS)
    def test_bad_backend_names(self, backend_name, error, match):
        fails(error, match, turborec.topk, np.zeros((2, 3)), 2, backend=backend_name)
        fails(error, match, turborec.topk_dot, np.zeros((2, 3)), np.zeros((4, 3)), 2, backend=backend_name)

    @pytest.mark.parametrize("value", NOT_BOOLS)
    def test_flags_must_be_bools(self, every_backend, value):
        fails(TypeError, "largest: expected a bool", turborec.topk, np.zeros((2, 3)), 2, largest=value,
              backend=every_backend)
        fails(TypeError, "normalize: expected a bool", turborec.topk_dot, np.zeros((2, 3)), np.zeros((4, 3)), 2,
              normalize=value, backend=every_backend)

    @pytest.mark.parametrize("candidates, error, match", [
        ([0, 4], IndexError, "item id 4 out of range \\[0, 4\\)"),
        ([-1, 2], IndexError, "item id -1 out of range"),
        (np.array([2**63], np.uint64), IndexError, "item id 9223372036854775808 out of range"),
        ([0.5], TypeError, "expected integer item ids, got dtype float64"),
        ([True], TypeError, "expected integer item ids, got dtype bool"),
        (["a"], TypeError, "expected integer item ids"),
        ([[0]], ValueError, "expected a 1-D array"),
        (3, ValueError, "expected a 1-D array"),
        ({1, 2}, ValueError, "expected a 1-D array"),
        ([[0], [1, 2]], ValueError, "expected a rectangular array"),
    ])
    def test_bad_candidates(self, every_backend, candidates, error, match):
        fails(error, f"candidates: {match}", turborec.topk_dot, np.zeros((2, 3)), np.zeros((4, 3)), 2,
              candidates=candidates, backend=every_backend)


# ---- metrics ----


RECS = np.array([[0, 1, 2], [3, 2, -1], [1, 0, 3]], np.int32)


class TestMetrics:
    FAMILY = "metrics"

    @staticmethod
    def relevant():
        return sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 1]]))

    def test_users_without_relevant_items_match_the_reference(self, every_backend):
        got = call(ranking_metrics, RECS, self.relevant(), (1, 3), per_user=True, backend=every_backend)
        want = ranking_metrics(RECS, self.relevant(), (1, 3), per_user=True, backend="numpy")
        assert got[0].keys() == want[0].keys()
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, equal_nan=True)
        assert np.isnan(got[1][1]).all() and not np.isnan(got[1][[0, 2], :, :-1]).any()

    @pytest.mark.parametrize("recs, relevant, error, match", [
        (np.zeros((0, 3), int), sp.csr_matrix((0, 4)), ValueError, "relevant: no user has a relevant item"),
        (np.zeros((3, 0), int), None, ValueError, "k: cutoff 1 exceeds the 0 recommendations"),
        (-np.ones((3, 3), int), sp.csr_matrix((3, 0)), ValueError, "relevant: no user has a relevant item"),
        # issue 7: item 2**32 + 1 was listed as int32 1 and its hit silently missed
        ([[2**32 + 1]], sp.csr_matrix(([1.0], [2**32 + 1], [0, 1]), shape=(1, 2**33)), ValueError,
         "relevant: 8589934592 columns do not fit the int32 ids"),
    ])
    def test_empty_and_oversized_inputs(self, every_backend, recs, relevant, error, match):
        relevant = self.relevant() if relevant is None else relevant
        fails(error, match, ranking_metrics, recs, relevant, 1, backend=every_backend)

    @pytest.mark.parametrize("recs, error, match", [
        (RECS.astype(np.float64), TypeError, "expected integer item ids, got dtype float64"),
        (RECS.astype(np.bool_), TypeError, "expected integer item ids, got dtype bool"),
        (RECS.astype(object), TypeError, "expected integer item ids, got dtype object"),
        (RECS.astype(np.complex64), TypeError, "expected integer item ids"),
        (RECS.astype(str), TypeError, "expected integer item ids"),
        (RECS[0], ValueError, "expected a 2-D array"),
        (RECS[None], ValueError, "expected a 2-D array"),
        ([[0, 1], [2]], ValueError, "expected a rectangular array"),
        (RECS.astype(np.int64) + 2**40, IndexError, "item id 1099511627779 out of range \\[0, 4\\)"),
        (RECS[:2], ValueError, "expected 3 rows"),
        (np.array([[0, 0, 1], [1, 2, 3], [0, 1, 2]]), ValueError, "an item appears twice"),
    ])
    def test_bad_recommended(self, every_backend, recs, error, match):
        fails(error, f"recommended: {match}", ranking_metrics, recs, self.relevant(), 2, backend=every_backend)

    @pytest.mark.parametrize("view", [lambda a: a.T.copy().T, lambda a: np.repeat(a, 2, axis=1)[:, ::2], "read-only",
                                      lambda a: a.astype(np.int64), lambda a: a.astype(np.uint16) * (a >= 0)],
                             ids=["fortran", "strided", "read-only", "int64", "uint16"])
    def test_awkward_recommended_gives_the_reference_answer(self, every_backend, view):
        if view == "read-only":
            recs = RECS.copy()
            recs.flags.writeable = False
        else:
            recs = view(RECS)
        got = call(ranking_metrics, recs, self.relevant(), (1, 2), per_user=True, backend=every_backend)
        want = ranking_metrics(np.ascontiguousarray(recs, np.int32), self.relevant(), (1, 2), per_user=True,
                               backend="numpy")
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, equal_nan=True)

    @pytest.mark.parametrize("case", [c for c in MALFORMED if "2-D sparse" not in c] + ["1-D sparse array"])
    def test_malformed_relevant(self, every_backend, case):
        build, error, match = MALFORMED[case]
        fails(error, match.format("relevant"), ranking_metrics, RECS, build(), 2, backend=every_backend)

    @pytest.mark.parametrize("case", AWKWARD)
    def test_awkward_relevant_gives_the_reference_answer(self, every_backend, case):
        relevant = AWKWARD[case]()
        clean = _clean(relevant, stored_only=False)  # duplicates summed, explicit zeros dropped
        got = call(ranking_metrics, RECS, relevant, (1, 3), per_user=True, backend=every_backend)
        want = ranking_metrics(RECS, clean, (1, 3), per_user=True, backend="numpy")
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, equal_nan=True)

    @pytest.mark.parametrize("k, error, match", [
        *[(k, error, "k: expected a positive int") for k, error in BAD_K if k != [3]],  # [3]: one cutoff
        ((2, 0), ValueError, "k: expected a positive int"),
        ([], ValueError, "k: expected at least one cutoff"),
        (4, ValueError, "k: cutoff 4 exceeds the 3 recommendations"),
        (2**31, ValueError, "k: cutoff 2147483648 exceeds the 3"),
        (2**70, ValueError, "k: cutoff 1180591620717411303424 exceeds"),  # issue 7: was an OverflowError
        (np.array([[1, 2]]), TypeError, "k: expected a positive int, got ndarray"),
    ])
    def test_bad_cutoffs(self, every_backend, k, error, match):
        fails(error, match, ranking_metrics, RECS, self.relevant(), k, backend=every_backend)

    @pytest.mark.parametrize("kwargs, error, match", [
        (dict(metrics=3), TypeError, "metrics: expected a str or a sequence of str, got int"),
        (dict(metrics=[["ndcg"]]), ValueError, "metrics: unknown"),
        (dict(metrics="ndgc"), ValueError, "metrics: unknown \\['ndgc'\\]"),
        *[(dict(per_user=value), TypeError, "per_user: expected a bool") for value in NOT_BOOLS],
        (dict(n_negatives=np.ones(2, int)), ValueError, "n_negatives: expected 3 integers, got shape \\(2,\\)"),
        (dict(n_negatives=5), ValueError, "n_negatives: expected 3 integers, got shape \\(\\)"),
        (dict(n_negatives=np.full(3, 5.0)), TypeError, "n_negatives: expected 3 integers, got dtype float64"),
        (dict(n_negatives=np.ones(3, bool)), TypeError, "n_negatives: expected 3 integers, got dtype bool"),
        (dict(n_negatives=[2**70] * 3), TypeError, "n_negatives: expected 3 integers, got dtype object"),
        (dict(n_negatives=[[1], [2, 3], [4]]), ValueError, "n_negatives: expected a rectangular array"),
        (dict(n_negatives=np.array([-3, 5, 5])), ValueError, "n_negatives: user 0 has -3 negatives"),
        # issue 7: 2**64 - 1 became -1 and the user's auc a silent NaN
        (dict(n_negatives=np.array([2**64 - 1, 5, 5], np.uint64)), ValueError, "n_negatives: 18446744073709551615 exceeds"),
    ])
    def test_bad_options(self, every_backend, kwargs, error, match):
        fails(error, match, ranking_metrics, RECS, self.relevant(), 2, backend=every_backend, **kwargs)

    @pytest.mark.parametrize("n_threads, error", BAD_THREADS)
    def test_bad_n_threads(self, every_backend, n_threads, error):
        fails(error, "n_threads: expected", ranking_metrics, RECS, self.relevant(), 2, n_threads=n_threads,
              backend=every_backend)

    @pytest.mark.parametrize("backend_name, error, match", BAD_BACKENDS)
    def test_bad_backend_names(self, backend_name, error, match):
        fails(error, match, ranking_metrics, RECS, self.relevant(), 2, backend=backend_name)

    @pytest.mark.parametrize("f, args, error, match", [
        (metrics.intra_list_diversity, (RECS, np.eye(4), 0), ValueError, "batch_size: expected a positive int"),
        # issue 7: a negative batch size skipped every list and returned NaN
        (metrics.intra_list_diversity, (RECS, np.eye(4), -1), ValueError, "batch_size: expected a positive int"),
        (metrics.intra_list_diversity, (RECS, np.eye(4), 1.5), TypeError, "batch_size: expected a positive int"),
        (metrics.intra_list_diversity, (RECS, np.ma.array(np.eye(4))), TypeError, "item_vectors: masked arrays"),
        (metrics.novelty, (RECS, ["a", "b", "c", "d"], 3), TypeError, "item_popularity: expected a 1-D array"),
        (metrics.novelty, (RECS, [[1, 2, 3, 4]], 3), ValueError, "item_popularity: expected a 1-D array"),
        (metrics.rmse, ([[1, 2]], [[1, 2]]), ValueError, "y_true: expected a 1-D array of numbers, got shape"),
        (metrics.mae, ([1], ["a"]), TypeError, "y_pred: expected a 1-D array of numbers"),
        (metrics.catalog_coverage, (RECS, True), TypeError, "n_items: expected a positive int"),
    ])
    def test_beyond_accuracy_and_rating_arguments(self, f, args, error, match):
        fails(error, match, f, *args)

    def test_backend_without_the_family_says_so(self):
        with pytest.raises(turborec.BackendUnavailableError, match="backend 'cupy' does not implement the 'metrics'"):
            call(ranking_metrics, RECS, self.relevant(), 2, backend="cupy")


# ---- similarity (issue 8) ----


def _summed(m):
    """A plain sorted float64 CSR of ``m``'s stored entries, duplicates summed (a stored zero is
    no entry)."""
    rows, cols, values = _entries(m)
    dense = np.zeros(m.shape)
    np.add.at(dense, (rows, cols), np.asarray(values, np.float64))
    return sp.csr_matrix(dense)


def _csr_state(m):
    return m.indptr, m.indices, m.data


class TestSimilarity:
    FAMILY = "similarity"
    X = sp.csr_matrix(np.array([[1.0, 0, 2, 0], [0, 1, 1, 0], [3, 0, 0, 1]]))

    @pytest.mark.parametrize("case", MALFORMED)
    def test_malformed_matrices(self, every_backend, case):
        build, error, match = MALFORMED[case]
        from turborec.similarity import topk_similarity

        for measure in ("cosine", "pearson", "adjusted_cosine"):  # the sparse kernel and the co-rated one
            fails(error, match.format("X"), topk_similarity, build(), 2, measure=measure, backend=every_backend)
        fails(error, match.format("A"), turborec.sparse_dot_topk, build(), self.X[:, :4], 2, backend=every_backend)
        fails(error, match.format("B"), turborec.sparse_dot_topk, self.X, build(), 2, backend=every_backend)

    @pytest.mark.parametrize("case", AWKWARD)
    @pytest.mark.parametrize("measure", ["dot", "jaccard"])
    def test_awkward_matrices_give_the_reference_answer(self, every_backend, case, measure):
        from turborec.similarity import topk_similarity

        matrix = AWKWARD[case]()
        clean = _summed(matrix)
        want = topk_similarity(clean, 3, measure=measure, backend="numpy")
        got = call(topk_similarity, matrix, 3, measure=measure, backend=every_backend)
        assert got.dtype == (np.float64 if _entries(matrix)[2].dtype == np.float64 else np.float32)
        assert_same(_csr_state(got), _csr_state(want.astype(got.dtype)))
        got = call(turborec.sparse_dot_topk, matrix, matrix, 3, normalize=True, backend=every_backend)
        want = turborec.sparse_dot_topk(clean, clean, 3, normalize=True, backend="numpy")
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_allclose(got.data, want.data, rtol=1e-6)

    @pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
    def test_non_finite_values_are_refused(self, every_backend, value):
        from turborec.similarity import bm25_weight, topk_similarity

        bad = sp.csr_matrix(np.array([[1.0, value], [0.0, 1.0]]))
        for measure in ("cosine", "pearson", "adjusted_cosine"):
            fails(ValueError, "X: contains NaN or inf", topk_similarity, bad, 1, measure=measure, backend=every_backend)
        fails(ValueError, "B: contains NaN or inf", turborec.sparse_dot_topk, bad[:1, :1], bad.T, 1,
              backend=every_backend)
        fails(ValueError, "X: contains NaN or inf", bm25_weight, bad)

    def test_huge_values_overflow_to_no_entry_not_a_crash(self, every_backend):
        """Finite float32 values whose products overflow: inf is a score, inf - inf (NaN) is none.
        Where NaN appears depends on the order of the sums, so the compiled backends (which sum in
        the same order) must agree and no backend may return NaN; the reference sums by BLAS."""
        big = sp.csr_matrix(np.array([[3e38, 3e38], [3e38, -3e38]], np.float32))
        got = call(turborec.sparse_dot_topk, big, big, 2, backend=every_backend)
        assert got.shape == (2, 2) and not np.isnan(got.data).any() and np.isinf(got.data).any()
        if every_backend != "numpy":
            assert_same(_csr_state(got), _csr_state(turborec.sparse_dot_topk(big, big, 2, backend="native")))

    @pytest.mark.parametrize("dtype, exponents", [(np.float32, (-146, -70, 0, 70, 125)),
                                                  (np.float64, (-1070, -520, 0, 520, 1021))])
    def test_cosine_of_tiny_and_huge_rows(self, every_backend, dtype, exponents):
        """Like the selection family's (issue 7): sums of tiny values underflowed to 0 and scored
        NaN, huge ones overflowed; rows are scaled by powers of two, which cosine ignores."""
        from turborec.similarity import topk_similarity

        for e in exponents:
            for f in exponents:
                A = sp.csr_matrix(np.ldexp(np.array([[3.0, 4.0]], dtype), e))
                B = sp.csr_matrix(np.ldexp(np.array([[1.0, 0.0], [0.0, 1.0], [-3.0, -4.0]], dtype), f))
                got = call(turborec.sparse_dot_topk, A, B, 3, normalize=True, backend=every_backend)
                np.testing.assert_array_equal(got.indices, [1, 0, 2])
                np.testing.assert_allclose(got.data, [0.8, 0.6, -1.0], rtol=1e-6)
                got = call(topk_similarity, sp.vstack([A, B]).tocsr(), 1, backend=every_backend)
                np.testing.assert_array_equal(got.indices, [2, 0, 0, 1])  # row 3 is -row 0: cosine -1 but shared
                np.testing.assert_allclose(got.data, [0.8, 0.6, 0.8, -0.6], rtol=1e-6)

    @pytest.mark.parametrize("k, error", BAD_K)
    def test_bad_k(self, every_backend, k, error):
        from turborec.similarity import topk_similarity

        fails(error, "k: expected a positive int", topk_similarity, self.X, k, backend=every_backend)
        fails(error, "k: expected a positive int", turborec.sparse_dot_topk, self.X, self.X, k, backend=every_backend)

    @pytest.mark.parametrize("n_threads, error", BAD_THREADS)
    def test_bad_n_threads(self, every_backend, n_threads, error):
        fails(error, "n_threads: expected", turborec.sparse_dot_topk, self.X, self.X, 2, n_threads=n_threads,
              backend=every_backend)

    @pytest.mark.parametrize("backend_name, error, match", BAD_BACKENDS)
    def test_bad_backend_names(self, backend_name, error, match):
        fails(error, match, turborec.sparse_dot_topk, self.X, self.X, 2, backend=backend_name)

    @pytest.mark.parametrize("value", NOT_BOOLS)
    def test_flags_must_be_bools(self, every_backend, value):
        for flag in ("normalize", "exclude_self"):
            fails(TypeError, f"{flag}: expected a bool", turborec.sparse_dot_topk, self.X, self.X, 2,
                  backend=every_backend, **{flag: value})

    def test_backend_without_the_family_says_so(self):
        with pytest.raises(turborec.BackendUnavailableError,
                           match="backend 'cuda' does not implement the 'similarity'"):
            call(turborec.sparse_dot_topk, self.X, self.X, 2, backend="cuda")
