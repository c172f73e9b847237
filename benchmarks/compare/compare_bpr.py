"""BPR training: turborec against implicit's CPU BPR, in one process, on the same data.

Both fit implicit 0.7's Bayesian Personalized Ranking with the same hyper-parameters (64
factors, learning rate 0.01, regularisation 0.01, verified negatives, 20 epochs, the same
``random_state``, ``--threads`` threads) on the training part of a held-out split of the
synthetic-medium data set (binary implicit feedback with power-law item popularity,
``turborec.datasets.synthetic_implicit``, 100,000 users x 50,000 items, 5M interactions; cached
as compare_similarity.py caches it):

- turborec: ``turborec.models.BayesianPersonalizedRanking(..., backend="native").fit(train)``;
- implicit: ``implicit.cpu.bpr.BayesianPersonalizedRanking(...).fit(train)``.

Only ``fit`` is timed. Methods run round-robin ``--repeat`` times after an untimed one-epoch
warm-up of each (page faults, thread pools), so load from elsewhere on a shared machine hits
both alike. Quality: precision@10 on the held-out 20% (training items excluded, turborec's
``evaluate`` for both sets of factors through ``FactorModel``, so the ranking and the metric
are the same code), averaged over the timed runs (Hogwild updates vary from run to run).

Usage::

    python benchmarks/compare/compare_bpr.py                  # synthetic-medium, 20 epochs, 2 threads
    python benchmarks/compare/compare_bpr.py --quick          # small smoke run
    python benchmarks/compare/compare_bpr.py --markdown bpr.md

Generating the full data set takes about two minutes; it is cached under ``--cache``.
"""

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np

import turborec
from turborec.datasets import Interactions
from turborec.models import BayesianPersonalizedRanking, FactorModel
from turborec.split import random_split

from compare_similarity import make_problem
from compare_topk import cpu_model, version

FULL = dict(users=100_000, items=50_000, nnz=5_000_000, factors=64, epochs=20, repeat=2)
QUICK = dict(users=5_000, items=3_000, nnz=150_000, factors=32, epochs=5, repeat=2)
SEED = 0


def held_out(user_items, seed=SEED):
    """(train, test) CSRs of the same shape: a random 80/20 split of the interactions."""
    coo = user_items.tocoo()
    data = Interactions(coo.row, coo.col, n_users=user_items.shape[0], n_items=user_items.shape[1])
    train, test = random_split(data, 0.2, seed=seed)
    return train.to_csr(values="ones"), test.to_csr(values="ones")


def run_turborec(train, args, epochs):
    model = BayesianPersonalizedRanking(factors=args.factors, iterations=epochs, random_state=SEED,
                                        num_threads=args.threads, backend="native")
    model.fit(train, show_progress=False)
    return model.user_factors, model.item_factors


def run_implicit(train, args, epochs):
    from implicit.cpu.bpr import BayesianPersonalizedRanking as ImplicitBPR

    model = ImplicitBPR(factors=args.factors, iterations=epochs, random_state=SEED, num_threads=args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its BLAS-threads advice
        model.fit(train, show_progress=False)
    return model.user_factors, model.item_factors


METHODS = {"turborec": (run_turborec, None), "implicit": (run_implicit, "implicit")}


def precision_at_10(factors, train, test, threads):
    model = FactorModel(*factors, backend="native", n_threads=threads)
    return turborec.evaluate(model, train, test, k=10, metrics=["precision"], show_progress=False)["precision@10"]


def report(args, train, times, quality):
    lines = [f"BPR fit, {args.factors} factors, {args.epochs} epochs: {train.shape[0]:,} users x {train.shape[1]:,} "
             f"items, {train.nnz:,} training interactions (80% of {args.nnz:,}), {args.threads} threads, "
             f"median of {args.repeat}",
             f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, turborec "
             f"{turborec.__version__}, implicit {version('implicit')}; "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             "",
             "| method | median s | min s | x turborec (medians) | p@10 held out | p@10 vs turborec |",
             "|---|---:|---:|---:|---:|---:|"]
    base, base_quality = np.median(times["turborec"]), np.mean(quality["turborec"])
    for name, runs in times.items():
        med, p = np.median(runs), np.mean(quality[name])
        lines.append(f"| {name} | {med:.2f} | {min(runs):.2f} | {med / base:.2f} | {p:.4f} | "
                     f"{p / base_quality - 1:+.2%} |")
    return "\n".join(lines)


def parse_args(argv=None, description=__doc__, full=FULL, quick=QUICK):
    p = argparse.ArgumentParser(description=description.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    for name in ("users", "items", "nnz", "factors", "epochs", "repeat"):
        p.add_argument(f"--{name}", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "turborec-bench"))
    p.add_argument("--markdown", help="also write the report to this file")
    args = p.parse_args(argv)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None, methods=METHODS, title="BPR fit", **defaults):
    """Times ``methods`` (name: (run, the package it needs)) side by side and prints the report;
    compare_lmf.py runs it with its own methods, title and sizes (``defaults``: parse_args')."""
    args = parse_args(argv, **defaults)
    train, test = held_out(make_problem(args.users, args.items, args.nnz, args.cache))
    table, methods = methods, {name: run for name, (run, needs) in methods.items()
                               if needs is None or version(needs) != "not installed"}
    skipped = sorted(set(table) - set(methods))
    for run in methods.values():  # warm-up: one epoch each
        run(train, args, 1)
    times = {name: [] for name in methods}
    quality = {name: [] for name in methods}
    for _ in range(args.repeat):
        for name, run in methods.items():
            start = time.perf_counter()
            factors = run(train, args, args.epochs)
            times[name].append(time.perf_counter() - start)
            quality[name].append(precision_at_10(factors, train, test, args.threads))
    text = report(args, train, times, quality).replace("BPR fit", title, 1)
    if skipped:
        text += f"\n\nSkipped (not installed): {', '.join(skipped)}"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
