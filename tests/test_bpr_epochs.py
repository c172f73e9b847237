"""The bpr family's several-epoch call (issue 10): ``turborec.bpr.epochs`` runs a fit's epochs in one
kernel call (the native kernel builds its liked-items filter once for all) and reports each epoch
through ``on_epoch``, on every host backend, bit for bit as one call per epoch."""

import numpy as np
import pytest

from test_bpr import random_factors, random_likes
from turborec.bpr import as_likes, bpr_epoch, epochs

FAMILY = "bpr"


@pytest.mark.parametrize("verify", [True, False])
def test_epochs_in_one_call_equal_one_call_per_epoch(every_backend, rng, verify):
    """``epochs`` runs its seeds in order in one kernel call (the native kernel builds its
    liked-items filter once): the factors and each epoch's counts equal one call per seed, and
    ``on_epoch(e, correct, skipped)`` runs after each epoch and sees its factors in place."""
    matrix = random_likes(rng, 50, 40, 0.1)
    likes = as_likes(matrix)
    x, y = random_factors(rng, 50, 6, np.float32, 1.0), random_factors(rng, 40, 6, np.float32)
    seeds = rng.integers(0, 2**63, size=3).astype(np.uint64)
    want_x, want_y, want_counts = x.copy(), y.copy(), []
    seen = []
    for seed in seeds:
        want_x, want_y, correct, skipped = bpr_epoch(matrix, want_x, want_y, learning_rate=0.05, seed=int(seed),
                                                     verify_negative_samples=verify, backend="numpy", n_threads=1)
        want_counts.append((correct, skipped))
        seen.append(want_y.copy())
    got_x, got_y = x.copy(), y.copy()
    calls = []

    def on_epoch(e, correct, skipped):
        calls.append((e, correct, skipped))
        np.testing.assert_array_equal(got_y, seen[e])

    counts = epochs(likes, got_x, got_y, 0.05, 0.01, seeds, verify, every_backend, 1, on_epoch)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_array_equal(got_y, want_y)
    np.testing.assert_array_equal(counts, want_counts)
    assert calls == [(e, *want_counts[e]) for e in range(3)]
    assert all(type(value) is int for call in calls for value in call)


def test_an_error_in_on_epoch_ends_the_run(every_backend, rng):
    matrix = random_likes(rng, 30, 20, 0.2)
    x, y = random_factors(rng, 30, 4, np.float64, 1.0), random_factors(rng, 20, 4, np.float64)
    calls = []

    def on_epoch(e, correct, skipped):
        calls.append(e)
        if e == 1:
            raise KeyError("stop")

    with pytest.raises(KeyError, match="stop"):
        epochs(as_likes(matrix), x, y, 0.05, 0.01, [1, 2, 3, 4], True, every_backend, 1, on_epoch)
    assert calls == [0, 1]


def test_no_epochs_change_nothing(every_backend, rng):
    matrix = random_likes(rng, 10, 10, 0.3)
    x, y = random_factors(rng, 10, 4, np.float32, 1.0), random_factors(rng, 10, 4, np.float32)
    before = x.copy(), y.copy()
    counts = epochs(as_likes(matrix), x, y, 0.05, 0.01, [], True, every_backend, 1, print)
    assert counts.shape == (0, 2)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(y, before[1])
