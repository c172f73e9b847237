"""Train / test splits of an :class:`~turborec.datasets.Interactions` table.

Every splitter takes an ``Interactions`` and returns ``(train, test)`` Interactions (``kfold``
yields one such pair per fold). Both halves keep the input's shape (``n_users``, ``n_items``)
and id mappers, and the input's row order; together they hold every input row exactly once.
Nothing loops over users in Python: per-user splits group rows with one stable sort and rank
them within their user (see :func:`_rank_within_user`), so they run in ``O(n log n)`` on
millions of rows.

Randomised splitters take ``seed``: an int, or a ``numpy.random.Generator`` which is used (and
advanced) as given. The same int seed always gives the same split.
"""

import numbers

import numpy as np

from ._validation import as_int, check_k
from .datasets import Interactions

__all__ = [
    "kfold",
    "leave_last_out",
    "leave_one_random_out",
    "random_split",
    "time_cutoff_split",
    "user_random_split",
    "user_time_split",
]


def random_split(data, test_fraction=0.2, seed=0):
    """Send a uniformly random ``test_fraction`` of all interactions to test.

    Parameters
    ----------
    data : Interactions
        At least two interactions.
    test_fraction : float, default 0.2
        In the open interval (0, 1).
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    train, test : Interactions
        ``test`` holds exactly ``round(test_fraction * n)`` interactions (halves rounded up),
        but at least one and at most ``n - 1``. Users and items are not stratified: a user may
        end up only in test.
    """
    n = _check_data(data, need=2)
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    rng = _check_seed(seed)
    n_test = min(max(_round_half_up(test_fraction * n), 1), n - 1)
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.permutation(n)[:n_test]] = True
    return _halves(data, is_test)


def user_random_split(data, test_fraction=0.2, seed=0, min_train=1):
    """Send a random ``test_fraction`` of each user's interactions to test.

    Parameters
    ----------
    data : Interactions
    test_fraction : float, default 0.2
        In the open interval (0, 1).
    seed : int or numpy.random.Generator, default 0
    min_train : int, default 1
        Interactions every user keeps in train (>= 0).

    Returns
    -------
    train, test : Interactions
        A user with ``c`` interactions sends ``clip(round(test_fraction * c), 1, c - min_train)``
        of them, chosen uniformly at random, to test (halves rounded up). Users with
        ``c <= min_train`` stay wholly in train; every other user has at least one test
        interaction and at least ``min_train`` train interactions.
    """
    _check_data(data)
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    min_train = _check_count(min_train, "min_train")
    rng = _check_seed(seed)
    # A random permutation, then a stable sort by user: rows grouped by user, in random order
    # within each user; the tail of each group is a uniform random subset of that user's rows.
    shuffled = rng.permutation(len(data))
    order = shuffled[np.argsort(data.users[shuffled], kind="stable")]
    return _split_user_tails(data, order, lambda counts: _fraction_counts(counts, test_fraction, min_train))


def user_time_split(data, test_fraction=0.2, min_train=1):
    """Send the latest ``test_fraction`` of each user's interactions to test.

    Parameters
    ----------
    data : Interactions
        Must have timestamps.
    test_fraction : float, default 0.2
        In the open interval (0, 1).
    min_train : int, default 1
        Interactions every user keeps in train (>= 0).

    Returns
    -------
    train, test : Interactions
        A user with ``c`` interactions sends their latest
        ``clip(round(test_fraction * c), 1, c - min_train)`` to test (halves rounded up); users
        with ``c <= min_train`` stay wholly in train. Equal timestamps are ordered by position in
        ``data`` (a later row counts as later), so the split is deterministic and, per user,
        every test timestamp is >= every train timestamp.
    """
    _check_data(data)
    _check_timestamps(data, "user_time_split")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    min_train = _check_count(min_train, "min_train")
    return _split_user_tails(data, _chronological(data), lambda c: _fraction_counts(c, test_fraction, min_train))


