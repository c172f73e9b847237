"""The bpr family (issue 10): one BPR epoch on every host backend against the numpy reference, bit
for bit with one thread; the sampling and update checked against implicit 0.7's definitions
written out independently; its edge cases (users without items, users who liked everything,
negatives equal to the positive), the Hogwild thread semantics, and hostile input."""

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from conformance import KernelConformance, simd_levels
from turborec import _native
from turborec.bpr import as_likes, below, bpr_epoch, splitmix64

FAMILY = "bpr"
MASK = (1 << 64) - 1


def random_likes(rng, n_users, n_items, density=0.1):
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float64)
    matrix.data = rng.integers(1, 5, matrix.nnz).astype(np.float64)  # sizes are ignored
    return matrix


def random_factors(rng, n, factors, dtype, bias=None):
    out = ((rng.random((n, factors + 1)) - 0.5) / max(factors, 1)).astype(dtype)
    if bias is not None:
        out[:, -1] = bias
    return out


def run(inputs, backend, n_threads=None):
    x, y, correct, skipped = bpr_epoch(**inputs, backend=backend, n_threads=n_threads)
    return x, y, np.array([correct, skipped], np.int64)


class TestBprEpochConformance(KernelConformance):
    FAMILY = "bpr"
    SHAPES = ((37, 300), (5, 2000), (1, 1), (20, 64), (60, 15))
    THREADS_SHAPE = (300, 400)

    def make(self, rng, dtype, n, m, k=10):
        """``n`` users, ``m`` items, ``k`` factors (plus the bias column)."""
        return dict(user_items=random_likes(rng, n, m, 0.1 if m > 20 else 0.4),
                    user_factors=random_factors(rng, n, k, dtype, bias=1.0),
                    item_factors=random_factors(rng, m, k, dtype), learning_rate=0.05, regularization=0.01,
                    seed=int(rng.integers(0, 2**63)), verify_negative_samples=bool(rng.integers(2)))

    def call(self, inputs, backend, n_threads=None):
        return run(inputs, backend, 1 if n_threads is None else n_threads)

    def test_thread_count_does_not_change_results(self, host_backend, rng):
        """Overridden: threads change the order of the updates (Hogwild, documented), never the
        draws: the skipped count is the same, every factor moves and stays finite, the users'
        bias column is untouched, and one thread is reproducible bit for bit."""
        inputs = self.make(rng, np.float32, *self.THREADS_SHAPE)
        inputs["verify_negative_samples"] = True
        one = self.call(inputs, host_backend, n_threads=1)
        again = self.call(inputs, host_backend, n_threads=1)
        two = self.call(inputs, host_backend, n_threads=2)
        for a, b in zip(one, again):
            np.testing.assert_array_equal(a, b)
        assert two[2][1] == one[2][1]
        for start, b in zip((inputs["user_factors"], inputs["item_factors"]), two[:2]):
            assert np.isfinite(b).all() and not np.array_equal(b, start)
        np.testing.assert_array_equal(two[0][:, -1], 1.0)


