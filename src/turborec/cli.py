"""The ``turborec`` command: ``turborec demo``, ``turborec info`` and ``turborec docs``."""

import argparse
import sys
import time
from importlib import metadata

import numpy as np

from . import __version__

# Where the documentation lives; the installed package's metadata (pyproject's
# [project.urls] Documentation) wins, this is for a source tree that was never installed.
DOCS_URL = "https://github.com/turborec/turborec/tree/main/docs"


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
    for name in available("selection"):
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
    _rating_demo(args)
    return 0


def _evaluation_demo(args):
    """Split built-in implicit feedback, evaluate the baselines, item neighbours by interactions
    and by content, their blend, and the generating tastes."""
    import turborec
    from turborec.datasets import synthetic_implicit, synthetic_item_features
    from turborec.models import (AlternatingLeastSquares, BayesianPersonalizedRanking, ContentKNN, FactorModel, Hybrid,
                                 ItemKNN, MostPopular, Random)

    # 2% of the cells, but at least two interactions per user (as the cells allow), so the
    # per-user split always holds some test interactions.
    cells = args.eval_users * args.eval_items
    n_interactions = min(max(round(0.02 * cells), 2 * args.eval_users), cells)
    data, truth = synthetic_implicit(args.eval_users, args.eval_items, n_interactions=n_interactions, seed=args.seed,
                                     return_truth=True)
    # Item "genres": the features each item's taste factors point to most, plus noise.
    genres = synthetic_item_features(truth["item_factors"], seed=args.seed)
    train, test = turborec.split.user_random_split(data, test_fraction=0.2, seed=args.seed)
    print(f"\nEvaluation: {len(data):,} interactions of {data.n_users:,} users x {data.n_items:,} items "
          f"(synthetic, popularity skew + low-rank tastes; {genres.shape[1]} item genres drawn from the tastes "
          "+ noise), per-user random 80/20 split")
    # The generating logits are user . item + item_bias: one extra factor carries the bias.
    ones = np.ones((data.n_users, 1))
    oracle = FactorModel(np.hstack([truth["user_factors"], ones]).astype(np.float32),
                         np.hstack([truth["item_factors"], truth["item_bias"][:, None]]).astype(np.float32))
    blend = Hybrid([(ItemKNN(K=20), 0.8), (ContentKNN(genres, K=100), 0.2)])
    models = [("Random", Random(seed=args.seed)), ("MostPopular", MostPopular()), ("ItemKNN", ItemKNN(K=20)),
              ("ContentKNN", ContentKNN(genres, K=100)), ("Hybrid(ItemKNN,ContentKNN)", blend),
              ("ALS", AlternatingLeastSquares(factors=32, iterations=10, alpha=10.0, random_state=args.seed)),
              ("BPR", BayesianPersonalizedRanking(factors=32, iterations=50, random_state=args.seed)),
              ("true tastes (oracle)", oracle)]
    columns = ["precision@10", "recall@10", "ndcg@10", "map@10", "auc@10", "coverage@10"]
    train_matrix = train.to_csr(values="ones")
    print(f"\n{'model':<27}" + "".join(f"{c:>13}" for c in columns) + f"{'seconds':>9}")
    for name, model in models:
        start = time.perf_counter()
        model.fit(train_matrix, show_progress=False)
        result = turborec.evaluate(model, train_matrix, test, k=10, show_progress=False,  # a bar would split the table
                                   metrics=["precision", "recall", "ndcg", "map", "auc", "coverage"])
        seconds = time.perf_counter() - start
        print(f"{name:<27}" + "".join(f"{result[c]:>13.4f}" for c in columns) + f"{seconds:>9.2f}")
    print(f"\nMetric definitions: {docs_url()}/metrics.md\n"
          "A trained collaborative model belongs between MostPopular and the oracle. ContentKNN sees the\n"
          "genres only: tastes, blurred by noise, and no popularity; the Hybrid weighs ItemKNN 0.8, ContentKNN 0.2.")


