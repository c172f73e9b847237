"""Splitters: partitions of the input, seeded, with their per-user and time guarantees."""

from pathlib import Path

import numpy as np
import pytest

from turborec import split
from turborec.datasets import Interactions

ML100K = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ml-100k" / "u.data"

SEEDED = {
    "random_split": lambda d, seed: split.random_split(d, 0.25, seed=seed),
    "user_random_split": lambda d, seed: split.user_random_split(d, 0.25, seed=seed),
    "leave_one_random_out": lambda d, seed: split.leave_one_random_out(d, seed=seed),
}
UNSEEDED = {
    "user_time_split": lambda d: split.user_time_split(d, 0.25),
    "time_cutoff_split": lambda d: split.time_cutoff_split(d, test_fraction=0.25),
    "time_cutoff_split(cutoff)": lambda d: split.time_cutoff_split(d, cutoff=1_200),
    "leave_last_out": lambda d: split.leave_last_out(d, n=2),
}
ALL = {**{name: (lambda f: lambda d: f(d, 0))(f) for name, f in SEEDED.items()}, **UNSEEDED}


def make_data(rng, n=3000, n_users=250, n_items=60, mappers=False):
    """Random interactions whose rating is the row position, so every row is traceable.

    Duplicate (user, item) pairs are frequent (few items); timestamps repeat (small range);
    a few users have exactly one interaction and the last users have none.
    """
    users = rng.integers(0, n_users - 10, n)
    users[:5] = np.arange(n_users - 10, n_users - 5)  # five users with a single interaction
    items = rng.integers(0, n_items, n)
    timestamps = rng.integers(1_000, 1_400, n)
    ratings = np.arange(n, dtype=np.float32)
    if mappers:
        data = Interactions.from_raw(np.char.add("u", users.astype(str)), items * 7, ratings, timestamps)
        assert len(data) == n
        return data
    return Interactions(users, items, ratings, timestamps, n_users=n_users, n_items=n_items)


def positions(part):
    return part.ratings.astype(np.int64)


def check_partition(data, train, test):
    """train and test are disjoint, cover the input exactly once, and keep its rows and order."""
    tr, te = positions(train), positions(test)
    both = np.concatenate([tr, te])
    np.testing.assert_array_equal(np.sort(both), np.arange(len(data)))
    for part, pos in ((train, tr), (test, te)):
        assert (np.diff(pos) > 0).all(), "each half keeps the input order"
        np.testing.assert_array_equal(part.users, data.users[pos])
        np.testing.assert_array_equal(part.items, data.items[pos])
        np.testing.assert_array_equal(part.timestamps, data.timestamps[pos])
        assert part.shape == data.shape
        assert part.user_mapper is data.user_mapper and part.item_mapper is data.item_mapper
        assert part.users.dtype == np.int32 and part.timestamps.dtype == np.int64


def per_user_counts(data, part):
    return np.bincount(part.users, minlength=data.n_users)


@pytest.mark.parametrize("mappers", [False, True], ids=["indices", "mappers"])
@pytest.mark.parametrize("name", list(ALL))
def test_partition(rng, name, mappers):
    data = make_data(rng, mappers=mappers)
    pairs = data.users.astype(np.int64) * data.n_items + data.items
    assert len(np.unique(pairs)) < len(data), "the data must contain duplicate (user, item) pairs"
    train, test = ALL[name](data)
    check_partition(data, train, test)
    assert len(train) and len(test)


def test_kfold_partitions(rng):
    data = make_data(rng)
    folds = list(split.kfold(data, n_folds=4, seed=3))
    assert len(folds) == 4
    seen = np.zeros(len(data), dtype=np.int64)
    for train, test in folds:
        check_partition(data, train, test)
        seen[positions(test)] += 1
    assert (seen == 1).all(), "every interaction is in exactly one test fold"
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_by_user(rng):
    data = make_data(rng)
    folds = list(split.kfold(data, n_folds=3, seed=1, by="user"))
    owner = np.full(data.n_users, -1)
    seen = np.zeros(len(data), dtype=np.int64)
    for f, (train, test) in enumerate(folds):
        check_partition(data, train, test)
        seen[positions(test)] += 1
        test_users = np.unique(test.users)
        assert (owner[test_users] == -1).all()
        owner[test_users] = f
        assert not np.isin(train.users, test_users).any(), "a test user has no train interactions"
    assert (seen == 1).all()
    present = np.unique(data.users)
    assert (owner[present] >= 0).all()
    n_users_per_fold = np.bincount(owner[present], minlength=3)
    assert n_users_per_fold.max() - n_users_per_fold.min() <= 1


def test_kfold_is_lazy_but_validates_eagerly(rng):
    data = make_data(rng, n=50)
    with pytest.raises(ValueError, match="n_folds"):
        split.kfold(data, n_folds=1)
    folds = split.kfold(data, n_folds=2)
    assert iter(folds) is folds
    assert len(list(folds)) == 2