# ---------------------------------------------------------------- implicit's definitions, written out


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def implicit_epoch(matrix, x, y, lr, reg, seed, verify):
    """implicit 0.7's ``bpr_update`` loop (its column order, float64), drawing from splitmix64
    (Python ints) where implicit draws from its mt19937."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    nnz, last = matrix.nnz, x.shape[1] - 1
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    correct = skipped = 0
    for s in range(nnz):
        liked = ((mix64((seed + (2 * s + 1) * 0x9E3779B97F4A7C15) & MASK) >> 32) * nnz) >> 32
        other = ((mix64((seed + (2 * s + 2) * 0x9E3779B97F4A7C15) & MASK) >> 32) * nnz) >> 32
        u, i, j = rows[liked], matrix.indices[liked], matrix.indices[other]
        if verify and j in matrix.indices[matrix.indptr[u]:matrix.indptr[u + 1]]:
            skipped += 1
            continue
        score = sum(x[u, f] * (y[i, f] - y[j, f]) for f in range(last + 1))
        z = 1.0 / (1.0 + math.exp(score))
        correct += z < 0.5
        for f in range(last):
            t = x[u, f]
            x[u, f] += lr * (z * (y[i, f] - y[j, f]) - reg * x[u, f])
            y[i, f] += lr * (z * t - reg * y[i, f])
            y[j, f] += lr * (-z * t - reg * y[j, f])
        y[i, last] += lr * (z - reg * y[i, last])
        y[j, last] += lr * (-z - reg * y[j, last])
    return x, y, correct, skipped


def test_splitmix64_is_the_published_sequence():
    # Vigna's splitmix64.c seeded with 1234567 (also java.util.SplittableRandom's test vector)
    want = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
            16408922859458223821]
    assert splitmix64(1234567, np.arange(1, 6)).tolist() == want
    assert [mix64((1234567 + c * 0x9E3779B97F4A7C15) & MASK) for c in range(1, 6)] == want


@pytest.mark.parametrize("verify", [True, False])
def test_every_backend_follows_implicits_update(every_backend, rng, verify):
    matrix = random_likes(rng, 30, 25, 0.2)
    matrix.sort_indices()
    x, y = random_factors(rng, 30, 6, np.float64, bias=1.0), random_factors(rng, 25, 6, np.float64)
    want = implicit_epoch(matrix, x, y, 0.1, 0.02, 99, verify)
    got = bpr_epoch(matrix, x, y, learning_rate=0.1, regularization=0.02, seed=99, verify_negative_samples=verify,
                    backend=every_backend, n_threads=1)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-15)
    assert got[2:] == want[2:]
    assert (got[3] > 0) == verify
    np.testing.assert_array_equal(got[0][:, -1], 1.0)  # the users' bias column is never written


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_several_epochs_agree_bit_for_bit_across_backends(rng, dtype):
    matrix = random_likes(rng, 200, 150, 0.05)
    start = random_factors(rng, 200, 16, dtype, bias=1.0), random_factors(rng, 150, 16, dtype)
    results = {}
    for backend in ("native", "numba", "numpy"):
        x, y = start
        for epoch in range(3):
            x, y, correct, skipped = bpr_epoch(matrix, x, y, learning_rate=0.05, seed=epoch, backend=backend,
                                               n_threads=1)
        results[backend] = x, y, correct, skipped
        assert x.dtype == dtype and y.dtype == dtype
    for backend in ("numba", "numpy"):
        for got, want in zip(results[backend], results["native"]):
            np.testing.assert_array_equal(got, want)


def test_epoch_changes_with_the_seed_and_repeats_with_it(rng):
    matrix = random_likes(rng, 40, 30)
    x, y = random_factors(rng, 40, 4, np.float32, 1.0), random_factors(rng, 30, 4, np.float32)
    a = bpr_epoch(matrix, x, y, seed=1, n_threads=1)
    b = bpr_epoch(matrix, x, y, seed=1, n_threads=1)
    c = bpr_epoch(matrix, x, y, seed=2, n_threads=1)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


# ---------------------------------------------------------------- the native kernel's clones and groups


def native_epoch(likes, x, y, lr, reg, seed, verify, simd, filter=True):
    x, y, counts = x.copy(), y.copy(), np.zeros((1, 2), np.int64)
    _native.bpr_epochs(*likes.arrays, likes.rows, x, y, np.array([seed], np.uint64), lr, reg, verify, None, 1, counts,
                       simd=simd, filter=filter)
    return x, y, counts[0]


def group_kinds(likes, seed, verify, group=4):
    """How the kernel runs the groups of ``group`` samples, from the draws themselves (its rule,
    written out): (groups side by side, pairs side by side, samples one after the other)."""
    indptr, indices = likes.arrays
    nnz = likes.nnz
    picks = below(splitmix64(seed, np.arange(1, 2 * nnz + 1, dtype=np.uint64)), nnz)

    def disjoint(samples):
        users = [u for u, _, _, _ in samples]
        items = [item for _, i, j, _ in samples for item in (i, j)]
        kept = all(kept for *_, kept in samples)
        return kept and len(set(users)) == len(samples) and len(set(items)) == 2 * len(samples)

    kinds = [0, 0, 0]
    for start in range(0, nnz - group + 1, group):
        samples = []
        for s in range(start, start + group):
            k = picks[2 * s]
            u, i, j = likes.rows[k], indices[k], indices[picks[2 * s + 1]]
            samples.append((u, i, j, not (verify and j in indices[indptr[u]:indptr[u + 1]])))
        if disjoint(samples):
            kinds[0] += 1
            continue
        for h in range(0, group, 2):
            kinds[1 if disjoint(samples[h:h + 2]) else 2] += 1
    return tuple(kinds)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [1, 2, 7, 8, 9, 15, 16, 17, 33, 64, 65])
def test_every_clone_equals_the_reference_for_every_width(rng, dtype, n_cols):
    """Every factor count's vector tails (the 8 lanes of the dot product and the update's vectors of
    4 to 16 values) on every clone this CPU runs, bit for bit against the NumPy reference."""
    matrix = random_likes(rng, 40, 30, 0.15)
    likes = as_likes(matrix)
    x, y = random_factors(rng, 40, n_cols - 1, dtype, bias=1.0), random_factors(rng, 30, n_cols - 1, dtype)
    x[:, -1] = rng.random(40).astype(dtype) + 0.5  # the users' bias column is read, whatever it holds
    for verify in (True, False):
        seed = int(rng.integers(0, 2**63))
        want = bpr_epoch(matrix, x, y, learning_rate=0.05, regularization=0.02, seed=seed,
                         verify_negative_samples=verify, backend="numpy", n_threads=1)
        for level, filter in itertools.product(simd_levels(), (True, False)):
            got = native_epoch(likes, x, y, 0.05, 0.02, seed, verify, level, filter)
            np.testing.assert_array_equal(got[0], want[0], err_msg=level)
            np.testing.assert_array_equal(got[1], want[1], err_msg=level)
            assert tuple(got[2]) == want[2:], level


@pytest.mark.parametrize("n_users, n_items, density", [(100, 30, 0.1), (300, 400, 0.01), (80, 60, 0.08)])
@pytest.mark.parametrize("verify", [True, False])
def test_groups_with_and_without_conflicts_equal_the_reference(rng, n_users, n_items, density, verify):
    """Few items: most groups of 4 share a row and run as pairs or one sample after the other; many:
    most run side by side; every kind occurs in every problem here, and every clone gives the
    sequential bits."""
    matrix = random_likes(rng, n_users, n_items, density)
    likes = as_likes(matrix)
    x, y = random_factors(rng, n_users, 16, np.float32, 1.0), random_factors(rng, n_items, 16, np.float32)
    seed = int(rng.integers(0, 2**63))
    assert min(group_kinds(likes, seed, verify)) > 0
    want = bpr_epoch(matrix, x, y, learning_rate=0.1, seed=seed, verify_negative_samples=verify, backend="numpy",
                     n_threads=1)
    for level in simd_levels():
        got = native_epoch(likes, x, y, 0.1, 0.01, seed, verify, level)
        np.testing.assert_array_equal(got[0], want[0], err_msg=level)
        np.testing.assert_array_equal(got[1], want[1], err_msg=level)
        assert tuple(got[2]) == want[2:], level


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_rows_scanned_and_long_rows_searched_verify_alike(rng, dtype):
    """Verification compares a short row whole and binary searches a long one (bpr.hpp's
    kBprScan, 256): rows of every length around the switch and far past it, on every clone."""
    lengths = [1, 2, 15, 16, 17, 63, 64, 65, 255, 256, 257, 700]
    n_items = 800
    rows = [np.sort(rng.choice(n_items, size=n, replace=False)) for n in lengths]
    matrix = sp.csr_matrix((np.ones(sum(lengths)), np.concatenate(rows), np.cumsum([0] + lengths)),
                           shape=(len(lengths), n_items))
    likes = as_likes(matrix)
    x, y = random_factors(rng, len(lengths), 8, dtype, 1.0), random_factors(rng, n_items, 8, dtype)
    seed = int(rng.integers(0, 2**63))
    want = bpr_epoch(matrix, x, y, learning_rate=0.1, seed=seed, backend="numpy", n_threads=1)
    assert 0 < want[3] < matrix.nnz  # some negatives liked, some not
    for level, filter in itertools.product(simd_levels(), (True, False)):
        got = native_epoch(likes, x, y, 0.1, 0.01, seed, True, level, filter)
        np.testing.assert_array_equal(got[0], want[0], err_msg=level)
        np.testing.assert_array_equal(got[1], want[1], err_msg=level)
        assert tuple(got[2]) == want[2:], level


def test_threads_share_the_chunks_of_a_long_epoch(rng):
    """With threads the native kernel hands out chunks of 16384 samples (bpr.hpp's kBprChunk):
    an epoch of several chunks on 2 and 3 threads draws the same samples as on one (the skipped
    count), keeps the users' bias column, moves every user with interactions, and ranks about as
    many samples right."""
    matrix = random_likes(rng, 3000, 500, 0.04)
    assert matrix.nnz > 3 * 16384
    x, y = random_factors(rng, 3000, 8, np.float32, 1.0), random_factors(rng, 500, 8, np.float32)
    one = bpr_epoch(matrix, x, y, learning_rate=0.05, seed=3, backend="native", n_threads=1)
    active = np.diff(matrix.indptr) > 0
    for n_threads in (2, 3):
        got = bpr_epoch(matrix, x, y, learning_rate=0.05, seed=3, backend="native", n_threads=n_threads)
        assert got[3] == one[3]
        assert abs(got[2] - one[2]) < 0.02 * matrix.nnz
        assert np.isfinite(got[0]).all() and np.isfinite(got[1]).all()
        np.testing.assert_array_equal(got[0][:, -1], 1.0)
        assert (got[0][active] != x[active]).any(axis=1).all()


def test_the_binding_refuses_a_clone_this_cpu_lacks():
    with pytest.raises(ValueError, match="simd: neon is not supported by this CPU"):
        _native.bpr_epochs(**_raw_args(), simd="neon")


# ---------------------------------------------------------------- edge cases


def test_users_without_items_are_never_sampled(every_backend, rng):
    matrix = random_likes(rng, 30, 20, 0.3).tolil()
    matrix[::3] = 0
    matrix = matrix.tocsr()
    x, y = random_factors(rng, 30, 5, np.float32, 1.0), random_factors(rng, 20, 5, np.float32)
    new_x, _, _, _ = bpr_epoch(matrix, x, y, backend=every_backend, n_threads=1)
    np.testing.assert_array_equal(new_x[::3], x[::3])
    assert not np.array_equal(new_x[1::3], x[1::3])


def test_a_user_who_liked_every_item_is_skipped_not_redrawn(every_backend, rng):
    """Verified negatives are never redrawn: an epoch always ends. When every user liked every
    item, every sample is skipped and nothing moves."""
    matrix = sp.csr_matrix(np.ones((6, 4)))
    x, y = random_factors(rng, 6, 3, np.float64, 1.0), random_factors(rng, 4, 3, np.float64)
    new_x, new_y, correct, skipped = bpr_epoch(matrix, x, y, backend=every_backend, n_threads=1)
    assert (correct, skipped) == (0, 24)
    np.testing.assert_array_equal(new_x, x)
    np.testing.assert_array_equal(new_y, y)
    _, moved, _, skipped = bpr_epoch(matrix, x, y, verify_negative_samples=False, backend=every_backend)
    assert skipped == 0 and not np.array_equal(moved, y)


def test_one_full_user_among_others_only_loses_its_own_samples(rng):
    matrix = random_likes(rng, 20, 10, 0.2).tolil()
    matrix[0] = 1
    matrix = matrix.tocsr()
    x, y = random_factors(rng, 20, 3, np.float32, 1.0), random_factors(rng, 10, 3, np.float32)
    new_x, _, _, skipped = bpr_epoch(matrix, x, y, n_threads=1)
    np.testing.assert_array_equal(new_x[0], x[0])  # every sample of user 0 was skipped
    assert 0 < skipped < matrix.nnz


def test_a_single_interaction_samples_itself_as_negative(every_backend):
    """With one stored entry the negative is the liked item: skipped when verified; otherwise
    the item's two updates apply one after the other to the same row."""
    matrix = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 3))
    x = np.array([[0.2, -0.1, 1.0], [0.3, 0.3, 1.0]])
    y = np.array([[0.1, 0.1, 0.0], [0.25, -0.5, 0.1], [0.0, 0.2, -0.3]])
    assert bpr_epoch(matrix, x, y)[3] == 1
    new_x, new_y, correct, skipped = bpr_epoch(matrix, x, y, learning_rate=0.5, regularization=0.1,
                                               verify_negative_samples=False)
    z = 0.5  # the score of a pair of one item is 0
    want = y[1].copy()
    want[:2] += 0.5 * (z * x[0, :2] - 0.1 * want[:2])
    want[:2] += 0.5 * (-z * x[0, :2] - 0.1 * want[:2])
    want[2] += 0.5 * (z - 0.1 * want[2])
    want[2] += 0.5 * (-z - 0.1 * want[2])
    np.testing.assert_allclose(new_y[1], want, rtol=1e-15)
    np.testing.assert_allclose(new_x[0, :2], x[0, :2] * (1 - 0.5 * 0.1), rtol=1e-15)
    assert (correct, skipped) == (0, 0)


