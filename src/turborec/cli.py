"""The ``turborec`` command: ``turborec demo``, ``turborec info``, ``turborec docs`` and
``turborec attention convert``."""

import argparse
import sys
import time
from importlib import metadata

import numpy as np

from . import __version__
from .attention._convert import FORMATS, MODELS, convert

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
    return _attention_demo(args, n_threads)


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


def generated_sasrec_weights(n_items, *, hidden=64, n_layers=2, inner=256, max_len=50, seed=0):
    """RecBole SASRec weights drawn at random (seeded): the shapes and arithmetic of a real model,
    none of its knowledge. ``n_items`` rows of item embeddings, row 0 RecBole's padding id."""
    from turborec.attention._weights import BLOCK, block_shapes

    rng = np.random.default_rng(seed)

    def draw(name, shape):
        if name.endswith("LayerNorm.weight"):
            return np.ones(shape, np.float32)
        if name.endswith("bias"):
            return np.zeros(shape, np.float32)
        # Fan-in scaling keeps activations O(1); 1.5x sharpens attention away from uniform.
        return (rng.standard_normal(shape) * 1.5 / np.sqrt(shape[-1])).astype(np.float32)

    shapes = {"item_embedding.weight": (n_items, hidden), "position_embedding.weight": (max_len, hidden),
              "LayerNorm.weight": (hidden,), "LayerNorm.bias": (hidden,)}
    for i in range(n_layers):
        shapes.update({BLOCK.format(i) + name: shape for name, shape in block_shapes(hidden, inner).items()})
    return {name: draw(name, shape) for name, shape in shapes.items()}


def _median_seconds(call, repeats):
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _attention_demo(args, n_threads):
    """SASRec inference in RecBole's architecture and default shape, on built-in synthetic
    sequences, with generated (not trained) weights: latency, agreement with the reference, a top-k."""
    from turborec.attention import SASRec
    from turborec.backends import resolve
    from turborec.datasets import synthetic_sequences

    n_items = args.attention_items
    data = synthetic_sequences(args.attention_users, n_items, n_clusters=min(10, n_items), seed=args.seed)
    # RecBole's ids: item + 1, as 0 is its padding id.
    sequences = np.split(data.items.astype(np.int64) + 1, np.flatnonzero(np.diff(data.users)) + 1)
    model = SASRec.from_recbole(generated_sasrec_weights(n_items + 1, seed=args.seed))
    backend = resolve("attention", kernel="encoder").name
    run = dict(backend=backend, n_threads=n_threads)
    n, k = len(sequences), args.k
    print(f"\nAttention: SASRec next-item top-{k} for {n:,} synthetic sequences (Markov chains over item clusters, "
          f"{len(data) / n:.1f} items on average) over {n_items:,} items, seen items excluded; RecBole's architecture "
          f"and default shape (hidden {model.hidden_size}, {model.n_layers} blocks, {model.n_heads} heads, inner "
          f"{model.inner_size}, max_len {model.max_len}). The weights are GENERATED at random (seeded), NOT TRAINED: "
          "this times the engine and checks it; the items it picks mean nothing.")
    model.recommend(sequences[:2], k, **run)  # JIT compile / first-call set-up is not the engine
    states = [model.start(s[:-1], **run) for s in sequences[:20]]  # each user's sequence but its last item
    stepped = []

    def step(i):
        stepped.append(model.step(states[i], sequences[i][-1], k, **run)[0])

    rows = [("recommend, batch 1", 1, _median_seconds(lambda i: model.recommend(sequences[i % n:i % n + 1], k, **run),
                                                       20)),
            (f"recommend, batch {n}", n, _median_seconds(lambda i: model.recommend(sequences, k, **run), 3)),
            ("step (append one item)", 1, _median_seconds(step, len(states)))]
    print(f"\n{'call':<27}{'backend':>8}{'threads':>8}{'ms':>10}{'users/s':>12}")
    for name, users, seconds in rows:
        print(f"{name:<27}{backend:>8}{n_threads:>8}{1e3 * seconds:>10.2f}{users / seconds:>12,.0f}")
    print("(step: the user's state after its sequence but the last item, then step() with that item: cached keys "
          "and values, one new row per block)")

    few = sequences[:8]
    ids, scores = model.recommend(few, k, **run)
    reference_ids, reference_scores = model.recommend(few, k, backend="numpy")
    close = np.allclose(scores, reference_scores, rtol=1e-4, atol=1e-5)
    same_step = np.array_equal(np.array(stepped), model.recommend(sequences[:len(states)], k, **run)[0])
    print(f"Agreement: {backend} and the numpy reference on {len(few)} users: ids "
          f"{float((ids == reference_ids).mean()):.0%} identical, scores {'match' if close else 'DIFFER'}; the "
          f"incremental step and a full pass: {'identical ids' if same_step else 'DIFFERENT ids'}")
    history, top = sequences[0] - 1, ids[0][ids[0] >= 0] - 1  # back to synthetic_sequences' item ids
    print(f"User 0 ({len(history)} items, the last five {history[-5:].tolist()}): top-{k} {top.tolist()} "
          "(synthetic_sequences' item ids)")
    print(f"Serving RecBole's SASRec and BERT4Rec, converting checkpoints: {docs_url()}/attention.md")
    if not (close and same_step):
        print("ERROR: the attention engine disagrees with the reference or with itself", file=sys.stderr)
        return 1
    return 0


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


