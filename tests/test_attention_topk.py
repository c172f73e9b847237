"""``recommend`` in one ``encoder_topk`` dispatch (issue 11, batch-1 latency): on the native
backend the forward pass, the exclusion, the queries' int8 codes and the selection kernel are one
C++ call; numba and NumPy compose their own kernels. Each backend returns what the two-dispatch
path (``_forward`` then ``_top``) returns, bit for bit, with either item table, for one sequence
and many, with and without exclusions, k = n_items, all but k items excluded and tied scores;
backends agree with the NumPy reference; the binding refuses bad arrays."""

import numpy as np
import pytest

from turborec import _native
from turborec.attention import BERT4Rec, LINEAR_BLOCK_ROWS, SASRec
from turborec.attention._sequences import Batch, seen_exclusion
from turborec.selection import dot_plan

from test_attention_fused import _state

FAMILY = "attention"


def _model(rng, n_items=700, d=16, n_layers=2, inner=24, max_len=12, n_heads=2):
    return SASRec.from_recbole(_state(rng, n_items, d, n_layers, inner, max_len), n_heads=n_heads)


def _sequences(rng, n, n_items, max_len):
    return [rng.integers(1, n_items, int(rng.integers(1, 2 * max_len))) for _ in range(n)]


def _two_dispatches(model, sequences, k, exclude_seen, item_table, backend):
    """What recommend returned before encoder_topk: the forward pass, then _top."""
    batch = Batch(sequences, None, model.n_items, model.max_len)
    users = model._forward(batch, backend, None)
    return model._top(users, batch, k, exclude_seen, None, backend, None, item_table)


def test_recbole_sasrec_takes_the_one_dispatch_path_and_the_others_do_not(rng):
    assert _model(rng)._plain_encoder
    bert = BERT4Rec.from_recbole(_state(rng, 50, 8, 1, 12, 6, bert=True), n_heads=2)
    assert not bert._plain_encoder  # its head and its [MASK] input


@pytest.mark.parametrize("item_table", ["float32", "int8"])
@pytest.mark.parametrize("n", [1, 9])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_one_dispatch_equals_two(host_backend, rng, item_table, n, exclude_seen):
    model = _model(rng)
    sequences = _sequences(rng, n, model.n_items, model.max_len)
    want = _two_dispatches(model, sequences, 10, exclude_seen, item_table, host_backend)
    for threads in (1, 2):
        got = model.recommend(sequences, k=10, exclude_seen=exclude_seen, item_table=item_table,
                              backend=host_backend, n_threads=threads)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("item_table", ["float32", "int8"])
def test_k_of_every_item_and_all_but_k_excluded(host_backend, rng, item_table):
    model = _model(rng, n_items=40)
    everything = np.arange(1, 40)
    all_but_3 = np.setdiff1d(everything, [5, 17, 33])
    sequences = [rng.permutation(all_but_3), everything[:4]]
    for k in (3, 100):  # the three left; k past n_items: min(k, n_items) columns, -1 past the eligible
        want = _two_dispatches(model, sequences, k, True, item_table, host_backend)
        got = model.recommend(sequences, k=k, item_table=item_table, backend=host_backend)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert sorted(got[0][0][:3]) == [5, 17, 33]
    assert (got[0][0][3:] == -1).all() and np.isneginf(got[1][0][3:]).all()
    assert got[0].shape == (2, 40) and (got[0][1] >= 0).sum() == 40 - 5  # 0 and the 4 seen items never


@pytest.mark.parametrize("item_table", ["float32", "int8"])
def test_tied_scores_go_to_the_lower_id(host_backend, rng, item_table):
    state = _state(rng, 300, 8, 1, 12, 6)
    state["item_embedding.weight"][100:] = state["item_embedding.weight"][7]  # 200 copies of item 7
    model = SASRec.from_recbole(state, n_heads=2)
    sequences = [np.array([7]), np.array([3, 150])]
    want = _two_dispatches(model, sequences, 12, True, item_table, host_backend)
    got = model.recommend(sequences, k=12, item_table=item_table, backend=host_backend)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("item_table", ["float32", "int8"])
