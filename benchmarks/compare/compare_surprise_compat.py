"""``surprise.model_selection.cross_validate`` with Surprise 1.1's ``KNNBasic`` against
``turborec.compat.surprise.KNNBasic`` (msd, user-based, Surprise's defaults), 5 folds of
MovieLens 100K, in one process.

Both run through Surprise's own ``cross_validate`` on the same ``KFold(random_state=seed)``
folds, so everything Surprise does around the algorithm (building each fold's trainset,
accuracy measures) is timed on both sides; the adapter's time includes turning each trainset
into arrays. The adapter is warmed up first on a small fold, untimed (numba loads its compiled
kernels). The report gives both times, their ratio and both RMSEs (per fold equal to rounding).

Usage::

    python benchmarks/compare/compare_surprise_compat.py [--data path/to/u.data] [--folds 5] [--seed 0]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import surprise
from surprise.model_selection import KFold, cross_validate

from turborec.compat import surprise as compat

DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k" / "u.data"


def timed_cross_validate(algo, data, folds, seed):
    start = time.perf_counter()
    results = cross_validate(algo, data, measures=["rmse"], cv=KFold(n_splits=folds, random_state=seed))
    return time.perf_counter() - start, results["test_rmse"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = surprise.Dataset.load_from_file(str(args.data), surprise.Reader("ml-100k"))

    warm_up, _ = next(KFold(n_splits=50, random_state=args.seed).split(data))
    compat.KNNBasic(verbose=False).fit(warm_up).test(warm_up.build_testset()[:100])

    t_ours, ours = timed_cross_validate(compat.KNNBasic(verbose=False), data, args.folds, args.seed)
    t_theirs, theirs = timed_cross_validate(surprise.KNNBasic(verbose=False), data, args.folds, args.seed)
    print(f"cross_validate, {args.folds} folds of {args.data} (KFold random_state={args.seed})\n")
    print("| algorithm | cross_validate (s) | mean RMSE |")
    print("|---|---|---|")
    print(f"| surprise.KNNBasic | {t_theirs:.2f} | {np.mean(theirs):.12f} |")
    print(f"| turborec.compat.surprise.KNNBasic | {t_ours:.2f} | {np.mean(ours):.12f} |")
    print(f"\nSurprise / adapter time: {t_theirs / t_ours:.1f}x; largest relative RMSE difference per fold "
          f"{float(np.max(np.abs(ours - theirs) / theirs)):.3g}")


if __name__ == "__main__":
    main()
