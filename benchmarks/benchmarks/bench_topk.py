"""Top-k kernels: ``turborec.topk`` on a dense score matrix and the fused ``turborec.topk_dot``.

Every host backend is a parameter; one that cannot run here is skipped (asv's convention:
``setup`` raises ``NotImplementedError``). The NumPy reference is orders of magnitude slower,
so it only runs at the small size.
"""

import numpy as np
import scipy.sparse as sp

import turborec
from turborec.backends import FAMILIES, GPU_BACKENDS

HOST_BACKENDS = [b for b in FAMILIES["selection"] if b not in GPU_BACKENDS]  # from the registry
# Probed once at import: in asv's fork server (see asv.conf.json), not in every forked
# benchmark process (importing numba alone takes about a second).
AVAILABLE = turborec.available()
N_EXCLUDED = 50  # items excluded per row, like a user's already-liked items
SEED = 0

# The data is drawn in ``setup``, seeded, for the rows a run needs: cheaper than asv's
# ``setup_cache``, which pickles the data to disk and loads it again for every parameter
# combination, skipped ones included.


def random_factors(n_users, n_items, n_factors, seed=SEED):
    """Seeded float32 user and item factors whose dot products have unit variance."""
    rng = np.random.default_rng(seed)
    scale = np.float32(n_factors ** -0.25)  # each factor ~ N(0, 1/sqrt(d))
    users = rng.standard_normal((n_users, n_factors), dtype=np.float32) * scale
    items = rng.standard_normal((n_items, n_factors), dtype=np.float32) * scale
    return users, items


def random_exclude(n_rows, n_cols, per_row=N_EXCLUDED, seed=SEED):
    """CSR of ``per_row`` random columns per row (a rare duplicate drawn twice counts once)."""
    rng = np.random.default_rng(seed + 1)
    cols = rng.integers(0, n_cols, size=(n_rows, per_row), dtype=np.int32)
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), per_row)
    ones = np.ones(cols.size, dtype=np.float32)
    exclude = sp.csr_matrix((ones, (rows, cols.ravel())), shape=(n_rows, n_cols))
    exclude.sum_duplicates()
    return exclude


def check_backend(backend, n_rows, small):
    """Skip a combination this machine cannot run, or the NumPy reference at full size."""
    if backend not in AVAILABLE:
        raise NotImplementedError(f"backend {backend!r} is unavailable here")
    if backend == "numpy" and n_rows != small:
        raise NotImplementedError("the numpy reference only runs at the small size")


class TopkDot:
    """Top-k items per query by dot product, with ~50 excluded items per query."""

    params = [
        # backend: every host backend; unavailable ones are skipped
        HOST_BACKENDS,
        # n_queries: 200 (every backend) or 20,000 (compiled backends only)
        [200, 20_000],
        # k: a recommendation list, and a long candidate list for re-ranking
        [10, 100],
    ]
    param_names = ["backend", "n_queries", "k"]
    n_items, n_factors = 20_000, 64

    def setup(self, backend, n_queries, k):
        check_backend(backend, n_queries, small=min(self.params[1]))
        self.queries, self.items = random_factors(n_queries, self.n_items, self.n_factors)
        self.exclude = random_exclude(n_queries, self.n_items)
        # Warm-up: JIT compilation (numba) and thread-pool start-up stay out of the timing.
        turborec.topk_dot(self.queries[:4], self.items, k, exclude=self.exclude[:4], backend=backend)

    def _run(self, backend, k):
        turborec.topk_dot(self.queries, self.items, k, exclude=self.exclude, backend=backend)

    def time_topk_dot(self, backend, n_queries, k):
        self._run(backend, k)

    def peakmem_topk_dot(self, backend, n_queries, k):
        self._run(backend, k)


class TopkDotSmallBatch:
    """One to sixteen queries over 50,000 items (a serving request): the items are split into
    segments so that every thread scans part of them; float32 exact and the int8 table."""

    params = [
        # backend: every host backend; unavailable ones are skipped
        HOST_BACKENDS,
        # n_queries: one user's request, and a small batch (one row block)
        [1, 16],
        # table: exact float32 scoring (topk_dot), or int8 + exact re-rank (topk_dot_quantized)
        ["float32", "int8"],
    ]
    param_names = ["backend", "n_queries", "table"]
    n_items, n_factors = 50_000, 64

    def setup(self, backend, n_queries, table):
        check_backend(backend, n_queries, small=1)
        self.queries, self.items = random_factors(n_queries, self.n_items, self.n_factors)
        self.exclude = random_exclude(n_queries, self.n_items)
        self.quantized = turborec.quantize_items(self.items)
        self._run(backend, table)  # warm-up: JIT compilation, thread pools

    def _run(self, backend, table):
        if table == "int8":
            turborec.topk_dot_quantized(self.queries, self.quantized, 10, exclude=self.exclude, backend=backend)
        else:
            turborec.topk_dot(self.queries, self.items, 10, exclude=self.exclude, backend=backend)

    def time_topk_dot_small_batch(self, backend, n_queries, table):
        self._run(backend, table)

    def peakmem_topk_dot_small_batch(self, backend, n_queries, table):
        self._run(backend, table)


class Topk:
    """Row-wise top-10 of a dense (n_rows, 50,000) float32 score matrix."""

    params = [
        # backend: every host backend; unavailable ones are skipped
        HOST_BACKENDS,
        # n_rows: 100 (every backend) or 2,000 (compiled backends only)
        [100, 2_000],
        # exclude: none, or ~50 excluded columns per row
        [False, True],
    ]
    param_names = ["backend", "n_rows", "exclude"]
    n_cols, k = 50_000, 10

    def setup(self, backend, n_rows, exclude):
        check_backend(backend, n_rows, small=min(self.params[1]))
        users, items = random_factors(n_rows, self.n_cols, n_factors=64)
        self.scores = users @ items.T
        self.exclude = random_exclude(n_rows, self.n_cols) if exclude else None
        warm_exclude = self.exclude[:4] if exclude else None
        turborec.topk(self.scores[:4], self.k, exclude=warm_exclude, backend=backend)

    def _run(self, backend):
        turborec.topk(self.scores, self.k, exclude=self.exclude, backend=backend)

    def time_topk(self, backend, n_rows, exclude):
        self._run(backend)

    def peakmem_topk(self, backend, n_rows, exclude):
        self._run(backend)