def _convert(args):
    """``turborec attention convert``; an error is one line on stderr and exit status 1."""
    try:
        model, sources = convert(args.source, args.target, fmt=args.format, model=args.model, n_heads=args.n_heads,
                                 hidden_act=args.hidden_act, layer_norm_eps=args.layer_norm_eps, max_len=args.max_len,
                                 variant=args.variant, layout=args.layout)
    except (ImportError, OSError, ValueError, TypeError, IndexError) as error:
        print(f"turborec attention convert: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.target}: {type(model).__name__}, {model.n_items:,} item ids (0 is the padding id), hidden "
          f"{model.hidden_size}, {model.n_layers} blocks, inner {model.inner_size}, max_len {model.max_len}")
    print("  " + ", ".join(f"{name} {getattr(model, name)!r} ({source})" for name, source in sources.items()))
    print("serve it without torch: turborec.attention.load_npz(OUT)")
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
    demo.add_argument("--attention-users", type=_int_at_least(2), default=256,
                      help="sequences in the attention step (its batch)")
    demo.add_argument("--attention-items", type=_int_at_least(6), default=20_000,
                      help="items in the attention step's catalogue")
    demo.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the synthetic data (and of the "
                                                                         "attention step's generated weights)")
    sub.add_parser("info", formatter_class=formatter,
                   help="versions, build facts, backends and threads (same as turborec.show_config())")
    sub.add_parser("docs", formatter_class=formatter, help="print where the documentation is")
    attention = sub.add_parser("attention", formatter_class=formatter, help="self-attention models (SASRec, BERT4Rec)",
                               description="Self-attention models served without torch.")
    tasks = attention.add_subparsers(dest="task", required=True)
    convert = tasks.add_parser("convert", formatter_class=formatter,
                               help="a RecBole or SASRec.pytorch checkpoint into a turborec .npz (needs torch)",
                               description="Read a RecBole checkpoint (torch.save; read without running code from "
                                           "it) and write the model as a turborec .npz that "
                                           "turborec.attention.load_npz serves without torch. Every key and shape is "
                                           "checked. Settings the weights do not record come from the options, else "
                                           "from the checkpoint's RecBole config, else RecBole's defaults "
                                           "(--format pmixer: SASRec.pytorch's state_dict, from_pmixer's defaults).")
    convert.add_argument("source", metavar="IN", help="the checkpoint: RecBole's saved/<model>-<date>.pth, or a "
                                                      "torch.save'd state_dict")
    convert.add_argument("target", metavar="OUT", help="the .npz to write")
    convert.add_argument("--format", default="recbole", choices=FORMATS, help="the checkpoint's layout")
    convert.add_argument("--model", choices=tuple(MODELS), default=None,
                         help="omitted: the checkpoint's config, else BERT4Rec when the weights have its "
                              "output_bias, else SASRec")
    convert.add_argument("--n-heads", type=positive, default=None,
                         help="attention heads (omitted: the checkpoint's config, else 2; pmixer: 1)")
    convert.add_argument("--hidden-act", default=None, help="'gelu' or 'relu' (omitted: the config's, else gelu)")
    convert.add_argument("--layer-norm-eps", type=float, default=None,
                         help="LayerNorm epsilon (omitted: the config's, else 1e-12)")
    convert.add_argument("--max-len", type=positive, default=None,
                         help="most recent items kept per sequence (omitted: the rows of the position embedding)")
    convert.add_argument("--variant", choices=("original", "post_ln", "pre_ln"), default=None,
                         help="pmixer only: the block (omitted: original, the 2020 code's)")
    convert.add_argument("--layout", choices=("2024", "2020"), default=None,
                         help="pmixer only: the position layout (omitted: 2024)")
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
    if args.command == "attention":
        return _convert(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