@pytest.mark.parametrize("name", list(SEEDED) + ["kfold", "kfold(user)"])
def test_seeds(rng, name):
    data = make_data(rng)
    if name.startswith("kfold"):
        by = "user" if "user" in name else "interaction"
        run = lambda seed: [positions(te) for _, te in split.kfold(data, 3, seed=seed, by=by)]  # noqa: E731
    else:
        run = lambda seed: [positions(te) for te in SEEDED[name](data, seed)[1:]]  # noqa: E731
    same, again, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(same, again))
    assert not all(np.array_equal(a, b) for a, b in zip(same, other))
    # A Generator is used as given: equal states give equal splits.
    gen = [positions(te) for te in _first_test(name, data, np.random.default_rng(7))]
    gen_again = [positions(te) for te in _first_test(name, data, np.random.default_rng(7))]
    assert all(np.array_equal(a, b) for a, b in zip(gen, gen_again))


def _first_test(name, data, seed):
    if name.startswith("kfold"):
        return [next(iter(split.kfold(data, 3, seed=seed, by="user" if "user" in name else "interaction")))[1]]
    return [SEEDED[name](data, seed)[1]]


def test_random_split_size(rng):
    data = make_data(rng, n=1001)
    for fraction, expected in ((0.2, 200), (0.5, 501), (0.001, 1), (0.9999, 1000)):
        train, test = split.random_split(data, fraction, seed=0)
        assert len(test) == expected and len(train) == len(data) - expected


@pytest.mark.parametrize("min_train", [0, 1, 3])
@pytest.mark.parametrize("fraction", [0.01, 0.25, 0.5, 0.99])
@pytest.mark.parametrize("how", ["random", "time"])
def test_per_user_fraction_guarantees(rng, how, fraction, min_train):
    data = make_data(rng)
    if how == "random":
        train, test = split.user_random_split(data, fraction, seed=5, min_train=min_train)
    else:
        train, test = split.user_time_split(data, fraction, min_train=min_train)
    check_partition(data, train, test)
    counts = per_user_counts(data, data)
    n_train, n_test = per_user_counts(data, train), per_user_counts(data, test)
    expected = np.where(counts > min_train,
                        np.clip(np.floor(fraction * counts + 0.5), 1, np.maximum(counts - min_train, 1)), 0)
    np.testing.assert_array_equal(n_test, expected)
    assert (n_train >= np.minimum(counts, min_train)).all()
    few = counts <= min_train
    np.testing.assert_array_equal(n_train[few], counts[few])  # small users stay wholly in train
    assert (n_test[counts > min_train] >= 1).all()


def test_single_interaction_users_stay_in_train(rng):
    data = make_data(rng)
    single = np.flatnonzero(np.bincount(data.users, minlength=data.n_users) == 1)
    assert len(single) >= 5
    for train, test in (split.user_random_split(data, 0.5, seed=0), split.user_time_split(data, 0.5),
                        split.leave_last_out(data), split.leave_one_random_out(data, seed=0)):
        assert not np.isin(test.users, single).any()
        assert np.isin(single, train.users).all()


def assert_chronological(data, train, test):
    """Per user, every test row comes after every train row in (timestamp, position) order."""
    tr, te = positions(train), positions(test)
    for u in np.unique(test.users):
        last_train = tr[train.users == u]
        first_test = te[test.users == u]
        if not len(last_train):
            continue
        train_key = max(zip(data.timestamps[last_train], last_train))
        test_key = min(zip(data.timestamps[first_test], first_test))
        assert train_key < test_key
        assert data.timestamps[first_test].min() >= data.timestamps[last_train].max()


def test_user_time_split_is_chronological(rng):
    data = make_data(rng)
    train, test = split.user_time_split(data, 0.3)
    assert_chronological(data, train, test)
    again = split.user_time_split(data, 0.3)[1]
    np.testing.assert_array_equal(positions(again), positions(test))


def test_ties_broken_by_position():
    # One user, all timestamps equal: the latest rows by position go to test.
    data = Interactions(np.zeros(10, int), np.arange(10), np.arange(10, dtype=np.float32), np.full(10, 5))
    train, test = split.user_time_split(data, 0.3)
    np.testing.assert_array_equal(positions(test), [7, 8, 9])
    np.testing.assert_array_equal(positions(split.leave_last_out(data, n=2)[1]), [8, 9])


