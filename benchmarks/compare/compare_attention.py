"""SASRec serving: turborec.attention against PyTorch eager on the same weights, in one process.

RecBole's SASRec shape (issue 11): max_len 50, hidden 64, 2 blocks, 2 heads, inner 256, 50,000
items, top-10 over all items with the sequence's items excluded. The torch side is an
``nn.Module`` with RecBole's parameter names and forward (eval mode, ``torch.inference_mode()``,
``torch.set_num_threads(threads)``), followed by RecBole's full-sort scoring (``user @
item_embedding.T``), the padding id and seen items set to -inf, and ``torch.topk``.

Measured: batch 1 latency (one user's request) with the float32 item table (exact) and with the
int8 table (``item_table="int8"``: approximate scores, the best 40 re-scored exactly), batch 256
throughput with both, and turborec's incremental ``step`` latency (one new item for a user with
20 items, cached keys and values). Medians over ``--repeat`` calls after a warm-up; the report
gives the ratios torch / turborec (torch always scores the float32 table exactly) and how many of
torch's top-10 ids each side returns; then the recall of the int8 table (the share of the exact
float32 top-10 it returns) on these weights and on a Gaussian table of the same size.

Usage::

    python benchmarks/compare/compare_attention.py            # RecBole shape
    python benchmarks/compare/compare_attention.py --quick    # small smoke run
    python benchmarks/compare/compare_attention.py --markdown results.md
"""

import argparse
import copy
import math
import statistics
import sys
import time

import numpy as np

from turborec.attention import SASRec

FULL = dict(items=50_000, hidden=64, layers=2, heads=2, inner=256, max_len=50, repeat_one=200, repeat_batch=10)
QUICK = dict(items=5_000, hidden=64, layers=2, heads=2, inner=256, max_len=50, repeat_one=20, repeat_batch=2)
BATCH = 256
SEED = 0


