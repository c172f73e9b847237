"""Item-item cosine top-k: turborec against sparse_dot_topn and implicit, in one process.

Every method starts from the same users x items CSR (binary implicit feedback with power-law
item popularity, ``turborec.datasets.synthetic_implicit``; ``--weighted`` replaces the ones by
seeded values 1 to 5) and ends with each item's k most cosine-similar other items. turborec
sees binary values and keeps counts only (half the accumulator traffic); ``--weighted`` measures
its general path:

- turborec: ``topk_similarity(user_items.T, k, measure="cosine")`` (a CSC view; the one
  transpose it needs is timed);
- sparse_dot_topn: rows of ``user_items.T`` divided by their norms (timed), then
  ``sp_matmul_topn(X, X.T, top_n=k + 1, sort=True, n_threads=threads)``; the item itself is
  among its k + 1;
- implicit: ``CosineRecommender(K=k + 1, num_threads=threads).fit(user_items)``, whose
  similarity also holds the item itself.

Methods run round-robin ``--repeat`` times after an untimed warm-up (the JIT-free peers need
none, but the first call of each pays for page faults), so load from elsewhere on a shared
machine hits all of them alike. The report gives medians, ratios to turborec, and agreement
with turborec: the share of turborec's neighbours the peer returns too (ties at the k-th score
may be broken differently: binary data has many), and the largest difference between the
sorted score lists of an item (which ties cannot change).

Usage::

    python benchmarks/compare/compare_similarity.py                 # 100k users x 50k items, 5M nnz, k=20
    python benchmarks/compare/compare_similarity.py --quick         # small smoke run
    python benchmarks/compare/compare_similarity.py --markdown similarity.md
    python benchmarks/compare/compare_similarity.py --weighted      # values 1-5: no count-only path

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
import scipy.sparse as sp

import turborec
from turborec.datasets import synthetic_implicit
from turborec.similarity import topk_similarity

from compare_topk import cpu_model, version

FULL = dict(users=100_000, items=50_000, nnz=5_000_000, k=20, repeat=5)
QUICK = dict(users=5_000, items=3_000, nnz=150_000, k=20, repeat=2)
SEED = 0


def make_problem(users, items, nnz, cache):
    """The users x items binary CSR (float32), cached as an .npz keyed by its parameters."""
    path = os.path.join(cache, f"similarity_{users}x{items}_{nnz}_seed{SEED}.npz")
    if os.path.exists(path):
        return sp.load_npz(path).tocsr()
    data = synthetic_implicit(users, items, n_interactions=nnz, popularity_exponent=1.0, seed=SEED)
    user_items = data.to_csr(values="ones")
    os.makedirs(cache, exist_ok=True)
    sp.save_npz(path, user_items)
    return user_items


# --------------------------------------------------------------------------- the methods
# Each returns a CSR (items x items) of at most k neighbours per item, the item itself removed.


def run_turborec(user_items, k, threads):
    return topk_similarity(user_items.T, k, measure="cosine", backend="native", n_threads=threads)


def run_sparse_dot_topn(user_items, k, threads):
    from sparse_dot_topn import sp_matmul_topn

    item_users = user_items.T.tocsr().astype(np.float32)
    norms = np.sqrt(np.asarray(item_users.multiply(item_users).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    item_users = sp.diags(scale).dot(item_users).tocsr()
    return sp_matmul_topn(item_users, item_users.T.tocsr(), top_n=k + 1, sort=True, n_threads=threads)


def run_implicit(user_items, k, threads):
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender(K=k + 1, num_threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its fit hands its own kernel a COO matrix and warns about it
        model.fit(user_items, show_progress=False)
    return model.similarity.tocsr()


METHODS = {"turborec": (run_turborec, None), "sparse_dot_topn": (run_sparse_dot_topn, "sparse_dot_topn"),
           "implicit": (run_implicit, "implicit")}


def neighbours(csr, k):
    """Per row: (ids, scores) of the k best entries other than the row itself, best first."""
    out = []
    for r in range(csr.shape[0]):
        lo, hi = csr.indptr[r], csr.indptr[r + 1]
        ids, scores = csr.indices[lo:hi], csr.data[lo:hi]
        keep = (ids != r) & (scores != 0)
        ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:k]
        out.append((ids[order], scores[order]))
    return out


def agreement(reference, result, k):
    """(share of the reference's neighbours also returned, largest sorted-score difference)."""
    ref, got = neighbours(reference, k), neighbours(result, k)
    shared = total = 0
    worst = 0.0
    for (ref_ids, ref_scores), (ids, scores) in zip(ref, got):
        shared += len(np.intersect1d(ref_ids, ids))
        total += len(ref_ids)
        width = min(len(ref_scores), len(scores))
        if len(ref_scores) != len(scores):
            worst = max(worst, 1.0)
        if width:
            worst = max(worst, float(np.abs(ref_scores[:width].astype(np.float64) - scores[:width]).max()))
    return shared / max(total, 1), worst


# --------------------------------------------------------------------------- the report


def report(args, user_items, times, agree):
    pop = np.diff(user_items.tocsc().indptr)
    lines = [f"Item-item cosine top-{args.k}: {user_items.shape[0]:,} users x {user_items.shape[1]:,} items, "
             f"{user_items.nnz:,} interactions (item popularity: max {pop.max():,}, median {int(np.median(pop))}), "
             f"{'values 1-5' if args.weighted else 'binary values'}, {args.threads} threads, median of {args.repeat}",
             f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, turborec "
             f"{turborec.__version__}, implicit {version('implicit')}, sparse_dot_topn {version('sparse_dot_topn')}; "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             "",
             "| method | median s | min s | x turborec (medians) | x turborec (minima) | neighbours shared with "
             "turborec | max sorted-score diff |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    base, base_min = np.median(times["turborec"]), min(times["turborec"])
    for name, runs in times.items():
        med = np.median(runs)
        shared, diff = agree.get(name, (1.0, 0.0))
        lines.append(f"| {name} | {med:.2f} | {min(runs):.2f} | {med / base:.2f} | {min(runs) / base_min:.2f} | "
                     f"{shared:.2%} | {diff:.1e} |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--users", type=int)
    p.add_argument("--items", type=int)
    p.add_argument("--nnz", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--repeat", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weighted", action="store_true",
                   help="values 1 to 5 (seeded) instead of ones: turborec's general path, not its count-only one")
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "turborec-bench"))
    p.add_argument("--markdown", help="also write the report to this file")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    user_items = make_problem(args.users, args.items, args.nnz, args.cache)
    if args.weighted:
        user_items.data = np.random.default_rng(SEED).integers(1, 6, size=user_items.nnz).astype(np.float32)
    methods = {name: run for name, (run, needs) in METHODS.items()
               if needs is None or version(needs) != "not installed"}
    skipped = sorted(set(METHODS) - set(methods))
    results, times = {}, {name: [] for name in methods}
    for name, run in methods.items():  # warm-up, and the results compared
        results[name] = run(user_items, args.k, args.threads)
    for _ in range(args.repeat):
        for name, run in methods.items():
            start = time.perf_counter()
            run(user_items, args.k, args.threads)
            times[name].append(time.perf_counter() - start)
    agree = {name: agreement(results["turborec"], results[name], args.k) for name in methods if name != "turborec"}
    text = report(args, user_items, times, agree)
    if skipped:
        text += f"\n\nSkipped (not installed): {', '.join(skipped)}"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
