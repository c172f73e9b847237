"""The ``turborec`` command: ``turborec demo`` and ``turborec info``."""

import argparse
import sys
import time

import numpy as np


def _demo(args):
    import turborec
    from turborec.backends import available
    from turborec.datasets import synthetic_factors

    n_threads = turborec.resolve_n_threads(args.threads)
    print(f"turborec {turborec.__version__} demo: top-{args.k} recommendations for {args.users:,} users "
          f"over {args.items:,} items, {args.factors} factors, ~{args.seen} seen items excluded per user")
    users, items, seen = synthetic_factors(args.users, args.items, args.factors, args.seen, seed=args.seed)
    rows = []
    results = {}
    for name in available():
        # The reference backend materialises whole score rows: time it on a slice of users.
        n = min(args.users, args.reference_users) if name == "numpy" else args.users
        call = dict(exclude=seen[:n], backend=name, n_threads=n_threads)
        if name in ("numba", "cuda", "cupy"):  # JIT compile / device warm-up is not the kernel
            turborec.topk_dot(users[:2], items, args.k, **{**call, "exclude": seen[:2]})
        start = time.perf_counter()
        ids, values = turborec.topk_dot(users[:n], items, args.k, **call)
        seconds = time.perf_counter() - start
        results[name] = (ids, values)
        rows.append((name, n_threads if name in ("native", "numba", "numpy") else "gpu", n, seconds))

    base_ids, base_values = results[rows[0][0]]
    print(f"\n{'backend':<8} {'threads':>7} {'users':>8} {'seconds':>9} {'users/s':>12}  agrees with {rows[0][0]}")
    failed = False
    for name, threads, n, seconds in rows:
        ids, values = results[name]
        same_ids = float((ids == base_ids[:n]).mean())
        close = np.allclose(values, base_values[:n], rtol=1e-4, atol=1e-5)
        failed |= not close
        print(f"{name:<8} {threads!s:>7} {n:>8,} {seconds:>9.3f} {n / seconds:>12,.0f}  "
              f"{'yes' if close else 'NO'} (ids {same_ids:.2%} identical, scores {'match' if close else 'DIFFER'})")
    print("\nids may differ only where two items' scores tie to within float32 rounding.")
    if failed:
        print("ERROR: backends disagree", file=sys.stderr)
        return 1
    _evaluation_demo(args)
    return 0


def _evaluation_demo(args):
    """Split built-in implicit feedback, evaluate the baselines and the generating tastes."""
    import turborec
    from turborec.datasets import synthetic_implicit
    from turborec.models import FactorModel, MostPopular, Random

    data, truth = synthetic_implicit(args.eval_users, args.eval_items, density=0.02, seed=args.seed,
                                     return_truth=True)
    train, test = turborec.split.user_random_split(data, test_fraction=0.2, seed=args.seed)
    print(f"\nEvaluation: {len(data):,} interactions of {data.n_users:,} users x {data.n_items:,} items "
          f"(synthetic, popularity skew + low-rank tastes), per-user random 80/20 split")
    # The generating logits are user . item + item_bias: one extra factor carries the bias.
    ones = np.ones((data.n_users, 1))
    oracle = FactorModel(np.hstack([truth["user_factors"], ones]).astype(np.float32),
                         np.hstack([truth["item_factors"], truth["item_bias"][:, None]]).astype(np.float32))
    models = [("Random", Random(seed=args.seed)), ("MostPopular", MostPopular()), ("true tastes (oracle)", oracle)]
    columns = ["precision@10", "recall@10", "ndcg@10", "map@10", "auc@10", "coverage@10"]
    train_matrix = train.to_csr(values="ones")
    print(f"\n{'model':<22}" + "".join(f"{c:>13}" for c in columns) + f"{'seconds':>9}")
    for name, model in models:
        start = time.perf_counter()
        model.fit(train_matrix)
        result = turborec.evaluate(model, train_matrix, test, k=10,
                                   metrics=["precision", "recall", "ndcg", "map", "auc", "coverage"])
        seconds = time.perf_counter() - start
        print(f"{name:<22}" + "".join(f"{result[c]:>13.4f}" for c in columns) + f"{seconds:>9.2f}")
    print("\nMetrics: docs/metrics.md. A trained model belongs between MostPopular and the oracle.")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="turborec", description="Fast recommender-system kernels.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="top-k recommendations on built-in synthetic data, every available backend")
    demo.add_argument("--users", type=int, default=20_000)
    demo.add_argument("--items", type=int, default=20_000)
    demo.add_argument("--factors", type=int, default=64)
    demo.add_argument("--seen", type=int, default=50, help="items each user has seen (excluded)")
    demo.add_argument("--k", type=int, default=10)
    demo.add_argument("--threads", type=int, default=None, help="default: OpenMP's maximum")
    demo.add_argument("--reference-users", type=int, default=500, help="users timed on the slow numpy backend")
    demo.add_argument("--eval-users", type=int, default=5_000, help="users in the evaluation step")
    demo.add_argument("--eval-items", type=int, default=2_000, help="items in the evaluation step")
    demo.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="versions, build facts, backends and threads (same as turborec.show_config())")
    args = parser.parse_args(argv)
    if args.command == "info":
        import turborec

        turborec.show_config()
        return 0
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
