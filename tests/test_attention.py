"""The attention family: kernels on every backend against the numpy reference, SASRec parity with
a PyTorch forward of RecBole's architecture (committed fixtures; rerun live when torch is
importable), and bad input."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import turborec
from turborec import attention as A
from turborec.attention import BERT4Rec, SASRec

FAMILY = "attention"
FIXTURES = Path(__file__).parent / "fixtures"
CASES = ("sasrec_small", "sasrec_relu", "sasrec_recbole_shape", "bert4rec_small", "bert4rec_relu")
RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def _close(got, want, dtype):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * max(1.0, np.abs(want).max(initial=0)))


def _attention_problem(rng, dtype, n, L, D, heads):
    q, k, v = (rng.standard_normal((n, L, D)).astype(dtype) for _ in range(3))
    lengths = rng.integers(1, L + 1, n) if L else np.zeros(n, int)
    return q, k, v, lengths


# ---- kernels on every backend vs the reference ----


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (37, 16), (300, 64), (5, 257)])
def test_linear_matches_reference(backend, rng, dtype, shape):
    rows, d_in = shape
    x = rng.standard_normal((rows, d_in)).astype(dtype)
    w = rng.standard_normal((d_in + 3, d_in)).astype(dtype)
    b = rng.standard_normal(d_in + 3).astype(dtype)
    for activation in (None, "gelu", "relu"):
        for bias in (None, b):
            got = A.linear(x, w, bias, activation=activation, backend=backend)
            _close(got, A.linear(x, w, bias, activation=activation, backend="numpy"), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_and_layer_norm_match_reference(backend, rng, dtype):
    for rows, d in ((1, 1), (40, 16), (7, 300)):
        x = (rng.standard_normal((rows, d)) * 3).astype(dtype)
        _close(A.gelu(x, backend=backend), A.gelu(x, backend="numpy"), dtype)
        w, b = rng.standard_normal(d).astype(dtype), rng.standard_normal(d).astype(dtype)
        r = rng.standard_normal((rows, d)).astype(dtype)
        for residual in (None, r):
            for eps in (1e-12, 1e-5):
                got = A.layer_norm(x, w, b, eps=eps, residual=residual, backend=backend)
                _close(got, A.layer_norm(x, w, b, eps=eps, residual=residual, backend="numpy"), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,L,D,heads", [(1, 1, 4, 1), (6, 9, 16, 2), (3, 50, 64, 2), (4, 5, 12, 3)])
def test_masked_attention_matches_reference(backend, rng, dtype, n, L, D, heads):
    q, k, v, lengths = _attention_problem(rng, dtype, n, L, D, heads)
    lengths[0] = L  # a full sequence, and (when n > 1) one of length 1
    lengths[-1] = 1 if n > 1 else L
    for causal in (True, False):
        full = A.masked_attention(q, k, v, lengths, heads, causal=causal, backend="numpy")
        _close(A.masked_attention(q, k, v, lengths, heads, causal=causal, backend=backend), full, dtype)
        last_q = q[np.arange(n), lengths - 1][:, None, :]
        got = A.masked_attention(last_q, k, v, lengths, heads, causal=causal, last_only=True, backend=backend)
        _close(got[:, 0], full[np.arange(n), lengths - 1], dtype)  # last_only is the full pass's last row


def test_thread_count_does_not_change_results(host_backend, rng):
    x = rng.standard_normal((1000, 64)).astype(np.float32)
    w = rng.standard_normal((192, 64)).astype(np.float32)
    q, k, v, lengths = _attention_problem(rng, np.float32, 64, 20, 64, 2)
    for run in (lambda t: A.linear(x, w, activation="gelu", backend=host_backend, n_threads=t),
                lambda t: A.layer_norm(x, w[0], w[1], residual=x, backend=host_backend, n_threads=t),
                lambda t: A.masked_attention(q, k, v, lengths, 2, backend=host_backend, n_threads=t)):
        np.testing.assert_array_equal(run(1), run(2))


def test_non_contiguous_read_only_inputs_work_and_stay_unchanged(backend, rng):
    q, k, v, lengths = _attention_problem(rng, np.float64, 5, 8, 8, 2)
    want = A.masked_attention(q, k, v, lengths, 2, backend="numpy")
    strided = [np.repeat(a, 2, axis=2)[:, :, ::2] for a in (q, k, v)]
    for a in strided:
        a.flags.writeable = False
    before = [a.copy() for a in strided]
    np.testing.assert_array_equal(A.masked_attention(*strided, lengths, 2, backend=backend),
                                  A.masked_attention(q, k, v, lengths, 2, backend=backend))
    _close(A.masked_attention(*strided, lengths, 2, backend=backend), want, np.float64)
    for a, b in zip(strided, before):
        np.testing.assert_array_equal(a, b)


def test_empty_inputs_give_empty_outputs(every_backend):
    x = np.zeros((0, 5), np.float32)
    assert A.linear(x, np.ones((3, 5), np.float32), backend=every_backend).shape == (0, 3)
    assert A.gelu(x, backend=every_backend).shape == (0, 5)
    q = np.zeros((0, 4, 6), np.float32)
    assert A.masked_attention(q, q, q, np.zeros(0, int), 2, backend=every_backend).shape == (0, 4, 6)


# ---- the reference against hand-computed values ----


def test_reference_kernels_by_hand():
    x = np.array([[-1.0, 0.0, 2.0]])
    want = [[v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x[0]]]
    np.testing.assert_allclose(A.gelu(x, backend="numpy"), want, rtol=1e-15)
    s = x[0] + [1.0, 1.0, 1.0]
    normed = (s - s.mean()) / math.sqrt(s.var() + 1e-5)
    got = A.layer_norm(x, np.array([2.0, 2, 2]), np.array([1.0, 1, 1]), eps=1e-5, residual=np.ones((1, 3)),
                       backend="numpy")
    np.testing.assert_allclose(got[0], normed * 2 + 1, rtol=1e-14)
    # One head of size 4: scores divided by sqrt(4) = 2; a causal query at position 0 sees key 0 only.
    q = np.array([[[1.0, 0, 0, 0], [2.0, 0, 0, 0]]])
    k = np.array([[[1.0, 0, 0, 0], [3.0, 0, 0, 0]]])
    v = np.array([[[1.0, 0, 0, 0], [0.0, 1, 0, 0]]])
    out = A.masked_attention(q, k, v, [2], 1, backend="numpy")
    np.testing.assert_allclose(out[0, 0], v[0, 0], atol=1e-300)
    p = np.exp([2 * 1 / 2, 2 * 3 / 2])
    np.testing.assert_allclose(out[0, 1], (p / p.sum()) @ v[0], rtol=1e-14)
    # Length 1: key 1 is padding (additive -10000) even without the causal mask.
    out = A.masked_attention(q, k, v, [1], 1, causal=False, backend="numpy")
    np.testing.assert_allclose(out[0], [v[0, 0], v[0, 0]], atol=1e-300)


# ---- SASRec parity with the PyTorch reference (fixtures made by tools/make_attention_fixtures.py) ----


def _load_case(case):
    io = np.load(FIXTURES / f"attention_{case}_io.npz", allow_pickle=False)
    config = json.loads(str(io["config"]))
    sequences = np.split(io["ids"], io["indptr"][1:-1])
    return config, sequences, io


def _model_class(case):
    return BERT4Rec if case.startswith("bert4rec") else SASRec


def _assert_parity(got, want):
    """Max relative error <= 1e-5 in float32, relative to each row's largest entry."""
    assert got.dtype == np.float32 and got.shape == want.shape
    error = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)
    assert error.max() <= 1e-5, error.max()


