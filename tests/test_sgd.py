"""The sgd family: SVD and SVD++ epochs on every backend against the numpy reference."""

import itertools

import numpy as np
import pytest

import turborec
from turborec import sgd
from conformance import KernelConformance, simd_levels

FAMILY = "sgd"


def _problem(rng, dtype, n, m, k, *, n_ratings=None, grouped=True):
    """Ratings of ``n`` users over ``m`` items, a model of ``k`` factors (Surprise-like scales)."""
    n_ratings = min(n * m, 3 * n + 5) if n_ratings is None else n_ratings
    users = rng.integers(0, max(n, 1), n_ratings) if n and m else np.zeros(0, np.int64)
    items = rng.integers(0, max(m, 1), len(users))
    if grouped:  # each user's ratings together, as Surprise visits them
        users = np.sort(users, kind="stable")
    return dict(users=users, items=items, ratings=rng.integers(1, 6, len(users)).astype(np.float64),
                bu=rng.normal(0, 0.1, n).astype(dtype), bi=rng.normal(0, 0.1, m).astype(dtype),
                pu=rng.normal(0, 0.1, (n, k)).astype(dtype), qi=rng.normal(0, 0.1, (m, k)).astype(dtype),
                global_mean=3.5)


class TestSvdEpoch(KernelConformance):
    FAMILY = "sgd"

    def make(self, rng, dtype, n, m, k=10):
        problem = _problem(rng, dtype, n, m, k)
        return dict(problem, biased=bool(n % 2 == 0), lr_bu=0.01, lr_bi=0.007, lr_pu=0.02, lr_qi=0.005,
                    reg_bu=0.05, reg_bi=0.02, reg_pu=0.1, reg_qi=0.0)

    def call(self, inputs, backend, n_threads=None):
        return sgd.svd_epoch(**inputs, backend=backend, n_threads=n_threads)


class TestSvdEpochBlocks(TestSvdEpoch):
    """FPSGD's grid: blocks of a sub-epoch run in parallel; the same result for any thread count."""

    def make(self, rng, dtype, n, m, k=10):
        return dict(super().make(rng, dtype, n, m, k), n_blocks=1 + n % 5)


class TestBlockOrder(KernelConformance):
    """The grid's order, in turns (SVD's): a permutation, so every backend returns the reference's."""

    FAMILY = "sgd"
    DTYPES = (np.float64,)  # no float arrays: one dtype

    def make(self, rng, dtype, n, m, k=10):
        problem = _problem(rng, dtype, n, m, k, grouped=bool(n % 2))
        return dict(users=problem["users"], items=problem["items"], n_users=n, n_items=m, n_blocks=1 + n % 5,
                    user_chunk=1 + (n + m + k) % 5)

    def call(self, inputs, backend, n_threads=None):
        order, bounds = sgd.block_order(**inputs, backend=backend, n_threads=n_threads)
        return (np.arange(len(inputs["users"])) if order is None else order), bounds


class TestPairDots(KernelConformance):
    """The models' predictions: ``a[rows_a] . b[rows_b]`` in float64. The reference sums in
    NumPy's order, the compiled backends in four partial sums: equal to rounding (positive
    factors, so no cancellation makes the relative error large)."""

    FAMILY = "sgd"
    RTOL = 1e-12

    def make(self, rng, dtype, n, m, k=10):
        n_b = n + 3 if n else 0
        n_pairs = 2 * n + k if n else 0
        return dict(a=rng.uniform(0, 1, (n, m)).astype(dtype), rows_a=rng.integers(0, max(n, 1), n_pairs),
                    b=rng.uniform(0, 1, (n_b, m)).astype(dtype), rows_b=rng.integers(0, max(n_b, 1), n_pairs))

    def call(self, inputs, backend, n_threads=None):
        return (sgd.pair_dots(**inputs, backend=backend, n_threads=n_threads),)


def test_pair_dots_compiled_backends_agree_bit_for_bit_and_refuse_bad_input():
    rng = np.random.default_rng(12)
    for k in (1, 3, 4, 7, 100):
        a, b = rng.normal(size=(30, k)).astype(np.float32), rng.normal(size=(20, k))
        rows_a, rows_b = rng.integers(0, 30, 500), rng.integers(0, 20, 500)
        want = np.einsum("ij,ij->i", a.astype(np.float64)[rows_a], b[rows_b])  # mixed dtypes: float64
        got = {be: sgd.pair_dots(a, rows_a, b, rows_b, backend=be, n_threads=2) for be in ("native", "numba")}
        np.testing.assert_array_equal(got["native"], got["numba"])
        np.testing.assert_allclose(got["native"], want, rtol=1e-10, atol=1e-12)
    a, rows = np.ones((3, 2)), np.array([0, 2])
    with pytest.raises(ValueError, match="b: expected 2 columns like a"):
        sgd.pair_dots(a, rows, np.ones((3, 4)), rows)
    with pytest.raises(IndexError, match=r"rows_b: index out of range \[0, 2\)"):
        sgd.pair_dots(a, rows, np.ones((2, 2)), rows)
    with pytest.raises(TypeError, match="rows_a: expected a 1-D array of int"):
        sgd.pair_dots(a, [0.0, 1.0], a, rows)
    with pytest.raises(ValueError, match="rows_b: expected 2 entries like rows_a"):
        sgd.pair_dots(a, rows, a, [0])


