"""Evaluation: the ranking-metrics kernel alone, and ``turborec.evaluate`` end to end.

Backends that cannot run here are skipped (``setup`` raises ``NotImplementedError``).
"""

import numpy as np

import turborec
from turborec.backends import FAMILIES
from turborec.models import FactorModel

from .bench_topk import AVAILABLE, random_exclude, random_factors

METRIC_BACKENDS = list(FAMILIES["metrics"])  # from the registry, never a hand-kept list


class RankingMetrics:
    """All seven ranking metrics at k = 1, 5, 10, 20 for given top-20 lists."""

    params = [
        # backend: every backend with the metrics kernel; numpy only at the small size
        METRIC_BACKENDS,
        # n_users: 2,000 (every backend) or 100,000 (compiled backends only)
        [2_000, 100_000],
    ]
    param_names = ["backend", "n_users"]
    n_items, width = 50_000, 20

    def setup(self, backend, n_users):
        if backend not in AVAILABLE:
            raise NotImplementedError(f"backend {backend!r} is unavailable here")
        if backend == "numpy" and n_users != 2_000:
            raise NotImplementedError("the numpy reference only runs at the small size")
        rng = np.random.default_rng(0)
        self.recs = rng.integers(0, self.n_items, size=(n_users, self.width), dtype=np.int32)
        self.recs.sort(axis=1)  # distinct ids per row: drop repeats by shifting them out
        self.recs += np.arange(self.width, dtype=np.int32)
        self.recs %= self.n_items
        self.relevant = random_exclude(n_users, self.n_items, per_row=10, seed=3)
        turborec.metrics.ranking_metrics(self.recs[:10], self.relevant[:10], 20, backend=backend)

    def _run(self, backend):
        turborec.metrics.ranking_metrics(self.recs, self.relevant, (1, 5, 10, 20), backend=backend)

    def time_ranking_metrics(self, backend, n_users):
        self._run(backend)

    def peakmem_ranking_metrics(self, backend, n_users):
        self._run(backend)


class Evaluate:
    """``evaluate`` of a factor model: top-10 over 20,000 items, ~50 training items excluded."""

    params = [
        # n_users: test users, each with ~10 held-out items
        [2_000, 20_000],
    ]
    param_names = ["n_users"]
    n_items, n_factors = 20_000, 64

    def setup(self, n_users):
        users, items = random_factors(n_users, self.n_items, self.n_factors)
        self.model = FactorModel(users, items)
        self.train = random_exclude(n_users, self.n_items, seed=1)
        self.test = random_exclude(n_users, self.n_items, per_row=10, seed=2)
        turborec.evaluate(self.model, self.train[:10], self.test[:10], k=10)

    def _run(self):
        turborec.evaluate(self.model, self.train, self.test, k=10)

    def time_evaluate(self, n_users):
        self._run()

    def peakmem_evaluate(self, n_users):
        self._run()