def make_weights(n_items, d, n_layers, inner, max_len, seed=SEED):
    """RecBole's SASRec parameter names to seeded float32 arrays (RecBole's N(0, 0.02) init is too
    flat to exercise attention; these scales give peaked attention and skewed item norms)."""
    rng = np.random.default_rng(seed)

    def normal(*shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    popularity = (np.arange(1, n_items + 1) ** -0.3).astype(np.float32)[:, None]  # skewed norms
    state = {"item_embedding.weight": normal(n_items, d, scale=0.5) * popularity * 3,
             "position_embedding.weight": normal(max_len, d, scale=0.5),
             "LayerNorm.weight": 1 + normal(d, scale=0.1), "LayerNorm.bias": normal(d, scale=0.1)}
    for i in range(n_layers):
        block = f"trm_encoder.layer.{i}."
        for part in ("query", "key", "value", "dense"):
            state[f"{block}multi_head_attention.{part}.weight"] = normal(d, d, scale=1.5 / math.sqrt(d))
            state[f"{block}multi_head_attention.{part}.bias"] = normal(d, scale=0.1)
        state[f"{block}feed_forward.dense_1.weight"] = normal(inner, d, scale=1 / math.sqrt(d))
        state[f"{block}feed_forward.dense_1.bias"] = normal(inner, scale=0.1)
        state[f"{block}feed_forward.dense_2.weight"] = normal(d, inner, scale=1 / math.sqrt(inner))
        state[f"{block}feed_forward.dense_2.bias"] = normal(d, scale=0.1)
        for ln in ("multi_head_attention.LayerNorm", "feed_forward.LayerNorm"):
            state[f"{block}{ln}.weight"] = 1 + normal(d, scale=0.1)
            state[f"{block}{ln}.bias"] = normal(d, scale=0.1)
    return state


def make_sequences(n, n_items, max_len, seed=SEED + 1):
    """Power-law item draws, lengths 5 to 2 * max_len (half are truncated)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, n_items) ** -0.8
    p /= p.sum()
    return [rng.choice(np.arange(1, n_items), size=int(rng.integers(5, 2 * max_len)), p=p) for _ in range(n)]


def torch_model(state, n_heads, max_len):
    """An eager nn.Module with RecBole's SASRec parameter names and evaluation-mode forward."""
    import torch
    from torch import nn

    n_items, d = state["item_embedding.weight"].shape
    inner = state["trm_encoder.layer.0.feed_forward.dense_1.weight"].shape[0]
    n_layers = len({k.split(".")[2] for k in state if k.startswith("trm_encoder.layer.")})
    hs = d // n_heads

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value, self.dense = (nn.Linear(d, d) for _ in range(4))
            self.LayerNorm = nn.LayerNorm(d, eps=1e-12)

        def forward(self, x, mask):
            def heads(y):
                return y.view(y.shape[0], -1, n_heads, hs).transpose(1, 2)

            scores = heads(self.query(x)) @ heads(self.key(x)).transpose(-1, -2) / math.sqrt(hs) + mask
            context = (torch.softmax(scores, -1) @ heads(self.value(x))).transpose(1, 2).reshape(x.shape)
            return self.LayerNorm(self.dense(context) + x)

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense_1, self.dense_2 = nn.Linear(d, inner), nn.Linear(inner, d)
            self.LayerNorm = nn.LayerNorm(d, eps=1e-12)

        def forward(self, x):
            h = self.dense_1(x)
            return self.LayerNorm(self.dense_2(h * 0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))) + x)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.multi_head_attention, self.feed_forward = Attention(), FeedForward()

        def forward(self, x, mask):
            return self.feed_forward(self.multi_head_attention(x, mask))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList(Layer() for _ in range(n_layers))

    class TorchSASRec(nn.Module):
        def __init__(self):
            super().__init__()
            self.item_embedding = nn.Embedding(n_items, d, padding_idx=0)
            self.position_embedding = nn.Embedding(max_len, d)
            self.trm_encoder = Encoder()
            self.LayerNorm = nn.LayerNorm(d, eps=1e-12)

        def forward(self, seq, lengths):
            x = self.LayerNorm(self.item_embedding(seq) + self.position_embedding.weight[:seq.shape[1]])
            real = (seq != 0)[:, None, None, :]
            causal = torch.tril(torch.ones(seq.shape[1], seq.shape[1], dtype=torch.bool))
            mask = torch.where(real & causal, 0.0, -10000.0)
            for layer in self.trm_encoder.layer:
                x = layer(x, mask)
            return x[torch.arange(len(seq)), lengths - 1]

        def recommend(self, seq, lengths, seen_rows, seen_cols, k=10):
            scores = self(seq, lengths) @ self.item_embedding.weight.T
            scores[:, 0] = -torch.inf
            scores[seen_rows, seen_cols] = -torch.inf
            return torch.topk(scores, k)

    model = TorchSASRec().eval()
    model.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    return model


def torch_inputs(sequences, max_len):
    import torch

    kept = [s[-max_len:] for s in sequences]
    seq = torch.zeros((len(kept), max_len), dtype=torch.long)
    for b, s in enumerate(kept):
        seq[b, :len(s)] = torch.from_numpy(s)
    rows = torch.from_numpy(np.repeat(np.arange(len(sequences)), [len(s) for s in sequences]))
    cols = torch.from_numpy(np.concatenate(sequences))
    return seq, torch.tensor([len(s) for s in kept]), rows, cols


