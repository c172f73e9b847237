"""Exact top-k by dot product: turborec against faiss, implicit, NumPy and the bare sgemm floor.

Every method runs in this one process on the same inputs: top-k items for each user by
``user_factors @ item_factors.T``, each user excluding ~50 random items (the items a user
already liked). Methods run round-robin, ``--repeat`` times, after an untimed warm-up; the
report gives medians, ratios to turborec, agreement of the returned ids with turborec's,
and the peak-RSS increase of each method's first call, measured alone in a fresh
subprocess (the kernel's peak-RSS counter sees the C++ allocations tracemalloc misses).

Usage::

    python benchmarks/compare/compare_topk.py                # 100k users x 50k items, k=10
    python benchmarks/compare/compare_topk.py --quick        # small smoke run
    python benchmarks/compare/compare_topk.py --markdown results.md

A peer that is not installed is reported as skipped.
"""

import argparse
import datetime
import importlib.metadata
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas as scipy_blas
from threadpoolctl import threadpool_info, threadpool_limits

import turborec

FULL = dict(users=100_000, items=50_000, factors=64, k=10, repeat=3)
QUICK = dict(users=4_000, items=8_000, factors=64, k=10, repeat=2)
N_EXCLUDED = 50  # random items excluded per user
BLOCK = 1024  # users per block for the NumPy method (it needs whole rows of scores)
# Floor tiles: users x items. A 4 MiB output tile stays in cache; blocks of whole rows (as in
# the NumPy method) run the same sgemm ~20% slower here, their writes going to memory.
FLOOR_TILE = (2048, 512)
SEED = 0


# --------------------------------------------------------------------------- the problem


def make_problem(n_users, n_items, n_factors, seed=SEED):
    """Seeded float32 factors (scores of unit variance) and a CSR of excluded items."""
    rng = np.random.default_rng(seed)
    scale = np.float32(n_factors ** -0.25)
    users = rng.standard_normal((n_users, n_factors), dtype=np.float32) * scale
    items = rng.standard_normal((n_items, n_factors), dtype=np.float32) * scale
    per_user = min(N_EXCLUDED, n_items)
    cols = rng.integers(0, n_items, size=(n_users, per_user), dtype=np.int32).ravel()
    rows = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    exclude = sp.csr_matrix((np.ones(cols.size, np.float32), (rows, cols)), shape=(n_users, n_items))
    exclude.sum_duplicates()  # a rare item drawn twice for a user counts once; sorts indices
    return users, items, exclude


def excluded_mask(exclude, ids):
    """Boolean mask: ``ids[r, j]`` is excluded for row ``r`` (ids < 0 count as excluded).

    Keys ``row * n_items + id`` of the excluded entries are sorted (CSR with sorted indices),
    so membership is one binary search per returned id.
    """
    n_rows, n_items = exclude.shape
    row_of = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(exclude.indptr))
    excluded_keys = row_of * n_items + exclude.indices
    keys = np.arange(n_rows, dtype=np.int64)[:, None] * n_items + ids
    pos = np.minimum(np.searchsorted(excluded_keys, keys), max(len(excluded_keys) - 1, 0))
    hit = excluded_keys[pos] == keys if len(excluded_keys) else np.zeros(ids.shape, bool)
    return hit | (ids < 0)


# --------------------------------------------------------------------------- the methods
#
# Each method takes (users, items, k, exclude, threads) and returns the (n_users, k) ids,
# best first, or None for the sgemm floors, which only compute the scores.


def run_turborec(users, items, k, exclude, threads):
    ids, _ = turborec.topk_dot(users, items, k, exclude=exclude, backend="native", n_threads=threads)
    return ids


