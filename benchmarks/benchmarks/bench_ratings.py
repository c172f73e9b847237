"""Rating prediction (Surprise's algorithms): the bias fits (``biases`` family), the k-NN
aggregation kernel (``knn_rating`` family), and the models end to end, on ratings of
MovieLens-100K's shape (943 users x 1,682 items, 100,000 ratings) drawn from a low-rank model
with popularity skew, so the benchmark needs no download.

Every host backend of a family is a parameter; one that cannot run here is skipped (asv's
convention: ``setup`` raises ``NotImplementedError``). The side-by-side comparison with Surprise
itself on the real ML-100K is ``benchmarks/compare/compare_surprise_knn.py``.
"""

import numpy as np

from turborec.backends import FAMILIES
from turborec.biases import baseline_als, baseline_sgd
from turborec.models import BaselineOnly, KNNBaseline, KNNBasic, KNNWithMeans

from .bench_topk import check_backend

SEED = 0
N_USERS, N_ITEMS, N_RATINGS = 943, 1682, 100_000


def movielens_shaped_ratings(seed=SEED):
    """``(users, items, ratings)``: distinct (user, item) pairs, users by log-normal activity and
    items by a Zipf law, whole stars 1-5 from user and item tastes (8 factors) plus biases."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, N_USERS)
    popularity = rng.permutation(1.0 / np.arange(1, N_ITEMS + 1))
    weights = np.outer(activity / activity.sum(), popularity / popularity.sum()).ravel()
    cells = rng.choice(N_USERS * N_ITEMS, size=N_RATINGS, replace=False, p=weights)
    users, items = np.divmod(cells, N_ITEMS)
    tastes = rng.normal(0, 0.5, (N_USERS, 8)) @ rng.normal(0, 0.5, (8, N_ITEMS))
    raw = 3.5 + rng.normal(0, 0.4, N_USERS)[users] + rng.normal(0, 0.6, N_ITEMS)[items] + tastes[users, items]
    ratings = np.clip(np.rint(raw + rng.normal(0, 0.5, N_RATINGS)), 1, 5)
    order = rng.permutation(N_RATINGS)  # file order
    return users[order].astype(np.int64), items[order].astype(np.int64), ratings[order]


class Biases:
    """Surprise's baseline estimates by alternating least squares and by SGD (its defaults)."""

    params = [list(FAMILIES["biases"]), ["als", "sgd"]]
    param_names = ["backend", "method"]

    def setup(self, backend, method):
        check_backend(backend, 0, small=0)
        self.users, self.items, self.ratings = movielens_shaped_ratings()
        self.mean = float(self.ratings.mean())
        self.fit = baseline_als if method == "als" else baseline_sgd
        self._run(backend)  # warm-up: numba compiles here, not in the timing

    def _run(self, backend):
        self.fit(self.users, self.items, self.ratings, N_USERS, N_ITEMS, self.mean, backend=backend)

    def time_fit(self, backend, method):
        self._run(backend)


class KNNRating:
    """Fit (the co-rated similarity) and predict 20,000 pairs, user-based, k=40."""

    params = [list(FAMILIES["knn_rating"]), ["KNNBasic", "KNNWithMeans", "KNNBaseline", "BaselineOnly"],
              ["msd", "pearson_baseline"]]
    param_names = ["backend", "model", "similarity"]
    models = {"KNNBasic": KNNBasic, "KNNWithMeans": KNNWithMeans, "KNNBaseline": KNNBaseline}

    def setup(self, backend, model, similarity):
        check_backend(backend, 0, small=0)
        if model == "BaselineOnly" and similarity != "msd":
            raise NotImplementedError("BaselineOnly has no similarity")
        users, items, ratings = movielens_shaped_ratings()
        self.train = users[:80_000], items[:80_000], ratings[:80_000]
        self.query = users[80_000:], items[80_000:]
        if model == "BaselineOnly":
            self.make = lambda: BaselineOnly(verbose=False, backend=backend)
        else:
            options = {"name": similarity, "user_based": True}
            self.make = lambda: self.models[model](sim_options=options, verbose=False, backend=backend)
        self.fitted = self.make().fit(self.train)
        self.fitted.predict(*self.query)  # warm-up: numba compiles here, not in the timing

    def time_fit(self, backend, model, similarity):
        self.make().fit(self.train)

    def time_predict(self, backend, model, similarity):
        self.fitted.predict(*self.query)
