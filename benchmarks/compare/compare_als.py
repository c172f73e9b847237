"""Implicit-feedback ALS: turborec's AlternatingLeastSquares against implicit's CPU model.

Both fit the same training matrix in this one process, with the same hyper-parameters and seed
(64 factors, 15 iterations, conjugate gradient, implicit's defaults otherwise), each on
``--threads`` threads (implicit's ``num_threads``; BLAS pinned to one thread, as implicit asks).
Fits run round-robin, ``--repeat`` times, after an untimed warm-up on a small slice; the report
gives median fit times, the ratio implicit / turborec, and precision@10 of both models on the
held-out 20 % (turborec's ``evaluate``: the full catalogue ranked, training items excluded; the
implicit model is served through ``FactorModel`` so both are ranked alike).

Then serving: each model's own batched ``recommend`` of the top 10 for every user, liked items
filtered (implicit 0.7's ``recommend(userids, user_items, N=10)``, turborec's the same call),
``--repeat`` times round-robin; the ids turborec returns from implicit's factors are compared with
implicit's (ties at the 10th score may be broken differently).

Data: ``turborec.datasets.synthetic_implicit`` (power-law item popularity, low-rank tastes),
100,000 users x 50,000 items, 5M interactions ("synthetic-medium"), split 80/20 at random.

Usage::

    python benchmarks/compare/compare_als.py                 # synthetic-medium
    python benchmarks/compare/compare_als.py --quick         # small smoke run, seconds
    python benchmarks/compare/compare_als.py --markdown als.md --threads 2

implicit missing is reported as skipped.
"""

import argparse
import datetime
import importlib.metadata
import platform
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import turborec
from turborec.datasets import synthetic_implicit
from turborec.models import AlternatingLeastSquares, FactorModel
from turborec.split import random_split

FULL = dict(users=100_000, items=50_000, interactions=5_000_000, repeat=3)
QUICK = dict(users=5_000, items=2_500, interactions=150_000, repeat=2)
PARAMS = dict(factors=64, iterations=15, use_cg=True, random_state=0)
SEED = 0


def make_problem(n_users, n_items, n_interactions):
    data = synthetic_implicit(n_users, n_items, n_interactions=n_interactions, n_factors=16, seed=SEED)
    train, test = random_split(data, test_fraction=0.2, seed=SEED)
    return train, test, train.to_csr(values="ones")


def fit_turborec(matrix, threads):
    return AlternatingLeastSquares(**PARAMS, num_threads=threads, backend="native").fit(matrix, show_progress=False)


def fit_implicit(matrix, threads):
    import implicit.cpu.als

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its BLAS-threads advice: BLAS is pinned below
        model = implicit.cpu.als.AlternatingLeastSquares(**PARAMS, num_threads=threads)
    with threadpool_limits(1, "blas"):
        model.fit(matrix, show_progress=False)
    return model


def peers():
    methods = {"turborec": fit_turborec}
    try:
        import implicit  # noqa: F401
    except ImportError as exc:
        print(f"implicit: skipped ({exc})")
    else:
        methods["implicit"] = fit_implicit
    return methods


def precision_at_10(model, train, test, threads):
    served = FactorModel(np.asarray(model.user_factors), np.asarray(model.item_factors), n_threads=threads)
    return turborec.evaluate(served, train, test, k=(10,), metrics=["precision"], show_progress=False,
                             n_threads=threads)["precision@10"]


def run(size, threads, repeat):
    print(f"data: {size['users']:,} users x {size['items']:,} items, {size['interactions']:,} interactions")
    start = time.perf_counter()
    train, test, matrix = make_problem(size["users"], size["items"], size["interactions"])
    print(f"  drawn and split in {time.perf_counter() - start:.1f}s; training nnz {matrix.nnz:,}")
    methods = peers()
    for fit in methods.values():  # untimed warm-up
        fit(matrix[: min(500, matrix.shape[0])], threads)
    times = {name: [] for name in methods}
    models = {}
    for _ in range(repeat):  # round-robin: load from elsewhere hits every method alike
        for name, fit in methods.items():
            start = time.perf_counter()
            models[name] = fit(matrix, threads)
            times[name].append(time.perf_counter() - start)
    results = {name: dict(median=float(np.median(t)), best=float(np.min(t)),
                          p10=precision_at_10(models[name], train, test, threads)) for name, t in times.items()}
    serve(models, matrix, threads, repeat, results)
    return results


def serve(models, matrix, threads, repeat, results):
    """Median seconds of each model's recommend for every user (top 10, liked items filtered)."""
    users = np.arange(matrix.shape[0])
    times = {name: [] for name in models}
    ids = {}
    for _ in range(repeat):
        for name, model in models.items():
            start = time.perf_counter()
            ids[name], _ = model.recommend(users, matrix, N=10, filter_already_liked_items=True)
            times[name].append(time.perf_counter() - start)
    for name, t in times.items():
        results[name]["recommend"] = float(np.median(t))
    if "implicit" in models:  # the same factors through turborec: which ids agree
        theirs = models["implicit"]
        served = FactorModel(np.asarray(theirs.user_factors), np.asarray(theirs.item_factors), n_threads=threads)
        mine, _ = served.recommend(users, matrix, N=10)
        results["implicit"]["shared"] = float(np.mean([len(np.intersect1d(a, b)) / 10
                                                       for a, b in zip(mine, ids["implicit"])]))


def report(results, size, threads):
    base = results["turborec"]
    lines = [f"ALS fit, {PARAMS['factors']} factors, {PARAMS['iterations']} iterations (CG), "
             f"{size['users']:,} x {size['items']:,}, {size['interactions']:,} interactions, {threads} thread(s)",
             "", "| method | fit median (s) | fit best (s) | time / turborec | p@10 | p@10 vs turborec | "
             "recommend all users (s) | time / turborec |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median']:.2f} | {r['best']:.2f} | {r['median'] / base['median']:.2f}x | "
                     f"{r['p10']:.4f} | {100 * (r['p10'] / base['p10'] - 1):+.1f}% | {r['recommend']:.2f} | "
                     f"{r['recommend'] / base['recommend']:.2f}x |")
    if "shared" in results.get("implicit", {}):
        lines.append(f"\nOn implicit's factors turborec returns {100 * results['implicit']['shared']:.2f}% of "
                     "implicit's recommended ids.")
    versions = [f"turborec {turborec.__version__}"]
    try:
        versions.append(f"implicit {importlib.metadata.version('implicit')}")
    except importlib.metadata.PackageNotFoundError:
        pass
    lines += ["", f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {', '.join(versions)}"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--threads", type=int, default=None, help="threads per method (default: every core)")
    parser.add_argument("--repeat", type=int, default=None, help="timed fits per method")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    size = dict(QUICK if args.quick else FULL)
    threads = turborec.resolve_n_threads(args.threads)
    results = run(size, threads, args.repeat or size["repeat"])
    text = report(results, size, threads)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
