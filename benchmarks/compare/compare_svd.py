"""Surprise 1.1's ``SVD`` and ``SVDpp`` against turborec's, 5-fold cross-validation on MovieLens
100K, in one process.

Both fit and test every fold of the same split (the ratings shuffled with ``seed``, five
contiguous test blocks, as Surprise's ``KFold``), each training fold in one order: Surprise by
``data.construct_trainset(fold)``, ``algo.fit(trainset)`` and ``algo.test(testset)``; turborec by
``SVD(random_state=seed).fit((users, items, ratings), rating_scale=(1, 5))`` on the same ratings
as indices, then one vectorised ``predict`` of the fold's test pairs. Same ``random_state`` on
both sides, so the predictions agree (the report gives the largest difference). turborec runs
float64 (Surprise's numbers; SVD's to rounding, ~1e-13) and, for SVD, float32 too, and float32 on the parallel block grid
(``n_blocks=4``, 2 threads: not Surprise's order, so its predictions differ more, and its RMSE
is the figure to compare); SVD++ in its default fast mode. One run of
each after an untimed turborec warm-up (numba compilation, when numba is the backend).
The table gives each side's whole time (Surprise's trainset, fit and test; turborec's fit and
predict) and the part spent in ``fit`` alone.

Usage::

    python benchmarks/compare/compare_svd.py [--data path/to/u.data] [--seed 0] [--skip-svdpp]

Surprise's SVDpp costs ~20 s per fold on a 2-core machine: ``--skip-svdpp`` leaves it out.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import surprise

from turborec.models import SVD, SVDpp

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k" / "u.data"


def _folds(df, seed):
    """Five folds of shuffled ratings as raw lists in the order Surprise's trainsets see them."""
    raw = list(df.itertuples(index=False, name=None))
    order = np.random.default_rng(seed).permutation(len(raw))
    bounds = np.linspace(0, len(raw), 6).astype(int)
    return [([raw[k] for k in np.concatenate((order[:lo], order[hi:]))], [raw[k] for k in order[lo:hi]])
            for lo, hi in zip(bounds[:-1], bounds[1:])]


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


def run_surprise(algo, data, folds):
    """Surprise's ``algo()`` on every fold: seconds in all, seconds in ``fit``, and the
    estimates, concatenated."""
    estimates, fitting = [], 0.0
    start = time.perf_counter()
    for raw_train, raw_test in folds:
        trainset = data.construct_trainset([(u, i, r, None) for u, i, r in raw_train])
        fit_start = time.perf_counter()
        fitted = algo().fit(trainset)
        fitting += time.perf_counter() - fit_start
        estimates.extend(p.est for p in fitted.test(raw_test))
    return time.perf_counter() - start, fitting, np.array(estimates)


def run_turborec(model, arrays):
    estimates, fitting = [], 0.0
    start = time.perf_counter()
    for train, test_u, test_i in arrays:
        fit_start = time.perf_counter()
        fitted = model().fit(train, rating_scale=(1, 5))
        fitting += time.perf_counter() - fit_start
        estimates.append(fitted.predict(test_u, test_i))
    return time.perf_counter() - start, fitting, np.concatenate(estimates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-svdpp", action="store_true")
    args = parser.parse_args()
    df = pd.read_csv(args.data, sep="\t", names=["u", "i", "r", "t"])[["u", "i", "r"]]
    data = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5)))
    folds = _folds(df, args.seed)
    truth = np.array([r for _, testset in folds for _, _, r in testset], dtype=np.float64)
    arrays = _arrays(folds)  # data preparation, not timed on either side
    seed = args.seed
    cases = [("SVD", lambda: surprise.SVD(random_state=seed),
              [("float64", lambda: SVD(random_state=seed)), ("float32", lambda: SVD(random_state=seed, dtype="float32")),
               ("float32, n_blocks=4, 2 threads",
                lambda: SVD(random_state=seed, dtype="float32", n_blocks=4, n_threads=2))])]
    if not args.skip_svdpp:
        cases.append(("SVDpp", lambda: surprise.SVDpp(random_state=seed),
                      [("float64", lambda: SVDpp(random_state=seed))]))

    def rmse(est):
        return float(np.sqrt(np.mean((est - truth) ** 2)))

    print("| method | 5-fold fit + test (s) | ratio | of which fit (s) | fit ratio | RMSE | largest prediction "
          "difference |")
    print("|---|---|---|---|---|---|---|")
    for name, theirs, ours in cases:
        for _, model in ours:
            model().fit(arrays[0][0], rating_scale=(1, 5))  # warm-up
        t_theirs, fit_theirs, est_theirs = run_surprise(theirs, data, folds)
        print(f"| Surprise 1.1 {name} | {t_theirs:.2f} | 1 | {fit_theirs:.2f} | 1 | {rmse(est_theirs):.6f} | |")
        for label, model in ours:
            t_ours, fit_ours, est_ours = run_turborec(model, arrays)
            print(f"| turborec {name} ({label}) | {t_ours:.3f} | {t_theirs / t_ours:.1f}x | {fit_ours:.3f} | "
                  f"{fit_theirs / fit_ours:.1f}x | {rmse(est_ours):.6f} | "
                  f"{float(np.max(np.abs(est_ours - est_theirs))):.3g} |")


if __name__ == "__main__":
    main()
