"""Similarity kernels: item-item ``topk_similarity`` (sparse measures, and the rating measures
on the co-rated top-k kernel), the raw ``sparse_dot_topk``, and Surprise's dense co-rated
matrices (``corated_similarity``).

Every host backend of the family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``). The NumPy reference builds the dense
product, so it only runs at the small size. The side-by-side comparison with sparse_dot_topn and
implicit on 100,000 x 50,000 is ``benchmarks/compare/compare_similarity.py``.
"""

import numpy as np
import scipy.sparse as sp

from turborec.backends import FAMILIES
from turborec.similarity import corated_similarity, sparse_dot_topk, topk_similarity

from .bench_topk import check_backend  # skips what cannot run here, and numpy past the small size

HOST_BACKENDS = list(FAMILIES["similarity"])  # from the registry (host backends only)
SEED = 0
SMALL = 2_000  # items at which the numpy reference also runs


def power_law_user_items(n_users, n_items, per_user=50, exponent=1.0, seed=SEED):
    """Binary users x items CSR: log-normal user activity around ``per_user``, items drawn by a
    Zipf law over a shuffled ranking (the shape of real implicit feedback), duplicates merged.
    Drawn directly (well under a second) rather than by ``synthetic_implicit``, whose low-rank
    tastes cost minutes at this size."""
    rng = np.random.default_rng(seed)
    activity = np.maximum(1, rng.lognormal(np.log(per_user), 1.0, n_users).astype(np.int64))
    popularity = 1.0 / np.arange(1, n_items + 1) ** exponent
    popularity = rng.permutation(popularity / popularity.sum())
    items = rng.choice(n_items, size=int(activity.sum()), p=popularity).astype(np.int32)
    users = np.repeat(np.arange(n_users, dtype=np.int32), activity)
    matrix = sp.csr_matrix((np.ones(len(items), np.float32), (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


class ItemItemSimilarity:
    """Top-20 neighbours of every item of a power-law users x items matrix."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_items: 2,000 (every backend; 4,000 users) or 20,000 (compiled backends; 40,000 users)
        [SMALL, 20_000],
        # measure: cosine (binary values: the count-only path), jaccard
        ["cosine", "jaccard"],
        # values: binary, or seeded weights 1-5 (the general path)
        ["binary", "weighted"],
    ]
    param_names = ["backend", "n_items", "measure", "values"]
    k = 20

    def setup(self, backend, n_items, measure, values):
        check_backend(backend, n_items, small=SMALL)
        user_items = power_law_user_items(2 * n_items, n_items)
        if values == "weighted":
            user_items.data = np.random.default_rng(SEED).integers(1, 6, user_items.nnz).astype(np.float32)
        self.item_users = user_items.T.tocsr()
        # Warm-up: JIT compilation (numba) and thread-pool start-up stay out of the timing.
        topk_similarity(self.item_users[:8], self.k, measure=measure, backend=backend)

    def _run(self, backend, measure):
        topk_similarity(self.item_users, self.k, measure=measure, backend=backend)

    def time_topk_similarity(self, backend, n_items, measure, values):
        self._run(backend, measure)

    def peakmem_topk_similarity(self, backend, n_items, measure, values):
        self._run(backend, measure)


class SparseDotTopk:
    """Top-10 most cosine-similar users for a batch of 1,000 users, against every user."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # n_items: 2,000 (every backend; 4,000 users) or 20,000 (compiled backends; 40,000 users)
        [SMALL, 20_000],
    ]
    param_names = ["backend", "n_items"]
    k = 10

    def setup(self, backend, n_items):
        check_backend(backend, n_items, small=SMALL)
        self.users = power_law_user_items(2 * n_items, n_items, seed=SEED + 1)
        self.queries = self.users[:1000]
        sparse_dot_topk(self.queries[:4], self.users, self.k, normalize=True, backend=backend)

    def _run(self, backend):
        sparse_dot_topk(self.queries, self.users, self.k, normalize=True, backend=backend)

    def time_sparse_dot_topk(self, backend, n_items):
        self._run(backend)

    def peakmem_sparse_dot_topk(self, backend, n_items):
        self._run(backend)


class CoratedSimilarity:
    """Surprise's dense similarity matrix of MovieLens-100K-sized ratings (943 users x 1,682
    items, ~98,000 power-law ratings 1-5), user-based and item-based."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # measure: msd (Surprise's default), pearson (the most accumulators)
        ["msd", "pearson"],
        # rows: users (user-based) or items (item-based)
        ["users", "items"],
    ]
    param_names = ["backend", "measure", "rows"]

    def setup(self, backend, measure, rows):
        check_backend(backend, SMALL, small=SMALL)
        ratings = power_law_user_items(943, 1682, per_user=130)  # ~98,000 ratings
        ratings.data = np.random.default_rng(SEED).integers(1, 6, ratings.nnz).astype(np.float64)
        self.ratings = ratings if rows == "users" else ratings.T.tocsr()
        corated_similarity(self.ratings[:8], measure, backend=backend)  # JIT warm-up

    def _run(self, backend, measure):
        corated_similarity(self.ratings, measure, backend=backend)

    def time_corated_similarity(self, backend, measure, rows):
        self._run(backend, measure)

    def peakmem_corated_similarity(self, backend, measure, rows):
        self._run(backend, measure)


class RatingTopkSimilarity:
    """Top-40 neighbours by a rating measure on MovieLens-100K-sized ratings (as
    ``CoratedSimilarity``), never the dense matrix; dense-then-select is ``CoratedSimilarity``
    plus a top-k of each row."""

    params = [
        # backend: every host backend of the family; unavailable ones are skipped
        HOST_BACKENDS,
        # measure: pearson (the most accumulators), adjusted_cosine (centred on user means)
        ["pearson", "adjusted_cosine"],
        # rows: users (user-based) or items (item-based)
        ["users", "items"],
        # min_support: 1 (every co-rated pair) or 5 (Surprise users often set it)
        [1, 5],
    ]
    param_names = ["backend", "measure", "rows", "min_support"]
    k = 40

    def setup(self, backend, measure, rows, min_support):
        check_backend(backend, SMALL, small=SMALL)
        ratings = power_law_user_items(943, 1682, per_user=130)  # ~98,000 ratings
        ratings.data = np.random.default_rng(SEED).integers(1, 6, ratings.nnz).astype(np.float64)
        self.ratings = ratings if rows == "users" else ratings.T.tocsr()
        topk_similarity(self.ratings[:8], self.k, measure=measure, backend=backend)  # JIT warm-up

    def _run(self, backend, measure, min_support):
        topk_similarity(self.ratings, self.k, measure=measure, min_support=min_support, backend=backend)

    def time_topk_similarity(self, backend, measure, rows, min_support):
        self._run(backend, measure, min_support)

    def peakmem_topk_similarity(self, backend, measure, rows, min_support):
        self._run(backend, measure, min_support)