def run_faiss(users, items, k, exclude, threads):
    """IndexFlatIP exact search for ``k + max excluded per user``, then drop excluded ids.

    faiss's IDSelector filters a whole batch alike, so per-user exclusions would mean one
    search per user; searching deeper and filtering keeps one batched search.
    """
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(items)
    depth = min(k + int(np.diff(exclude.indptr).max(initial=0)), items.shape[0])
    _, candidates = index.search(users, depth)
    # Keep the first k eligible candidates of each row, in faiss's (best-first) order.
    drop = excluded_mask(exclude, candidates)
    first_kept = np.argsort(drop, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(candidates, first_kept, axis=1)


def run_implicit(users, items, k, exclude, threads):
    from implicit.cpu.topk import topk

    with threadpool_limits(limits=threads, user_api="blas"):  # its matmul is numpy's
        ids, _ = topk(items, users, k, filter_query_items=exclude, num_threads=threads)
    return ids


def run_numpy(users, items, k, exclude, threads):
    """Blocks of users: matmul into a reused buffer, excluded scores to -inf, argpartition."""
    n_items = items.shape[0]
    out = np.empty((len(users), k), dtype=np.int64)
    buf = np.empty((min(BLOCK, len(users)), n_items), dtype=np.float32)
    indptr, indices = exclude.indptr, exclude.indices
    with threadpool_limits(limits=threads, user_api="blas"):
        for start in range(0, len(users), BLOCK):
            stop = min(start + BLOCK, len(users))
            scores = buf[: stop - start]
            np.matmul(users[start:stop], items.T, out=scores)
            rows = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
            scores[rows, indices[indptr[start] : indptr[stop]]] = -np.inf
            top = np.argpartition(scores, n_items - k, axis=1)[:, n_items - k :]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            out[start:stop] = np.take_along_axis(top, order, axis=1)
    return out


def _tiles(n_users, n_items):
    """(user slice, item slice, C-contiguous output of the tile's shape) of every floor tile.

    Every output is the start of one reused buffer, reshaped: contiguous even for the
    narrower last tiles, so neither BLAS ever needs a copy.
    """
    buf = np.empty(FLOOR_TILE[0] * FLOOR_TILE[1], dtype=np.float32)
    for start in range(0, n_users, FLOOR_TILE[0]):
        for first in range(0, n_items, FLOOR_TILE[1]):
            rows = slice(start, min(start + FLOOR_TILE[0], n_users))
            cols = slice(first, min(first + FLOOR_TILE[1], n_items))
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            yield rows, cols, buf[: shape[0] * shape[1]].reshape(shape)


def run_sgemm_numpy(users, items, k, exclude, threads):
    """The bare product, tile by tile, by numpy's BLAS into a reused buffer."""
    with threadpool_limits(limits=threads, user_api="blas"):
        for rows, cols, out in _tiles(len(users), len(items)):
            np.matmul(users[rows], items[cols].T, out=out)
    return None


def run_sgemm_scipy(users, items, k, exclude, threads):
    """The bare product, tile by tile, by scipy's BLAS sgemm into a reused buffer.

    The C-order tile ``users_t @ items_t.T`` is the Fortran-order ``items_t @ users_t.T``, so
    sgemm writes straight into the buffer (no copies: every operand is a Fortran view).
    """
    with threadpool_limits(limits=threads, user_api="blas"):
        for rows, cols, out in _tiles(len(users), len(items)):
            scipy_blas.sgemm(1.0, items[cols].T, users[rows].T, beta=0.0, trans_a=True,
                             c=out.T, overwrite_c=True)
    return None


class Method:
    """A contender: its runner, its label in the report, and the module it needs, if any."""

    def __init__(self, name, run, label, needs=None):
        self.name, self.run, self.label, self.needs = name, run, label, needs
        self.skipped, self.import_error = None, None
        if needs is not None:
            try:
                importlib.import_module(needs)
            except ImportError as exc:
                self.skipped, self.import_error = f"skipped: {needs} not importable", exc

    @property
    def is_floor(self):
        return self.name.startswith("sgemm")


def all_methods():
    return [
        Method("turborec", run_turborec, "turborec.topk_dot (native)"),
        Method("faiss", run_faiss, "faiss IndexFlatIP (search k+max excluded, filter)", "faiss"),
        Method("implicit", run_implicit, "implicit.cpu.topk.topk", "implicit.cpu.topk"),
        Method("numpy", run_numpy, f"numpy matmul + argpartition ({BLOCK}-user blocks)"),
        Method("sgemm-numpy", run_sgemm_numpy, "floor: bare sgemm in tiles, numpy's OpenBLAS"),
        Method("sgemm-scipy", run_sgemm_scipy, "floor: bare sgemm in tiles, scipy's OpenBLAS"),
    ]


# --------------------------------------------------------------------------- correctness


def agreement(users, items, ref_ids, ids, chunk=8192):
    """Share of returned ids in turborec's top-k: exactly, and counting near-ties.

    An id outside turborec's set still agrees when its exact (float64) score is within a
    float32 rounding bound of turborec's k-th exact score: the two are tied in float32.
    """
    n_users, k = ref_ids.shape
    eps = np.finfo(np.float32).eps
    item_norm_max = float(np.linalg.norm(items, axis=1).max())
    exact = near = 0
    for start in range(0, n_users, chunk):
        u = users[start : start + chunk].astype(np.float64)
        a, b = ref_ids[start : start + chunk], ids[start : start + chunk]
        same = (b[:, :, None] == a[:, None, :]).any(axis=2)
        score_a = np.einsum("nd,nkd->nk", u, items[np.maximum(a, 0)].astype(np.float64))
        score_b = np.einsum("nd,nkd->nk", u, items[np.maximum(b, 0)].astype(np.float64))
        tol = 4 * u.shape[1] * eps * np.linalg.norm(u, axis=1) * item_norm_max
        tied = (b >= 0) & (score_b >= score_a.min(axis=1, initial=np.inf, where=a >= 0)[:, None]
                           - tol[:, None])
        exact += int(same.sum())
        near += int((same | tied).sum())
    return exact / ref_ids.size, near / ref_ids.size


# --------------------------------------------------------------------------- peak memory


def _status_bytes(field):
    """A ``kB`` field of /proc/self/status (Linux) in bytes, else None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Make the kernel's peak RSS (VmHWM) restart from the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss():
    """Peak RSS of this process in bytes.

    Linux: VmHWM. ``ru_maxrss`` would do, except that Linux carries it over from the parent
    across fork + exec, so a child's first reading is its parent's peak.
    """
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def memory_child(name, data_dir, k, threads):
    """In a fresh process: load the inputs, run one method once, print its peak-RSS increase."""
    users = np.load(os.path.join(data_dir, "users.npy"))
    items = np.load(os.path.join(data_dir, "items.npy"))
    indptr = np.load(os.path.join(data_dir, "indptr.npy"))
    indices = np.load(os.path.join(data_dir, "indices.npy"))
    data = np.ones(len(indices), dtype=np.float32)
    exclude = sp.csr_matrix((data, indices, indptr), shape=(len(users), len(items)))
    method = {m.name: m for m in all_methods()}[name]
    _reset_peak_rss()
    before = _status_bytes("VmRSS") or _peak_rss()
    method.run(users, items, k, exclude, threads)
    print(max(0, _peak_rss() - before))


def measure_memory(methods, users, items, exclude, k, threads):
    """Peak-RSS increase (bytes) of each method's first call, each in its own subprocess."""
    result = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for array, name in ((users, "users"), (items, "items"), (exclude.indptr, "indptr"),
                            (exclude.indices, "indices")):
            np.save(os.path.join(data_dir, f"{name}.npy"), array)
        for method in methods:
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", method.name,
                   "--data-dir", data_dir, "--k", str(k), "--threads", str(threads)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode == 0:
                result[method.name] = int(done.stdout.strip().splitlines()[-1])
            else:
                print(f"memory measurement of {method.name} failed:\n{done.stderr}", file=sys.stderr)
    return result


# --------------------------------------------------------------------------- the report


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def blas_libraries():
    """OpenBLAS (or other BLAS) builds loaded, e.g. numpy's and scipy's differ."""
    return ", ".join(
        f"{os.path.basename(lib['filepath'])} {lib.get('version') or ''}".strip()
        for lib in threadpool_info() if lib["user_api"] == "blas"
    )


def describe(args, threads):
    n_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(f"{name} {version(dist)}" for name, dist in (
        ("turborec", "turborec"), ("numpy", "numpy"), ("scipy", "scipy"),
        ("faiss", "faiss-cpu"), ("implicit", "implicit")))
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu_model()}, {n_cores} cores, {platform.system()} {platform.release()}",
        f"- problem: top-{args.k} for {args.users:,} users over {args.items:,} items, "
        f"{args.factors} float32 factors, ~{N_EXCLUDED} excluded items per user; "
        f"{threads} threads; median of {args.repeat} runs",
        f"- versions: {versions}, python {platform.python_version()}",
        f"- BLAS: {blas_libraries()}",
    ]


