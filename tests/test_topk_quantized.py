"""topk_dot over item segments (a small batch split across threads, issue 11) and
topk_dot_quantized (int8 item table, exact re-rank) on every host backend against the reference."""

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from conformance import KernelConformance
from turborec import _native
from turborec.selection import QUANTIZED_PANEL, dot_plan, quantize_items, quantize_queries

FAMILY = "selection"


def random_exclude(rng, n, m, density):
    return sp.csr_matrix((rng.random((n, m)) < density).astype(np.float32))


def exact_top(queries, items, k, exclude=None):
    """The reference top-k of the exact scores (float64 sums in order of f, as the re-rank)."""
    scores = np.zeros((len(queries), len(items)))
    for f in range(items.shape[1]):
        scores += queries[:, f, None].astype(np.float64) * items[None, :, f].astype(np.float64)
    scores = scores.astype(np.float32)
    if exclude is not None:
        scores[exclude.toarray() != 0] = -np.inf
    return turborec.topk(scores, k, backend="numpy")


class TestTopkDotQuantizedConformance(KernelConformance):
    """Approximate and exact scores are sums in a fixed order, so every backend equals the
    reference bit for bit."""

    FAMILY = "selection"
    DTYPES = (np.float32,)

    def make(self, rng, dtype, n, m, k=10):
        return dict(queries=rng.standard_normal((n, 8)).astype(dtype),
                    table=quantize_items(rng.standard_normal((m, 8)).astype(dtype)), k=k,
                    exclude=random_exclude(rng, n, m, 0.05), oversample=int(1 + m % 3))

    def call(self, inputs, backend, n_threads=None):
        return turborec.topk_dot_quantized(**inputs, backend=backend, n_threads=n_threads)


# ---- a small batch: the items split into segments, the lists merged ----


def test_a_small_batch_splits_the_items_into_segments():
    assert dot_plan(1, 10, np.float32).segments == 4
    assert dot_plan(20, 10, np.float32).segments == 2
    assert dot_plan(300, 10, np.float32).segments == 1


@pytest.mark.parametrize("n", [1, 3, 40])
def test_topk_dot_of_a_small_batch_is_the_same_for_1_2_3_threads(host_backend, rng, n):
    # integer factors: exact products, so the reference (one product) is matched bit for bit
    queries = rng.integers(-4, 5, size=(n, 16)).astype(np.float32)
    items = rng.integers(-4, 5, size=(20_000, 16)).astype(np.float32)
    exclude = random_exclude(rng, n, len(items), 0.01)
    want = turborec.topk_dot(queries, items, 25, exclude=exclude, backend="numpy")
    for threads in (1, 2, 3):
        got = turborec.topk_dot(queries, items, 25, exclude=exclude, backend=host_backend, n_threads=threads)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_topk_dot_segments_on_real_valued_scores(host_backend, rng):
    """Real-valued scores: the tiles are the same for every split, so threads change no bit."""
    queries = rng.standard_normal((2, 64)).astype(np.float32)
    items = rng.standard_normal((9_000, 64)).astype(np.float32)
    runs = [turborec.topk_dot(queries, items, 10, backend=host_backend, n_threads=t) for t in (1, 2, 3)]
    for ids, values in runs[1:]:
        np.testing.assert_array_equal(ids, runs[0][0])
        np.testing.assert_array_equal(values, runs[0][1])
    want = turborec.topk_dot(queries, items, 10, backend="numpy")
    np.testing.assert_array_equal(runs[0][0], want[0])
    np.testing.assert_allclose(runs[0][1], want[1], rtol=1e-5)


def test_topk_dot_segment_ties_go_to_the_lower_id(host_backend):
    # equal scores in every segment: the merge keeps the lowest ids
    queries = np.ones((1, 4), np.float32)
    items = np.ones((5_000, 4), np.float32)
    ids, values = turborec.topk_dot(queries, items, 7, backend=host_backend, n_threads=2)
    np.testing.assert_array_equal(ids[0], np.arange(7))
    np.testing.assert_array_equal(values[0], 4)


