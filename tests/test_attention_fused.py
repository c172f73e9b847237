"""The native backend's fused forward pass (issue 11, batch-1 latency): ``encoder_forward`` runs
the same C++ pieces in the same order as the Python composition ``_encoder.forward``, so its
output has the same bits, and matches the numpy reference; its binding refuses bad blocks; the
BLAS pin around it leaves BLAS threading as it found it."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from turborec import _native
from turborec._threads import blas_single_thread
from turborec.attention import LINEAR_BLOCK_ROWS, SASRec, BERT4Rec
from turborec.attention import _encoder, _native as attention_native, _numpy as attention_numpy
from turborec.attention._encoder import Settings
from turborec.attention._weights import EncoderWeights

FAMILY = "attention"


def _state(rng, n_items, d, n_layers, inner, max_len, bert=False):
    """RecBole's parameter names to random float32 arrays."""

    def normal(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    state = {"item_embedding.weight": normal(n_items + bert, d, scale=0.5),
             "position_embedding.weight": normal(max_len, d, scale=0.5),
             "LayerNorm.weight": 1 + normal(d, scale=0.1), "LayerNorm.bias": normal(d, scale=0.1)}
    for i in range(n_layers):
        block = f"trm_encoder.layer.{i}."
        for part in ("query", "key", "value", "dense"):
            state[f"{block}multi_head_attention.{part}.weight"] = normal(d, d, scale=1.5 / np.sqrt(d))
            state[f"{block}multi_head_attention.{part}.bias"] = normal(d, scale=0.1)
        state[f"{block}feed_forward.dense_1.weight"] = normal(inner, d, scale=1 / np.sqrt(d))
        state[f"{block}feed_forward.dense_1.bias"] = normal(inner, scale=0.1)
        state[f"{block}feed_forward.dense_2.weight"] = normal(d, inner, scale=1 / np.sqrt(inner))
        state[f"{block}feed_forward.dense_2.bias"] = normal(d, scale=0.1)
        for ln in ("multi_head_attention.LayerNorm", "feed_forward.LayerNorm"):
            state[f"{block}{ln}.weight"] = 1 + normal(d, scale=0.1)
            state[f"{block}{ln}.bias"] = normal(d, scale=0.1)
    if bert:
        state.update({"output_ffn.weight": normal(d, d), "output_ffn.bias": normal(d),
                      "output_ln.weight": 1 + normal(d, scale=0.1), "output_ln.bias": normal(d, scale=0.1),
                      "output_bias": normal(n_items)})
    return state


def _problem(rng, n, width, d, n_layers, inner, dtype):
    weights = EncoderWeights(_state(rng, 50, d, n_layers, inner, width), lambda rows, d: {}, "SASRec")
    embedding_ln = tuple(weights.state[f"LayerNorm.{part}"].astype(dtype) for part in ("weight", "bias"))
    embeddings = (weights.state["item_embedding.weight"].astype(dtype),
                  weights.state["position_embedding.weight"].astype(dtype))
    blocks = [{key: tuple(a.astype(dtype) for a in value) if isinstance(value, tuple) else value.astype(dtype)
               for key, value in block.items()} for block in weights.blocks]
    lengths = rng.integers(1, width + 1, n).astype(np.int32)
    lengths[0] = width
    ids = rng.integers(1, 50, (n, width)).astype(np.int32) * (np.arange(width) < lengths[:, None])  # right-padded
    return ids.astype(np.int32), lengths, embeddings, blocks, embedding_ln


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,width,d,n_layers,inner,heads,causal,activation", [
    (1, 30, 64, 2, 256, 2, True, 1),     # the shape, one user
    (1, 1, 8, 1, 12, 1, True, 2),        # one item, one block, ReLU
    (7, 13, 16, 3, 24, 4, False, 1),     # BERT4Rec's bidirectional mask, three blocks
    (12, 50, 32, 2, 40, 2, True, 2),     # 600 rows: several row blocks of linear
])
def test_fused_forward_has_the_bits_of_the_composition(rng, dtype, n, width, d, n_layers, inner, heads, causal,
                                                       activation):
    ids, lengths, embeddings, blocks, embedding_ln = _problem(rng, n, width, d, n_layers, inner, dtype)
    settings = Settings(heads, causal, 1e-12, activation)
    for n_threads in (1, 2):
        fused = np.empty((n, d), dtype)
        attention_native.encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, None, n_threads, fused)
        composed = np.empty((n, d), dtype)
        with blas_single_thread():
            _encoder.forward(attention_native._RAW, ids, lengths, embeddings, blocks, embedding_ln, settings, None,
                             n_threads, composed)
        np.testing.assert_array_equal(fused, composed)
        reference = np.empty((n, d), dtype)
        attention_numpy.encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, None, 1, reference)
        tolerance = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(fused, reference, rtol=tolerance, atol=tolerance * np.abs(reference).max())


