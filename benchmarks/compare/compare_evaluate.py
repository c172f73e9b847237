"""Evaluation from given factors: turborec.evaluate against implicit's ranking_metrics_at_k.

Both evaluate the same factor model (score = user . item) on the same split, in one process:
top-k over the full catalogue for every test user with the user's training items excluded,
then precision / map / ndcg / auc. implicit gets its recommended set-up (BLAS pinned to one
thread, ``num_threads`` on the model); turborec computes every metric it has, so it does at
least as much work. ndcg@k and map@k are defined alike by both and must agree.

Usage::

    python benchmarks/compare/compare_evaluate.py            # 100k test users x 50k items, k=10
    python benchmarks/compare/compare_evaluate.py --quick    # small smoke run
"""

import argparse
import sys
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import turborec
from turborec.models import FactorModel

from compare_topk import describe, emit, make_problem

FULL = dict(users=100_000, items=50_000, factors=64, k=10, repeat=3)
QUICK = dict(users=4_000, items=8_000, factors=64, k=10, repeat=2)
N_TEST = 10  # held-out items per user


def make_split(users, items, seed=1):
    """Training items: make_problem's ~50 per user; test: N_TEST other random items per user."""
    _, _, train = make_problem(users, items, 1)
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, items, size=(users, N_TEST)).ravel()
    rows = np.repeat(np.arange(users), N_TEST)
    test = sp.csr_matrix((np.ones(cols.size, np.float32), (rows, cols)), shape=(users, items))
    test.sum_duplicates()
    test = test - test.multiply(train)  # never both train and test
    test.eliminate_zeros()
    return train, test.tocsr()


def run_turborec(user_factors, item_factors, train, test, k, threads):
    model = FactorModel(user_factors, item_factors, n_threads=threads)
    out = turborec.evaluate(model, train, test, k=k, n_threads=threads, show_progress=False)
    return {"ndcg": out[f"ndcg@{k}"], "map": out[f"map@{k}"]}


def run_implicit(user_factors, item_factors, train, test, k, threads):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k

    model = AlternatingLeastSquares(factors=user_factors.shape[1], num_threads=threads)
    model.user_factors, model.item_factors = user_factors, item_factors
    with threadpool_limits(1, "blas"):  # implicit's own advice; it warns otherwise
        out = ranking_metrics_at_k(model, train, test, K=k, show_progress=False, num_threads=threads)
    return {"ndcg": out["ndcg"], "map": out["map"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for key in FULL:
        parser.add_argument(f"--{key}", type=int)
    parser.add_argument("--threads", type=int, default=-1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", metavar="FILE")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    threads = turborec.resolve_n_threads(args.threads)
    user_factors, item_factors, _ = make_problem(args.users, args.items, args.factors)
    train, test = make_split(args.users, args.items)
    methods = {"turborec": run_turborec}
    try:
        import implicit  # noqa: F401
        methods["implicit"] = run_implicit
    except ImportError as exc:
        print(f"implicit: skipped ({exc})", file=sys.stderr)

    warm = slice(0, min(args.users, 2000))
    for run in methods.values():
        run(user_factors[warm], item_factors, train[warm], test[warm], args.k, threads)
    times = {name: [] for name in methods}
    results = {}
    for rep in range(args.repeat):
        for name, run in methods.items():
            start = time.perf_counter()
            results[name] = run(user_factors, item_factors, train, test, args.k, threads)
            times[name].append(time.perf_counter() - start)
            print(f"run {rep + 1}/{args.repeat}  {name:10s} {times[name][-1]:8.3f} s", file=sys.stderr, flush=True)

    lines = describe(args, threads) + [f"- test: {test.nnz:,} held-out interactions ({N_TEST} random per user)", "",
                                       "| method | median s | vs turborec | ndcg@k | map@k |", "|---|---:|---:|---:|---:|"]
    base = np.median(times["turborec"])
    for name in methods:
        med = np.median(times[name])
        lines.append(f"| {name} | {med:.2f} | {med / base:.2f}x | {results[name]['ndcg']:.6f} | {results[name]['map']:.6f} |")
    if "implicit" in methods:
        lines += ["", f"- implicit / turborec = {np.median(times['implicit']) / base:.2f}x"]
        same = all(np.isclose(results["implicit"][m], results["turborec"][m], rtol=1e-6) for m in ("ndcg", "map"))
        lines.append(f"- ndcg@k and map@k agree: {'yes' if same else 'NO'}")
    emit("\n".join(lines), args.markdown)


if __name__ == "__main__":
    main()
