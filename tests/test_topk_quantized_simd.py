"""topk_dot_quantized's clones of the approximate scoring (baseline, AVX2, AVX-VNNI, AVX-512 VNNI;
issue 11, batch-1 latency) and its C++ query quantisation: every clone this CPU runs against the
NumPy reference bit for bit, on fresh random inputs and the edge cases (a partial last panel, an
odd number of features or pairs, k = m, all but k excluded, zero queries, ties, 1 and many
queries); the C++ codes equal ``quantize_queries``'."""

import numpy as np
import pytest
import scipy.sparse as sp

from turborec import _native
from turborec.selection import _numpy as reference, dot_plan, quantize_items, quantize_queries

LEVELS = _native.quantized_simd_levels()


def test_the_levels_name_the_clones_best_first():
    assert LEVELS[-1] == "baseline"
    assert set(LEVELS) <= {"avx512vnni", "avxvnni", "avx2", "baseline"}
    order = ["avx512vnni", "avxvnni", "avx2", "baseline"]
    assert LEVELS == sorted(LEVELS, key=order.index)


def _exclusion(mask):
    csr = sp.csr_matrix(mask.astype(np.float32))
    csr.sort_indices()
    return csr.indptr.astype(np.int64), csr.indices.astype(np.int64)


def _native_run(queries, table, k, n_candidates, exclude, simd, qcodes=None, n_threads=2):
    n = queries.shape[0]
    ids, values = np.empty((n, k), np.int32), np.empty((n, k), np.float32)
    _native.topk_dot_quantized(queries, qcodes, table.codes, table.scales, table.items, *exclude, k, n_candidates,
                               *dot_plan(n, n_candidates, np.float32), n_threads, ids, values, simd=simd)
    return ids, values


def _reference_run(queries, table, k, n_candidates, exclude):
    n = queries.shape[0]
    ids, values = np.empty((n, k), np.int32), np.empty((n, k), np.float32)
    reference.topk_dot_quantized(queries, quantize_queries(queries), table.codes, table.scales, table.items, exclude, k,
                                 n_candidates, dot_plan(n, n_candidates, np.float32), 1, ids, values)
    return ids, values


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n, m, d, k, n_candidates", [
    (1, 20_000, 64, 10, 40),   # one user's request, the width
    (5, 1_000, 63, 7, 21),     # odd d (a zero feature pads the last pair), a partial last panel (1000 = 15 * 64 + 40)
    (33, 700, 130, 10, 30),    # an odd number of pairs (65): the clones' tail pair
    (2, 64, 1, 3, 9),          # one feature, one full panel
    (3, 100, 2, 100, 100),     # k = m
    (1, 5, 16, 2, 5),          # fewer items than a panel
])
def test_every_clone_matches_the_reference(rng, level, n, m, d, k, n_candidates):
    queries = rng.standard_normal((n, d)).astype(np.float32)
    items = (rng.standard_normal((m, d)) * rng.uniform(0.1, 3, (m, 1))).astype(np.float32)
    table = quantize_items(items)
    exclude = _exclusion(rng.random((n, m)) < 0.05)
    want = _reference_run(queries, table, k, n_candidates, exclude)
    for threads in (1, 2):
        got = _native_run(queries, table, k, n_candidates, exclude, level, n_threads=threads)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("level", LEVELS)
def test_every_clone_with_all_but_k_excluded_ties_and_extreme_codes(rng, level):
    m, d, k = 300, 20, 4
    queries = rng.standard_normal((3, d)).astype(np.float32)
    queries[1] = 0  # a zero query: every approximate score 0, ties to the lower ids
    queries[2, 0] = 1e6  # one dominant feature: codes at +-16383 and 0
    items = rng.standard_normal((m, d)).astype(np.float32)
    items[100:200] = items[0]  # duplicates: equal scores
    items[5] = 127.0  # every code at 127
    items[6] = -127.0
    mask = np.ones((3, m), bool)
    mask[0, rng.choice(m, k, replace=False)] = False  # all but k excluded
    mask[1:, :] = rng.random((2, m)) < 0.1
    exclude = _exclusion(mask)
    table = quantize_items(items)
    want = _reference_run(queries, table, k, 2 * k, exclude)
    got = _native_run(queries, table, k, 2 * k, exclude, level)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_codes_computed_in_cpp_equal_codes_given(rng):
    queries = rng.standard_normal((4, 64)).astype(np.float32)
    table = quantize_items(rng.standard_normal((3_000, 64)).astype(np.float32))
    exclude = (None, None)
    given = _native_run(queries, table, 10, 40, exclude, "", qcodes=quantize_queries(queries))
    computed = _native_run(queries, table, 10, 40, exclude, "")
    np.testing.assert_array_equal(given[0], computed[0])
    np.testing.assert_array_equal(given[1], computed[1])


@pytest.mark.parametrize("n, d", [(50, 64), (7, 1), (9, 33), (3, 1100), (0, 8)])
def test_cpp_query_codes_are_quantize_queries(rng, n, d):
    # d = 1100: 550 pairs bring the largest code down to (2**31 - 1) // (127 * 1100) = 15371
    queries = (rng.standard_normal((n, d)) * 10.0 ** rng.integers(-30, 30, (n, 1))).astype(np.float32)
    if n > 1:
        queries[1] = 0  # an all-zero row: codes 0
        queries[0, :] = 0.5  # halves: round half to even
        queries[0, 0] = 3.0
    out = np.empty((n, 2 * ((d + 1) // 2)), np.int16)
    _native.quantize_queries(queries, out)
    np.testing.assert_array_equal(out, quantize_queries(queries))


def test_an_unknown_clone_or_bad_codes_are_errors(rng):
    queries = rng.standard_normal((1, 8)).astype(np.float32)
    table = quantize_items(rng.standard_normal((100, 8)).astype(np.float32))
    with pytest.raises(ValueError, match="simd: neon is not supported"):
        _native_run(queries, table, 2, 4, (None, None), "neon")
    with pytest.raises(TypeError, match="qcodes: expected dtype int16"):
        _native_run(queries, table, 2, 4, (None, None), "", qcodes=np.ones((1, 8), np.int32))
    with pytest.raises(ValueError, match="out: expected shape"):
        _native.quantize_queries(queries, np.empty((1, 9), np.int16))
    with pytest.raises(TypeError, match="queries: expected dtype float32"):
        _native.quantize_queries(queries.astype(np.float64), np.empty((1, 8), np.int16))
    for bad in (np.nan, np.inf):  # a NaN would slip past the peak and give undefined codes
        poisoned = queries.copy()
        poisoned[0, 3] = bad
        with pytest.raises(ValueError, match="queries: contains NaN or inf"):
            _native.quantize_queries(poisoned, np.empty((1, 8), np.int16))
        with pytest.raises(ValueError, match="queries: contains NaN or inf"):
            _native_run(poisoned, table, 2, 4, (None, None), "")
    with pytest.raises(TypeError, match="qcodes: expected a NumPy array, got list"):  # never a converted copy
        _native_run(queries, table, 2, 4, (None, None), "", qcodes=[[1] * 8])
