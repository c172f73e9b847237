"""SASRec from SASRec.pytorch's weights (``SASRec.from_pmixer``, issue 11): parity on every backend
with a PyTorch module written from pmixer's model.py (committed fixtures; rerun live on fresh
weights when torch is importable), the left-padding semantics, the model's API and bad input."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from turborec.attention import SASRec, load_npz, save_npz

FAMILY = "attention"
FIXTURES = Path(__file__).parent / "fixtures"
CASES = ("pmixer_original_2020", "pmixer_original_2024", "pmixer_post_ln_2024", "pmixer_pre_ln_2024",
         "pmixer_post_ln_2020", "pmixer_default_shape")


def _load_case(case):
    io = np.load(FIXTURES / f"attention_{case}_io.npz", allow_pickle=False)
    config = json.loads(str(io["config"]))
    return config, np.split(io["ids"], io["indptr"][1:-1]), io


def _model(case):
    config, sequences, io = _load_case(case)
    return SASRec.from_pmixer(FIXTURES / f"attention_{case}_weights.npz", **config), sequences, io


def _assert_parity(got, want):
    """Max relative error <= 1e-5 in float32, relative to each row's largest entry."""
    assert got.dtype == np.float32 and got.shape == want.shape
    error = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)
    assert error.max() <= 1e-5, error.max()


@pytest.fixture(scope="module")
def small():
    return _model("pmixer_original_2020")[:2]


# ---- parity with the PyTorch module (fixtures made by tools/make_attention_fixtures.py) ----


@pytest.mark.parametrize("case", CASES)
def test_matches_the_torch_reference_fixtures(every_backend, case):
    model, sequences, io = _model(case)
    assert isinstance(model, SASRec)
    lengths = [len(s) for s in sequences]
    assert min(lengths) == 1 and model.max_len in lengths and max(lengths) > model.max_len
    _assert_parity(model.encode(sequences, backend=every_backend), io["encoded"])
    ids, scores = model.recommend(sequences, k=10, backend=every_backend)
    np.testing.assert_array_equal(ids, io["top10"])
    assert ids.dtype == np.int32 and scores.dtype == np.float32 and np.all(np.diff(scores, axis=1) <= 0)


@pytest.mark.parametrize("variant", ["original", "post_ln", "pre_ln"])
@pytest.mark.parametrize("layout", ["2020", "2024"])
def test_backends_match_the_reference_on_fresh_weights(backend, rng, variant, layout):
    """The pmixer_encoder kernel of each backend against the numpy reference (fresh weights of a
    fixture's shapes, batches of 1 and 40 users), and the same bits on 1 and 2 threads."""
    base = _model("pmixer_pre_ln_2024")[0].state_dict()
    # each weight scaled by 1 + 0.2 N(0, 1): fresh values, the fixture's (trained-like) magnitudes
    state = {key: (value * (1 + rng.standard_normal(value.shape) * 0.2)).astype(np.float32)
             for key, value in base.items()}
    if layout == "2020":
        state["pos_emb.weight"] = state["pos_emb.weight"][1:]
    model = SASRec.from_pmixer(state, variant=variant, n_heads=2, layout=layout)
    for n in (1, 40):
        sequences = [rng.integers(1, model.n_items, size=rng.integers(1, 12)) for _ in range(n)]
        want = model.encode(sequences, backend="numpy")
        got = model.encode(sequences, backend=backend, n_threads=1)
        _assert_parity(got, want)  # float32 through 3 blocks: sums in other orders (BLAS)
        np.testing.assert_array_equal(model.encode(sequences, backend=backend, n_threads=2), got)