@pytest.mark.parametrize("case", CASES)
def test_sasrec_matches_the_torch_reference_fixtures(every_backend, case):
    config, sequences, io = _load_case(case)
    model = _model_class(case).from_recbole(FIXTURES / f"attention_{case}_weights.npz", **config)
    _assert_parity(model.encode(sequences, backend=every_backend), io["encoded"])
    ids, scores = model.recommend(sequences, k=10, backend=every_backend)
    np.testing.assert_array_equal(ids, io["top10"])
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_sasrec_parity_on_a_padded_matrix_and_after_truncation():
    config, sequences, io = _load_case("sasrec_small")
    model = SASRec.from_recbole(FIXTURES / "attention_sasrec_small_weights.npz", **config)
    width = max(map(len, sequences))
    padded = np.zeros((len(sequences), width + 2), np.int64)
    for b, s in enumerate(sequences):
        padded[b, :len(s)] = s
    lengths = np.array([len(s) for s in sequences])
    _assert_parity(model.encode(padded, lengths=lengths), io["encoded"])
    # Sequences past max_len keep their most recent items (fixtures hold some).
    assert lengths.max() > model.max_len
    recent = [s[-model.max_len:] for s in sequences]
    np.testing.assert_array_equal(model.encode(recent), model.encode(sequences))


