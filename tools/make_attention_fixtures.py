"""Write the SASRec and BERT4Rec parity fixtures of tests/test_attention.py (needs torch; the
tests do not).

A PyTorch reference forward of RecBole's SASRec, written here from its published architecture
(RecBole's ``SASRec`` and ``TransformerEncoder``), in evaluation mode (dropout = identity), and
of BERT4Rec (see :func:`reference_encode`):

- input: ``LayerNorm(item_embedding[seq] + position_embedding[0..L-1])`` over right-padded ids,
  padding id 0;
- mask: ``0`` where the key is a real item (``seq != 0``) and, left to right, not in the future;
  ``-10000`` elsewhere, added to the scores;
- per block (post-LN): ``a = LayerNorm(dense(attention(x)) + x)`` with scores divided by
  ``sqrt(head size)``; ``x = LayerNorm(dense_2(act(dense_1(a))) + a)``, ``act`` exact-erf GELU
  or ReLU;
- output: the row of the last real position; scores ``output @ item_embedding.T``.

Each case is two files under tests/fixtures/: ``attention_<case>_weights.npz`` (RecBole's
parameter names, what ``SASRec.from_recbole`` reads) and ``attention_<case>_io.npz`` (the
sequences as a CSR of ids, the config as JSON, the expected encodings and top-10 ids with the
sequence's items and the padding id excluded).

Usage: ``python tools/make_attention_fixtures.py`` (from the repository root).
"""

import json
import math
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

CASES = {  # name: (n_items, hidden, n_layers, n_heads, inner, max_len, hidden_act, n_sequences)
    "sasrec_small": (60, 16, 2, 2, 32, 10, "gelu", 24),
    "sasrec_relu": (97, 24, 1, 3, 40, 7, "relu", 16),
    "sasrec_recbole_shape": (400, 64, 2, 2, 256, 50, "gelu", 12),
    "bert4rec_small": (60, 16, 2, 2, 32, 10, "gelu", 24),
    "bert4rec_relu": (97, 24, 1, 3, 40, 7, "relu", 16),
}
LAYER_NORM_EPS = 1e-12