def time_cutoff_split(data, cutoff=None, test_fraction=None):
    """Split every user at one global time: interactions at or after ``cutoff`` go to test.

    Give exactly one of ``cutoff`` and ``test_fraction``.

    Parameters
    ----------
    data : Interactions
        Must have timestamps.
    cutoff : int or float, optional
        A timestamp in the units of ``data.timestamps``. Rows with ``timestamp >= cutoff`` go
        to test. Either half may be empty.
    test_fraction : float, optional
        In the open interval (0, 1). The cutoff becomes the timestamp of the earliest of the
        latest ``k = clip(round(test_fraction * n), 1, n - 1)`` interactions. Rows tied with it
        also go to test, so with repeated timestamps test can hold more than ``k`` rows (all of
        them when every timestamp is equal).

    Returns
    -------
    train, test : Interactions
        Every test timestamp is >= ``cutoff`` > every train timestamp. Users are not stratified:
        a user may appear only in train or only in test.
    """
    n = _check_data(data)
    _check_timestamps(data, "time_cutoff_split")
    if (cutoff is None) == (test_fraction is None):
        raise ValueError("cutoff, test_fraction: expected exactly one of them, got "
                         + ("neither" if cutoff is None else "both"))
    if test_fraction is not None:
        if n < 2:
            raise ValueError(f"data: expected at least 2 interactions to split by test_fraction, got {n}")
        test_fraction = _check_fraction(test_fraction, "test_fraction")
        k = min(max(_round_half_up(test_fraction * n), 1), n - 1)
        # The k-th largest timestamp, without sorting everything.
        cutoff = np.partition(data.timestamps, n - k)[n - k]
    else:
        if isinstance(cutoff, (bool, np.bool_)) or not isinstance(cutoff, numbers.Real):
            raise TypeError(f"cutoff: expected a timestamp (int or float), got {type(cutoff).__name__}")
        if isinstance(cutoff, numbers.Integral):
            cutoff = int(cutoff)  # compared exactly with int64, never through float64
        elif np.isnan(cutoff):
            raise ValueError("cutoff: expected a timestamp, got NaN")
    return _halves(data, data.timestamps >= cutoff)


def leave_last_out(data, n=1):
    """Send each user's latest ``n`` interactions to test.

    Parameters
    ----------
    data : Interactions
        Must have timestamps.
    n : int, default 1
        Interactions held out per user (>= 1).

    Returns
    -------
    train, test : Interactions
        Users with more than ``n`` interactions send their latest ``n`` to test; users with
        ``n`` or fewer stay wholly in train (so every user in test is also in train). Equal
        timestamps are ordered by position in ``data`` (a later row counts as later).
    """
    _check_data(data)
    _check_timestamps(data, "leave_last_out")
    n = check_k(n, "n")
    return _split_user_tails(data, _chronological(data), lambda counts: np.where(counts > n, n, 0))


def leave_one_random_out(data, seed=0):
    """Send one uniformly random interaction of each user to test.

    Parameters
    ----------
    data : Interactions
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    train, test : Interactions
        Users with at least two interactions send one to test; users with a single interaction
        stay in train. Timestamps are not needed.
    """
    _check_data(data)
    rng = _check_seed(seed)
    shuffled = rng.permutation(len(data))
    order = shuffled[np.argsort(data.users[shuffled], kind="stable")]
    return _split_user_tails(data, order, lambda counts: np.where(counts > 1, 1, 0))