def _maker():
    spec = importlib.util.spec_from_file_location(
        "make_attention_fixtures", Path(__file__).parents[1] / "tools" / "make_attention_fixtures.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    return maker


@pytest.mark.parametrize("variant", ["original", "post_ln", "pre_ln"])
@pytest.mark.parametrize("layout", ["2020", "2024"])
@pytest.mark.parametrize("n_heads,max_len,position_rows", [(1, 1, None), (2, 6, None), (4, 12, None), (2, 5, 14)])
def test_matches_torch_live(variant, layout, n_heads, max_len, position_rows):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install '.[torch]'); fixtures cover it")
    maker = _maker()
    rng = np.random.default_rng(n_heads * 100 + max_len)
    if position_rows and layout == "2020":
        position_rows = None  # the 2020 code sizes pos_emb by maxlen itself
    module = maker.random_pmixer(rng, 70, 16, 2, n_heads, max_len, variant, layout, position_rows)
    sequences = maker.random_sequences(rng, 71, max_len, 20)
    # torch in float64: the exact answer, free of float32 torch's own rounding.
    want = maker.pmixer_encode(module, sequences, max_len, torch.float64)
    state = module.float().state_dict()  # torch tensors, as model.state_dict() gives them
    model = SASRec.from_pmixer(state, variant=variant, n_heads=n_heads, layout=layout,
                               max_len=max_len if position_rows else None)
    assert model.max_len == max_len
    _assert_parity(model.encode(sequences), want.astype(np.float32))
    ids, _ = model.recommend(sequences, k=10)
    table = {"item_embedding.weight": state["item_emb.weight"].numpy()}
    np.testing.assert_array_equal(ids, maker.reference_top(table, want, sequences))


# ---- what the left padding means ----


def test_every_sequence_is_left_padded_to_the_whole_window():
    """No key-padding mask: the padding before a short sequence is attended, so its encoding is
    pmixer's for the sequence padded to max_len, and it changes with max_len."""
    model, sequences, _ = _model("pmixer_post_ln_2024")
    state = model.state_dict()
    short = [s[-3:] for s in sequences[:4]]
    narrower = SASRec.from_pmixer(state, variant="post_ln", n_heads=3, max_len=model.max_len - 2)
    assert np.abs(narrower.encode(short) - model.encode(short)).max() > 1e-3
    # a right-padded matrix with lengths is the same input as the list
    width = max(map(len, sequences))
    padded = np.zeros((len(sequences), width + 1), np.int64)
    for b, s in enumerate(sequences):
        padded[b, :len(s)] = s
    lengths = np.array([len(s) for s in sequences])
    np.testing.assert_array_equal(model.encode(padded, lengths=lengths), model.encode(sequences))
    np.testing.assert_array_equal(model.encode([s[-model.max_len:] for s in sequences]), model.encode(sequences))


# ---- the model's API ----


def test_recommend_and_scores(small):
    model, sequences = small
    users = model.encode(sequences)
    table = model.state_dict()["item_emb.weight"]
    assert model.n_items == table.shape[0] and model.hidden_act == "relu" and model.layer_norm_eps == 1e-8
    ids, scores = model.recommend(sequences, k=model.n_items)
    for b, s in enumerate(sequences):
        kept = ids[b][ids[b] >= 0]
        assert 0 not in kept and not set(kept) & set(s.tolist())
        assert len(kept) == model.n_items - 1 - len(set(s.tolist()))
        np.testing.assert_allclose(scores[b][:len(kept)], table[kept] @ users[b], rtol=1e-5, atol=1e-5)
    items = np.array([1, 7, 7, model.n_items - 1])
    np.testing.assert_allclose(model.scores(sequences, items), users @ table[items].T, rtol=1e-5, atol=1e-5)
    candidates = np.array([2, 9, 17, 30])
    ids, _ = model.recommend(sequences, k=2, exclude_seen=False, candidates=candidates)
    expected = candidates[np.argsort(-(users @ table[candidates].T), axis=1, kind="stable")[:, :2]]
    np.testing.assert_array_equal(ids, expected)


@pytest.mark.parametrize("case", ["pmixer_original_2020", "pmixer_pre_ln_2024"])
def test_step_is_a_counted_full_pass_equal_to_recommend(case):
    model, sequences, _ = _model(case)
    sequence = list(sequences[1][:model.max_len - 1])
    state = model.start(sequence)
    np.testing.assert_array_equal(state.user, model.encode([sequence])[0])
    for n, item in enumerate([5, 11, 5], start=1):  # the last step slides the window
        ids, scores = model.step(state, item, k=10)
        sequence.append(item)
        want_ids, want_scores = model.recommend([sequence], k=10)
        np.testing.assert_array_equal(ids, want_ids[0])
        np.testing.assert_array_equal(scores, want_scores[0])
        assert state.full_passes == n and list(state.items) == sequence
    with pytest.raises(TypeError, match="state: expected what start"):
        model.step("not a state", 3)
    with pytest.raises(IndexError, match="item: item id 0 out of range"):
        model.step(state, 0)