@pytest.mark.parametrize("model_class", [SASRec, BERT4Rec])
def test_models_encode_alike_on_every_backend(rng, every_backend, model_class):
    bert = model_class is BERT4Rec
    model = model_class.from_recbole(_state(rng, 300, 32, 2, 48, 20, bert), n_heads=2)
    sequences = [rng.integers(1, 300, size) for size in (1, 5, 20, 27)]
    want = model.encode(sequences, backend="numpy")
    got = model.encode(sequences, backend=every_backend)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
    np.testing.assert_array_equal(model.recommend(sequences, backend=every_backend)[0],
                                  model.recommend(sequences, backend="numpy")[0])


def test_fused_binding_refuses_bad_blocks(rng):
    ids, lengths, (items, positions), blocks, (weight, bias) = _problem(rng, 2, 5, 8, 2, 12, np.float32)
    packed = [b["packed"] for b in blocks]
    out = np.empty((2, 8), np.float32)

    def call(blocks=packed, ids=ids, lengths=lengths, items=items, positions=positions, out=out, heads=2):
        _native.encoder_forward(ids, lengths, items, positions, blocks, weight, bias, heads, True, 1e-12, 1,
                                LINEAR_BLOCK_ROWS, 1, out)

    call()
    with pytest.raises(ValueError, match="blocks: expected at least one"):
        call(blocks=[])
    with pytest.raises(ValueError, match=r"blocks\[1\]: expected a tuple of 12 arrays"):
        call(blocks=[packed[0], packed[1][:11]])
    with pytest.raises(ValueError, match=r"blocks\[0\]\[6\]: expected a NumPy array"):
        call(blocks=[packed[0][:6] + (None,) + packed[0][7:]])
    with pytest.raises(ValueError, match=r"blocks\[1\]\[0\]: expected shape \(24, 8\), got \(24, 7\)"):
        call(blocks=[packed[0], (packed[1][0][:, :7].copy(),) + packed[1][1:]])
    with pytest.raises(TypeError, match=r"blocks\[0\]\[3\]: expected dtype float32"):
        call(blocks=[packed[0][:3] + (packed[0][3].astype(np.float64),) + packed[0][4:]])
    with pytest.raises(ValueError, match=r"lengths: 6 out of range \[1, 5\]"):
        call(lengths=np.array([1, 6], np.int32))
    with pytest.raises(ValueError, match=r"ids: 50 out of range \[0, 50\)"):
        call(ids=np.where(ids == ids.max(), 50, ids).astype(np.int32))
    with pytest.raises(ValueError, match=r"ids: -1 out of range"):
        call(ids=np.where(ids == ids.max(), -1, ids).astype(np.int32))
    with pytest.raises(TypeError, match="ids: expected dtype int32"):
        call(ids=ids.astype(np.int64))
    with pytest.raises(ValueError, match="positions: expected at least 5 rows"):
        call(positions=positions[:4])
    with pytest.raises(TypeError, match="positions: expected dtype float32"):
        call(positions=positions.astype(np.float64))
    with pytest.raises(ValueError, match="out: expected shape"):
        call(out=np.empty((2, 9), np.float32))
    with pytest.raises(ValueError, match="n_heads"):
        call(heads=3)
    with pytest.raises(ValueError, match="items: expected at least one column"):
        call(items=np.empty((50, 0), np.float32))


def test_blas_pin_is_one_thread_inside_and_restored_after(rng):
    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with blas_single_thread():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
    with pytest.raises(ZeroDivisionError):  # restored when the call fails too
        with blas_single_thread():
            1 / 0
    assert blas_threads() == before
    model = SASRec.from_recbole(_state(rng, 100, 16, 2, 24, 10), n_heads=2)
    model.recommend([rng.integers(1, 100, 8)], backend="native")
    assert blas_threads() == before