# ---- topk_dot_quantized ----


@pytest.mark.parametrize("n, m, d, k, oversample", [(1, 20_000, 64, 10, 4), (3, 5_000, 33, 7, 2),
                                                    (40, 1_000, 65, 10, 3), (2, 130, 8, 5, 1)])
def test_quantized_matches_reference_for_1_2_3_threads(host_backend, rng, n, m, d, k, oversample):
    queries = rng.standard_normal((n, d)).astype(np.float32)
    items = (rng.standard_normal((m, d)) * np.linspace(0.1, 3, m)[:, None]).astype(np.float32)
    table = quantize_items(items)
    exclude = random_exclude(rng, n, m, 0.02)
    want = turborec.topk_dot_quantized(queries, table, k, exclude=exclude, oversample=oversample, backend="numpy")
    for threads in (1, 2, 3):
        got = turborec.topk_dot_quantized(queries, table, k, exclude=exclude, oversample=oversample,
                                          backend=host_backend, n_threads=threads)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_quantized_with_every_item_a_candidate_is_the_exact_top_k(every_backend, rng):
    queries = rng.standard_normal((4, 16)).astype(np.float32)
    items = rng.standard_normal((300, 16)).astype(np.float32)
    exclude = random_exclude(rng, 4, 300, 0.1)
    for k in (300, 30):  # k = m, and k * oversample >= m
        got = turborec.topk_dot_quantized(queries, quantize_items(items), k, exclude=exclude, oversample=10,
                                          backend=every_backend)
        want = exact_top(queries, items, k, exclude)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_quantized_exact_scores_agree_with_topk_dot(every_backend, rng):
    queries = rng.standard_normal((5, 32)).astype(np.float32)
    items = rng.standard_normal((2_000, 32)).astype(np.float32)
    ids, values = turborec.topk_dot_quantized(queries, quantize_items(items), 10, backend=every_backend)
    np.testing.assert_allclose(values, np.take_along_axis(queries @ items.T, ids, axis=1), rtol=1e-5, atol=1e-5)


def test_quantized_all_excluded_but_k_and_fully_excluded_rows(every_backend, rng):
    m = 500
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    table = quantize_items(rng.standard_normal((m, 8)).astype(np.float32))
    keep = np.array([7, 100, 499])
    mask = np.ones((3, m), np.float32)
    mask[0, keep] = 0  # row 0: exactly k eligible; row 1: none; row 2: one
    mask[2, 42] = 0
    ids, values = turborec.topk_dot_quantized(queries, table, 3, exclude=sp.csr_matrix(mask), backend=every_backend)
    assert sorted(ids[0]) == keep.tolist() and np.isfinite(values[0]).all()
    np.testing.assert_array_equal(ids[1], -1)
    np.testing.assert_array_equal(values[1], -np.inf)
    np.testing.assert_array_equal(ids[2], [42, -1, -1])


