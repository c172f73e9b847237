"""LMF training: turborec against implicit's CPU LMF, in one process, on the same data.

Both fit implicit 0.7's Logistic Matrix Factorization with its defaults (30 factors, learning
rate 1.0, regularisation 0.6, neg_prop 30, 30 epochs, the same ``random_state``, ``--threads``
threads) on the training part of a held-out split of the synthetic-medium data set (as
compare_bpr.py: 100,000 users x 50,000 items, 5M interactions, cached):

- turborec: ``turborec.models.LogisticMatrixFactorization(..., backend="native").fit(train)``;
- implicit: ``implicit.cpu.lmf.LogisticMatrixFactorization(...).fit(train)``.

Only ``fit`` is timed, round-robin ``--repeat`` times after an untimed one-epoch warm-up of
each. Quality: precision@10 on the held-out 20% through the same ``FactorModel`` and
``evaluate`` for both sets of factors, averaged over the timed runs.

Usage::

    python benchmarks/compare/compare_lmf.py                  # synthetic-medium, 30 epochs, 2 threads
    python benchmarks/compare/compare_lmf.py --quick          # small smoke run
    python benchmarks/compare/compare_lmf.py --markdown lmf.md
"""

import argparse
import os
import sys
import tempfile
import time
import warnings

from turborec.models import LogisticMatrixFactorization

from compare_bpr import held_out, precision_at_10, report
from compare_similarity import make_problem
from compare_topk import version

FULL = dict(users=100_000, items=50_000, nnz=5_000_000, factors=30, epochs=30, repeat=2)
QUICK = dict(users=5_000, items=3_000, nnz=150_000, factors=30, epochs=5, repeat=2)
SEED = 0


def run_turborec(train, args, epochs):
    model = LogisticMatrixFactorization(factors=args.factors, iterations=epochs, random_state=SEED,
                                        num_threads=args.threads, backend="native")
    model.fit(train, show_progress=False)
    return model.user_factors, model.item_factors


def run_implicit(train, args, epochs):
    from implicit.cpu.lmf import LogisticMatrixFactorization as ImplicitLMF

    model = ImplicitLMF(factors=args.factors, iterations=epochs, random_state=SEED, num_threads=args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its BLAS-threads advice
        model.fit(train, show_progress=False)
    return model.user_factors, model.item_factors


METHODS = {"turborec": (run_turborec, None), "implicit": (run_implicit, "implicit")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    for name in ("users", "items", "nnz", "factors", "epochs", "repeat"):
        p.add_argument(f"--{name}", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "turborec-bench"))
    p.add_argument("--markdown", help="also write the report to this file")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    train, test = held_out(make_problem(args.users, args.items, args.nnz, args.cache))
    methods = {name: run for name, (run, needs) in METHODS.items()
               if needs is None or version(needs) != "not installed"}
    skipped = sorted(set(METHODS) - set(methods))
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
    text = report(args, train, times, quality).replace("BPR fit", "LMF fit", 1)
    if skipped:
        text += f"\n\nSkipped (not installed): {', '.join(skipped)}"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
