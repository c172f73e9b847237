"""Surprise 1.1's ``KNNBasic`` (msd, user-based) against turborec's, 5-fold cross-validation on
MovieLens 100K, in one process.

Both fit and test every fold of the same split (the ratings shuffled with ``seed``, five
contiguous test blocks, as Surprise's ``KFold``), each training fold in one order: Surprise by
``data.construct_trainset(fold)``, ``algo.fit(trainset)`` and ``algo.test(testset)``; turborec
by ``KNNBasic(verbose=False).fit((users, items, ratings), rating_scale=(1, 5))`` on the same
ratings as indices, then one vectorised ``predict`` of the fold's test pairs.
One run of each (after an untimed turborec warm-up, which compiles the numba kernel); the
report gives both times, the ratio, the largest prediction difference and both RMSEs.

Usage::

    python benchmarks/compare/compare_surprise_knn.py [--data path/to/u.data] [--seed 0]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import surprise

from turborec.models import KNNBasic

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k" / "u.data"


def _folds(df, seed):
    """Five folds of shuffled ratings as raw lists in the order Surprise's trainsets see them."""
    raw = list(df.itertuples(index=False, name=None))
    order = np.random.default_rng(seed).permutation(len(raw))
    bounds = np.linspace(0, len(raw), 6).astype(int)
    return [([raw[k] for k in np.concatenate((order[:lo], order[hi:]))], [raw[k] for k in order[lo:hi]])
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def run_surprise(data, folds):
    """Surprise's KNNBasic on every fold; its estimates, concatenated."""
    estimates = []
    for raw_train, raw_test in folds:
        trainset = data.construct_trainset([(u, i, r, None) for u, i, r in raw_train])
        algo = surprise.KNNBasic(sim_options={"name": "msd", "user_based": True}, verbose=False).fit(trainset)
        estimates.extend(p.est for p in algo.test(raw_test))
    return np.array(estimates)


def _arrays(folds):
    """Each fold's training ratings, in the same order, as indices, and its test pairs."""
    out = []
    for raw_train, raw_test in folds:
        u, i, r = (np.array(column) for column in zip(*raw_train))
        users, user_ids = pd.factorize(u)
        items, item_ids = pd.factorize(i)
        test_u, test_i, _ = (np.array(column) for column in zip(*raw_test))
        out.append(((users, items, r.astype(np.float64)), pd.Index(user_ids).get_indexer(test_u),
                    pd.Index(item_ids).get_indexer(test_i)))
    return out


def run_turborec(arrays):
    estimates = []
    for train, test_u, test_i in arrays:
        model = KNNBasic(verbose=False).fit(train, rating_scale=(1, 5))
        estimates.append(model.predict(test_u, test_i))
    return np.concatenate(estimates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    df = pd.read_csv(args.data, sep="\t", names=["u", "i", "r", "t"])[["u", "i", "r"]]
    data = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5)))
    folds = _folds(df, args.seed)
    truth = np.array([r for _, testset in folds for _, _, r in testset], dtype=np.float64)
    arrays = _arrays(folds)  # data preparation, not timed on either side
    run_turborec(arrays[:1])  # warm-up: numba compilation
    start = time.perf_counter()
    ours = run_turborec(arrays)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = run_surprise(data, folds)
    t_theirs = time.perf_counter() - start
    rmse = lambda est: float(np.sqrt(np.mean((est - truth) ** 2)))  # noqa: E731
    print("| method | 5-fold fit + test (s) | RMSE |")
    print("|---|---|---|")
    print(f"| Surprise 1.1 KNNBasic | {t_theirs:.2f} | {rmse(theirs):.6f} |")
    print(f"| turborec KNNBasic | {t_ours:.3f} | {rmse(ours):.6f} |")
    print(f"\nturborec is {t_theirs / t_ours:.1f}x faster; largest prediction difference "
          f"{float(np.max(np.abs(ours - theirs))):.3g}")


if __name__ == "__main__":
    main()