def test_huge_timestamp_span_falls_back_to_lexsort(rng):
    # users * span overflows int64, so the composite key cannot be used; the answer is the same.
    n = 500
    users = rng.integers(0, 20, n)
    timestamps = rng.choice(np.array([-2**62, -5, 0, 5, 2**62]), n)
    data = Interactions(users, np.zeros(n, int), np.arange(n, dtype=np.float32), timestamps)
    train, test = split.user_time_split(data, 0.4)
    check_partition(data, train, test)
    assert_chronological(data, train, test)
    # Dense ranks of the timestamps order rows the same way and take the composite-key path.
    dense = np.searchsorted(np.unique(timestamps), timestamps)
    narrow = Interactions(users, np.zeros(n, int), np.arange(n, dtype=np.float32), dense)
    np.testing.assert_array_equal(positions(split.user_time_split(narrow, 0.4)[1]), positions(test))


@pytest.mark.parametrize("n", [1, 2, 5])
def test_leave_last_out(rng, n):
    data = make_data(rng)
    train, test = split.leave_last_out(data, n=n)
    check_partition(data, train, test)
    counts = per_user_counts(data, data)
    np.testing.assert_array_equal(per_user_counts(data, test), np.where(counts > n, n, 0))
    assert np.isin(test.users, train.users).all()
    assert_chronological(data, train, test)


def test_leave_one_random_out(rng):
    data = make_data(rng)
    train, test = split.leave_one_random_out(data, seed=2)
    counts = per_user_counts(data, data)
    np.testing.assert_array_equal(per_user_counts(data, test), (counts > 1).astype(int))
    # Random, not the last one: over the users, some held-out rows are not their user's latest.
    latest = positions(split.leave_last_out(data, n=1)[1])
    assert not np.array_equal(positions(test), latest)


def test_random_held_out_rows_are_uniform():
    # One user with 4 interactions, many seeds: each row is held out about a quarter of the time.
    data = Interactions(np.zeros(4, int), np.arange(4), np.arange(4, dtype=np.float32))
    hits = np.zeros(4)
    for seed in range(800):
        hits[positions(split.leave_one_random_out(data, seed=seed)[1])] += 1
    assert (np.abs(hits / 800 - 0.25) < 0.06).all()


def test_time_cutoff_semantics(rng):
    data = make_data(rng)
    cutoff = 1_200
    train, test = split.time_cutoff_split(data, cutoff=cutoff)
    check_partition(data, train, test)
    assert (test.timestamps >= cutoff).all() and (train.timestamps < cutoff).all()
    np.testing.assert_array_equal(positions(test), np.flatnonzero(data.timestamps >= cutoff))
    # numpy scalars and floats work as cutoffs; everything / nothing may land in test.
    assert len(split.time_cutoff_split(data, cutoff=np.int64(cutoff))[1]) == len(test)
    assert len(split.time_cutoff_split(data, cutoff=1199.5)[1]) == len(test)
    assert len(split.time_cutoff_split(data, cutoff=0)[0]) == 0
    assert len(split.time_cutoff_split(data, cutoff=10**12)[1]) == 0


def test_time_cutoff_from_fraction():
    n = 1000
    timestamps = np.random.default_rng(0).permutation(n) * 10  # distinct
    data = Interactions(np.zeros(n, int), np.zeros(n, int), np.arange(n, dtype=np.float32), timestamps)
    train, test = split.time_cutoff_split(data, test_fraction=0.2)
    assert len(test) == 200
    assert test.timestamps.min() == 8000 and train.timestamps.max() == 7990
    # Repeated timestamps: rows tied with the cutoff go to test too.
    tied = Interactions(np.zeros(6, int), np.zeros(6, int), np.arange(6, dtype=np.float32), [1, 2, 3, 3, 3, 4])
    np.testing.assert_array_equal(positions(split.time_cutoff_split(tied, test_fraction=0.3)[1]), [2, 3, 4, 5])


def test_ml100k_user_time_split():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    raw = np.loadtxt(ML100K, dtype=np.int64)
    data = Interactions(raw[:, 0] - 1, raw[:, 1] - 1, raw[:, 2], raw[:, 3])
    train, test = split.user_time_split(data, 0.2)
    assert len(train) + len(test) == 100_000
    counts = np.bincount(data.users, minlength=data.n_users)
    np.testing.assert_array_equal(np.bincount(test.users, minlength=data.n_users),
                                  np.clip(np.floor(0.2 * counts + 0.5), 1, counts - 1))
    # Per user, the earliest test timestamp is no earlier than the latest train timestamp.
    last_train = np.full(data.n_users, np.iinfo(np.int64).min)
    np.maximum.at(last_train, train.users, train.timestamps)
    first_test = np.full(data.n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_test, test.users, test.timestamps)
    assert (first_test >= last_train).all()
    # The same multiset of (user, item, rating, timestamp) rows.
    rows = lambda d: np.sort(np.rec.fromarrays([d.users, d.items, d.ratings, d.timestamps]))  # noqa: E731
    both = Interactions(np.r_[train.users, test.users], np.r_[train.items, test.items],
                        np.r_[train.ratings, test.ratings], np.r_[train.timestamps, test.timestamps])
    np.testing.assert_array_equal(rows(both), rows(data))


