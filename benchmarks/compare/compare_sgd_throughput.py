"""Throughput of one SGD epoch of matrix factorisation, in rating updates per second: turborec's
``svd_epoch`` (Surprise's SVD updates) on FPSGD's block grid and sequentially, against Surprise's
SVD and LIBMF (the FPSGD library itself, through the ``libmf`` Python binding), in one process.

Data: 10,000,000 ratings 1-5 of 100,000 users x 20,000 items drawn from a low-rank model (8
true factors) plus biases and noise, users log-normally active, items Zipf-popular; the model
has 64 factors. A rating update is one SGD step on one rating (LIBMF: one step of its
adaptive-rate SGD on the plain ``r ~ p . q`` model; Surprise and turborec: SVD with biases).

- turborec: ``turborec.sgd.svd_epoch_in_blocks`` on the ratings ordered once by
  ``block_order(user_chunk=16)`` (the model's own path; the order's time is reported too),
  float32, ``--blocks`` x ``--blocks`` grid on ``--threads`` threads; and the sequential pass in
  Surprise's order (float64, one thread). ``--epochs`` epochs each, the mean reported.
- Surprise: ``SVD(n_factors=64, n_epochs=1).fit`` on the first ``--surprise-ratings`` ratings
  (its epoch on 10M ratings takes minutes); the trainset is built outside the timing.
- LIBMF: ``MF(k=64, nr_threads=threads, nr_iters=n).fit``; per-iteration time is the difference
  between ``--epochs + 1`` and 1 iterations over ``--epochs`` (its set-up, grid and shuffling
  cancel out).

Usage::

    python benchmarks/compare/compare_sgd_throughput.py            # 10M ratings
    python benchmarks/compare/compare_sgd_throughput.py --quick    # 500k ratings
"""

import argparse
import contextlib
import io
import time

import numpy as np

from turborec import sgd
from turborec.models.baseline_only import surprise_order
from turborec.models.svd import USER_CHUNK

FACTORS = 64


def ratings(n_users, n_items, n_ratings, seed=0):
    """``(users, items, ratings)``: low-rank tastes + biases + noise, whole stars 1-5."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    users = rng.choice(n_users, n_ratings, p=activity / activity.sum())
    popularity = rng.permutation(1.0 / np.arange(1, n_items + 1))
    items = rng.choice(n_items, n_ratings, p=popularity / popularity.sum())
    p, q = rng.normal(0, 0.4, (n_users, 8)), rng.normal(0, 0.4, (n_items, 8))
    raw = 3.5 + rng.normal(0, 0.4, n_users)[users] + rng.normal(0, 0.5, n_items)[items]
    raw += np.einsum("ij,ij->i", p[users], q[items]) + rng.normal(0, 0.5, n_ratings)
    return users.astype(np.int64), items.astype(np.int64), np.clip(np.rint(raw), 1, 5)


def turborec_epochs(users, items, values, n_users, n_items, n_blocks, threads, dtype, epochs):
    """Seconds per epoch of the model's path: checks and the grid's order once, then epochs."""
    order = surprise_order(users, n_users)
    users, items, values = users[order], items[order], values[order]
    start = time.perf_counter()
    grid, bounds = sgd.block_order(users, items, n_users, n_items, n_blocks, user_chunk=USER_CHUNK,
                                   backend="native", n_threads=threads)
    if n_blocks > 1:
        print(f"the grid's order ({n_blocks}x{n_blocks} blocks, in turns): {time.perf_counter() - start:.3f} s")
    if grid is not None:
        users, items, values = users[grid], items[grid], values[grid]
    values = np.ascontiguousarray(values, dtype=dtype)
    rng = np.random.default_rng(0)
    arrays = [np.zeros(n_users, dtype), np.zeros(n_items, dtype),
              rng.normal(0, 0.1, (n_users, FACTORS)).astype(dtype), rng.normal(0, 0.1, (n_items, FACTORS)).astype(dtype)]
    rates = sgd.check_rates(lr_bu=0.005, lr_bi=0.005, lr_pu=0.005, lr_qi=0.005, reg_bu=0.02, reg_bi=0.02,
                            reg_pu=0.02, reg_qi=0.02)
    mean = float(values.mean())
    arrays = sgd.svd_epoch_in_blocks(users, items, values, bounds, arrays, mean, True, rates, n_blocks, "native",
                                     threads)  # warm-up: page faults, thread start
    start = time.perf_counter()
    for _ in range(epochs):
        arrays = sgd.svd_epoch_in_blocks(users, items, values, bounds, arrays, mean, True, rates, n_blocks, "native",
                                         threads)
    return (time.perf_counter() - start) / epochs


def surprise_epoch(users, items, values):
    import pandas as pd
    import surprise

    frame = pd.DataFrame({"u": users, "i": items, "r": values})
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    start = time.perf_counter()
    surprise.SVD(n_factors=FACTORS, n_epochs=1, random_state=0).fit(trainset)
    return time.perf_counter() - start


def libmf_epoch(users, items, values, threads, epochs):
    with contextlib.redirect_stdout(io.StringIO()):  # the binding prints where it found its .so
        from libmf import mf
    data = np.column_stack([users, items, values]).astype(np.float32)

    def fit(iterations):
        model = mf.MF(k=FACTORS, nr_threads=threads, nr_iters=iterations, quiet=True)
        start = time.perf_counter()
        model.fit(data)
        return time.perf_counter() - start

    fit(1)  # warm-up
    return (fit(epochs + 1) - fit(1)) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500k ratings instead of 10M")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=8, help="grid side G (G x G blocks)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--surprise-ratings", type=int, default=1_000_000)
    args = parser.parse_args()
    n_users, n_items, n = (10_000, 5_000, 500_000) if args.quick else (100_000, 20_000, 10_000_000)
    users, items, values = ratings(n_users, n_items, n)
    print(f"{n:,} ratings of {n_users:,} users x {n_items:,} items, {FACTORS} factors, {args.threads} threads")
    rows = []
    seconds = turborec_epochs(users, items, values, n_users, n_items, args.blocks, args.threads, np.float32,
                              args.epochs)
    rows.append((f"turborec grid {args.blocks}x{args.blocks}, float32, {args.threads} threads", n / seconds))
    seconds = turborec_epochs(users, items, values, n_users, n_items, 1, 1, np.float64, 1)
    rows.append(("turborec sequential (Surprise's order), float64, 1 thread", n / seconds))
    try:
        rows.append((f"LIBMF 2.01 (libmf binding), {args.threads} threads",
                     n / libmf_epoch(users, items, values, args.threads, args.epochs)))
    except ImportError:
        print("libmf not installed: pip install libmf")
    m = min(args.surprise_ratings, n)
    try:
        rows.append((f"Surprise SVD (on {m:,} ratings), 1 thread", m / surprise_epoch(users[:m], items[:m], values[:m])))
    except ImportError:
        print("surprise not installed")
    print(f"\n| method | updates/s | x Surprise |\n|---|---:|---:|")
    base = dict(rows).get(next((name for name, _ in rows if name.startswith("Surprise")), None))
    for name, rate in rows:
        print(f"| {name} | {rate / 1e6:.1f}M | {rate / base if base else float('nan'):.1f} |")


if __name__ == "__main__":
    main()
