"""Train a tiny SASRec in torch, serve it with turborec, get torch's top-10.

1. Sequences: turborec's built-in ``synthetic_sequences`` (Markov chains over item clusters, so
   the next item is predictable from the last ones). Each user's last item is held out.
2. Train: an ``nn.Module`` laid out as RecBole's SASRec (its parameter names and its forward:
   embedding + position, LayerNorm, post-LN Transformer blocks, -10000 padding and causal mask,
   exact GELU), a few epochs of cross-entropy over the whole catalogue at every position, on CPU.
3. Export: ``model.state_dict()`` has RecBole's key names; save it as RecBole does (a dict with
   ``state_dict`` and ``config``) and convert it with ``turborec attention convert``.
4. Serve with turborec (no torch needed there) and check: the same top-10 as torch for every
   user, seen items excluded; the hit rate of the held-out item against popularity's.

Run from anywhere: ``python examples/sasrec_torch_to_turborec.py`` (needs torch: ``pip install
'turborec[torch]'``; ``--help`` for the sizes). About ten seconds on one CPU core.
"""

import argparse
import math
import os
import tempfile
import time

import numpy as np
import torch
from torch import nn

from turborec import cli
from turborec.attention import SASRec, load_npz
from turborec.datasets import synthetic_sequences


class MultiHeadAttention(nn.Module):
    """RecBole's ``multi_head_attention``: scaled dot-product attention, then dense + residual +
    LayerNorm (post-LN)."""

    def __init__(self, hidden, n_heads, dropout, eps):
        super().__init__()
        self.n_heads, self.head_size = n_heads, hidden // n_heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        n, length, hidden = x.shape

        def heads(y):  # (n, L, D) -> (n, heads, L, head size)
            return y.view(n, length, self.n_heads, self.head_size).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + mask, dim=-1)
        context = (self.dropout(weights) @ v).transpose(1, 2).reshape(n, length, hidden)
        return self.LayerNorm(self.dropout(self.dense(context)) + x)


class FeedForward(nn.Module):
    """RecBole's ``feed_forward``: dense_1, exact GELU, dense_2, then residual + LayerNorm."""

    def __init__(self, hidden, inner, dropout, eps):
        super().__init__()
        self.dense_1, self.dense_2 = nn.Linear(hidden, inner), nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.LayerNorm(self.dropout(self.dense_2(nn.functional.gelu(self.dense_1(x)))) + x)


class TransformerLayer(nn.Module):
    def __init__(self, hidden, n_heads, inner, dropout, eps):
        super().__init__()
        self.multi_head_attention = MultiHeadAttention(hidden, n_heads, dropout, eps)
        self.feed_forward = FeedForward(hidden, inner, dropout, eps)

    def forward(self, x, mask):
        return self.feed_forward(self.multi_head_attention(x, mask))


class Encoder(nn.Module):
    def __init__(self, n_layers, *args):
        super().__init__()
        self.layer = nn.ModuleList(TransformerLayer(*args) for _ in range(n_layers))

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class TorchSASRec(nn.Module):
    """SASRec with RecBole's parameter names (``item_embedding``, ``position_embedding``,
    ``LayerNorm``, ``trm_encoder.layer.<i>...``). Item 0 pads; sequences are right-padded."""

    def __init__(self, n_items, max_len, hidden=32, n_layers=2, n_heads=2, inner=64, dropout=0.2, eps=1e-12):
        super().__init__()
        self.item_embedding = nn.Embedding(n_items, hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.trm_encoder = Encoder(n_layers, hidden, n_heads, inner, dropout, eps)
        for module in self.modules():  # RecBole's initialisation: N(0, 0.02), zero biases
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.data.normal_(0.0, 0.02)
            if isinstance(module, nn.Linear):
                module.bias.data.zero_()

    def forward(self, padded):
        """Every position's output (n, L, hidden) of right-padded item ids (n, L)."""
        length = padded.shape[1]
        x = self.item_embedding(padded) + self.position_embedding(torch.arange(length))[None]
        x = self.dropout(self.LayerNorm(x))
        allowed = (padded != 0)[:, None, None, :] & torch.ones(length, length, dtype=torch.bool).tril()
        return self.trm_encoder(x, torch.where(allowed, 0.0, -10000.0))

    def top(self, padded, lengths, seen, k):
        """Top-k next items after each sequence's last item, the padding id and seen items excluded."""
        users = self.forward(padded)[torch.arange(len(padded)), lengths - 1]
        scores = users @ self.item_embedding.weight.T
        scores[:, 0] = -torch.inf
        for row, items in enumerate(seen):
            scores[row, items] = -torch.inf
        return users, torch.topk(scores, k).indices


def pad(sequences, width):
    """The ``width`` most recent items of each sequence, right-padded with 0; and their lengths."""
    kept = [s[-width:] for s in sequences]
    padded = torch.zeros(len(kept), width, dtype=torch.long)
    for row, s in enumerate(kept):
        padded[row, :len(s)] = torch.from_numpy(s)
    return padded, torch.tensor([len(s) for s in kept])


def train(model, histories, max_len, epochs, batch_size, seed):
    """Next-item cross-entropy over the whole catalogue at every real position."""
    padded, lengths = pad(histories, max_len + 1)  # inputs are the first max_len, targets shifted by one
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for rows in torch.randperm(len(padded), generator=generator).split(batch_size):
            inputs, targets = padded[rows, :-1], padded[rows, 1:]
            logits = model(inputs) @ model.item_embedding.weight.T
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               ignore_index=0)  # target 0: past the sequence's end
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(rows)
        if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
            print(f"  epoch {epoch + 1}: loss {total / len(padded):.3f}")
    model.eval()


