"""BPR: one epoch of the kernel (``turborec.bpr``) per host backend, and a short model fit.

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``). The NumPy reference steps one sample at a
time in Python, so it only runs at the small size. The side-by-side comparison with implicit's
CPU BPR on 100,000 x 50,000 is ``benchmarks/compare/compare_bpr.py``.
"""

import numpy as np
import scipy.sparse as sp

from turborec import bpr
from turborec.backends import FAMILIES
from turborec.models import BayesianPersonalizedRanking

from .bench_similarity import power_law_user_items  # power-law popularity, log-normal activity
from .bench_topk import check_backend  # skips what cannot run here, and numpy past the small size

HOST_BACKENDS = list(FAMILIES["bpr"])  # from the registry (host backends only)
SEED = 0
SMALL = 500  # items at which the numpy reference also runs (1,000 users, ~20,000 samples)
FACTORS = 64


def _problem(n_items, dtype=np.float32):
    """(likes, user_factors, item_factors): 2 users per item, ~20 (small) or ~50 items per user."""
    user_items = power_law_user_items(2 * n_items, n_items, per_user=20 if n_items == SMALL else 50)
    rng = np.random.default_rng(SEED)
    user_factors = ((rng.random((user_items.shape[0], FACTORS + 1)) - 0.5) / FACTORS).astype(dtype)
    user_factors[:, -1] = 1
    item_factors = ((rng.random((n_items, FACTORS + 1)) - 0.5) / FACTORS).astype(dtype)
    return bpr.as_likes(user_items), user_factors, item_factors


class BprEpoch:
    """One epoch (nnz samples) of the kernel, factors updated in place (a model's fit runs all its
    epochs in one such call)."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_items: 500 (every backend) or 50,000 (compiled backends; 100,000 users, ~5M samples)
        [SMALL, 50_000],
        # verify_negative_samples: the lookup of each negative among the user's likes, or not
        [True, False],
        # n_threads: the reproducible mode, and Hogwild on two threads
        [1, 2],
    ]
    param_names = ["backend", "n_items", "verify", "n_threads"]

    def setup(self, backend, n_items, verify, n_threads):
        check_backend(backend, n_items, small=SMALL)
        self.likes, self.user_factors, self.item_factors = _problem(n_items)
        # Warm-up: JIT compilation (numba) and thread-pool start-up stay out of the timing.
        tiny = bpr.as_likes(sp.csr_matrix(np.eye(4)))
        bpr.epochs(tiny, np.ones((4, 3), np.float32), np.ones((4, 3), np.float32), 0.01, 0.01, [0], verify, backend,
                   n_threads)

    def _run(self, backend, verify, n_threads):
        bpr.epochs(self.likes, self.user_factors, self.item_factors, 0.01, 0.01, [1], verify, backend, n_threads)

    def time_epoch(self, backend, n_items, verify, n_threads):
        self._run(backend, verify, n_threads)

    def peakmem_epoch(self, backend, n_items, verify, n_threads):
        self._run(backend, verify, n_threads)


class BprFit:
    """``BayesianPersonalizedRanking(factors=64, iterations=5).fit`` on 40,000 users x 20,000
    items (~2M interactions), validation and initialisation included."""

    params = [
        # backend: the compiled host backends (the numpy reference would take hours)
        [b for b in HOST_BACKENDS if b != "numpy"],
    ]
    param_names = ["backend"]
    n_items = 20_000

    def setup(self, backend):
        check_backend(backend, self.n_items, small=None)
        self.user_items = power_law_user_items(2 * self.n_items, self.n_items)
        BayesianPersonalizedRanking(factors=4, iterations=1, backend=backend).fit(self.user_items[:50],
                                                                                  show_progress=False)

    def _run(self, backend):
        BayesianPersonalizedRanking(factors=FACTORS, iterations=5, random_state=SEED, backend=backend).fit(
            self.user_items, show_progress=False)

    def time_fit(self, backend):
        self._run(backend)

    def peakmem_fit(self, backend):
        self._run(backend)
