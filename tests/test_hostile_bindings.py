"""The raw bindings (``turborec._native``) given inconsistent arrays (issue 7, "never a crash"):
the last line of defence for callers that skip the Python layer. Each case raises a ValueError or
TypeError naming the argument and leaves its inputs unchanged (``call`` from test_hostile.py)."""

import numpy as np
import pytest

from test_hostile import call, fails
from turborec import _native
from turborec._threads import _MAX_THREADS
from turborec.metrics import RANKING_METRICS
from turborec.selection import dot_plan, row_plan


def _topk_args(**changes):
    plan = row_plan(2)
    args = dict(scores=np.arange(8, dtype=np.float32).reshape(2, 4), exclude_indptr=np.array([0, 2, 4], np.int32),
                exclude_indices=np.array([0, 1, 2, 3], np.int32), k=2, largest=True, chunk=plan.chunk,
                capacity=plan.capacity, n_threads=1, out_ids=np.empty((2, 2), np.int32),
                out_values=np.empty((2, 2), np.float32))
    return {**args, **changes}


def _topk_dot_args(**changes):
    block_rows, block_items, capacity, segments = dot_plan(2, 2, np.float32)
    args = dict(queries=np.ones((2, 3), np.float32), items=np.ones((4, 3), np.float32),
                exclude_indptr=np.array([0, 2, 4], np.int32), exclude_indices=np.array([0, 1, 2, 3], np.int32),
                query_scale=None, item_scale=None, k=2, block_rows=block_rows, block_items=block_items,
                capacity=capacity, segments=segments, n_threads=1, out_ids=np.empty((2, 2), np.int32),
                out_values=np.empty((2, 2), np.float32))
    return {**args, **changes}


def _metrics_args(**changes):
    args = dict(recs=np.array([[0, 1, 2], [3, 2, -1]], np.int32), relevant_indptr=np.array([0, 2, 4], np.int32),
                relevant_indices=np.array([0, 1, 2, 3], np.int32), n_negatives=None, cutoffs=np.array([1, 3]),
                n_threads=1, out=np.empty((2, 2, len(RANKING_METRICS))))
    return {**args, **changes}


def _frozen(shape, dtype):
    a = np.zeros(shape, dtype)
    a.flags.writeable = False
    return a


# Malformed exclusion / relevance CSRs of 2 rows with 4 stored indices, for either binding.
def _bad_csr(name):
    return [
        # issue 7: a middle entry past nnz ([0, 1000, 4] with 4 indices) used to segfault
        (dict(indptr=np.array([0, 1000, 4], np.int32)), ValueError, f"{name}.indptr: must never decrease"),
        (dict(indptr=np.array([0, 4], np.int32)), ValueError, f"{name}.indptr: expected length n_rows \\+ 1 = 3, got 2"),
        (dict(indptr=np.array([0, 2, 4, 4], np.int32)), ValueError, f"{name}.indptr: expected length"),
        (dict(indptr=np.array([1, 2, 4], np.int32)), ValueError, f"{name}.indptr: must start at 0"),
        (dict(indptr=np.array([0, 2, 9], np.int32)), ValueError, f"{name}.indptr: last entry exceeds nnz"),
        (dict(indptr=np.array([0, 2, 4], np.int64)), TypeError, f"{name}.indices: expected dtype int64, got int32"),
        (dict(indptr=np.array([0.0, 2, 4])), TypeError, f"{name}.indptr: expected dtype int32, got float64"),
        (dict(indptr=np.array([[0, 2, 4]], np.int32)), ValueError, f"{name}.indptr: expected 1-D array"),
        (dict(indices=np.array([-1, 0, 2, 3], np.int32)), ValueError, f"{name}.indices: -1 out of range"),
        (dict(indices=np.array([1, 0, 2, 3], np.int32)), ValueError, f"{name}.indices: must be sorted within each row"),
        (dict(indices=np.arange(8, dtype=np.int32)[::2]), ValueError, f"{name}.indices: expected a C-contiguous"),
        (dict(indices=None), ValueError, f"{name}: give indptr and indices, or neither"),
    ]