def main(argv=None):
    """Run the example; returns what it checked (the test asserts on it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--users", type=int, default=1000, help="synthetic users")
    parser.add_argument("--items", type=int, default=300, help="synthetic items")
    parser.add_argument("--max-len", type=int, default=20, help="RecBole's MAX_ITEM_LIST_LENGTH")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch's and turborec's threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="where the checkpoint and .npz go (default: a temporary one)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    data = synthetic_sequences(args.users, args.items, seed=args.seed)
    # RecBole's item ids: item + 1 (0 is the padding id); the last item of each user is held out.
    sequences = np.split(data.items.astype(np.int64) + 1, np.flatnonzero(np.diff(data.users)) + 1)
    histories, held_out = [s[:-1] for s in sequences], np.array([s[-1] for s in sequences])
    print(f"{len(sequences):,} synthetic sequences over {args.items} items, {len(data) / len(sequences):.1f} items "
          f"on average; training SASRec in torch ({args.epochs} epochs):")
    model = TorchSASRec(args.items + 1, args.max_len)
    start = time.perf_counter()
    train(model, histories, args.max_len, args.epochs, batch_size=128, seed=args.seed)
    print(f"  {time.perf_counter() - start:.1f} s")

    with torch.inference_mode():
        padded, lengths = pad(histories, args.max_len)
        torch_users, torch_ids = model.top(padded, lengths, [torch.from_numpy(h) for h in histories], k=10)
    torch_users, torch_ids = torch_users.numpy(), torch_ids.numpy()

    # Export as RecBole saves a checkpoint: the state_dict (RecBole's names) and the config.
    config = {"model": "SASRec", "n_heads": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
              "MAX_ITEM_LIST_LENGTH": args.max_len}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or scratch
        checkpoint, converted = os.path.join(workdir, "SASRec.pth"), os.path.join(workdir, "sasrec.npz")
        torch.save({"config": config, "epoch": args.epochs, "state_dict": model.state_dict()}, checkpoint)
        print(f"$ turborec attention convert {checkpoint} {converted}")
        if cli.main(["attention", "convert", checkpoint, converted]) != 0:
            raise SystemExit("turborec attention convert failed")
        served = load_npz(converted)  # from here on, no torch
    direct = SASRec.from_recbole(model.state_dict(), n_heads=2)  # or straight from the tensors, in one process

    users = served.encode(histories, n_threads=args.threads)
    ids, _ = served.recommend(histories, k=10, n_threads=args.threads)
    direct_ids, _ = direct.recommend(histories, k=10, n_threads=args.threads)
    error = float((np.abs(users - torch_users).max(axis=1) / np.abs(torch_users).max(axis=1)).max())
    same = (ids == torch_ids).all(axis=1)
    ranking = np.argsort(-np.bincount(np.concatenate(histories), minlength=args.items + 1)[1:], kind="stable") + 1
    popular = np.array([ranking[~np.isin(ranking, h)][:10] for h in histories])  # unseen, most popular first
    hit_rate = float((ids == held_out[:, None]).any(axis=1).mean())
    popular_hit_rate = float((popular == held_out[:, None]).any(axis=1).mean())
    print(f"turborec (from the .npz) against torch, {len(histories):,} users: encodings within {error:.1e} "
          f"(relative), top-10 identical for {same.sum():,} of {len(same):,}")
    print(f"held-out next item in the top-10: SASRec {hit_rate:.3f}, most popular items {popular_hit_rate:.3f}")
    return {"torch_ids": torch_ids, "ids": ids, "direct_ids": direct_ids, "encode_error": error,
            "hit_rate": hit_rate, "popular_hit_rate": popular_hit_rate}


if __name__ == "__main__":
    main()
