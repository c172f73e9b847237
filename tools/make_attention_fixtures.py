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

The SASRec.pytorch cases (``PMIXER_CASES``) are written the same way from an ``nn.Module`` with
pmixer's parameter names (see ``PmixerSASRec`` below): ``attention_pmixer_<case>_weights.npz`` is
its ``state_dict``, what ``SASRec.from_pmixer`` reads.

Usage: ``python tools/make_attention_fixtures.py [--pmixer]`` (from the repository root;
``--pmixer``: only the SASRec.pytorch cases).
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


# ---- SASRec.pytorch (github.com/pmixer/SASRec.pytorch), written from its model.py ----
#
# An nn.Module with pmixer's parameter names (its state_dict is what SASRec.from_pmixer reads), in
# evaluation mode, for its three blocks and two position layouts:
# - variant "original" (model.py of 2020): Q = LN_a(x); x = Q + MHA(Q, x, x); x = FFN(LN_f(x)),
#   the feed-forward adding its own input; "post_ln" / "pre_ln" (the later code's norm_first
#   False / True): x = LN_a(x + MHA(x, x, x)); x = LN_f(x + FFN(x)) / x = x + MHA(h, h, h) with
#   h = LN_a(x); x = x + FFN(LN_f(x)); FFN = conv2(relu(conv1(.))), Conv1d of kernel 1;
# - layout "2020": positions 0..L-1 on every slot, padded slots zeroed after the embedding and
#   after every block (the timeline mask); "2024": position j+1 on an item in slot j, 0 on padding
#   (pos_emb has a padding row 0); no timeline mask;
# - item_emb scaled by sqrt(D), LayerNorm eps 1e-8, nn.MultiheadAttention with the causal mask
#   only (no key-padding mask), sequences left-padded with 0 to max_len, the output
#   last_layernorm(x) at the last slot.

PMIXER_CASES = {  # name: (n_items, hidden, n_blocks, n_heads, max_len, variant, layout, n_sequences)
    "pmixer_original_2020": (50, 16, 2, 1, 8, "original", "2020", 16),
    "pmixer_original_2024": (50, 16, 2, 2, 8, "original", "2024", 16),
    "pmixer_post_ln_2024": (61, 24, 2, 3, 9, "post_ln", "2024", 16),
    "pmixer_pre_ln_2024": (61, 16, 3, 4, 7, "pre_ln", "2024", 16),
    "pmixer_post_ln_2020": (40, 12, 1, 2, 5, "post_ln", "2020", 12),
    "pmixer_default_shape": (300, 50, 2, 1, 200, "post_ln", "2024", 8),  # main.py's defaults
}


class PmixerFeedForward(torch.nn.Module):
    def __init__(self, d, residual):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(d, d, kernel_size=1)
        self.conv2 = torch.nn.Conv1d(d, d, kernel_size=1)
        self.residual = residual

    def forward(self, x):  # (B, L, D); Conv1d wants (B, D, L)
        y = self.conv2(torch.relu(self.conv1(x.transpose(-1, -2)))).transpose(-1, -2)
        return y + x if self.residual else y


class PmixerSASRec(torch.nn.Module):
    def __init__(self, n_items, d, n_blocks, n_heads, max_len, variant, layout, position_rows=None):
        super().__init__()
        self.variant, self.layout, self.d = variant, layout, d
        rows = position_rows or max_len + (layout == "2024")
        self.item_emb = torch.nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos_emb = torch.nn.Embedding(rows, d, padding_idx=0 if layout == "2024" else None)
        self.attention_layernorms = torch.nn.ModuleList(torch.nn.LayerNorm(d, eps=1e-8) for _ in range(n_blocks))
        self.attention_layers = torch.nn.ModuleList(torch.nn.MultiheadAttention(d, n_heads, dropout=0.0)
                                                    for _ in range(n_blocks))
        self.forward_layernorms = torch.nn.ModuleList(torch.nn.LayerNorm(d, eps=1e-8) for _ in range(n_blocks))
        self.forward_layers = torch.nn.ModuleList(PmixerFeedForward(d, variant == "original") for _ in range(n_blocks))
        self.last_layernorm = torch.nn.LayerNorm(d, eps=1e-8)

    def forward(self, seq):
        """The user representations (B, D) of left-padded ids ``seq`` (B, L)."""
        x = self.item_emb(seq) * self.d ** 0.5
        L = seq.shape[1]
        keep = (seq != 0).unsqueeze(-1)
        if self.layout == "2020":
            x = (x + self.pos_emb(torch.arange(L))) * keep
        else:
            x = x + self.pos_emb(torch.arange(1, L + 1) * (seq != 0))
        future = ~torch.tril(torch.ones((L, L), dtype=torch.bool))
        for ln_a, mha, ln_f, ffn in zip(self.attention_layernorms, self.attention_layers, self.forward_layernorms,
                                        self.forward_layers):
            x = x.transpose(0, 1)  # nn.MultiheadAttention's (L, B, D)
            if self.variant == "original":
                q = ln_a(x)
                x = (q + mha(q, x, x, attn_mask=future)[0]).transpose(0, 1)
                x = ffn(ln_f(x))
            elif self.variant == "pre_ln":
                h = ln_a(x)
                x = (x + mha(h, h, h, attn_mask=future)[0]).transpose(0, 1)
                x = x + ffn(ln_f(x))
            else:
                x = ln_a(x + mha(x, x, x, attn_mask=future)[0]).transpose(0, 1)
                x = ln_f(x + ffn(x))
            if self.layout == "2020":
                x = x * keep
        return self.last_layernorm(x)[:, -1]