class TestNmfEpoch(KernelConformance):
    FAMILY = "sgd"

    def make(self, rng, dtype, n, m, k=10):
        problem = _problem(rng, dtype, n, m, k)
        problem["pu"], problem["qi"] = np.abs(problem["pu"]), np.abs(problem["qi"])
        if n * k:
            problem["pu"][0, 0] = 0  # a zero factor stays zero
        return dict(problem, biased=bool(n % 2 == 0), lr_bu=0.01, lr_bi=0.007, reg_pu=0.1, reg_qi=0.05,
                    reg_bu=0.05, reg_bi=0.0)

    def call(self, inputs, backend, n_threads=None):
        return sgd.nmf_epoch(**inputs, backend=backend, n_threads=n_threads)


class TestSvdppEpochExact(KernelConformance):
    FAMILY = "sgd"
    SHAPES = ((37, 300), (5, 200), (1, 1), (20, 64))  # the reference is a Python loop per rating and N(u)

    def make(self, rng, dtype, n, m, k=10):
        problem = _problem(rng, dtype, n, m, k)
        return dict(problem, yj=rng.normal(0, 0.1, (m, k)).astype(dtype), lr_yj=0.03, reg_yj=0.05, exact=True)

    def call(self, inputs, backend, n_threads=None):
        return sgd.svdpp_epoch(**inputs, backend=backend, n_threads=n_threads)


class TestSvdppEpochFast(TestSvdppEpochExact):
    """The fast mode: the same mathematics as the reference, other roundings."""

    def make(self, rng, dtype, n, m, k=10):
        return dict(super().make(rng, dtype, n, m, k), exact=False)

    def assert_same(self, got, want):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            atol = 1e-12 if w.dtype == np.float64 else 2e-6
            np.testing.assert_allclose(g, w, rtol=0, atol=atol)