def test_softmax_exp_is_within_a_few_ulp():
    """Two keys with scores 0 and t: the output is the weight exp(t) / (1 + exp(t)) itself, so the
    vectorised exp of the softmax (float32) shows through, against float64 (few-ulp arithmetic
    around it: the sum and the division, half an ulp each)."""
    t = np.concatenate([np.linspace(-87, 0, 20001), -np.logspace(-6, 0, 200)]).astype(np.float32)
    n = len(t)
    q = np.ones((n, 1, 1), np.float32)
    k = np.zeros((n, 2, 1), np.float32)
    k[:, 1, 0] = t
    v = np.zeros((n, 2, 1), np.float32)
    v[:, 1, 0] = 1
    from turborec import attention as A

    got = A.masked_attention(q, k, v, np.full(n, 2), 1, causal=False, last_only=True, backend="native")[:, 0, 0]
    e = np.exp(t.astype(np.float64))
    want = (e / (1 + e)).astype(np.float32)
    ulps = np.abs(got.astype(np.float64) - e / (1 + e)) / np.spacing(want)
    assert ulps.max() <= 3, ulps.max()
    # Past -87 the weight is 0 (libm's expf gives a subnormal there: under 1.7e-38 either way).
    k[:, 1, 0] = np.linspace(-300, -87.5, n).astype(np.float32)
    got = A.masked_attention(q, k, v, np.full(n, 2), 1, causal=False, last_only=True, backend="native")
    assert np.all(got == 0)


def test_softmax_exp_keeps_attention_as_close_as_libm_float32(rng):
    """Scores spread over about +-100: the native float32 output is as close to a float64
    attention as the float32 reference (numpy's exp) is, within a factor of 2."""
    from turborec import attention as A

    for scale in (1, 4, 8):
        q, k, v = (rng.standard_normal((6, 64, 32)).astype(np.float32) * s for s in (scale, scale, 1))
        lengths = rng.integers(1, 65, 6)
        exact = A.masked_attention(*(a.astype(np.float64) for a in (q, k, v)), lengths, 2, backend="numpy")
        native = A.masked_attention(q, k, v, lengths, 2, backend="native")
        reference = A.masked_attention(q, k, v, lengths, 2, backend="numpy")
        assert np.abs(native - exact).max() <= 2 * np.abs(reference - exact).max() + 1e-7


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_one_sequence_batch_is_the_general_batch_row(rng, exclude_seen):
    """Batch's one-sequence path (recommend for one user) lays out and excludes as the general one:
    repeats once, the truncated items too, the padding id 0 always; the caller's array untouched."""
    from turborec.attention._sequences import Batch

    for size in (1, 7, 40):
        s = rng.integers(1, 30, size)  # repeats likely
        before = s.copy()
        one, two = Batch([s], None, 30, 12), Batch([s, s[:1]], None, 30, 12)
        np.testing.assert_array_equal(one.padded[0], two.padded[0, :one.lengths[0]])
        assert one.padded.dtype == np.int32 and one.lengths.dtype == np.int32 and one.lengths[0] == min(size, 12)
        np.testing.assert_array_equal(one.indptr, two.indptr[:2])
        indptr, indices = one.exclusion(30, exclude_seen)
        want_indptr, want_indices = two.exclusion(30, exclude_seen)
        assert indptr.dtype == indices.dtype == np.int64
        np.testing.assert_array_equal(indices, want_indices[:want_indptr[1]])
        np.testing.assert_array_equal(indptr, want_indptr[:2])
        np.testing.assert_array_equal(s, before)


def test_overlapping_pins_from_python_threads_restore_blas_threads(rng):
    """Python threads overlap inside the pin (the GIL is released in the kernels): BLAS stays on one
    thread while any of them runs and gets its own count back when the last one ends."""
    import threading

    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    model = SASRec.from_recbole(_state(rng, 200, 16, 2, 24, 30), n_heads=2)
    sequences = [rng.integers(1, 200, 30) for _ in range(8)]
    def one_by_one():
        return np.vstack([model.encode([s], backend="native") for s in sequences])

    want = one_by_one()
    results, errors = [None] * 4, []

    def serve(i):
        try:
            for _ in range(5):
                results[i] = one_by_one()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for got in results:
        np.testing.assert_array_equal(got, want)
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before