def test_backends_agree_with_the_reference(host_backend, rng, item_table):
    model = _model(rng, n_items=2_000, d=32, max_len=20)
    sequences = _sequences(rng, 6, model.n_items, model.max_len)
    want = model.recommend(sequences, k=10, item_table=item_table, backend="numpy")
    got = model.recommend(sequences, k=10, item_table=item_table, backend=host_backend)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)


def test_a_small_request_after_a_large_one_reuses_nothing_stale(rng):
    """The native forward keeps its scratch between calls: a pass after a larger one (whose
    values are still in it) and after a smaller one gives what it gave first."""
    model = _model(rng, max_len=30)
    small, large = _sequences(rng, 1, model.n_items, 30), _sequences(rng, 50, model.n_items, 30)
    first = model.recommend(small, k=10, backend="native")
    model.recommend(large, k=10, backend="native")
    again = model.recommend(small, k=10, backend="native")
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    np.testing.assert_array_equal(model.encode(large, backend="native"), model.encode(large, backend="native"))


def test_the_exclusion_is_built_like_the_batch_layouts(rng):
    sequences = [np.array([5, 3, 5, 9]), np.array([1]), np.array([2, 2])]
    indptr, seen = Batch(sequences, None, 10, 3).seen_csr()
    np.testing.assert_array_equal(indptr, [0, 4, 5, 7])
    ex_indptr, ex = seen_exclusion(indptr, seen, 10, True)
    np.testing.assert_array_equal(ex_indptr, [0, 4, 6, 8])
    np.testing.assert_array_equal(ex, [0, 3, 5, 9, 0, 1, 0, 2])
    ex_indptr, ex = seen_exclusion(indptr, seen, 10, False)
    np.testing.assert_array_equal(ex_indptr, [0, 1, 2, 3])
    np.testing.assert_array_equal(ex, [0, 0, 0])


def test_the_binding_refuses_bad_arrays(rng):
    model = _model(rng)
    batch = Batch(_sequences(rng, 2, model.n_items, model.max_len), None, model.n_items, model.max_len)
    table = model._int8_items
    s = model._settings

    def args(**changes):
        indptr, seen = batch.seen_csr()
        base = dict(ids=batch.padded, lengths=batch.lengths, seen_indptr=indptr, seen=seen, exclude_seen=True,
                    items=model._embeddings[0], positions=model._embeddings[1],
                    blocks=[p["packed"] for p in model._blocks], embedding_ln_weight=model._embedding_ln[0],
                    embedding_ln_bias=model._embedding_ln[1], n_heads=s.n_heads, causal=s.causal, eps=s.eps,
                    activation=s.activation, block_rows=LINEAR_BLOCK_ROWS, scored=table.items, codes=table.codes,
                    scales=table.scales, k=5, n_candidates=20, **dict(zip(("tile_rows", "tile_items", "capacity",
                                                                            "segments"), dot_plan(2, 20, np.float32))),
                    n_threads=1, out_ids=np.empty((2, 5), np.int32), out_values=np.empty((2, 5), np.float32))
        return {**base, **changes}

    _native.encoder_topk(**args())
    bad_indptr = np.array([0, 1, 99], np.int64)
    for changes, error, match in [
        (dict(seen=np.array([1, 2, 700, 4], np.int64), seen_indptr=np.array([0, 2, 4], np.int64)), ValueError,
         "seen: item 700 out of range"),
        (dict(seen_indptr=bad_indptr), ValueError, "seen_indptr: expected to end at the length of seen"),
        (dict(seen_indptr=np.array([0, 5, 1], np.int64)), ValueError, "seen_indptr: expected non-decreasing"),
        (dict(seen_indptr=np.array([0, 1], np.int64)), ValueError, "seen_indptr: expected n \\+ 1 entries"),
        (dict(seen=np.ones(3, np.int32)), TypeError, "seen: expected dtype int64"),
        (dict(scales=None), ValueError, "codes/scales: give both or neither"),
        (dict(codes=table.codes[:2].copy()), ValueError, "codes: expected shape"),
        (dict(scored=table.items[:, :8].copy()), ValueError, "scored: expected shape"),
        (dict(n_candidates=4), ValueError, "n_candidates: expected 1 <= k <= n_candidates <= m"),
        (dict(capacity=20), ValueError, "capacity: expected more than n_candidates"),
        (dict(out_ids=np.empty((2, 4), np.int32)), ValueError, "out_ids/out_values: expected shape"),
        (dict(ids=batch.padded + 10_000), ValueError, "ids: .* out of range"),
        (dict(items=model._embeddings[0].astype(np.float64)), TypeError, "items: expected dtype float32"),
    ]:
        with pytest.raises(error, match=match):
            _native.encoder_topk(**args(**changes))