def test_save_and_load_npz_round_trip(tmp_path):
    for case in ("pmixer_original_2020", "pmixer_pre_ln_2024"):
        model, sequences, _ = _model(case)
        path = tmp_path / f"{case}.npz"
        save_npz(model, path)
        loaded = load_npz(path)
        assert loaded.config() == model.config() and loaded.config()["weights"] == "pmixer"
        assert (loaded.variant, loaded.layout, loaded.max_len) == (model.variant, model.layout, model.max_len)
        np.testing.assert_array_equal(loaded.encode(sequences), model.encode(sequences))


# ---- bad input ----


def test_bad_settings_name_the_argument():
    state = _model("pmixer_original_2024")[0].state_dict()
    with pytest.raises(ValueError, match="variant: expected one of 'original', 'post_ln', 'pre_ln', got 'norm_first'"):
        SASRec.from_pmixer(state, variant="norm_first")
    with pytest.raises(ValueError, match="layout: expected one of '2024', '2020', got 2024"):
        SASRec.from_pmixer(state, layout=2024)
    with pytest.raises(ValueError, match="n_heads: expected a positive divisor of the hidden size 16, got 3"):
        SASRec.from_pmixer(state, n_heads=3)
    with pytest.raises(ValueError, match=r"max_len: expected 1 to 8 \(rows of pos_emb.weight - 1\), got 9"):
        SASRec.from_pmixer(state, max_len=9)
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        SASRec.from_pmixer(42)


def test_missing_misshaped_and_unexpected_keys_are_named():
    state = _model("pmixer_original_2024")[0].state_dict()
    for key, expected in [("attention_layers.1.in_proj_bias", r"\(48,\)"), ("last_layernorm.weight", r"\(16,\)"),
                          ("forward_layers.0.conv2.weight", r"\(16, 16, 1\)")]:
        broken = {k: v for k, v in state.items() if k != key}
        with pytest.raises(ValueError, match=rf"missing key '{key}' \(expected shape {expected}\)"):
            SASRec.from_pmixer(broken)
    broken = dict(state, **{"attention_layers.0.in_proj_weight": np.zeros((16, 16), np.float32)})
    with pytest.raises(ValueError, match=r"\['attention_layers.0.in_proj_weight'\]: expected shape \(48, 16\)"):
        SASRec.from_pmixer(broken)
    broken = dict(state, **{"forward_layers.0.conv1.weight": np.zeros((16, 16), np.float32)})
    with pytest.raises(ValueError, match=r"'forward_layers.0.conv1.weight' \(expected shape \(inner, 16, 1\)\)"):
        SASRec.from_pmixer(broken)
    with pytest.raises(ValueError, match="missing key 'item_emb.weight'"):
        SASRec.from_pmixer({k: v for k, v in state.items() if k != "item_emb.weight"})
    with pytest.raises(ValueError, match=r"expected at least 2 rows for layout '2024', got 1"):
        SASRec.from_pmixer(dict(state, **{"pos_emb.weight": state["pos_emb.weight"][:1]}))
    with pytest.raises(ValueError, match=r"unexpected keys \['user_emb.weight'\]"):
        SASRec.from_pmixer(dict(state, **{"user_emb.weight": state["item_emb.weight"]}))
    with pytest.raises(ValueError, match="no 'attention_layers"):
        SASRec.from_pmixer({k: v for k, v in state.items() if not k.startswith("attention_layers.")})
    with pytest.raises(ValueError, match="contains NaN or inf"):
        SASRec.from_pmixer(dict(state, **{"pos_emb.weight": np.full_like(state["pos_emb.weight"], np.nan)}))


def test_bad_sequences_are_refused(small):
    model, _ = small
    before = np.array([3, 4, 5])
    with pytest.raises(IndexError, match=r"sequences\[1\]: item id 0 out of range \[1, 51\)"):
        model.encode([before, np.array([2, 0])])
    with pytest.raises(IndexError, match=r"item id 51 out of range"):
        model.recommend([np.array([51])])
    with pytest.raises(ValueError, match="empty sequence"):
        model.encode([np.array([], np.int64)])
    with pytest.raises(TypeError, match="expected integer item ids"):
        model.encode([np.array([1.0, 2.0])])
    with pytest.raises(IndexError, match=r"items: item id 51 out of range \[0, 51\)"):
        model.scores([before], [51])
    model.encode([before])
    np.testing.assert_array_equal(before, [3, 4, 5])  # inputs never modified