def fmt_bytes(n):
    if n is None:
        return "-"
    return f"{n / 2**20:,.1f} MiB" if n < 10 * 2**20 else f"{n / 2**20:,.0f} MiB"


def report(args, threads, methods, times, agree, memory):
    flops = 2.0 * args.users * args.items * args.factors
    base = np.median(times["turborec"])
    lines = describe(args, threads) + ["", "| method | median s | min s | vs turborec | effective GFLOP/s "
             "| ids agree (exact / near-ties) | peak RSS increase |", "|---|---:|---:|---:|---:|---:|---:|"]
    for m in methods:
        if m.skipped:
            lines.append(f"| {m.label} | {m.skipped} | | | | | |")
            continue
        med = np.median(times[m.name])
        if m.name == "turborec":
            agree_txt = "reference"
        else:
            agree_txt = "-" if m.name not in agree else "{:.3%} / {:.3%}".format(*agree[m.name])
        lines.append(f"| {m.label} | {med:.2f} | {min(times[m.name]):.2f} | {med / base:.2f}x "
                     f"| {flops / med / 1e9:.0f} | {agree_txt} | {fmt_bytes(memory.get(m.name))} |")
    lines.append("")
    for m in methods:
        if not m.skipped and m.name != "turborec" and not m.is_floor:
            lines.append(f"- {m.name} / turborec = {np.median(times[m.name]) / base:.2f}x")
    floors = {m.name: np.median(times[m.name]) for m in methods if m.is_floor and not m.skipped}
    if floors:
        floor_name = min(floors, key=floors.get)
        lines.append(f"- turborec / sgemm floor = {base / floors[floor_name]:.2f}x "
                     f"(floor: the faster bare sgemm, {floor_name}, {floors[floor_name]:.2f} s)")
    if "turborec" in memory:
        out_bytes = args.users * args.k * 8  # int32 ids + float32 scores
        lines.append(f"- turborec peak RSS increase: {fmt_bytes(memory['turborec'])} "
                     f"(of which outputs {fmt_bytes(out_bytes)}; inputs "
                     f"{fmt_bytes((args.users + args.items) * args.factors * 4)} not counted)")
    if "faiss" in times:
        lines.append("- faiss: IDSelector applies to a whole batch, so it searches k + max excluded "
                     "per user and drops the excluded ids (filtering included in its time)")
    return "\n".join(lines)