def kfold(data, n_folds=5, seed=0, by="interaction"):
    """K-fold cross-validation splits.

    Parameters
    ----------
    data : Interactions
    n_folds : int, default 5
        At least 2; at most ``len(data)`` (``by="interaction"``) or the number of users with an
        interaction (``by="user"``).
    seed : int or numpy.random.Generator, default 0
        Drawn from once, when ``kfold`` is called.
    by : {"interaction", "user"}, default "interaction"
        ``"interaction"``: interactions are shuffled into ``n_folds`` folds whose sizes differ
        by at most one. ``"user"``: users are shuffled into folds whose user counts differ by
        at most one, and a user's interactions all share its fold, so test users are unseen in
        train (cold-start users).

    Returns
    -------
    iterator of (train, test)
        ``n_folds`` pairs, built lazily (``list(kfold(...))`` keeps them all). Every interaction
        is in exactly one test fold; each train is the complement of its test.
    """
    n = _check_data(data)
    n_folds = _check_count(n_folds, "n_folds")
    if by not in ("interaction", "user"):
        raise ValueError(f"by: expected 'interaction' or 'user', got {by!r}")
    rng = _check_seed(seed)
    if by == "interaction":
        groups, n_groups, what = None, n, "interactions"
    else:
        present, groups = np.unique(data.users, return_inverse=True)
        n_groups, what = len(present), "users with interactions"
    if n_folds < 2 or n_folds > n_groups:
        raise ValueError(f"n_folds: expected 2 <= n_folds <= {n_groups} ({what}), got {n_folds}")
    # Position p in a random permutation goes to fold p % n_folds: sizes differ by at most one.
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[rng.permutation(n_groups)] = np.arange(n_groups) % n_folds
    fold = fold_of_group if groups is None else fold_of_group[groups.reshape(-1)]
    return (_halves(data, fold == f) for f in range(n_folds))


# -- the vectorised per-user machinery ---------------------------------------------------------

def _chronological(data):
    """Row positions grouped by user, each user's rows by (timestamp, position)."""
    # Both sorts below are stable, so ties in (user, timestamp) keep their original order:
    # deterministic tie-breaking by position.
    timestamps = data.timestamps
    low = int(timestamps.min())
    span = int(timestamps.max()) - low + 1
    if data.n_users * span < 2**63:
        # One int64 key user * span + (t - low) orders like (user, t), and a single stable
        # argsort of it is a few times faster than lexsort of the two columns.
        key = data.users.astype(np.int64) * span + (timestamps - low)
        return np.argsort(key, kind="stable")
    return np.lexsort((timestamps, data.users))


def _rank_within_user(users, order, n_users):
    """Each row's 0-based rank inside its user's group, and the group sizes.

    ``order`` lists row positions grouped by user (``users[order]`` non-decreasing). A group
    starts at ``cumsum(counts) - counts`` in that order, so a row's rank is its place in
    ``order`` minus its group's start.
    """
    counts = np.bincount(users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users), dtype=np.int64) - starts[users[order]]
    return rank, counts


def _split_user_tails(data, order, n_test_of):
    """Send the last ``n_test_of(counts)[u]`` rows of each user ``u`` (in ``order``) to test."""
    rank, counts = _rank_within_user(data.users, order, data.n_users)
    n_test = np.asarray(n_test_of(counts), dtype=np.int64)
    return _halves(data, rank >= (counts - n_test)[data.users])


def _fraction_counts(counts, test_fraction, min_train):
    """Per-user test counts: ``clip(round(f * c), 1, c - min_train)``, 0 when ``c <= min_train``."""
    wanted = np.floor(test_fraction * counts + 0.5).astype(np.int64)
    return np.where(counts > min_train, np.clip(wanted, 1, np.maximum(counts - min_train, 1)), 0)


def _halves(data, is_test):
    return data.subset(~is_test), data.subset(is_test)


def _round_half_up(x):
    return int(np.floor(x + 0.5))


# -- validation ----------------------------------------------------------------------------

def _check_data(data, need=1):
    if not isinstance(data, Interactions):
        raise TypeError(f"data: expected turborec.datasets.Interactions, got {type(data).__name__}")
    if len(data) < need:
        raise ValueError(f"data: expected at least {need} interaction{'s' * (need > 1)} to split, got {len(data)}")
    return len(data)


def _check_timestamps(data, who):
    if data.timestamps is None:
        raise ValueError(f"data: {who} needs timestamps, got Interactions without them")


def _check_fraction(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a float in (0, 1), got {type(value).__name__}")
    value = float(value)
    if not 0.0 < value < 1.0:  # also rejects NaN
        raise ValueError(f"{name}: expected a float in (0, 1), got {value}")
    return value


def _check_count(value, name):
    """A non-negative int."""
    value = as_int(value, name, "a non-negative int")
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative int, got {value}")
    return value


def _check_seed(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    seed = as_int(seed, "seed", "an int or numpy.random.Generator")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed}")
    return np.random.default_rng(seed)
