"""ALS kernels: one half-step (``turborec.als.least_squares``, conjugate gradient and Cholesky),
the training loss, and a whole ``AlternatingLeastSquares`` fit.

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``); the NumPy reference loops over rows in
Python, so it only runs at the small size. The side-by-side comparison with implicit on
synthetic-medium (100,000 x 50,000, 5M interactions) is ``benchmarks/compare/compare_als.py``.
"""

import numpy as np

from turborec import als
from turborec.backends import FAMILIES
from turborec.models import AlternatingLeastSquares

from .bench_similarity import power_law_user_items  # power-law popularity, drawn in well under a second
from .bench_topk import check_backend  # skips what cannot run here, and numpy past the small size

HOST_BACKENDS = list(FAMILIES["als"])  # from the registry (host backends only)
SEED = 0
SMALL = 1_000  # users at which the numpy reference also runs
FACTORS = 64


def problem(n_users):
    """A power-law users x items matrix (half as many items, ~50 per user), float32 factors."""
    user_items = power_law_user_items(n_users, n_users // 2, per_user=50, seed=SEED)
    rng = np.random.default_rng(SEED)
    x = rng.random((n_users, FACTORS), dtype=np.float32) * np.float32(0.01)
    y = rng.standard_normal((n_users // 2, FACTORS), dtype=np.float32) * np.float32(0.1)
    return user_items, x, y


class HalfStep:
    """New factors for every user given the item factors (one half of an ALS iteration)."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_users: 1,000 (every backend) or 40,000 (compiled backends; ~2M interactions)
        [SMALL, 40_000],
        # solver: conjugate gradient (3 steps, implicit's default) or exact Cholesky
        ["cg", "cholesky"],
    ]
    param_names = ["backend", "n_users", "solver"]

    def setup(self, backend, n_users, solver):
        check_backend(backend, n_users, small=SMALL)
        self.user_items, self.x, self.y = problem(n_users)
        # Warm-up: JIT compilation (numba) and thread start-up stay out of the timing.
        als.least_squares(self.user_items[:8], self.x[:8], self.y, 0.01, use_cg=solver == "cg", backend=backend)

    def _run(self, backend, solver):
        als.least_squares(self.user_items, self.x, self.y, 0.01, use_cg=solver == "cg", backend=backend)

    def time_half_step(self, backend, n_users, solver):
        self._run(backend, solver)

    def peakmem_half_step(self, backend, n_users, solver):
        self._run(backend, solver)


class Loss:
    """implicit's training loss of the users' and items' factors."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_users: 1,000 (every backend) or 40,000 (compiled backends)
        [SMALL, 40_000],
    ]
    param_names = ["backend", "n_users"]

    def setup(self, backend, n_users):
        check_backend(backend, n_users, small=SMALL)
        self.user_items, self.x, self.y = problem(n_users)
        als.calculate_loss(self.user_items[:8], self.x[:8], self.y, 0.01, backend=backend)

    def time_loss(self, backend, n_users):
        als.calculate_loss(self.user_items, self.x, self.y, 0.01, backend=backend)


class Fit:
    """A whole fit: 15 iterations with conjugate gradient (implicit's defaults, 64 factors)."""

    params = [
        # backend: the compiled host backends (a fit on the reference takes minutes)
        [b for b in HOST_BACKENDS if b != "numpy"],
        # n_users: 10,000 (~500k interactions over 5,000 items)
        [10_000],
    ]
    param_names = ["backend", "n_users"]

    def setup(self, backend, n_users):
        check_backend(backend, n_users, small=n_users)
        self.user_items, _, _ = problem(n_users)
        AlternatingLeastSquares(factors=FACTORS, iterations=1, backend=backend).fit(self.user_items[:50],
                                                                                   show_progress=False)

    def _run(self, backend):
        AlternatingLeastSquares(factors=FACTORS, random_state=SEED, backend=backend).fit(self.user_items,
                                                                                        show_progress=False)

    def time_fit(self, backend, n_users):
        self._run(backend)

    def peakmem_fit(self, backend, n_users):
        self._run(backend)