def median_seconds(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_seconds(model, sequence, item, threads, repeat):
    """Median time of one ``step`` (a fresh copy of the same state each time, copied untimed)."""
    base = model.start(sequence, n_threads=threads)
    times = []
    for _ in range(repeat + 1):
        state = copy.deepcopy(base)
        start = time.perf_counter()
        model.step(state, item, n_threads=threads)
        times.append(time.perf_counter() - start)
    assert state.full_passes == 0  # the cached path was measured
    return statistics.median(times[1:])


def shared_ids(a, b):
    return float(np.mean([len(np.intersect1d(x, y)) / x.shape[0] for x, y in zip(a, b)]))


def int8_recall(model, sequences):
    return shared_ids(model.recommend(sequences, k=10, item_table="int8")[0], model.recommend(sequences, k=10)[0])


def gaussian_recall(size, seed=SEED + 2):
    import turborec

    rng = np.random.default_rng(seed)
    items = rng.standard_normal((size["items"], size["hidden"])).astype(np.float32)
    queries = rng.standard_normal((BATCH, size["hidden"])).astype(np.float32)
    quantized = turborec.topk_dot_quantized(queries, turborec.quantize_items(items), 10)[0]
    return shared_ids(quantized, turborec.topk_dot(queries, items, 10)[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    state = make_weights(size["items"], size["hidden"], size["layers"], size["inner"], size["max_len"])
    model = SASRec.from_recbole(state, n_heads=size["heads"])
    sequences = make_sequences(BATCH, size["items"], size["max_len"])
    rows = []

    def ours(batch, table):
        return lambda: model.recommend(batch, k=10, item_table=table, n_threads=args.threads)

    one = sequences[:1]
    for batch, repeat in ((one, size["repeat_one"]), (sequences, size["repeat_batch"])):
        for table in ("float32", "int8"):
            rows.append((f"batch {len(batch)} recommend, {table} table", batch, table,
                         median_seconds(ours(batch, table), repeat)))
    rows.append(("step (20 items + 1)", None, None, step_seconds(model, sequences[1][:20], int(sequences[2][0]),
                                                                  args.threads, size["repeat_one"])))
    report = [f"turborec SASRec serving, {size['items']} items, threads={args.threads}", ""]
    report += ["| task | turborec (ms) | torch eager (ms) | torch / turborec | same top-10 as torch |", "|---|---|---|---|---|"]
    try:
        import torch
    except ImportError:
        torch = None
    torch_runs = {}  # batch size -> (seconds, ids): torch scores the float32 table, once per batch
    for name, batch, table, ours_s in rows:
        theirs, agree = None, ""
        if torch is not None and batch is not None:
            if len(batch) not in torch_runs:
                torch.set_num_threads(args.threads)
                tmodel = torch_model(state, size["heads"], size["max_len"])
                inputs = torch_inputs(batch, size["max_len"])
                with torch.inference_mode():
                    seconds = median_seconds(lambda: tmodel.recommend(*inputs),
                                             size["repeat_one"] if len(batch) == 1 else size["repeat_batch"])
                    torch_runs[len(batch)] = seconds, tmodel.recommend(*inputs).indices.numpy()
            theirs, their_ids = torch_runs[len(batch)]
            our_ids = model.recommend(batch, k=10, item_table=table)[0]
            # the share of users whose top-10 lists are identical, and of the ids both return (a
            # near-tie at the 10th score may fall either way under float32 rounding)
            same_lists = float(np.mean((their_ids == our_ids).all(axis=1)))
            shared = float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(their_ids, our_ids)]))
            agree = f"{same_lists:.1%} of lists, {shared:.2%} of ids"
        ratio = f"{theirs / ours_s:.2f}x" if theirs and ours_s else "-"
        theirs_ms = f"{theirs * 1e3:.3f}" if theirs else "-"
        report.append(f"| {name} | {ours_s * 1e3:.3f} | {theirs_ms} | {ratio} | {agree} |")
    if torch is None:
        report.append("\ntorch is not installed (pip install '.[torch]'): turborec timings only.")
    report += ["", "Recall of the int8 table (share of the exact float32 top-10 returned, seen items excluded):",
               f"- these weights (skewed item norms), {BATCH} sequences: {int8_recall(model, sequences):.2%}",
               f"- a Gaussian table of the same shape, {BATCH} Gaussian queries: {gaussian_recall(size):.2%}"]
    text = "\n".join(report)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