def emit(text, markdown=None):
    """Print the report, and also write it to the file ``markdown`` when given."""
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text + "\n")


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, help=f"default {FULL['users']:,}")
    parser.add_argument("--items", type=int, help=f"default {FULL['items']:,}")
    parser.add_argument("--factors", type=int, help=f"default {FULL['factors']}")
    parser.add_argument("--k", type=int, help=f"default {FULL['k']}")
    parser.add_argument("--repeat", type=int, help=f"timed runs per method, default {FULL['repeat']}")
    parser.add_argument("--threads", type=int, default=-1, help="threads per method; -1: all cores")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.users, args.items, args.factors, args.k, args.repeat) < 1:
        parser.error("--users, --items, --factors, --k and --repeat must be positive")
    if args.k + N_EXCLUDED > args.items:
        parser.error(f"--k plus the {N_EXCLUDED} excluded items must not exceed --items")
    return args


def main(argv=None):
    args = parse_args(argv)
    threads = turborec.resolve_n_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child, args.data_dir, args.k, threads)
        return

    users, items, exclude = make_problem(args.users, args.items, args.factors)
    methods = all_methods()
    runnable = [m for m in methods if not m.skipped]
    for m in methods:
        if m.skipped:
            print(f"{m.name}: {m.skipped} ({m.import_error})", file=sys.stderr)

    warm = min(len(users), 2 * BLOCK)
    for m in runnable:  # thread pools, BLAS buffers, lazy imports: out of the timing
        m.run(users[:warm], items, args.k, exclude[:warm], threads)

    times = {m.name: [] for m in runnable}
    results = {}
    for rep in range(args.repeat):  # round-robin, so load on a shared machine hits all alike
        for m in runnable:
            start = time.perf_counter()
            ids = m.run(users, items, args.k, exclude, threads)
            times[m.name].append(time.perf_counter() - start)
            print(f"run {rep + 1}/{args.repeat}  {m.name:12s} {times[m.name][-1]:8.3f} s",
                  file=sys.stderr, flush=True)
            results[m.name] = ids

    agree, leaked = {}, {}
    for name, ids in results.items():
        if ids is not None:
            leaked[name] = int(excluded_mask(exclude, ids).sum())
            agree[name] = agreement(users, items, results["turborec"], ids)
    for name, count in leaked.items():
        if count:
            print(f"WARNING: {name} returned {count} excluded or missing ids", file=sys.stderr)

    memory = {} if args.no_memory else measure_memory(runnable, users, items, exclude, args.k, threads)
    emit(report(args, threads, methods, times, agree, memory), args.markdown)


if __name__ == "__main__":
    main()