def _svdpp(problem, backend, exact, **rates):
    return sgd.svdpp_epoch(**problem, **rates, exact=exact, backend=backend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_mode_is_the_same_on_every_compiled_backend(dtype):
    problem = _problem(np.random.default_rng(4), dtype, 60, 80, 12, n_ratings=900)
    problem["yj"] = np.random.default_rng(5).normal(0, 0.1, problem["qi"].shape).astype(dtype)
    native, numba = (_svdpp(problem, b, False) for b in ("native", "numba"))
    for a, b in zip(native, numba):
        np.testing.assert_array_equal(a, b)


def test_fast_mode_over_many_epochs_stays_with_the_exact_mode():
    rng = np.random.default_rng(6)
    problem = _problem(rng, np.float64, 40, 30, 8, n_ratings=1200)  # ~30 ratings per user: long runs
    problem["yj"] = rng.normal(0, 0.1, problem["qi"].shape)
    exact, fast = dict(problem), dict(problem)
    for _ in range(20):
        exact.update(zip(("bu", "bi", "pu", "qi", "yj"), _svdpp(exact, "native", True)))
        fast.update(zip(("bu", "bi", "pu", "qi", "yj"), _svdpp(fast, "native", False)))
    for name in ("bu", "bi", "pu", "qi", "yj"):
        np.testing.assert_allclose(fast[name], exact[name], rtol=0, atol=1e-10)
        assert not np.array_equal(exact[name], problem[name])


def test_fast_mode_with_repeated_items_takes_the_exact_path(backend):
    """N(u) listing an item twice (duplicate ratings) breaks the shared affine map: the kernel
    then computes the run exactly, bit for bit the reference."""
    rng = np.random.default_rng(7)
    problem = _problem(rng, np.float64, 10, 6, 5, n_ratings=80)  # 8 ratings per user over 6 items
    problem["yj"] = rng.normal(0, 0.1, problem["qi"].shape)
    for a, b in zip(_svdpp(problem, backend, False), _svdpp(problem, "numpy", True)):
        np.testing.assert_array_equal(a, b)


def test_fast_mode_with_interleaved_users(backend):
    """A user's ratings split into several runs: each run computes the implicit term afresh."""
    rng = np.random.default_rng(8)
    problem = _problem(rng, np.float64, 30, 500, 6, n_ratings=300, grouped=False)
    problem["yj"] = rng.normal(0, 0.1, problem["qi"].shape)
    for a, b in zip(_svdpp(problem, backend, False), _svdpp(problem, "numpy", True)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_block_order_puts_each_rating_in_its_block():
    rng = np.random.default_rng(9)
    users, items = rng.integers(0, 50, 500), rng.integers(0, 40, 500)
    order, bounds = sgd.block_order(users, items, 50, 40, 4)
    user_range, item_range = sgd.balanced_ranges(users, 50, 4), sgd.balanced_ranges(items, 40, 4)
    assert sorted(order.tolist()) == list(range(500)) and bounds[0] == 0 and bounds[-1] == 500
    for s in range(4):
        for b in range(4):
            block = order[bounds[4 * s + b]:bounds[4 * s + b + 1]]
            assert len(block) and (user_range[users[block]] == b).all()
            assert (item_range[items[block]] == (b + s) % 4).all()
            assert (np.diff(block) > 0).all()  # the given order within a block
    order, bounds = sgd.block_order(users, items, 50, 40, 1)
    assert order is None and bounds.tolist() == [0, 500]


def _in_turns_by_definition(users, order, bounds, chunk):
    """block_order(user_chunk=chunk) from the given-order blocks, as its docstring words it."""
    out = []
    for c in range(len(bounds) - 1):
        block = order[bounds[c]:bounds[c + 1]].tolist()
        while block:
            group = list(itertools.takewhile(lambda r: users[r] // chunk == users[block[0]] // chunk, block))
            block = block[len(group):]
            runs = []
            for r in group:
                if runs and users[runs[-1][-1]] == users[r]:
                    runs[-1].append(r)
                else:
                    runs.append([r])
            for turn in range(max(map(len, runs))):
                out += [run[turn] for run in runs if len(run) > turn]
    return out


def test_block_order_in_turns_follows_its_definition(every_backend):
    rng = np.random.default_rng(21)
    for grouped, chunk, n_blocks in itertools.product((True, False), (1, 2, 16), (2, 3)):
        users, items = rng.integers(0, 60, 700), rng.integers(0, 30, 700)
        if grouped:  # each user's ratings together (Surprise's order): groups of up to `chunk` runs
            users = np.sort(users, kind="stable")
        plain, bounds = sgd.block_order(users, items, 60, 30, n_blocks, backend="numpy")
        want = _in_turns_by_definition(users, plain, bounds, chunk)
        assert (want != plain.tolist()) == (chunk > 1)  # a chunk of one user: one run a group
        for n_threads in (1, 2):
            order, got_bounds = sgd.block_order(users, items, 60, 30, n_blocks, user_chunk=chunk,
                                                backend=every_backend, n_threads=n_threads)
            assert order.tolist() == want, (grouped, chunk, n_blocks, n_threads)
            np.testing.assert_array_equal(got_bounds, bounds)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_simd_clone_of_the_grid_steps_matches_the_reference(dtype):
    """sgd.hpp's svd_steps per instruction set: rows in registers (up to 16 vectors: 256 float32
    factors with AVX-512, 64 with SSE2) or in groups of four ratings (longer rows), each giving
    the numpy reference's bits."""
    native = pytest.importorskip("turborec._native")
    rng = np.random.default_rng(5)
    for k in (1, 16, 31, 100, 200, 300):
        problem = _problem(rng, dtype, 40, 30, k, n_ratings=150)
        rates = dict(lr_bu=0.01, lr_bi=0.007, lr_pu=0.02, lr_qi=0.005, reg_bu=0.05, reg_bi=0.02, reg_pu=0.1,
                     reg_qi=0.01)
        want = sgd.svd_epoch(**problem, **rates, n_blocks=2, backend="numpy")
        users, items = problem["users"], problem["items"]
        order, bounds = sgd.block_order(users, items, 40, 30, 2)
        model = [problem[name] for name in ("bu", "bi", "pu", "qi")]
        for level in simd_levels():
            outs = [np.empty_like(a) for a in model]
            native.svd_epoch(users[order], items[order], problem["ratings"][order].astype(dtype), bounds, *model,
                             3.5, True, sgd.check_rates(**rates), 2, 1, 2, *outs, simd=level)
            for got, expected in zip(outs, want):
                np.testing.assert_array_equal(got, expected, err_msg=f"k={k} {level}")
    with pytest.raises(ValueError, match="simd: neon is not supported by this CPU"):
        native.svd_epoch(users[order], items[order], problem["ratings"][order].astype(dtype), bounds, *model, 3.5,
                         True, sgd.check_rates(**rates), 2, 1, 2, *outs, simd="neon")


def test_block_order_with_many_runs_in_one_group(every_backend):
    """Users not grouped: a group of one chunk's users holds hundreds of runs (the numba kernel once
    grew its run list inside its parallel loop and corrupted the heap)."""
    rng = np.random.default_rng(8)
    users, items = rng.integers(0, 30, 5000), rng.integers(0, 20, 5000)
    plain, bounds = sgd.block_order(users, items, 30, 20, 2, backend="numpy")
    order, _ = sgd.block_order(users, items, 30, 20, 2, user_chunk=1000, backend=every_backend, n_threads=2)
    assert order.tolist() == _in_turns_by_definition(users, plain, bounds, 1000)


def test_block_order_refuses_bad_arguments():
    users, items = np.array([0, 1, 2]), np.array([0, 0, 1])
    with pytest.raises(ValueError, match="user_chunk"):
        sgd.block_order(users, items, 3, 2, 2, user_chunk=0)
    with pytest.raises(ValueError, match="n_blocks"):
        sgd.block_order(users, items, 3, 2, 0)
    with pytest.raises(ValueError, match="users, items: expected one length"):
        sgd.block_order(users, items[:2], 3, 2, 2)
    with pytest.raises(IndexError, match="items: index out of range"):
        sgd.block_order(users, np.array([0, 0, 2]), 3, 2, 2)
    for n_blocks in (1, 2):  # one block needs no order, and still refuses what two would
        with pytest.raises(ValueError, match="n_threads"):
            sgd.block_order(users, items, 3, 2, n_blocks, n_threads=0)
        with pytest.raises(ValueError, match="bogus"):
            sgd.block_order(users, items, 3, 2, n_blocks, backend="bogus")
    native = pytest.importorskip("turborec._native")
    ranges, order, bounds = np.zeros(3, np.int64), np.empty(3, np.int64), np.empty(5, np.int64)
    native.block_order(users, items, ranges, ranges[:2], 2, 16, 1, order, bounds)  # consistent: runs
    assert order.tolist() == [0, 1, 2] and bounds.tolist() == [0, 3, 3, 3, 3]
    with pytest.raises(ValueError, match="user_range: expected ranges in \\[0, n_blocks\\)"):
        native.block_order(users, items, np.array([0, 2, 0]), ranges[:2], 2, 16, 1, order, bounds)
    with pytest.raises(ValueError, match="users: index out of range \\[0, 2\\)"):
        native.block_order(users, items, ranges[:2], ranges[:2], 2, 16, 1, order, bounds)
    with pytest.raises(ValueError, match="bounds: expected n_blocks\\*\\*2 \\+ 1 entries"):
        native.block_order(users, items, ranges, ranges[:2], 2, 16, 1, order, bounds[:4])
    with pytest.raises(ValueError, match="chunk"):
        native.block_order(users, items, ranges, ranges[:2], 2, -1, 1, order, bounds)


def test_balanced_ranges_are_contiguous_and_hold_equal_counts():
    rng = np.random.default_rng(11)
    ids = np.minimum(rng.zipf(1.5, 20000) - 1, 999)  # power-law popularity, most ids on few rows
    ranges = sgd.balanced_ranges(ids, 1000, 8)
    assert ranges.shape == (1000,) and (np.diff(ranges) >= 0).all() and ranges.min() >= 0 and ranges.max() <= 7
    counts = np.bincount(ranges[ids], minlength=8)
    heaviest = np.bincount(ids).max()  # a row's ids stay in one range: no range beats it by much
    assert counts.max() <= max(20000 / 8, heaviest) + heaviest
    # by index instead (the grid before): the first range would hold most of the ids
    assert np.bincount(np.arange(1000)[ids] * 8 // 1000, minlength=8).max() > 2 * counts.max()
    assert (sgd.balanced_ranges(np.zeros(0, np.int64), 5, 3) == 0).all()
    np.testing.assert_array_equal(sgd.balanced_ranges(np.arange(6), 6, 3), [0, 0, 1, 1, 2, 2])
    with pytest.raises(IndexError, match=r"ids: index out of range \[0, 5\)"):
        sgd.balanced_ranges(np.array([0, 5]), 5, 2)
    with pytest.raises(ValueError, match="n_ranges: expected a positive int"):
        sgd.balanced_ranges(np.array([0, 1]), 5, 0)
    with pytest.raises(ValueError, match="n: expected a non-negative int"):
        sgd.balanced_ranges(np.zeros(0, np.int64), -1, 2)


def test_blocks_reproducible_across_threads_and_converging():
    """Same grid, any thread count: bit-identical; and the grid's epochs fit as the plain ones do."""
    rng = np.random.default_rng(10)
    n_users, n_items, k = 400, 300, 8
    truth_u, truth_i = rng.normal(0, 0.5, (n_users, k)), rng.normal(0, 0.5, (n_items, k))
    users, items = rng.integers(0, n_users, 30000), rng.integers(0, n_items, 30000)
    ratings = 3 + np.einsum("ij,ij->i", truth_u[users], truth_i[items]) + rng.normal(0, 0.1, len(users))
    start = (np.zeros(n_users), np.zeros(n_items), rng.normal(0, 0.1, (n_users, k)), rng.normal(0, 0.1, (n_items, k)))
    errors = {}
    for n_blocks, n_threads in ((1, 1), (6, 1), (6, 2), (6, 3)):
        model = start
        for _ in range(15):
            model = sgd.svd_epoch(users, items, ratings, *model, global_mean=3.0, lr_pu=0.02, lr_qi=0.02,
                                  n_blocks=n_blocks, backend="native", n_threads=n_threads)
        bu, bi, pu, qi = model
        fitted = 3 + bu[users] + bi[items] + np.einsum("ij,ij->i", pu[users], qi[items])
        errors[n_blocks, n_threads] = (float(np.sqrt(np.mean((fitted - ratings) ** 2))), model)
    for n_threads in (2, 3):
        for a, b in zip(errors[6, 1][1], errors[6, n_threads][1]):
            np.testing.assert_array_equal(a, b)
    assert errors[6, 1][0] < 1.1 * errors[1, 1][0] and errors[1, 1][0] < 0.6  # spread of ratings: ~1.4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 7, 10, 16, 33, 50, 100])
@pytest.mark.parametrize("n_blocks", [1, 3])
def test_side_by_side_steps_give_the_sequential_bits(dtype, k, n_blocks):
    """The native kernel runs groups of ratings with distinct users and items side by side, on
    vectors of the CPU's width with the tail of the factors read specially: unsorted ratings (most
    groups disjoint, some not) over every tail length give the reference's bits exactly."""
    rng = np.random.default_rng(k)
    problem = _problem(rng, dtype, 40, 50, k, n_ratings=700, grouped=False)
    problem["users"][100:110] = 3  # a run of one user: groups that are not disjoint
    rates = dict(lr_bu=0.01, lr_bi=0.007, lr_pu=0.02, lr_qi=0.005, reg_bu=0.05, reg_bi=0.02, reg_pu=0.1, reg_qi=0.03)
    want = sgd.svd_epoch(**problem, **rates, n_blocks=n_blocks, backend="numpy")
    for backend in ("native", "numba"):
        got = sgd.svd_epoch(**problem, **rates, n_blocks=n_blocks, backend=backend, n_threads=2)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=backend)



@pytest.mark.parametrize("n_blocks", [1, 2])
def test_zero_factors_move_the_biases_alone(backend, n_blocks):
    """k = 0: a biases-only model (the native steps once indexed a 16-vector row for it)."""
    rng = np.random.default_rng(12)
    for dtype in (np.float32, np.float64):
        problem = _problem(rng, dtype, 50, 40, 0)
        want = sgd.svd_epoch(**problem, n_blocks=n_blocks, backend="numpy")
        got = sgd.svd_epoch(**problem, n_blocks=n_blocks, backend=backend, n_threads=2)
        assert got[2].shape == (50, 0) and np.isfinite(got[0]).all() and not np.array_equal(got[0], problem["bu"])
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        empty = {**problem, "users": problem["users"][:0], "items": problem["items"][:0],
                 "ratings": problem["ratings"][:0]}
        unchanged = sgd.svd_epoch(**empty, n_blocks=n_blocks, backend=backend)
        for a, name in zip(unchanged, ("bu", "bi", "pu", "qi")):
            np.testing.assert_array_equal(a, problem[name])


@pytest.mark.parametrize("n_blocks", [1, 4])
def test_several_epochs_in_one_call_equal_one_call_each(backend, n_blocks):
    problem = _problem(np.random.default_rng(12), np.float32, 30, 40, 37, n_ratings=500, grouped=False)
    one_by_one = [problem[name] for name in ("bu", "bi", "pu", "qi")]
    for _ in range(3):
        one_by_one = sgd.svd_epoch(problem["users"], problem["items"], problem["ratings"], *one_by_one,
                                   global_mean=3.5, n_blocks=n_blocks, backend=backend, n_threads=2)
    at_once = sgd.svd_epoch(**problem, n_blocks=n_blocks, n_epochs=3, backend=backend, n_threads=2)
    for a, b in zip(at_once, one_by_one):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="n_epochs"):
        sgd.svd_epoch(**problem, n_epochs=0, backend=backend)


def test_svd_epoch_by_hand():
    # One rating, one factor: e = 4 - (3 + 0.1 + 0.2 + 0.5 * 0.4) = 0.5
    got = sgd.svd_epoch([0], [0], [4.0], np.array([0.1]), np.array([0.2]), np.array([[0.5]]), np.array([[0.4]]),
                        global_mean=3.0, lr_bu=0.1, lr_bi=0.2, lr_pu=0.3, lr_qi=0.4, reg_bu=1.0, reg_bi=0.5,
                        reg_pu=0.0, reg_qi=2.0, backend="native")
    expected = (0.1 + 0.1 * (0.5 - 0.1), 0.2 + 0.2 * (0.5 - 0.1), 0.5 + 0.3 * (0.5 * 0.4),
                0.4 + 0.4 * (0.5 * 0.5 - 2.0 * 0.4))
    for array, value in zip(got, expected):
        assert array.shape in ((1,), (1, 1)) and array.ravel()[0] == pytest.approx(value, abs=1e-15)
    # unbiased: mu taken as 0, biases untouched (but in e, as in Surprise, where they stay 0)
    bu, bi, pu, qi = sgd.svd_epoch([0], [0], [1.0], np.array([0.1]), np.array([0.2]), np.array([[0.5]]),
                                   np.array([[0.4]]), global_mean=3.0, biased=False, backend="numba")
    assert (bu[0], bi[0]) == (0.1, 0.2)
    err = 1.0 - (0.1 + 0.2 + 0.5 * 0.4)
    assert pu[0, 0] == pytest.approx(0.5 + 0.005 * (err * 0.4 - 0.02 * 0.5), abs=1e-15)


def test_svdpp_epoch_by_hand():
    # User 0 rates items 0 then 1; one factor; N(u) = {0, 1}, s = (y0 + y1) / sqrt(2).
    y = np.array([[0.2], [0.4]])
    users, items, ratings = [0, 0], [0, 1], [5.0, 3.0]
    q = np.array([[0.3], [0.5]])
    rates = dict(lr_bu=0.1, lr_bi=0.1, lr_pu=0.1, lr_qi=0.1, lr_yj=0.1, reg_bu=0.0, reg_bi=0.0, reg_pu=0.0,
                 reg_qi=0.0, reg_yj=0.0)
    out = sgd.svdpp_epoch(users, items, ratings, np.zeros(1), np.zeros(2), np.array([[0.1]]), q, y,
                          global_mean=4.0, **rates, exact=True, backend="numba")
    s = (0.2 + 0.4) / np.sqrt(2)
    e = 5.0 - (4.0 + 0.3 * (0.1 + s))
    p1, q0 = 0.1 + 0.1 * e * 0.3, 0.3 + 0.1 * e * (0.1 + s)
    y1 = y[:, 0] + 0.1 * e * 0.3 / np.sqrt(2)
    s = y1.sum() / np.sqrt(2)
    e2 = 3.0 - (4.0 + 0.1 * e + 0.5 * (p1 + s))
    np.testing.assert_allclose(out[0], [0.1 * e + 0.1 * e2], atol=1e-14)
    np.testing.assert_allclose(out[3][:, 0], [q0, 0.5 + 0.1 * e2 * (p1 + s)], atol=1e-14)
    np.testing.assert_allclose(out[4][:, 0], y1 + 0.1 * e2 * 0.5 / np.sqrt(2), atol=1e-14)


def test_nmf_epoch_by_hand():
    # User 0 rates item 0 (4) and item 1 (2); one factor, unbiased: est = q_i p_u.
    pu, qi = np.array([[0.5], [0.7]]), np.array([[2.0], [1.0], [0.3]])
    bu, bi, p, q = sgd.nmf_epoch([0, 0], [0, 1], [4.0, 2.0], np.zeros(2), np.zeros(3), pu, qi, global_mean=3.0,
                                 reg_pu=0.1, reg_qi=0.2, backend="native")
    est0, est1 = 2.0 * 0.5, 1.0 * 0.5
    num_u, den_u = 2.0 * 4.0 + 1.0 * 2.0, 2.0 * est0 + 1.0 * est1
    assert p[0, 0] == pytest.approx(0.5 * num_u / (den_u + 2 * 0.1 * 0.5), abs=1e-15)
    assert q[0, 0] == pytest.approx(2.0 * (0.5 * 4.0) / (0.5 * est0 + 1 * 0.2 * 2.0), abs=1e-15)
    assert q[1, 0] == pytest.approx(1.0 * (0.5 * 2.0) / (0.5 * est1 + 1 * 0.2 * 1.0), abs=1e-15)
    assert p[1, 0] == 0.7 and q[2, 0] == 0.3  # no ratings: untouched
    assert not bu.any() and not bi.any()


# ---- bad input ----


def _ok():
    return _problem(np.random.default_rng(0), np.float64, 4, 3, 2, n_ratings=6)


@pytest.mark.parametrize("change, error, message", [
    (dict(ratings=[1, 2, np.nan, 4, 5, 1]), ValueError, "ratings: contains NaN or inf"),
    (dict(users=[0, 1, -1, 2, 3, 0]), IndexError, "users: index out of range"),
    (dict(items=[0, 1, 2, 3, 0, 0]), IndexError, "items: index out of range"),
    (dict(users=[0.0] * 6), TypeError, "users: expected a 1-D array of int"),
    (dict(ratings=[1.0] * 5), ValueError, "users, items, ratings: expected one length"),
    (dict(lr_pu=0.0), ValueError, "lr_pu: expected a finite number > 0"),
    (dict(lr_bu=-1.0), ValueError, "lr_bu: expected a finite number > 0"),
    (dict(reg_qi=-0.1), ValueError, "reg_qi: expected a finite number >= 0"),
    (dict(reg_bi=np.inf), ValueError, "reg_bi: expected a finite number"),
    (dict(lr_qi="0.1"), TypeError, "lr_qi: expected a number"),
    (dict(global_mean=np.nan), ValueError, "global_mean: expected a finite number"),
    (dict(biased=1), TypeError, "biased: expected a bool"),
    (dict(bu=np.zeros(4, np.float32)), ValueError, "bu: expected shape \\(4,\\) and dtype float64"),
    (dict(bi=np.zeros(2)), ValueError, "bi: expected shape \\(3,\\)"),
    (dict(qi=np.zeros((3, 5))), ValueError, "qi: expected 2 columns of dtype float64"),
    (dict(pu=np.zeros((4, 2), np.int64)), TypeError, "pu: expected dtype float32 or float64"),
    (dict(pu=np.full((4, 2), np.nan)), ValueError, "pu: contains NaN or inf"),
    (dict(n_blocks=0), ValueError, "n_blocks: expected a positive int"),
    (dict(n_blocks=70000), ValueError, "n_blocks: expected at most 65536"),
    (dict(n_blocks=2.0), TypeError, "n_blocks: expected a positive int"),
])
def test_svd_epoch_rejects_bad_input(every_backend, change, error, message):
    problem = {**_ok(), **change}
    before = {name: np.array(value, copy=True) for name, value in problem.items()}
    with pytest.raises(error, match=message):
        sgd.svd_epoch(**problem, backend=every_backend)
    for name, value in before.items():
        np.testing.assert_array_equal(np.asarray(problem[name]), value, err_msg=f"{name} was modified")


def test_nmf_epoch_rejects_bad_input():
    problem = _ok()
    with pytest.raises(ValueError, match="reg_pu: expected a finite number >= 0"):
        sgd.nmf_epoch(**problem, reg_pu=-1)
    with pytest.raises(ValueError, match="lr_bi: expected a finite number > 0"):
        sgd.nmf_epoch(**problem, lr_bi=0)
    with pytest.raises(TypeError, match="nmf_epoch\\(\\) got an unexpected keyword argument 'lr_pu'"):
        sgd.nmf_epoch(**problem, lr_pu=0.1)


def test_svdpp_epoch_rejects_bad_input():
    problem = dict(_ok(), yj=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="yj: expected shape \\(3, 2\\)"):
        sgd.svdpp_epoch(**problem)
    problem["yj"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match="lr_yj: expected a finite number > 0"):
        sgd.svdpp_epoch(**problem, lr_yj=0)
    with pytest.raises(TypeError, match="exact: expected a bool"):
        sgd.svdpp_epoch(**problem, exact="yes")


def test_raw_bindings_refuse_inconsistent_arrays():
    from turborec import _native as native  # always built: missing is a failure, not a skip
    p = _ok()
    users, items = np.asarray(p["users"], np.int64), np.asarray(p["items"], np.int64)
    ratings, model = p["ratings"], [p["bu"], p["bi"], p["pu"], p["qi"]]
    outs = [np.empty_like(a) for a in model]
    rates = (0.005,) * 5 + (0.02,) * 5
    one = np.array([0, len(users)], np.int64)
    native.svd_epoch(users, items, ratings, one, *model, 3.0, True, rates, 1, 1, 1, *outs)  # consistent: runs
    with pytest.raises(ValueError, match="users: index out of range"):
        native.svd_epoch(users + 10, items, ratings, one, *model, 3.0, True, rates, 1, 1, 1, *outs)
    with pytest.raises(TypeError, match="ratings: expected dtype float64"):
        native.svd_epoch(users, items, ratings.astype(np.float32), one, *model, 3.0, True, rates, 1, 1, 1, *outs)
    with pytest.raises(ValueError, match="out_qi: unexpected shape"):
        native.svd_epoch(users, items, ratings, one, *model, 3.0, True, rates, 1, 1, 1, *outs[:3], np.empty((3, 5)))
    with pytest.raises(ValueError, match="rates: expected 10 numbers"):
        native.svd_epoch(users, items, ratings, one, *model, 3.0, True, rates[:4], 1, 1, 1, *outs)
    with pytest.raises(ValueError, match="n_threads"):
        native.svd_epoch(users, items, ratings, one, *model, 3.0, True, rates, 1, 1, 0, *outs)
    with pytest.raises(ValueError, match="n_epochs: expected >= 1"):
        native.svd_epoch(users, items, ratings, one, *model, 3.0, True, rates, 1, 0, 1, *outs)
    order, bounds = sgd.block_order(users, items, 4, 3, 2)
    grid = users[order], items[order], ratings[order]
    native.svd_epoch(*grid, bounds, *model, 3.0, True, rates, 2, 1, 2, *outs)  # consistent: runs
    with pytest.raises(ValueError, match="bounds: expected n_blocks\\*\\*2 \\+ 1 entries"):
        native.svd_epoch(*grid, bounds, *model, 3.0, True, rates, 3, 1, 2, *outs)
    with pytest.raises(ValueError, match="is not in its block"):  # user 0 in user ranges 0 and 1: a race
        native.svd_epoch(np.array([0, 1, 2, 0, 3, 3]), items, ratings, np.array([0, 3, 6, 6, 6]), *model, 3.0, True,
                         rates, 2, 1, 2, *outs)
    with pytest.raises(ValueError, match="is not in its block"):  # item 0 in item ranges 0 and 1
        native.svd_epoch(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 1, 0, 2, 2]), ratings,
                         np.array([0, 3, 3, 6, 6]), *model, 3.0, True, rates, 2, 1, 2, *outs)
    with pytest.raises(ValueError, match="bounds: must never decrease"):
        native.svd_epoch(*grid, np.array([0, 4, 2, 5, 6]), *model, 3.0, True, rates, 2, 1, 2, *outs)
    with pytest.raises(ValueError, match="bounds: expected to run from 0"):
        native.svd_epoch(*grid, np.array([0, 1, 2, 3, 4]), *model, 3.0, True, rates, 2, 1, 2, *outs)
    with pytest.raises(ValueError, match="n_blocks: expected 1 to 65536"):
        native.svd_epoch(*grid, bounds, *model, 3.0, True, rates, 0, 1, 2, *outs)
    yj = np.zeros((3, 2))
    indptr, indices = sgd.implicit_sets(users, items, 4)
    outs.append(np.empty_like(yj))
    native.svdpp_epoch(users, items, ratings, indptr, indices, *model, yj, 3.0, rates, False, 1, *outs)
    bad_indptr = indptr.copy()
    bad_indptr[2] = bad_indptr[3] + 1
    with pytest.raises(ValueError, match="implicit.indptr: must never decrease"):
        native.svdpp_epoch(users, items, ratings, bad_indptr, indices, *model, yj, 3.0, rates, False, 1, *outs)
    with pytest.raises(ValueError, match="implicit.indices: 7 out of range"):
        native.svdpp_epoch(users, items, ratings, indptr, indices + 7 - indices, *model, yj, 3.0, rates, False, 1,
                           *outs)
    with pytest.raises(ValueError, match="implicit.indptr: expected length"):
        native.svdpp_epoch(users, items, ratings, indptr[:-1], indices, *model, yj, 3.0, rates, False, 1, *outs)
    a, rows, out = np.ones((3, 2)), np.array([0, 2]), np.empty(2)
    native.pair_dots(a, rows, a, rows, 1, out)  # consistent: runs
    for args, error, message in [
        ((a, rows, a, rows + 1, 1, out), ValueError, r"rows_b: index out of range \[0, 3\)"),
        ((a, rows - 1, a, rows, 1, out), ValueError, r"rows_a: index out of range"),
        ((a, rows, np.ones((3, 4)), rows, 1, out), ValueError, "b: expected 2 columns like a"),
        ((a, rows, a, rows[:1], 1, out), ValueError, "rows_a, rows_b, out: expected one length"),
        ((a, rows.astype(np.int32), a, rows, 1, out), TypeError, "rows_a: expected dtype int64"),
        ((a, rows, a.astype(np.float32), rows, 1, out), TypeError, "b: expected dtype float64"),
        ((a, rows, a, rows, 1, np.empty(2, np.float32)), TypeError, "out: expected dtype float64"),
        ((a, rows, a, rows, 0, out), ValueError, "n_threads"),
    ]:
        with pytest.raises(error, match=message):
            native.pair_dots(*args)


def test_sgd_is_a_registered_family():
    assert turborec.backends.FAMILIES["sgd"] == ("native", "numba", "numpy")