# ---- masked_attention's key scoring: every clone, and the hidden keys' skip ----


def _clone_levels():
    here = _native.build_info()["simd_selected"]
    return ["baseline"] + {"avx512f": ["avx2", "avx512f"], "avx2": ["avx2"]}.get(here, [])


@pytest.mark.parametrize("level", _clone_levels())
@pytest.mark.parametrize("hs, count", [(32, 49), (1, 1), (7, 16), (64, 17), (3, 0)])
def test_every_key_scoring_clone_sums_in_order(rng, level, hs, count):
    """Each key's dot product in order of c, then / root: a loop of float32 operations gives the same bits."""
    ld = max(16, -(-count // 16) * 16)
    q = rng.standard_normal(hs).astype(np.float32)
    kt = rng.standard_normal((hs, ld)).astype(np.float32)
    kt[:, 0] = 0  # zero products
    root = np.float32(np.sqrt(np.float32(hs)))
    out = np.full(ld, np.nan, np.float32)
    _native.key_scores_clone(q, kt, count, root, level, out)
    acc = np.zeros(ld, np.float32)
    for c in range(hs):
        acc = acc + q[c] * kt[c]
    np.testing.assert_array_equal(out[:count], (acc / root)[:count])
    assert np.isnan(out[count:]).all()  # nothing written past count
    with pytest.raises(ValueError, match="level: neon is not supported"):
        _native.key_scores_clone(q, kt, count, root, "neon", out)


@pytest.mark.parametrize("scale", [1.0, 3e3])
def test_hidden_keys_are_skipped_only_where_their_weight_is_zero(rng, scale):
    """Scores near RecBole's -10000 mask (scale 3e3: dot products of 1e7) keep every key in the
    softmax; ordinary ones skip the hidden keys. Both match the NumPy reference."""
    from turborec.attention import masked_attention

    n, L, D = 3, 20, 8
    q, k, v = (rng.standard_normal((n, L, D)) * s for s in (scale, scale, 1.0))
    lengths = np.array([20, 7, 1])
    for dtype in (np.float32, np.float64):
        args = [a.astype(dtype) for a in (q, k, v)]
        want = masked_attention(*args, lengths, 2, causal=True, backend="numpy")
        got = masked_attention(*args, lengths, 2, causal=True, backend="native")
        np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_requests_from_several_python_threads_get_their_own_results(rng):
    """Each calling thread has its own kept forward scratch: concurrent requests (the GIL is
    released in the C++ call) return what they return one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    model = _model(rng, max_len=30)
    requests = [_sequences(rng, n, model.n_items, 30) for n in (1, 7, 1, 30, 2, 1, 12, 1)]
    want = [model.recommend(r, k=10, item_table=t, backend="native") for r, t in zip(requests, ["int8", "float32"] * 4)]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda a: model.recommend(a[0], k=10, item_table=a[1], backend="native", n_threads=1),
                                zip(requests, ["int8", "float32"] * 4)))
            for (gi, gv), (wi, wv) in zip(got, want):
                np.testing.assert_array_equal(gi, wi)
                np.testing.assert_array_equal(gv, wv)