def test_quantized_zero_rows_ties_and_empty_batches(every_backend):
    items = np.zeros((200, 6), np.float32)
    items[50] = items[150] = [1, 2, 3, 4, 5, 6]  # equal scores: the lower id first
    table = quantize_items(items)
    assert table.scales[0] == 0 and not table.codes[0, :, 0, :].any()
    queries = np.array([[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], np.float32)
    ids, values = turborec.topk_dot_quantized(queries, table, 4, backend=every_backend)
    np.testing.assert_array_equal(ids[0], [50, 150, 0, 1])
    np.testing.assert_array_equal(values[0], [21, 21, 0, 0])
    np.testing.assert_array_equal(ids[1], [0, 1, 2, 3])  # all scores 0: the lowest ids
    ids, values = turborec.topk_dot_quantized(np.zeros((0, 6), np.float32), table, 4, backend=every_backend)
    assert ids.shape == values.shape == (0, 4) and ids.dtype == np.int32 and values.dtype == np.float32


def test_quantize_items_layout_and_error_bound(rng):
    items = (rng.standard_normal((150, 10)) * rng.exponential(size=(150, 1))).astype(np.float32)
    items[3] = 0
    table = quantize_items(items)
    assert table.codes.shape == (3, 5, QUANTIZED_PANEL, 2) and table.codes.dtype == np.int8
    assert not any(a.flags.writeable for a in table)
    flat = table.codes.transpose(0, 2, 1, 3).reshape(-1, 10)  # item j's codes in row j
    assert not flat[150:].any()  # padding past the last item
    assert table.codes[140 // 64, 3, 140 % 64, 1] == flat[140, 7]  # features 6 and 7 are pair 3
    np.testing.assert_allclose(table.scales, np.abs(items).max(axis=1) / 127, rtol=1e-6)
    assert np.abs(flat[:150]).max() == 127
    error = np.abs(items - table.scales[:, None] * flat[:150])
    assert (error <= table.scales[:, None] * 0.5 * (1 + 1e-5) + 1e-30).all()
    np.testing.assert_array_equal(table.items, items)
    before = items.copy()
    items[0] = 99  # the table holds its own copy
    np.testing.assert_array_equal(table.items, before)


def test_quantized_odd_width_and_the_largest_integer_sums(every_backend, rng):
    """An odd d (a zero feature pads the last pair); d = 1501 with every code at +-127 and
    queries of one sign: the integer sums reach their bound and must not overflow int32."""
    d = 1501
    items = np.ones((300, d), np.float32)
    items[1::2] = -1
    items[8] *= 2  # the largest scale, the same codes
    queries = np.abs(rng.standard_normal((2, d))).astype(np.float32) + 1
    queries[1] *= -1
    table = quantize_items(items)
    assert table.codes.shape == (5, 751, QUANTIZED_PANEL, 2) and not table.codes[:, -1, :, 1].any()
    got = turborec.topk_dot_quantized(queries, table, 5, oversample=2, backend=every_backend)
    want = turborec.topk_dot_quantized(queries, table, 5, oversample=2, backend="numpy")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0][0, 0] == 8 and got[0][1, 0] == 1  # the largest positive item, the first negative one


def test_quantized_recall_on_random_tables(rng):
    """The share of the exact top-10 kept with the default oversample (docs/attention.md)."""
    queries = rng.standard_normal((50, 64)).astype(np.float32)
    items = rng.standard_normal((20_000, 64)).astype(np.float32)
    ids, _ = turborec.topk_dot_quantized(queries, quantize_items(items), 10)
    want, _ = exact_top(queries, items, 10)
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ids, want)])
    assert recall >= 0.95


def test_quantized_bad_input_is_a_clear_error(rng):
    items = rng.standard_normal((100, 8)).astype(np.float32)
    table = quantize_items(items)
    q = rng.standard_normal((2, 8)).astype(np.float32)
    cases = [
        (dict(queries=q.astype(np.float64)), TypeError, "queries: expected dtype float32"),
        (dict(queries=q[:, :5]), ValueError, "table.items: expected 5 columns"),
        (dict(queries=np.full((2, 8), np.nan, np.float32)), ValueError, "queries: contains NaN"),
        (dict(table=items), TypeError, "table: expected a QuantizedItems"),
        (dict(table=table._replace(codes=table.codes[:1])), ValueError, "table.codes: expected an int8 array"),
        (dict(table=table._replace(scales=-table.scales)), ValueError, "table.scales: expected finite values"),
        (dict(k=0), ValueError, "k: expected a positive int"),
        (dict(oversample=0), ValueError, "oversample: expected an int >= 1"),
        (dict(oversample=1.5), TypeError, "oversample: expected an int"),
        (dict(exclude=sp.csr_matrix((3, 100))), ValueError, "exclude"),
    ]
    for changes, error, match in cases:
        args = {**dict(queries=q, table=table, k=3), **changes}
        with pytest.raises(error, match=match):
            turborec.topk_dot_quantized(args.pop("queries"), args.pop("table"), args.pop("k"), **args)
    with pytest.raises(TypeError, match="items: expected dtype float32"):
        quantize_items(items.astype(np.float64))
    with pytest.raises(ValueError, match="items: contains NaN"):
        quantize_items(np.full((3, 2), np.inf, np.float32))