@pytest.mark.parametrize("model_class", [SASRec, BERT4Rec])
@pytest.mark.parametrize("n_heads,hidden_act,max_len", [(1, "gelu", 6), (4, "relu", 12), (2, "gelu", 1)])
def test_models_match_torch_live(model_class, n_heads, hidden_act, max_len):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install '.[torch]'); fixtures cover it")
    spec = importlib.util.spec_from_file_location(
        "make_attention_fixtures", Path(__file__).parents[1] / "tools" / "make_attention_fixtures.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    rng = np.random.default_rng(n_heads * 100 + max_len)
    bert = model_class is BERT4Rec
    state = maker.random_state(rng, 80, 16, 2, 24, max_len, bert)
    sequences = maker.random_sequences(rng, 80, max_len, 20)
    # The torch forward in float64: the exact answer, free of float32 torch's own rounding (which
    # follows its kernel choices); the committed fixtures hold float32 torch's outputs.
    want = maker.reference_encode(state, sequences, n_heads, hidden_act, max_len, bert=bert, dtype=np.float64)
    tensors = {key: torch.from_numpy(value) for key, value in state.items()}  # a torch state_dict works as is
    model = model_class.from_recbole(tensors, n_heads=n_heads, hidden_act=hidden_act)
    _assert_parity(model.encode(sequences), want.astype(np.float32))
    ids, _ = model.recommend(sequences, k=10)
    np.testing.assert_array_equal(ids, maker.reference_top(state, want, sequences))


# ---- the model's API ----


@pytest.fixture(scope="module")
def small():
    config, sequences, _ = _load_case("sasrec_small")
    return SASRec.from_recbole(FIXTURES / "attention_sasrec_small_weights.npz", **config), sequences


def test_recommend_excludes_seen_items_and_padding_and_honours_candidates(small):
    model, sequences = small
    users = model.encode(sequences)
    table = model.state_dict()["item_embedding.weight"]
    ids, scores = model.recommend(sequences, k=model.n_items)
    for b, s in enumerate(sequences):
        kept = ids[b][ids[b] >= 0]
        assert 0 not in kept and not set(kept) & set(s.tolist())
        assert len(kept) == model.n_items - 1 - len(set(s.tolist()))  # every other item, -1 slots after
        np.testing.assert_allclose(scores[b][: len(kept)], table[kept] @ users[b], rtol=1e-5, atol=1e-5)
    ids, _ = model.recommend(sequences, k=5, exclude_seen=False)
    assert not (ids == 0).any()
    candidates = np.array([3, 9, 17, 40])
    ids, _ = model.recommend(sequences, k=2, exclude_seen=False, candidates=candidates)
    expected = candidates[np.argsort(-(users @ table[candidates].T), axis=1, kind="stable")[:, :2]]
    np.testing.assert_array_equal(ids, expected)


def test_scores_are_encode_dot_items(small):
    model, sequences = small
    users = model.encode(sequences)
    table = model.state_dict()["item_embedding.weight"]
    items = np.array([1, 5, 5, 59])
    np.testing.assert_allclose(model.scores(sequences, items), users @ table[items].T, rtol=1e-5, atol=1e-6)
    per_user = np.arange(len(sequences) * 3).reshape(-1, 3) % 59 + 1
    want = np.einsum("nd,nmd->nm", users, table[per_user])
    np.testing.assert_allclose(model.scores(sequences, per_user), want, rtol=1e-5, atol=1e-6)


def test_save_and_load_npz_round_trip(small, tmp_path):
    model, sequences = small
    path = tmp_path / "model.npz"
    A.save_npz(model, path)
    loaded = A.load_npz(path)
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.encode(sequences), model.encode(sequences))
    with np.load(path, allow_pickle=False) as data:  # nothing pickled inside
        assert all(data[key].dtype != object for key in data.files)
    with pytest.raises(ValueError, match="not written by turborec.attention.save_npz"):
        A.load_npz(FIXTURES / "attention_sasrec_small_weights.npz")
    with pytest.raises(TypeError, match="model: expected a turborec.attention.SASRec"):
        A.save_npz("not a model", path)