def _rating_demo(args):
    """Split built-in explicit ratings, predict the test ratings: global mean, biases, SVD."""
    import turborec
    from turborec.datasets import synthetic_ratings
    from turborec.metrics import mae, rmse
    from turborec.models import SVD, BaselineOnly

    cells = args.eval_users * args.eval_items
    n_ratings = min(max(round(0.02 * cells), 2 * args.eval_users), cells)  # as the step above
    data = synthetic_ratings(args.eval_users, args.eval_items, n_interactions=n_ratings, seed=args.seed)
    train, test = turborec.split.user_random_split(data, test_fraction=0.2, seed=args.seed)
    truth = np.asarray(test.ratings, dtype=np.float64)
    print(f"\nRatings: {len(data):,} ratings 1-5 of {data.n_users:,} users x {data.n_items:,} items (synthetic: "
          f"biases + low-rank tastes + noise), per-user random 80/20 split; test RMSE and MAE")
    mean = float(np.mean(train.ratings))
    rows = [("global mean", np.full(len(truth), mean), 0.0)]
    for name, model in [("BaselineOnly (ALS)", BaselineOnly(verbose=False)),
                        ("SVD (Surprise's)", SVD(random_state=args.seed)),
                        ("SVD (grid, float32)", SVD(random_state=args.seed, dtype="float32", n_blocks=4))]:
        start = time.perf_counter()
        model.fit(train)
        predicted = model.predict(test.users, test.items)
        rows.append((name, predicted, time.perf_counter() - start))
    print(f"\n{'model':<27}{'rmse':>13}{'mae':>13}{'seconds':>9}")
    for name, predicted, seconds in rows:
        print(f"{name:<27}{rmse(truth, predicted):>13.4f}{mae(truth, predicted):>13.4f}{seconds:>9.2f}")
    print(f"Models and their parity with Surprise: {docs_url()}/factorisation.md")


def docs_url():
    """The documentation's URL: the installed package's ``Documentation`` project URL.

    Returns
    -------
    str
    """
    try:
        urls = metadata.metadata("turborec").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "documentation":
            return url.strip().rstrip("/")
    return DOCS_URL


def _docs():
    url = docs_url()
    print(f"turborec {__version__} documentation: {url}")
    print(f"API reference (every public name, one line each): {url}/api.md")
    return 0


def _int_at_least(minimum, also=None):
    """An argparse type: an int >= ``minimum`` (or exactly ``also``), else a usage error."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if value < minimum and value != also:
            extra = f" or {also}" if also is not None else ""
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}{extra}, got {value}")
        return value

    return parse


def build_parser():
    """The ``turborec`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
    """
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="turborec", description="Fast recommender-system kernels.",
                                     formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"turborec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", formatter_class=formatter,
                          help="top-k recommendations on built-in synthetic data, every available backend",
                          description="Time top-k recommendations on every available backend, check that they "
                                      "agree, then evaluate the baselines on built-in implicit feedback.")
    positive = _int_at_least(1)
    demo.add_argument("--users", type=positive, default=20_000, help="users to recommend for")
    demo.add_argument("--items", type=positive, default=20_000, help="items in the catalogue")
    demo.add_argument("--factors", type=positive, default=64, help="factors per user and item")
    demo.add_argument("--seen", type=_int_at_least(0), default=50, help="items each user has seen (excluded)")
    demo.add_argument("--k", type=positive, default=10, help="items recommended per user")
    demo.add_argument("--threads", type=_int_at_least(1, also=-1), default=None,
                      help="threads (-1: all cores; omitted: OpenMP's maximum)")
    demo.add_argument("--reference-users", type=positive, default=500, help="users timed on the slow numpy backend")
    demo.add_argument("--eval-users", type=positive, default=5_000, help="users in the evaluation step")
    demo.add_argument("--eval-items", type=_int_at_least(2), default=2_000, help="items in the evaluation step")
    demo.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the synthetic data")
    sub.add_parser("info", formatter_class=formatter,
                   help="versions, build facts, backends and threads (same as turborec.show_config())")
    sub.add_parser("docs", formatter_class=formatter, help="print where the documentation is")
    return parser


def main(argv=None):
    """Run the ``turborec`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status (argparse exits with status 2 on a usage error).
    """
    args = build_parser().parse_args(argv)
    if args.command == "info":
        import turborec

        turborec.show_config()
        return 0
    if args.command == "docs":
        return _docs()
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