def _with_csr(prefix, case):
    changes, error, match = case
    return {f"{prefix}_{k}": v for k, v in changes.items()}, error, match


def _outputs(n, k, dtype=np.float32):
    return [
        (dict(out_ids=np.empty((n, k + 1), np.int32)), ValueError, "out_ids/out_values: expected shape"),
        (dict(out_values=np.empty((n + 1, k), dtype)), ValueError, "out_ids/out_values: expected shape"),
        (dict(out_ids=np.empty((n, k), np.int64)), TypeError, "out_ids: expected dtype int32"),
        (dict(out_values=np.empty((n, k), np.float16)), TypeError, "out_values: expected dtype"),
        (dict(out_ids=_frozen((n, k), np.int32)), ValueError, "out_ids: array is read-only"),
        (dict(out_values=_frozen((n, k), dtype)), ValueError, "out_values: array is read-only"),
        (dict(out_values=np.empty((k, n), dtype).T), ValueError, "out_values: expected a C-contiguous"),
        (dict(out_ids=np.empty(n * k, np.int32)), ValueError, "out_ids: expected 2-D array"),
        (dict(out_ids=None), TypeError, "incompatible function arguments"),
        # issue 7: 100000 threads crashed OpenMP
        (dict(n_threads=100000), ValueError, f"n_threads: expected 1 to {_MAX_THREADS}"),
        (dict(n_threads=0), ValueError, "n_threads: expected 1 to"),
        (dict(n_threads=2**31), TypeError, "incompatible function arguments"),
        (dict(n_threads=1.5), TypeError, "incompatible function arguments"),
        (dict(k=0, out_ids=np.empty((n, 0), np.int32), out_values=np.empty((n, 0), dtype)), ValueError,
         "k must be in \\[1, m\\]"),
        (dict(k=5, out_ids=np.empty((n, 5), np.int32), out_values=np.empty((n, 5), dtype)), ValueError,
         "k must be in \\[1, m\\]"),
        (dict(k=-1), ValueError, "expected shape \\(n, k\\) = \\(2, -1\\)"),
    ]


RAW_TOPK = [
    *[_with_csr("exclude", case) for case in _bad_csr("exclude")],
    *_outputs(2, 2),
    (dict(scores=np.zeros((2, 4), np.float16)), TypeError, "scores: expected dtype float32, got float16"),
    (dict(scores=np.zeros((2, 4), np.int32)), TypeError, "scores: expected dtype float32, got int32"),
    (dict(scores=np.zeros((2, 4))), TypeError, "out_values: expected dtype float64, got float32"),
    (dict(scores=np.zeros(8, np.float32)), ValueError, "scores: expected 2-D array"),
    (dict(scores=np.zeros((4, 2), np.float32).T), ValueError, "scores: expected a C-contiguous"),
    (dict(chunk=0), ValueError, "chunk: expected 1 to"),
    (dict(capacity=2), ValueError, "capacity > k"),
    (dict(capacity=2**40), ValueError, "capacity: expected 1 to"),
    (dict(chunk=2**62), ValueError, "chunk: expected 1 to"),
    # issue 7: None was taken for False and silently gave the smallest scores
    (dict(largest=None), TypeError, "incompatible function arguments"),
    (dict(largest=2), TypeError, "incompatible function arguments"),
]

