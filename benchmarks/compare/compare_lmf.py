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

import sys
import warnings

from turborec.models import LogisticMatrixFactorization

import compare_bpr

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


if __name__ == "__main__":
    sys.exit(compare_bpr.main(methods=METHODS, title="LMF fit", description=__doc__, full=FULL, quick=QUICK))