def test_quantized_raw_binding_refuses_inconsistent_arrays(rng):
    table = quantize_items(rng.standard_normal((100, 8)).astype(np.float32))
    plan = dot_plan(2, 8, np.float32)

    def args(**changes):
        base = dict(queries=np.ones((2, 8), np.float32), qcodes=np.ones((2, 8), np.int16), codes=table.codes, scales=table.scales, items=table.items,
                    exclude_indptr=None, exclude_indices=None, k=2, n_candidates=8, block_rows=plan.block_rows,
                    block_items=plan.block_items, capacity=plan.capacity, segments=plan.segments, n_threads=1,
                    out_ids=np.empty((2, 2), np.int32), out_values=np.empty((2, 2), np.float32))
        return {**base, **changes}

    _native.topk_dot_quantized(**args())
    for changes, error, match in [
        (dict(codes=np.ascontiguousarray(table.codes[:1])), ValueError, "codes: expected shape"),
        (dict(codes=np.ascontiguousarray(table.codes[:, :, :, 0])), ValueError, "codes: expected 4-D array"),
        (dict(qcodes=np.ones((2, 6), np.int16)), ValueError, "qcodes: expected shape"),
        (dict(qcodes=np.ones((2, 8), np.int32)), TypeError, "qcodes: expected dtype int16"),
        (dict(codes=table.codes.astype(np.int16)), TypeError, "codes: expected dtype int8"),
        (dict(scales=table.scales[:5]), ValueError, "scales: expected one entry per item"),
        (dict(queries=np.ones((2, 7), np.float32)), ValueError, "items: expected the same number of columns"),
        (dict(n_candidates=101), ValueError, "n_candidates: expected k <= n_candidates <= m"),
        (dict(n_candidates=1), ValueError, "n_candidates: expected k <= n_candidates <= m"),
        (dict(block_items=100), ValueError, "block_items: expected a multiple of 64"),
        (dict(capacity=8), ValueError, "capacity: expected more than n_candidates"),
        (dict(segments=0), ValueError, "segments: expected 1 to"),
        (dict(out_ids=np.empty((2, 3), np.int32)), ValueError, "out_ids/out_values: expected shape"),
    ]:
        with pytest.raises(error, match=match):
            _native.topk_dot_quantized(**args(**changes))


def test_the_gpu_backends_array_code_matches_the_reference_on_the_host(rng, monkeypatch):
    """``_gpu_tiles.topk_dot_quantized_rows`` (both GPU backends' implementation) is array code:
    run on NumPy arrays with the reference's dense topk, in blocks of a few rows, it must give the
    reference's bits (test_topk_gpu.py's conformance runs it on a device)."""
    from turborec.selection import _gpu_tiles, _numpy, _exclusion

    monkeypatch.setattr(_gpu_tiles, "TILE_BYTES", 3 * 4 * 700)  # three rows of scores per block
    queries = rng.standard_normal((8, 20)).astype(np.float32)
    items = rng.standard_normal((700, 20)).astype(np.float32)
    items[5] = items[9]  # an exact tie: the lower id first
    queries[0] = 0  # every score 0
    table = quantize_items(items)
    mask = rng.random((8, 700)) < 0.05
    mask[3] = True  # a fully excluded row
    exclude = sp.csr_matrix(mask.astype(np.float32))
    for k, oversample in ((10, 4), (700, 1), (3, 1)):
        want = turborec.topk_dot_quantized(queries, table, k, exclude=exclude, oversample=oversample, backend="numpy")
        ids, values = np.empty(want[0].shape, np.int32), np.empty(want[1].shape, np.float32)
        _gpu_tiles.topk_dot_quantized_rows(queries, quantize_queries(queries), table.codes, table.scales, table.items,
                                           _exclusion(exclude, (8, 700)), k, min(k * oversample, 700), ids, values,
                                           topk=_numpy.topk)
        np.testing.assert_array_equal(ids, want[0])
        np.testing.assert_array_equal(values, want[1])
