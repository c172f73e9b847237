"""LMF: one half-step of the kernel (``turborec.lmf``) per host backend, and a short model fit.

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``). The NumPy reference steps one row and one
entry at a time in Python, so it only runs at the small size.
"""

import numpy as np
import scipy.sparse as sp

from turborec import lmf
from turborec.backends import FAMILIES
from turborec.models import LogisticMatrixFactorization

from .bench_similarity import power_law_user_items  # power-law popularity, log-normal activity
from .bench_topk import check_backend  # skips what cannot run here, and numpy past the small size

HOST_BACKENDS = list(FAMILIES["lmf"])  # from the registry (host backends only)
SEED = 0
SMALL = 500  # items at which the numpy reference also runs (1,000 users, ~20,000 entries)
FACTORS = 30  # implicit's default


def _problem(n_items, dtype=np.float32):
    """(users' rows, user factors, item factors, AdaGrad sums): 2 users per item."""
    user_items = power_law_user_items(2 * n_items, n_items, per_user=20 if n_items == SMALL else 50)
    rng = np.random.default_rng(SEED)
    users, _ = lmf.as_rows(user_items, dtype)
    x = rng.standard_normal((user_items.shape[0], FACTORS + 2)).astype(dtype)
    y = rng.standard_normal((n_items, FACTORS + 2)).astype(dtype)
    return users, x, y, np.zeros_like(x)


class LmfUpdate:
    """One users' half-step as the model calls it: factors and AdaGrad sums updated in place."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_items: 500 (every backend) or 50,000 (compiled backends; 100,000 users, ~5M entries)
        [SMALL, 50_000],
        # n_threads: one and two (the result is the same bits)
        [1, 2],
    ]
    param_names = ["backend", "n_items", "n_threads"]

    def setup(self, backend, n_items, n_threads):
        check_backend(backend, n_items, small=SMALL)
        self.users, self.x, self.y, self.sums = _problem(n_items)
        # Warm-up: JIT compilation (numba) and thread-pool start-up stay out of the timing.
        tiny, _ = lmf.as_rows(sp.csr_matrix(np.eye(4)), np.float32)
        ones = np.ones((4, 3), np.float32)
        lmf.update(tiny, ones, ones.copy(), np.zeros_like(ones), 1.0, 0.6, 30, 0, backend, n_threads)

    def _run(self, backend, n_threads):
        lmf.update(self.users, self.y, self.x, self.sums, 1.0, 0.6, 30, 1, backend, n_threads)

    def time_update(self, backend, n_items, n_threads):
        self._run(backend, n_threads)

    def peakmem_update(self, backend, n_items, n_threads):
        self._run(backend, n_threads)


class LmfFit:
    """``LogisticMatrixFactorization(iterations=5).fit`` on 40,000 users x 20,000 items (~2M
    interactions), validation and initialisation included."""

    params = [
        # backend: the compiled host backends (the numpy reference would take hours)
        [b for b in HOST_BACKENDS if b != "numpy"],
    ]
    param_names = ["backend"]
    n_items = 20_000

    def setup(self, backend):
        check_backend(backend, self.n_items, small=None)
        self.user_items = power_law_user_items(2 * self.n_items, self.n_items)
        LogisticMatrixFactorization(factors=4, iterations=1, backend=backend).fit(self.user_items[:50],
                                                                                  show_progress=False)

    def _run(self, backend):
        LogisticMatrixFactorization(iterations=5, random_state=SEED, backend=backend).fit(self.user_items,
                                                                                          show_progress=False)

    def time_fit(self, backend):
        self._run(backend)

    def peakmem_fit(self, backend):
        self._run(backend)