def test_bert4rec_scores_add_the_output_bias_and_files_round_trip(tmp_path):
    config, sequences, io = _load_case("bert4rec_small")
    model = BERT4Rec.from_recbole(FIXTURES / "attention_bert4rec_small_weights.npz", **config)
    assert model.n_items == 60 and model.state_dict()["item_embedding.weight"].shape == (61, 16)
    users, state = model.encode(sequences), model.state_dict()
    items = np.array([1, 2, 59])
    want = users @ state["item_embedding.weight"][items].T + state["output_bias"][items]
    np.testing.assert_allclose(model.scores(sequences, items), want, rtol=1e-5, atol=1e-5)
    ids, scores = model.recommend(sequences[:3], k=4, exclude_seen=False)
    np.testing.assert_allclose(scores, np.take_along_axis(users[:3] @ state["item_embedding.weight"][:60].T
                                                          + state["output_bias"], ids, axis=1), rtol=1e-5, atol=1e-5)
    A.save_npz(model, tmp_path / "b.npz")
    loaded = A.load_npz(tmp_path / "b.npz")
    assert isinstance(loaded, BERT4Rec)
    np.testing.assert_array_equal(loaded.encode(sequences), users)
    with pytest.raises(IndexError, match=r"item id 60 out of range \[1, 60\)"):  # [MASK] is not an input
        model.encode([[60]])
    with pytest.raises(ValueError, match=r"missing key 'output_bias' \(expected shape \(60,\)\)"):
        BERT4Rec.from_recbole({k: v for k, v in state.items() if k != "output_bias"})
    with pytest.raises(ValueError, match="unexpected keys.*is this RecBole's SASRec"):
        SASRec.from_recbole(state)


def test_model_attributes(small):
    model, _ = small
    assert (model.n_items, model.hidden_size, model.n_layers, model.n_heads, model.inner_size, model.max_len) == (
        60, 16, 2, 2, 32, 10)
    assert turborec.attention.SASRec is SASRec


# ---- bad input ----


def test_missing_mis_shaped_and_unexpected_keys_are_named(small):
    model, _ = small
    state = model.state_dict()
    for key in ("LayerNorm.bias", "trm_encoder.layer.1.feed_forward.dense_2.weight", "position_embedding.weight"):
        broken = {k: v for k, v in state.items() if k != key}
        with pytest.raises(ValueError, match=f"missing.*'{key}'.*expected shape"):
            SASRec.from_recbole(broken)
    broken = dict(state, **{"trm_encoder.layer.0.multi_head_attention.key.weight": np.zeros((16, 15), np.float32)})
    with pytest.raises(ValueError, match=r"multi_head_attention.key.weight'\]: expected shape \(16, 16\), got \(16, 15\)"):
        SASRec.from_recbole(broken)
    with pytest.raises(ValueError, match="unexpected keys.*'output_bias'"):
        SASRec.from_recbole(dict(state, output_bias=np.zeros(60, np.float32)))
    with pytest.raises(ValueError, match="n_heads: expected a positive divisor of the hidden size 16, got 3"):
        SASRec.from_recbole(state, n_heads=3)
    with pytest.raises(ValueError, match="hidden_act: expected one of gelu, relu"):
        SASRec.from_recbole(state, hidden_act="swish")
    with pytest.raises(ValueError, match=r"max_len: expected 1 to 10"):
        SASRec.from_recbole(state, max_len=11)
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        SASRec.from_recbole(42)
    with pytest.raises(ValueError, match="NaN"):
        SASRec.from_recbole(dict(state, **{"LayerNorm.weight": np.full(16, np.nan, np.float32)}))


def test_bad_sequences_are_clear_errors(small):
    model, _ = small
    with pytest.raises(ValueError, match=r"sequences\[1\]: empty sequence"):
        model.encode([[1, 2], []])
    with pytest.raises(IndexError, match=r"sequences\[0\]: item id 0 out of range \[1, 60\).*padding"):
        model.encode([[0, 3]])
    with pytest.raises(IndexError, match=r"item id 60 out of range"):
        model.recommend([[5, 60]])
    with pytest.raises(TypeError, match="expected integer item ids, got dtype float64"):
        model.encode([np.array([1.0, 2.0])])
    with pytest.raises(ValueError, match=r"lengths: 0 out of range \[1, 3\]"):
        model.encode(np.ones((2, 3), np.int32), lengths=[0, 2])
    with pytest.raises(TypeError, match="sequences: expected a list"):
        model.encode(np.array([1, 2, 3]))
    with pytest.raises(IndexError, match="items: item id 60 out of range"):
        model.scores([[1]], [60])
    with pytest.raises(ValueError, match="k"):
        model.recommend([[1, 2]], k=0)
    with pytest.raises(TypeError, match="exclude_seen"):
        model.recommend([[1, 2]], exclude_seen="yes")
    with pytest.raises(ValueError, match="lengths: give it only with a padded 2-D array"):
        model.encode([[1, 2]], lengths=[2])