def random_pmixer(rng, n_items, d, n_blocks, n_heads, max_len, variant, layout, position_rows=None):
    """A PmixerSASRec in evaluation mode with random weights drawn from ``rng`` (the padding rows
    too; scales that keep the attention far from uniform)."""
    model = PmixerSASRec(n_items, d, n_blocks, n_heads, max_len, variant, layout, position_rows).eval()
    state = {}
    for key, value in model.state_dict().items():
        # fan-in: Linear (out, in), Conv1d (out, in, 1)
        shape, fan_in = tuple(value.shape), value.shape[1] if value.ndim > 1 else 1
        if "layernorm" in key:
            scale, offset = 0.1, float(key.endswith(".weight"))
        elif key.endswith("emb.weight"):
            scale, offset = 0.5, 0.0
        else:
            scale, offset = (1.5 / math.sqrt(fan_in) if value.ndim > 1 else 0.1), 0.0
        state[key] = torch.from_numpy((offset + rng.standard_normal(shape) * scale).astype(np.float32))
    model.load_state_dict(state)
    return model


def left_padded(sequences, max_len):
    """pmixer's evaluate input: each sequence's ``max_len`` most recent items, left-padded with 0."""
    seq = np.zeros((len(sequences), max_len), np.int64)
    for b, s in enumerate(sequences):
        kept = np.asarray(s)[-max_len:]
        seq[b, max_len - len(kept):] = kept
    return torch.from_numpy(seq)


def pmixer_encode(model, sequences, max_len, dtype=torch.float32):
    """``model``'s user representations of ``sequences`` as a NumPy array of ``dtype``."""
    with torch.inference_mode():
        return model.to(dtype)(left_padded(sequences, max_len)).numpy().copy()


def make_pmixer_case(name, seed):
    n_items, d, n_blocks, n_heads, max_len, variant, layout, n = PMIXER_CASES[name]
    rng = np.random.default_rng(seed)
    model = random_pmixer(rng, n_items, d, n_blocks, n_heads, max_len, variant, layout)
    sequences = random_sequences(rng, n_items + 1, max_len, n)
    encoded = pmixer_encode(model, sequences, max_len)
    state = {key: value.numpy() for key, value in model.state_dict().items()}
    config = {"variant": variant, "n_heads": n_heads, "layout": layout, "max_len": max_len}
    top10 = reference_top({"item_embedding.weight": state["item_emb.weight"]}, encoded, sequences)
    np.savez_compressed(FIXTURES / f"attention_{name}_weights.npz", **state)
    np.savez_compressed(FIXTURES / f"attention_{name}_io.npz", config=np.array(json.dumps(config)),
                        indptr=np.cumsum([0] + [len(s) for s in sequences]), ids=np.concatenate(sequences),
                        encoded=encoded, top10=top10, torch_version=np.array(torch.__version__))


if __name__ == "__main__":
    import sys

    FIXTURES.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    only_pmixer = sys.argv[1:] == ["--pmixer"]  # the pmixer cases alone (the others left as they are)
    for seed, case in enumerate(CASES):
        if not only_pmixer:
            make_case(case, seed)
            print("wrote", case)
    for seed, case in enumerate(PMIXER_CASES, start=100):
        make_pmixer_case(case, seed)
        print("wrote", case)
