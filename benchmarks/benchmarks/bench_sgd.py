"""SGD epochs of explicit-rating factorisation: ``svd_epoch`` (sequential and on the parallel
grid, with the grid's ``block_order``) and ``svdpp_epoch``.

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``). The NumPy reference is a Python loop per
rating, so it only runs at the small size. Ratings are drawn with biases,
low-rank tastes and noise over power-law item popularity, in user order, as Surprise visits
them. The side-by-side comparison with Surprise on MovieLens is
``benchmarks/compare/compare_svd.py``.
"""

import numpy as np

from turborec import sgd
from turborec.backends import FAMILIES

from .bench_topk import check_backend  # skips what cannot run here, and numpy past the small size

HOST_BACKENDS = list(FAMILIES["sgd"])  # from the registry (host backends only)
SEED = 0
SMALL = 200  # users at which the numpy reference also runs


def _problem(n_users, n_factors, dtype, per_user=50):
    """Ratings in user order (as Surprise visits them): log-normal user activity, Zipf item
    popularity, one rating per (user, item), ratings 1-5 from user and item biases plus a rank-8 taste and noise; drawn
    directly (``synthetic_ratings`` takes ~20 s at a million ratings)."""
    rng = np.random.default_rng(SEED)
    n_items = max(n_users // 2, 10)
    activity = np.maximum(1, rng.lognormal(np.log(per_user), 0.8, n_users).astype(np.int64))
    popularity = rng.permutation(1.0 / np.arange(1, n_items + 1))
    users = np.repeat(np.arange(n_users, dtype=np.int64), activity)
    items = rng.choice(n_items, size=len(users), p=popularity / popularity.sum()).astype(np.int64)
    pairs = np.unique(users * n_items + items)  # one rating per pair (repeats make SVD++ take its exact path)
    users, items = pairs // n_items, pairs % n_items
    tastes_u, tastes_i = rng.normal(0, 0.4, (n_users, 8)), rng.normal(0, 0.4, (n_items, 8))
    raw = (3.5 + rng.normal(0, 0.4, n_users)[users] + rng.normal(0, 0.4, n_items)[items]
           + np.einsum("ij,ij->i", tastes_u[users], tastes_i[items]) + rng.normal(0, 0.5, len(users)))
    ratings = np.clip(np.rint(raw), 1, 5).astype(dtype)
    model = (np.zeros(n_users, dtype), np.zeros(n_items, dtype),
             rng.normal(0, 0.1, (n_users, n_factors)).astype(dtype),
             rng.normal(0, 0.1, (n_items, n_factors)).astype(dtype))
    return (users, items, ratings), model, float(ratings.mean())


class SvdEpoch:
    """One SVD epoch over ~50 ratings per user."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_users: 200 (every backend, 10k ratings) or 20,000 (compiled backends, 1M ratings)
        [SMALL, 20_000],
        # n_factors: Surprise's default for SVD, and a small one
        [16, 100],
        # dtype: float64 (Surprise's) or float32
        ["float32", "float64"],
    ]
    param_names = ["backend", "n_users", "n_factors", "dtype"]

    def setup(self, backend, n_users, n_factors, dtype):
        check_backend(backend, n_users, small=SMALL)
        self.ratings, self.model, self.mean = _problem(n_users, n_factors, dtype)
        self.run(backend)  # warm-up: numba compilation

    def run(self, backend):
        sgd.svd_epoch(*self.ratings, *self.model, global_mean=self.mean, backend=backend, n_threads=1)

    def time_svd_epoch(self, backend, n_users, n_factors, dtype):
        self.run(backend)

    def peakmem_svd_epoch(self, backend, n_users, n_factors, dtype):
        self.run(backend)


class BlockOrder:
    """The grid's order as SVD takes it: 4 x 4 blocks, each in turns of 16-user chunks."""

    params = [
        # backend: every host backend of the family (the numpy reference is vectorised: both sizes)
        HOST_BACKENDS,
        # n_users: 200 (10k ratings) or 20,000 (1M ratings)
        [SMALL, 20_000],
    ]
    param_names = ["backend", "n_users"]

    def setup(self, backend, n_users):
        check_backend(backend, n_users, small=n_users)  # the numpy reference is vectorised: every size
        (self.users, self.items, _), model, _ = _problem(n_users, 1, "float32")
        self.shape = len(model[0]), len(model[1])
        self.run(backend)

    def run(self, backend):
        sgd.block_order(self.users, self.items, *self.shape, 4, user_chunk=16, backend=backend, n_threads=2)

    def time_block_order(self, backend, n_users):
        self.run(backend)

    def peakmem_block_order(self, backend, n_users):
        self.run(backend)


class SvdGridEpoch:
    """One SVD epoch on the 4 x 4 grid, 2 threads, 100 float32 factors (Surprise's default size)."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_users: 200 (every backend, 10k ratings) or 20,000 (compiled backends, 1M ratings)
        [SMALL, 20_000],
    ]
    param_names = ["backend", "n_users"]

    def setup(self, backend, n_users):
        check_backend(backend, n_users, small=SMALL)
        ratings, self.model, self.mean = _problem(n_users, 100, "float32")
        order, self.bounds = sgd.block_order(*ratings[:2], len(self.model[0]), len(self.model[1]), 4, user_chunk=16)
        self.ratings = tuple(a[order] for a in ratings)
        self.rates = sgd.check_rates(lr_bu=0.005, lr_bi=0.005, lr_pu=0.005, lr_qi=0.005, reg_bu=0.02, reg_bi=0.02,
                                     reg_pu=0.02, reg_qi=0.02)
        self.run(backend)

    def run(self, backend):
        sgd.svd_epoch_in_blocks(*self.ratings, self.bounds, list(self.model), self.mean, True, self.rates, 4, backend,
                                2)

    def time_svd_grid_epoch(self, backend, n_users):
        self.run(backend)

    def peakmem_svd_grid_epoch(self, backend, n_users):
        self.run(backend)


class SvdppEpoch:
    """One SVD++ epoch (20 factors, Surprise's default), exact and fast modes."""

    params = [
        HOST_BACKENDS,
        # n_users: 200 (every backend) or 20,000 (compiled backends)
        [SMALL, 20_000],
        # exact: Surprise's per-rating implicit term (small size only), or the per-run closed form
        [True, False],
    ]
    param_names = ["backend", "n_users", "exact"]

    def setup(self, backend, n_users, exact):
        check_backend(backend, n_users, small=SMALL)
        if exact and n_users != SMALL:
            raise NotImplementedError("the exact mode costs O(|N(u)|^2 k) per user: small size only")
        self.ratings, model, self.mean = _problem(n_users, 20, "float64")
        self.model = (*model, np.random.default_rng(SEED + 1).normal(0, 0.1, model[3].shape))
        self.run(backend, exact)

    def run(self, backend, exact):
        sgd.svdpp_epoch(*self.ratings, *self.model, global_mean=self.mean, exact=exact, backend=backend, n_threads=1)

    def time_svdpp_epoch(self, backend, n_users, exact):
        self.run(backend, exact)

    def peakmem_svdpp_epoch(self, backend, n_users, exact):
        self.run(backend, exact)