def test_bad_kernel_arguments_are_clear_errors(every_backend):
    x = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="weight: expected dtype float32 like x, got float64"):
        A.linear(x, np.ones((2, 4)), backend=every_backend)
    with pytest.raises(ValueError, match=r"weight: expected shape \(d_out, 4\)"):
        A.linear(x, np.ones((2, 5), np.float32), backend=every_backend)
    with pytest.raises(ValueError, match="activation: expected None, 'gelu' or 'relu'"):
        A.linear(x, x, activation="tanh", backend=every_backend)
    with pytest.raises(ValueError, match="x: contains NaN or inf"):
        A.gelu(np.full((2, 2), np.inf), backend=every_backend)
    with pytest.raises(ValueError, match="bias: expected a 1-D array of length 4"):
        A.layer_norm(x, np.ones(4, np.float32), np.ones(3, np.float32), backend=every_backend)
    q = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"lengths: 4 out of range \[1, 3\]"):
        A.masked_attention(q, q, q, [1, 4], 2, backend=every_backend)
    with pytest.raises(ValueError, match=r"q: expected shape \(2, 1, 4\)"):
        A.masked_attention(q, q, q, [1, 3], 2, last_only=True, backend=every_backend)
    with pytest.raises(ValueError, match="n_heads: expected a positive divisor of the hidden size 4, got 3"):
        A.masked_attention(q, q, q, [1, 3], 3, backend=every_backend)


def test_raw_bindings_refuse_inconsistent_arrays():
    from turborec import _native

    q = np.ones((2, 3, 4), np.float32)
    out = np.empty_like(q)
    with pytest.raises(ValueError, match=r"lengths: 9 out of range \[1, 3\]"):
        _native.masked_attention(q, q, q, np.array([1, 9], np.int32), 2, True, False, 1, out)
    with pytest.raises(TypeError, match="lengths: expected dtype int32"):
        _native.masked_attention(q, q, q, np.array([1, 2]), 2, True, False, 1, out)
    with pytest.raises(ValueError, match="out: array is read-only"):
        out.flags.writeable = False
        _native.masked_attention(q, q, q, np.array([1, 2], np.int32), 2, True, False, 1, out)
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="out: expected shape"):
        _native.linear(x, x, None, 0, 256, 1, np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="weight: expected dtype float32"):
        _native.linear(x, x.astype(np.float64), None, 0, 256, 1, np.empty((3, 3), np.float32))
    with pytest.raises(ValueError, match="residual: expected the shape of x"):
        _native.layer_norm(x, np.ones((2, 4), np.float32), x[0], x[0], 1e-5, 1, np.empty_like(x))


def test_the_docs_example_runs(tmp_path, monkeypatch):
    import re

    text = (Path(__file__).parents[1] / "docs" / "attention.md").read_text()
    block = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    (tmp_path / "tests").symlink_to(Path(__file__).parent)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(block, scope)
    assert scope["ids"].shape == (3, 10) and scope["sampled"].shape == (3, 3)


@pytest.mark.parametrize("case", ["sasrec_small", "bert4rec_small"])
def test_incremental_steps_match_a_full_pass(every_backend, case):
    config, _, _ = _load_case(case)
    model = _model_class(case).from_recbole(FIXTURES / f"attention_{case}_weights.npz", **config)
    rng = np.random.default_rng(5)
    sequence = list(rng.integers(1, 60, 2))
    state = model.start(sequence, backend=every_backend)
    for step in range(model.max_len + 3):  # past max_len: the window slides
        item = int(rng.integers(1, 60))
        sequence.append(item)
        ids, scores = model.step(state, item, k=7, backend=every_backend)
        np.testing.assert_allclose(state.user, model.encode([sequence], backend=every_backend)[0], rtol=1e-5,
                                   atol=1e-6)
        want_ids, want_scores = model.recommend([sequence], k=7, backend=every_backend)
        np.testing.assert_array_equal(ids, want_ids[0])
        np.testing.assert_allclose(scores, want_scores[0], rtol=1e-5, atol=1e-6)
    assert state.length == model.max_len and len(state.items) == len(sequence)
    # SASRec reuses cached keys and values until the window is full; BERT4Rec always re-encodes.
    incremental = model.max_len - 2 if case.startswith("sasrec") else 0
    assert state.full_passes == model.max_len + 3 - incremental