RAW_TOPK_DOT = [
    *[_with_csr("exclude", case) for case in _bad_csr("exclude")],
    *_outputs(2, 2),
    (dict(query_scale=np.ones(2, np.float32)), ValueError, "query_scale/item_scale: give both or neither"),
    (dict(item_scale=np.ones(4, np.float32)), ValueError, "query_scale/item_scale: give both or neither"),
    (dict(query_scale=np.ones(3, np.float32), item_scale=np.ones(4, np.float32)), ValueError,
     "query_scale/item_scale: expected one entry per query / item"),
    (dict(query_scale=np.ones(2, np.float32), item_scale=np.ones(5, np.float32)), ValueError,
     "query_scale/item_scale: expected one entry per query / item"),
    (dict(query_scale=np.ones(2), item_scale=np.ones(4)), TypeError, "query_scale: expected dtype float32"),
    (dict(query_scale=np.ones((2, 1), np.float32), item_scale=np.ones(4, np.float32)), ValueError,
     "query_scale: expected 1-D"),
    (dict(items=np.ones((4, 2), np.float32)), ValueError, "items: expected the same number of columns as queries"),
    (dict(items=np.ones((4, 3))), TypeError, "items: expected dtype float32, got float64"),
    (dict(queries=np.ones((3, 2), np.float32).T), ValueError, "queries: expected a C-contiguous"),
    (dict(block_rows=0), ValueError, "block_rows: expected 1 to"),
    (dict(block_items=0), ValueError, "block_items: expected 1 to"),
    (dict(capacity=2), ValueError, "capacity > k"),
    # issue 7: overflowed the buffer sizes into an unnamed "vector::reserve" error
    (dict(block_rows=2**62), ValueError, "block_rows: expected 1 to"),
    (dict(block_items=2**62, capacity=2**62), ValueError, "block_items: expected 1 to"),
]

RAW_METRICS = [
    *[_with_csr("relevant", case) for case in _bad_csr("relevant")[:-1]],  # both arrays required here
    (dict(relevant_indices=None), TypeError, "incompatible function arguments"),
    (dict(cutoffs=np.array([3, 1])), ValueError, "cutoffs must be increasing and within \\[1, width\\]"),
    (dict(cutoffs=np.array([1, 4])), ValueError, "cutoffs must be increasing and within"),
    (dict(cutoffs=np.array([0, 3])), ValueError, "cutoffs must be increasing and within"),
    (dict(cutoffs=np.array([2, 2])), ValueError, "cutoffs must be increasing and within"),
    (dict(cutoffs=np.array([], np.int64), out=np.empty((2, 0, 7))), ValueError, "need at least one cutoff"),
    (dict(cutoffs=np.array([1, 3], np.int32)), TypeError, "cutoffs: expected dtype int64, got int32"),
    (dict(n_negatives=np.array([5])), ValueError, "n_negatives: expected one entry per user"),
    (dict(n_negatives=np.array([5, 5], np.int32)), TypeError, "n_negatives: expected dtype int64, got int32"),
    (dict(recs=np.array([[0, 1, 2], [3, 2, -1]])), TypeError, "recs: expected dtype int32, got int64"),
    (dict(recs=np.zeros(6, np.int32)), ValueError, "recs: expected 2-D array"),
    (dict(out=np.empty((2, 2, 6))), ValueError, "out: expected shape \\(n_users, n_cutoffs, 7\\)"),
    (dict(out=np.empty((3, 2, 7))), ValueError, "out: expected shape"),
    (dict(out=np.empty((2, 2, 7), np.float32)), TypeError, "out: expected dtype float64"),
    (dict(out=_frozen((2, 2, 7), np.float64)), ValueError, "out: array is read-only"),
    (dict(out=np.empty((7, 2, 2)).T), ValueError, "out: expected a C-contiguous"),
    (dict(n_threads=100000), ValueError, f"n_threads: expected 1 to {_MAX_THREADS}"),  # issue 7: crashed OpenMP
    (dict(n_threads=-1), ValueError, "n_threads: expected 1 to"),
]


@pytest.mark.parametrize("binding, args, cases", [
    (_native.topk, _topk_args, RAW_TOPK), (_native.topk_dot, _topk_dot_args, RAW_TOPK_DOT),
    (_native.ranking_metrics, _metrics_args, RAW_METRICS),
], ids=["topk", "topk_dot", "ranking_metrics"])
def test_raw_bindings_refuse_inconsistent_arrays(binding, args, cases):
    call(binding, **args())  # the base case runs
    for changes, error, match in cases:
        fails(error, match, binding, **args(**changes))