@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (0, 0), (5, 5)])
def test_no_interactions_is_an_epoch_that_changes_nothing(every_backend, shape):
    matrix = sp.csr_matrix(shape)
    x, y = np.ones((shape[0], 3), np.float32), np.ones((shape[1], 3), np.float32)
    new_x, new_y, correct, skipped = bpr_epoch(matrix, x, y, backend=every_backend)
    assert (correct, skipped) == (0, 0)
    np.testing.assert_array_equal(new_x, x)
    np.testing.assert_array_equal(new_y, y)


def test_values_duplicates_and_stored_zeros(rng):
    """A stored positive entry is one like whatever its value; duplicates count once; stored
    zeros are not likes."""
    base = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [0, 2, 1])), shape=(2, 3))
    weighted = sp.csr_matrix(([5.0, 0.5, 2.0], ([0, 0, 1], [0, 2, 1])), shape=(2, 3))
    noisy = sp.csr_matrix(([1.0, 1.0, 1.0, 0.0, 1.0], ([0, 0, 1, 1, 0], [0, 2, 1, 2, 2])), shape=(2, 3))
    x, y = random_factors(rng, 2, 2, np.float32, 1.0), random_factors(rng, 3, 2, np.float32)
    want = bpr_epoch(base, x, y, seed=5)
    for other in (weighted, noisy):
        got = bpr_epoch(other, x, y, seed=5)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("value, message", [(np.nan, "NaN or inf"), (np.inf, "NaN or inf"),
                                            (-1.0, "negative values")])
