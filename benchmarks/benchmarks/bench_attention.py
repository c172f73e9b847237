"""SASRec serving on the attention kernels: RecBole's shape (max_len 50, hidden 64, 2 blocks,
2 heads, inner 256) over 50,000 items, top-10 with the sequence's items excluded.

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``); the NumPy reference runs batch 1 only.
The weights and sequences are those of benchmarks/compare/compare_attention.py (seeded), drawn
here without importing it.
"""

import math

import numpy as np

import turborec
from turborec.attention import SASRec
from turborec.backends import FAMILIES, GPU_BACKENDS

HOST_BACKENDS = [b for b in FAMILIES["attention"] if b not in GPU_BACKENDS]  # from the registry
AVAILABLE = turborec.available()
N_ITEMS, HIDDEN, LAYERS, INNER, MAX_LEN = 50_000, 64, 2, 256, 50
SEED = 0


def sasrec_weights(seed=SEED):
    """RecBole's SASRec parameter names to seeded float32 arrays (peaked attention, skewed item
    norms)."""
    rng = np.random.default_rng(seed)

    def normal(*shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    popularity = (np.arange(1, N_ITEMS + 1) ** -0.3).astype(np.float32)[:, None]
    state = {"item_embedding.weight": normal(N_ITEMS, HIDDEN, scale=0.5) * popularity * 3,
             "position_embedding.weight": normal(MAX_LEN, HIDDEN, scale=0.5),
             "LayerNorm.weight": 1 + normal(HIDDEN, scale=0.1), "LayerNorm.bias": normal(HIDDEN, scale=0.1)}
    for i in range(LAYERS):
        block = f"trm_encoder.layer.{i}."
        for part in ("query", "key", "value", "dense"):
            state[f"{block}multi_head_attention.{part}.weight"] = normal(HIDDEN, HIDDEN, scale=1.5 / math.sqrt(HIDDEN))
            state[f"{block}multi_head_attention.{part}.bias"] = normal(HIDDEN, scale=0.1)
        state[f"{block}feed_forward.dense_1.weight"] = normal(INNER, HIDDEN, scale=1 / math.sqrt(HIDDEN))
        state[f"{block}feed_forward.dense_1.bias"] = normal(INNER, scale=0.1)
        state[f"{block}feed_forward.dense_2.weight"] = normal(HIDDEN, INNER, scale=1 / math.sqrt(INNER))
        state[f"{block}feed_forward.dense_2.bias"] = normal(HIDDEN, scale=0.1)
        for ln in ("multi_head_attention.LayerNorm", "feed_forward.LayerNorm"):
            state[f"{block}{ln}.weight"] = 1 + normal(HIDDEN, scale=0.1)
            state[f"{block}{ln}.bias"] = normal(HIDDEN, scale=0.1)
    return state


def sequences(n, seed=SEED + 1):
    """Power-law item draws, lengths 5 to 2 * max_len (half are truncated)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, N_ITEMS) ** -0.8
    p /= p.sum()
    return [rng.choice(np.arange(1, N_ITEMS), size=int(rng.integers(5, 2 * MAX_LEN)), p=p) for _ in range(n)]


class SASRecServing:
    """``recommend`` (top-10 over all items, seen ones excluded) and ``encode`` per batch."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # batch: one user's request (latency) and 256 users (throughput); numpy: batch 1 only
        [1, 256],
    ]
    param_names = ["backend", "batch"]

    def setup(self, backend, batch):
        if backend not in AVAILABLE:
            raise NotImplementedError(f"backend {backend!r} is unavailable here")
        if backend == "numpy" and batch != 1:
            raise NotImplementedError("the numpy reference only runs batch 1")
        self.model = SASRec.from_recbole(sasrec_weights())
        self.sequences = sequences(batch)
        self.model.recommend(self.sequences[:1], backend=backend)  # warm-up: thread pools, BLAS

    def time_recommend(self, backend, batch):
        self.model.recommend(self.sequences, k=10, backend=backend)

    def peakmem_recommend(self, backend, batch):
        self.model.recommend(self.sequences, k=10, backend=backend)

    def time_encode(self, backend, batch):
        self.model.encode(self.sequences, backend=backend)


class SASRecInt8Table:
    """``recommend`` with ``item_table="int8"``: the int8 table scored, the best 40 re-ranked."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # batch: one user's request (latency) and 256 users (throughput); numpy: batch 1 only
        [1, 256],
    ]
    param_names = ["backend", "batch"]

    def setup(self, backend, batch):
        SASRecServing.setup(self, backend, batch)
        self.model.recommend(self.sequences[:1], item_table="int8", backend=backend)  # builds the table

    def time_recommend_int8(self, backend, batch):
        self.model.recommend(self.sequences, k=10, item_table="int8", backend=backend)


class SASRecStep:
    """Incremental serving: one new item for a user with 20 (cached keys and values)."""

    params = [HOST_BACKENDS]  # backend: every host backend of the family
    param_names = ["backend"]

    def setup(self, backend):
        if backend not in AVAILABLE:
            raise NotImplementedError(f"backend {backend!r} is unavailable here")
        self.model = SASRec.from_recbole(sasrec_weights())
        self.history = sequences(1)[0][:20]
        self.state = self.model.start(self.history, backend=backend)

    def time_step(self, backend):
        # The state grows by one item per call: restart (rarely) before the window would slide,
        # so every timed step takes the cached path.
        if self.state.length >= MAX_LEN - 1:
            self.state = self.model.start(self.history, backend=backend)
        self.model.step(self.state, 7, backend=backend)