def test_raw_bindings_accept_what_the_python_layer_passes_for_empty_rows():
    """n = 0 and d = 0 run; the Python layer never passes m = 0 (k would be 0)."""
    for changes in (dict(scores=np.zeros((0, 4), np.float32), exclude_indptr=np.array([0], np.int32),
                         exclude_indices=np.zeros(0, np.int32), out_ids=np.empty((0, 2), np.int32),
                         out_values=np.empty((0, 2), np.float32)), dict(exclude_indptr=None, exclude_indices=None)):
        call(_native.topk, **_topk_args(**changes))
    out = _topk_dot_args(queries=np.ones((2, 0), np.float32), items=np.ones((4, 0), np.float32))
    call(_native.topk_dot, **out)
    np.testing.assert_array_equal(out["out_ids"], [[2, 3], [0, 1]])  # all scores 0, the rest excluded


def test_thread_limit_is_one_fact():
    assert _native.MAX_THREADS == _MAX_THREADS


BLAS_CASES = [
    ("_gemm_abt_f32", (np.ones((2, 3), np.float32), np.ones((4, 2), np.float32)), ValueError,
     "b: expected as many columns as a"),
    ("_gemm_abt_f32", (np.ones((2, 3), np.float32), np.ones((4, 3))), TypeError, "b: expected dtype float32"),
    ("_gemm_abt_f64", (np.ones(3), np.ones((4, 3))), ValueError, "a: expected 2-D array"),
    ("_gemm_abt_f64", (np.ones((3, 2)).T, np.ones((4, 3))), ValueError, "a: expected a C-contiguous"),
    ("_syrk_ata_f32", (np.ones(3, np.float32),), ValueError, "a: expected 2-D array"),
    ("_syrk_ata_f64", (np.ones((3, 2), np.float32),), TypeError, "a: expected dtype float64"),
    ("_gemv_f64", (np.ones((3, 2)), np.ones(3)), ValueError, "x: expected one entry per column of a"),
    ("_gemv_f64", (np.ones((3, 2)), np.ones((2, 1))), ValueError, "x: expected 1-D array"),
    ("_gemv_f32", (np.ones((3, 2), np.float32), np.ones(2)), TypeError, "x: expected dtype float32"),
    ("_potrf_f64", (np.ones((3, 2)),), ValueError, "a: expected a square matrix"),
    ("_potrf_f32", (np.ones(3, np.float32),), ValueError, "a: expected 2-D array"),
    ("_posv_f64", (np.eye(3), np.ones((2, 2))), ValueError, "a, b: expected a \\(d, d\\) and b \\(nrhs, d\\)"),
    ("_posv_f64", (np.ones((3, 2)), np.ones((2, 2))), ValueError, "a, b: expected"),
    ("_posv_f64", (np.eye(3), np.ones((2, 3), np.float32)), TypeError, "b: expected dtype float64"),
    ("_posv_f32", (np.eye(3, dtype=np.float32)[:, ::-1], np.ones((2, 3), np.float32)), ValueError,
     "a: expected a C-contiguous"),
]


@pytest.mark.parametrize("hook, args, error, match", BLAS_CASES)
def test_blas_hooks_refuse_mismatched_shapes(hook, args, error, match):
    fails(error, match, getattr(_native, hook), *args)


@pytest.mark.parametrize("hook, args, want", [
    ("_gemm_abt_f64", (np.ones((0, 3)), np.ones((4, 3))), np.zeros((0, 4))),
    ("_gemm_abt_f64", (np.ones((2, 0)), np.ones((4, 0))), np.zeros((2, 4))),
    ("_syrk_ata_f64", (np.ones((0, 3)),), np.zeros((3, 3))),
    ("_gemv_f64", (np.ones((3, 0)), np.ones(0)), np.zeros(3)),
    ("_potrf_f64", (np.ones((0, 0)),), np.zeros((0, 0))),
])
def test_blas_hooks_on_empty_shapes(hook, args, want):
    got = call(getattr(_native, hook), *args)
    np.testing.assert_array_equal(got[0] if isinstance(got, tuple) else got, want)