def test_bad_values_are_refused(every_backend, value, message):
    matrix = sp.csr_matrix(([1.0, value], ([0, 1], [0, 1])), shape=(2, 2))
    with pytest.raises(ValueError, match=f"user_items: contains {message}"):
        bpr_epoch(matrix, np.zeros((2, 2)), np.zeros((2, 2)), backend=every_backend)


@pytest.mark.parametrize("change, error, message", [
    (dict(user_factors=np.zeros((3, 3), np.float16)), TypeError, "user_factors: expected dtype float32 or float64"),
    (dict(item_factors=np.zeros((4, 3), np.float32)), TypeError, "item_factors: expected dtype float64"),
    (dict(item_factors=np.zeros((4, 2))), ValueError, "one number of columns"),
    (dict(user_factors=np.zeros((3, 0)), item_factors=np.zeros((4, 0))), ValueError, "one number of columns"),
    (dict(item_factors=np.zeros((5, 3))), ValueError, "expected 3 and 4 rows"),
    (dict(user_factors=np.full((3, 3), np.nan)), ValueError, "user_factors: contains NaN or inf"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate: expected a finite number"),
    (dict(regularization=np.inf), ValueError, "regularization: expected a finite number"),
    (dict(seed=-1), ValueError, r"seed: expected an int in \[0, 2\*\*64\)"),
    (dict(seed=2**64), ValueError, "seed: expected an int in"),
    (dict(seed=1.5), TypeError, "seed: expected an int"),
    (dict(verify_negative_samples=1), TypeError, "verify_negative_samples: expected a bool"),
    (dict(user_items=np.ones((3, 4))), TypeError, "user_items: expected a scipy.sparse matrix"),
])
def test_bad_arguments_are_refused_by_name(every_backend, change, error, message):
    args = dict(user_items=sp.csr_matrix(np.eye(3, 4)), user_factors=np.zeros((3, 3)), item_factors=np.zeros((4, 3)))
    args.update(change)
    with pytest.raises(error, match=message):
        bpr_epoch(**args, backend=every_backend)


def _raw_args(**changes):
    args = dict(indptr=np.array([0, 2, 3], np.int32), indices=np.array([0, 2, 1], np.int32),
                rows=np.array([0, 0, 1], np.int32), user_factors=np.ones((2, 3), np.float32),
                item_factors=np.ones((3, 3), np.float32), seeds=np.array([1], np.uint64), learning_rate=0.1,
                regularization=0.0, verify=True, on_epoch=None, n_threads=1, counts=np.zeros((1, 2), np.int64))
    return {**args, **changes}


@pytest.mark.parametrize("change, error, message", [
    (dict(rows=np.array([0, 1, 1], np.int32)), ValueError, "rows: entry 1 is not the row holding it"),
    (dict(rows=np.array([0, 0], np.int32)), ValueError, "rows: expected one entry per stored interaction"),
    (dict(rows=np.array([0, 0, 1], np.int64)), TypeError, "rows: expected dtype int32"),
    (dict(user_factors=np.ones((2, 3))), TypeError, "item_factors: expected dtype float64"),
    (dict(user_factors=np.ones((2, 3), np.float16)), TypeError, "user_factors: expected dtype float32 or float64"),
    (dict(item_factors=np.ones((3, 2), np.float32)), ValueError, "item_factors: expected 3 columns"),
    (dict(user_factors=np.ones((2, 0), np.float32), item_factors=np.ones((3, 0), np.float32)), ValueError,
     "user_factors: expected at least one column"),
    (dict(item_factors=np.ones((2, 3), np.float32)), ValueError, "user_items.indices: 2 out of range"),
    (dict(indices=np.array([2, 0, 1], np.int32)), ValueError, "user_items.indices: must be sorted"),
    (dict(indptr=np.array([0, 9, 3], np.int32)), ValueError, "user_items.indptr: must never decrease"),
    (dict(counts=np.zeros((1, 3), np.int64)), ValueError, r"counts: expected shape \(1, 2\)"),
    (dict(counts=np.zeros(2, np.int64)), ValueError, r"counts: expected 2-D array, got shape \(2,\)"),
    (dict(seeds=np.array([1, 2], np.uint64)), ValueError, r"counts: expected shape \(2, 2\) \(one row per seed\)"),
    (dict(seeds=np.array([1], np.int64)), TypeError, "seeds: expected dtype uint64"),
    (dict(on_epoch=3), TypeError, "on_epoch: expected a callable or None"),
    (dict(n_threads=0), ValueError, "n_threads: expected 1 to"),
])
def test_the_binding_refuses_inconsistent_arrays(change, error, message):
    args = _raw_args(**change)
    before = {name: value.copy() for name, value in args.items() if isinstance(value, np.ndarray)}
    with pytest.raises(error, match=message):
        _native.bpr_epochs(**args)
    for name, value in before.items():
        np.testing.assert_array_equal(args[name], value)


def test_the_binding_refuses_read_only_and_shared_factors():
    frozen = np.ones((2, 3), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="user_factors: array is read-only"):
        _native.bpr_epochs(**_raw_args(user_factors=frozen))
    shared = np.ones((3, 3), np.float32)
    block = np.ones((4, 3), np.float32)
    for users, items in ((shared, shared), (block[:3], block[1:])):  # the same array, overlapping views
        with pytest.raises(ValueError, match="item_factors: must not share memory with user_factors"):
            _native.bpr_epochs(**_raw_args(indptr=np.array([0, 2, 3, 3], np.int32), user_factors=users,
                                           item_factors=items))
    apart = np.ones((5, 3), np.float32)
    _native.bpr_epochs(**_raw_args(user_factors=apart[:2], item_factors=apart[2:]))  # one buffer, no overlap: fine
    args = _raw_args()
    _native.bpr_epochs(**args)
    assert args["counts"].sum() <= 3