def random_state(rng, n_items, d, n_layers, inner, max_len, bert=False):
    """RecBole's SASRec (or BERT4Rec) parameter names to random float32 arrays (scales large
    enough that the attention weights are far from uniform)."""

    def normal(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    state = {"item_embedding.weight": normal(n_items + bert, d, scale=0.5),  # BERT4Rec: + the [MASK] row
             "position_embedding.weight": normal(max_len, d, scale=0.5),
             "LayerNorm.weight": 1 + normal(d, scale=0.1), "LayerNorm.bias": normal(d, scale=0.1)}
    for i in range(n_layers):
        block = f"trm_encoder.layer.{i}."
        for part in ("query", "key", "value", "dense"):
            state[f"{block}multi_head_attention.{part}.weight"] = normal(d, d, scale=1 / math.sqrt(d) * 1.5)
            state[f"{block}multi_head_attention.{part}.bias"] = normal(d, scale=0.1)
        state[f"{block}feed_forward.dense_1.weight"] = normal(inner, d, scale=1 / math.sqrt(d))
        state[f"{block}feed_forward.dense_1.bias"] = normal(inner, scale=0.1)
        state[f"{block}feed_forward.dense_2.weight"] = normal(d, inner, scale=1 / math.sqrt(inner))
        state[f"{block}feed_forward.dense_2.bias"] = normal(d, scale=0.1)
        for ln in ("multi_head_attention.LayerNorm", "feed_forward.LayerNorm"):
            state[f"{block}{ln}.weight"] = 1 + normal(d, scale=0.1)
            state[f"{block}{ln}.bias"] = normal(d, scale=0.1)
    if bert:
        state.update({"output_ffn.weight": normal(d, d, scale=1 / math.sqrt(d)), "output_ffn.bias": normal(d, scale=0.1),
                      "output_ln.weight": 1 + normal(d, scale=0.1), "output_ln.bias": normal(d, scale=0.1),
                      "output_bias": normal(n_items, scale=0.5)})
    return state


def random_sequences(rng, n_items, max_len, n):
    """Sequences of lengths 1, max_len, past max_len and in between (ids in [1, n_items))."""
    lengths = [1, max_len, max_len + 3] + list(rng.integers(1, 2 * max_len, n - 3))
    return [rng.integers(1, n_items, size=int(length)) for length in lengths[:n]]


def _gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def reference_encode(state, sequences, n_heads, hidden_act, max_len, eps=LAYER_NORM_EPS, bert=False,
                     dtype=np.float32):
    """The torch forward of RecBole's SASRec (or, with ``bert``, BERT4Rec) on ``sequences`` (most
    recent ``max_len`` items, right-padded to ``max_len``): an array (n, hidden) of ``dtype``
    (float32, as RecBole runs; float64 gives the exact answer float32 results are measured against).

    BERT4Rec as RecBole's ``full_sort_predict``: ``reconstruct_test_data`` (a padding column
    appended, [MASK] = n_items written at index ``length``, the first column dropped), the
    bidirectional key-padding mask, then ``output_ln(gelu(output_ffn(.)))`` at ``length - 1``."""
    t = {key: torch.from_numpy(np.asarray(value, dtype=dtype)) for key, value in state.items()}
    d = t["item_embedding.weight"].shape[1]
    hs = d // n_heads
    kept = [np.asarray(s)[-max_len:] for s in sequences]
    seq = torch.zeros((len(kept), max_len), dtype=torch.long)
    for b, s in enumerate(kept):
        seq[b, :len(s)] = torch.from_numpy(s.astype(np.int64))
    lengths = torch.tensor([len(s) for s in kept])
    if bert:
        mask_token = t["item_embedding.weight"].shape[0] - 1
        seq = torch.cat([seq, torch.zeros((len(kept), 1), dtype=torch.long)], dim=1)
        seq[torch.arange(len(kept)), lengths] = mask_token
        seq = seq[:, 1:]
    act = _gelu if hidden_act == "gelu" else torch.relu

    def layer_norm(x, prefix):
        return torch.nn.functional.layer_norm(x, (d,), t[prefix + ".weight"], t[prefix + ".bias"], eps)

    def dense(x, prefix):
        return torch.nn.functional.linear(x, t[prefix + ".weight"], t[prefix + ".bias"])

    with torch.inference_mode():
        positions = torch.arange(max_len)
        x = layer_norm(t["item_embedding.weight"][seq] + t["position_embedding.weight"][positions][None], "LayerNorm")
        real = (seq != 0)[:, None, None, :]  # (n, 1, 1, L): key is an item
        causal = torch.tril(torch.ones((max_len, max_len), dtype=torch.bool))[None, None]
        if bert:
            causal = torch.ones_like(causal)  # bidirectional: key padding only
        mask = torch.where(real & causal, 0.0, -10000.0).to(t["LayerNorm.weight"].dtype)
        n_layers = len({key.split(".")[2] for key in state if key.startswith("trm_encoder.layer.")})
        for i in range(n_layers):
            block = f"trm_encoder.layer.{i}."

            def heads(y):
                return y.view(y.shape[0], max_len, n_heads, hs).permute(0, 2, 1, 3)

            q, k, v = (heads(dense(x, f"{block}multi_head_attention.{part}")) for part in ("query", "key", "value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hs) + mask
            context = (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(x.shape)
            x = layer_norm(dense(context, f"{block}multi_head_attention.dense") + x,
                           f"{block}multi_head_attention.LayerNorm")
            hidden = act(dense(x, f"{block}feed_forward.dense_1"))
            x = layer_norm(dense(hidden, f"{block}feed_forward.dense_2") + x, f"{block}feed_forward.LayerNorm")
        out = x[torch.arange(len(kept)), lengths - 1]
        if bert:
            out = layer_norm(_gelu(dense(out, "output_ffn")), "output_ln")
    return out.numpy().copy()


def reference_top(state, encoded, sequences, k=10):
    """Top-k item ids by ``encoded @ item_embedding.T`` (+ ``output_bias`` for BERT4Rec, whose
    [MASK] row is not an item), the padding id and every item of the sequence excluded (float64
    scores, so ties and rounding cannot blur the order)."""
    table = np.asarray(state["item_embedding.weight"], np.float64)
    if "output_bias" in state:
        table = table[:-1]
    scores = encoded.astype(np.float64) @ table.T + np.asarray(state.get("output_bias", 0.0), np.float64)
    scores[:, 0] = -np.inf
    for b, s in enumerate(sequences):
        scores[b, np.asarray(s)] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int32)


def make_case(name, seed):
    n_items, d, n_layers, n_heads, inner, max_len, hidden_act, n = CASES[name]
    rng = np.random.default_rng(seed)
    bert = name.startswith("bert4rec")
    state = random_state(rng, n_items, d, n_layers, inner, max_len, bert)
    sequences = random_sequences(rng, n_items, max_len, n)
    encoded = reference_encode(state, sequences, n_heads, hidden_act, max_len, bert=bert)
    config = {"n_heads": n_heads, "hidden_act": hidden_act, "layer_norm_eps": LAYER_NORM_EPS, "max_len": max_len}
    np.savez_compressed(FIXTURES / f"attention_{name}_weights.npz", **state)
    np.savez_compressed(FIXTURES / f"attention_{name}_io.npz", config=np.array(json.dumps(config)),
                        indptr=np.cumsum([0] + [len(s) for s in sequences]), ids=np.concatenate(sequences),
                        encoded=encoded, top10=reference_top(state, encoded, sequences),
                        torch_version=np.array(torch.__version__))


if __name__ == "__main__":
    FIXTURES.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for seed, case in enumerate(CASES):
        make_case(case, seed)
        print("wrote", case)