def test_incremental_bad_input(small):
    model, _ = small
    state = model.start([4, 5])
    with pytest.raises(IndexError, match=r"item: item id 0 out of range \[1, 60\)"):
        model.step(state, 0)
    with pytest.raises(TypeError, match="state: expected what start"):
        model.step({"items": [4]}, 3)
    with pytest.raises(ValueError, match="sequence: empty sequence"):
        model.start([])
    assert list(state.items) == [4, 5] and state.length == 2  # a refused step changes nothing


def test_model_calls_leave_the_callers_arrays_unchanged(small):
    model, sequences = small
    padded = np.zeros((len(sequences), 40), np.int64)
    for b, s in enumerate(sequences):
        padded[b, :len(s)] = s
    lengths = np.array([len(s) for s in sequences])
    candidates = np.array([9, 3, 3, 40])
    before = [a.copy() for a in (padded, lengths, candidates, *sequences)]
    model.recommend(padded, k=5, candidates=candidates, lengths=lengths)
    model.recommend(sequences, k=5)
    model.scores(sequences, candidates)
    state = model.start(sequences[0])
    model.step(state, 7)
    for a, b in zip((padded, lengths, candidates, *sequences), before):
        np.testing.assert_array_equal(a, b)


# ---- the int8 item table (issue 11: quantised scoring with an exact re-rank) ----


@pytest.mark.parametrize("case", ["sasrec_recbole_shape", "bert4rec_small"])
def test_recommend_with_the_int8_table_returns_exact_scores_of_the_best_candidates(every_backend, case):
    config, sequences, _ = _load_case(case)
    model = _model_class(case).from_recbole(FIXTURES / f"attention_{case}_weights.npz", **config)
    users = model._queries(model.encode(sequences, backend=every_backend))
    table = model._items  # [item, bias] rows for BERT4Rec
    want_ids, _ = model.recommend(sequences, k=10, backend=every_backend)
    ids, scores = model.recommend(sequences, k=10, item_table="int8", backend=every_backend)
    assert ids.shape == (len(sequences), 10) and ids.dtype == np.int32 and scores.dtype == np.float32
    for b, s in enumerate(sequences):
        assert 0 not in ids[b] and not set(ids[b].tolist()) & set(np.asarray(s).tolist())
    np.testing.assert_allclose(scores, np.einsum("nd,nkd->nk", users, table[ids]), rtol=1e-5, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()
    shared = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ids, want_ids)])
    assert shared >= 0.9  # the fixtures' tables: every exact top-10 id but near-ties
    # every item a candidate: the exact top-k (scores up to rounding, ids unless a near-tie)
    everything = model.recommend(sequences, k=model.n_items, item_table="int8", backend=every_backend)
    exact = model.recommend(sequences, k=model.n_items, backend=every_backend)
    np.testing.assert_allclose(everything[1], exact[1], rtol=1e-5, atol=1e-5)


def test_step_with_the_int8_table_and_bad_item_table(small):
    model, sequences = small
    state = model.start([3, 17, 5])
    ids, scores = model.step(state, 42, k=5, item_table="int8")
    want = model.recommend([[3, 17, 5, 42]], k=5, item_table="int8")
    np.testing.assert_array_equal(ids, want[0][0])
    np.testing.assert_allclose(scores, want[1][0], rtol=1e-5)
    for bad in ("float16", None, 8):
        with pytest.raises(ValueError, match="item_table: expected 'float32' or 'int8'"):
            model.recommend(sequences, item_table=bad)
    with pytest.raises(ValueError, match="item_table: expected"):
        model.step(state, 3, item_table="fp16")
    assert list(state.items) == [3, 17, 5, 42]  # the refused step changed nothing


def test_pmixer_models_take_the_int8_table_too():
    config = json.loads(str(np.load(FIXTURES / "attention_pmixer_original_2024_io.npz")["config"]))
    io = np.load(FIXTURES / "attention_pmixer_original_2024_io.npz")
    model = SASRec.from_pmixer(FIXTURES / "attention_pmixer_original_2024_weights.npz", **config)
    sequences = np.split(io["ids"], io["indptr"][1:-1])
    ids, scores = model.recommend(sequences, k=10, item_table="int8")
    np.testing.assert_array_equal(ids, io["top10"])
    state = model.start(sequences[0])
    step_ids, _ = model.step(state, 3, k=5, item_table="int8")
    want, _ = model.recommend([np.append(sequences[0], 3)], k=5, item_table="int8")
    np.testing.assert_array_equal(step_ids, want[0])
