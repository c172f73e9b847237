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
    return 0


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
