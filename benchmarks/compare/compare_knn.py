"""Item-item neighbourhood recommenders: turborec against implicit, in one process.

Every method fits on the same users x items CSR (binary implicit feedback with power-law item
popularity, ``turborec.datasets.synthetic_implicit``), then recommends the top ``N`` items to
every user with the user's liked items filtered, as implicit's users call it:

- turborec ItemKNN: ``ItemKNN(K=k, measure="cosine", n_threads=threads)``; ``fit(user_items)``;
  ``recommend(np.arange(n_users), user_items, N=n)``. Each item keeps k neighbours other than
  itself, ties to the lower id.
- turborec CosineRecommender: the drop-in with implicit's definitions (the item itself among
  its k, implicit's tie-breaking), ``CosineRecommender(K=k, n_threads=threads)``; same calls.
- implicit: ``implicit.nearest_neighbours.CosineRecommender(K=k, num_threads=threads)``; same
  calls (its ``recommend`` is a Python loop over users, single-threaded).

Each step runs ``--repeat`` times round-robin after an untimed warm-up; medians are reported,
with ratios to implicit measured in this one run. Agreement with implicit: the share of
implicit's recommended ids (its liked items, which it returns with score 0 when it reaches
fewer than N items, and its -1 padding left out) that the method returns for the same user,
and the largest score difference over the ids both return.

Usage::

    python benchmarks/compare/compare_knn.py --quick                 # 5,000 x 3,000, seconds
    python benchmarks/compare/compare_knn.py --users 20000 --items 10000 --nnz 1000000
    python benchmarks/compare/compare_knn.py --markdown knn.md       # 100k x 50k, 5M nnz
"""

import argparse
import datetime
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.sparse as sp

import turborec
from turborec.datasets import synthetic_implicit
from turborec.models import CosineRecommender, ItemKNN

FULL = dict(users=100_000, items=50_000, nnz=5_000_000)
QUICK = dict(users=5_000, items=3_000, nnz=150_000)
SEED = 0


def make_problem(users, items, nnz, cache):
    """The users x items binary CSR (float32), cached as an .npz keyed by its parameters."""
    path = os.path.join(cache, f"knn_{users}x{items}_{nnz}_seed{SEED}.npz")
    if os.path.exists(path):
        return sp.load_npz(path).tocsr()
    user_items = synthetic_implicit(users, items, n_interactions=nnz, popularity_exponent=1.0,
                                    seed=SEED).to_csr(values="ones")
    os.makedirs(cache, exist_ok=True)
    sp.save_npz(path, user_items)
    return user_items


def methods(k, threads):
    """name -> (make a fresh unfitted model). implicit's is None when it is not installed."""
    found = {
        "turborec ItemKNN (cosine)": lambda: ItemKNN(K=k, measure="cosine", n_threads=threads),
        "turborec CosineRecommender (implicit's definitions)": lambda: CosineRecommender(K=k, n_threads=threads),
    }
    try:
        from implicit.nearest_neighbours import CosineRecommender as Theirs
    except ImportError:
        print("implicit is not installed: pip install implicit", file=sys.stderr)
        return found
    found["implicit CosineRecommender"] = lambda: Theirs(K=k, num_threads=threads)
    return found


def fit(model, user_items):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit warns about its own thread settings
        model.fit(user_items, show_progress=False)
    return model


def recommend(model, user_items, n):
    return model.recommend(np.arange(user_items.shape[0]), user_items, N=n)


def agreement(reference, other, user_items):
    """Share of the reference's real ids the other returns, and the largest score difference on
    the ids both return."""
    ref_ids, ref_scores = reference
    ids, scores = other
    indptr, indices = user_items.indptr, user_items.indices
    found = total = 0
    worst = 0.0
    for user in range(ref_ids.shape[0]):
        liked = indices[indptr[user]:indptr[user + 1]]
        real = (ref_ids[user] >= 0) & ~np.isin(ref_ids[user], liked)
        theirs = dict(zip(ref_ids[user][real].tolist(), ref_scores[user][real].tolist()))
        ours = dict(zip(ids[user].tolist(), scores[user].tolist()))
        common = set(theirs) & set(ours)
        found += len(common)
        total += len(theirs)
        worst = max([worst] + [abs(theirs[i] - ours[i]) for i in common])
    return found / max(total, 1), worst


def run(args):
    user_items = make_problem(args.users, args.items, args.nnz, args.cache)
    n_users, n_items = user_items.shape
    makers = methods(args.k, args.threads)
    fit_times = {name: [] for name in makers}
    rec_times = {name: [] for name in makers}
    results = {}
    for name, make in makers.items():  # warm-up: page faults, thread pools, imports
        results[name] = recommend(fit(make(), user_items), user_items, args.n)
    for _ in range(args.repeat):
        for name, make in makers.items():
            start = time.perf_counter()
            model = fit(make(), user_items)
            fit_times[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            recommend(model, user_items, args.n)
            rec_times[name].append(time.perf_counter() - start)
    reference = "implicit CosineRecommender"
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- problem: {n_users:,} users x {n_items:,} items, {user_items.nnz:,} nnz (binary, power-law popularity, "
        f"seed {SEED}); K={args.k}; top-{args.n} for every user, liked items filtered; {args.threads} threads; "
        f"median of {args.repeat} runs",
        f"- versions: turborec {turborec.__version__}, numpy {np.__version__}, scipy {sp.__name__ and importlib.metadata.version('scipy')}, "
        f"implicit {_version('implicit')}, python {platform.python_version()}",
        f"- command: `python benchmarks/compare/compare_knn.py {' '.join(sys.argv[1:])}`",
        "",
        "| method | fit median s | recommend median s | implicit / method: fit | implicit / method: recommend | ids shared with implicit | max score diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in makers:
        fit_s, rec_s = statistics.median(fit_times[name]), statistics.median(rec_times[name])
        if reference in makers:
            ref_fit, ref_rec = statistics.median(fit_times[reference]), statistics.median(rec_times[reference])
            share, worst = agreement(results[reference], results[name], user_items)
            cells = [f"{ref_fit / fit_s:.2f}x", f"{ref_rec / rec_s:.2f}x", f"{100 * share:.3f}%", f"{worst:.1e}"]
        else:
            cells = ["-"] * 4
        lines.append(f"| {name} | {fit_s:.2f} | {rec_s:.2f} | " + " | ".join(cells) + " |")
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(report + "\n")


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int)
    parser.add_argument("--items", type=int)
    parser.add_argument("--nnz", type=int)
    parser.add_argument("--k", type=int, default=20, help="neighbours per item (default 20)")
    parser.add_argument("--n", type=int, default=10, help="recommendations per user (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every method (default 2)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5,000 users x 3,000 items, 150k nnz")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "turborec-compare"))
    parser.add_argument("--markdown", help="also write the report to this file")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    run(args)


if __name__ == "__main__":
    main()