# -- errors --------------------------------------------------------------------------------

def empty():
    return Interactions(np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0, int), n_users=3, n_items=3)


EVERY = {**ALL, "kfold": lambda d: list(split.kfold(d)), "kfold(user)": lambda d: list(split.kfold(d, by="user"))}


@pytest.mark.parametrize("name", list(EVERY))
def test_empty_and_wrong_type(name):
    with pytest.raises(ValueError, match="data: expected at least"):
        EVERY[name](empty())
    with pytest.raises(TypeError, match="data: expected turborec.datasets.Interactions"):
        EVERY[name](np.zeros((3, 2)))


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_fractions(rng, bad):
    data = make_data(rng, n=100)
    for call in (lambda: split.random_split(data, bad), lambda: split.user_random_split(data, bad),
                 lambda: split.user_time_split(data, bad), lambda: split.time_cutoff_split(data, test_fraction=bad)):
        with pytest.raises(ValueError, match="test_fraction: expected a float in \\(0, 1\\)"):
            call()


def test_bad_types(rng):
    data = make_data(rng, n=100)
    with pytest.raises(TypeError, match="test_fraction"):
        split.random_split(data, "0.2")
    with pytest.raises(TypeError, match="test_fraction"):
        split.user_random_split(data, True)
    with pytest.raises(TypeError, match="seed"):
        split.random_split(data, seed=None)
    with pytest.raises(TypeError, match="seed"):
        split.kfold(data, seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        split.leave_one_random_out(data, seed=-1)
    with pytest.raises(TypeError, match="min_train"):
        split.user_time_split(data, min_train=1.0)
    with pytest.raises(ValueError, match="min_train"):
        split.user_random_split(data, min_train=-1)
    with pytest.raises(ValueError, match="n: expected a positive int"):
        split.leave_last_out(data, n=0)
    with pytest.raises(TypeError, match="cutoff"):
        split.time_cutoff_split(data, cutoff="2020")
    with pytest.raises(ValueError, match="cutoff"):
        split.time_cutoff_split(data, cutoff=float("nan"))
    with pytest.raises(ValueError, match="by: expected 'interaction' or 'user'"):
        split.kfold(data, by="item")


def test_cutoff_xor_fraction(rng):
    data = make_data(rng, n=100)
    with pytest.raises(ValueError, match="cutoff, test_fraction: expected exactly one of them, got neither"):
        split.time_cutoff_split(data)
    with pytest.raises(ValueError, match="got both"):
        split.time_cutoff_split(data, cutoff=1200, test_fraction=0.2)


@pytest.mark.parametrize("name", ["user_time_split", "time_cutoff_split", "leave_last_out"])
def test_missing_timestamps(name):
    data = Interactions([0, 0, 1], [0, 1, 2], [1.0, 2.0, 3.0])
    call = {"user_time_split": lambda: split.user_time_split(data),
            "time_cutoff_split": lambda: split.time_cutoff_split(data, cutoff=3),
            "leave_last_out": lambda: split.leave_last_out(data)}[name]
    with pytest.raises(ValueError, match=f"data: {name} needs timestamps"):
        call()


def test_kfold_bounds(rng):
    data = Interactions([0, 0, 1, 1, 1], [0, 1, 2, 3, 4], np.arange(5.0))
    with pytest.raises(ValueError, match="n_folds: expected 2 <= n_folds <= 5 \\(interactions\\), got 6"):
        split.kfold(data, n_folds=6)
    with pytest.raises(ValueError, match="n_folds: expected 2 <= n_folds <= 2 \\(users with interactions\\), got 3"):
        split.kfold(data, n_folds=3, by="user")
    with pytest.raises(ValueError, match="n_folds"):
        split.kfold(data, n_folds=0)
    assert len(list(split.kfold(data, n_folds=5))) == 5  # leave-one-interaction-out
    assert [len(te) for _, te in split.kfold(data, n_folds=2, by="user", seed=0)] in ([2, 3], [3, 2])


def test_tiny_inputs():
    one = Interactions([0], [0], [1.0], [5])
    with pytest.raises(ValueError, match="data: expected at least 2 interactions"):
        split.random_split(one)
    with pytest.raises(ValueError, match="data: expected at least 2 interactions"):
        split.time_cutoff_split(one, test_fraction=0.5)
    # Per-user splits of a single interaction keep it in train.
    for train, test in (split.user_random_split(one), split.user_time_split(one), split.leave_last_out(one),
                        split.leave_one_random_out(one)):
        assert len(train) == 1 and len(test) == 0 and test.shape == one.shape
    train, test = split.random_split(Interactions([0, 1], [0, 0]), 0.01)
    assert len(train) == 1 and len(test) == 1
