"""Built-in synthetic data (seeded, no download needed)."""

import numpy as np
import scipy.sparse as sp

from ._interactions import Interactions


def synthetic_factors(n_users=20_000, n_items=10_000, n_factors=64, n_seen=50, *, popularity_exponent=1.0,
                      dtype=np.float32, seed=0):
    """User and item factors with a realistic popularity skew, plus items users have seen.

    Item popularity follows a Zipf law (``p_j ~ rank_j ** -popularity_exponent``, ranks shuffled
    over item ids). Popular items get longer factor vectors, so dot-product scores favour them
    as trained factorisation models do; each user has seen about ``n_seen`` items drawn by
    popularity.

    Returns
    -------
    user_factors : array of shape (n_users, n_factors)
    item_factors : array of shape (n_items, n_factors)
    seen : scipy.sparse.csr_matrix of shape (n_users, n_items), float32 ones
        Sorted, duplicate-free; ready to pass as ``exclude``.
    """
    rng = np.random.default_rng(seed)
    rank = rng.permutation(n_items) + 1.0
    popularity = rank ** -popularity_exponent
    popularity /= popularity.sum()
    user_factors = rng.standard_normal((n_users, n_factors)) / np.sqrt(n_factors)
    item_factors = rng.standard_normal((n_items, n_factors)) / np.sqrt(n_factors)
    item_factors *= (1.0 + np.log1p(popularity * n_items))[:, None]
    n_seen = min(n_seen, n_items)
    users = np.repeat(np.arange(n_users), n_seen)
    items = rng.choice(n_items, size=n_users * n_seen, p=popularity)
    seen = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(n_users, n_items))
    seen.sum_duplicates()
    seen.data[:] = 1.0
    return user_factors.astype(dtype), item_factors.astype(dtype), seen


def synthetic_implicit(n_users=1000, n_items=500, *, density=None, n_interactions=None, n_factors=8,
                       popularity_exponent=1.0, seed=0, return_truth=False):
    """Implicit feedback with power-law item popularity and low-rank tastes.

    Each user ``u`` has a true preference logit for item ``j``::

        logit[u, j] = user_factors[u] @ item_factors[j] + item_bias[j]

    where ``item_bias[j] = -popularity_exponent * log(rank_j)`` (a Zipf law over item ranks that
    are shuffled over item ids) and the factors are Gaussian, scaled so that the taste term has
    unit variance times ``_TASTE`` (2.0). Each user's items are drawn without replacement with
    probabilities proportional to ``exp(logit)`` (the Gumbel top-k trick). Users' activity is
    skewed too (log-normal); every user gets at least one item when there are at least as many
    interactions as users. So popularity is a real but beatable baseline: a factor model, or
    item-kNN, recovers the tastes.

    Parameters
    ----------
    n_users, n_items : int
    density : float in (0, 1], optional
        Fraction of the ``n_users * n_items`` cells observed. Default 0.05 when
        ``n_interactions`` is not given either.
    n_interactions : int, optional
        Exact number of interactions instead of ``density`` (give at most one of them).
    n_factors : int
        Rank of the tastes.
    popularity_exponent : float >= 0
        Zipf exponent; 0 makes the popularity term flat.
    seed : int
        The same seed gives the same data.
    return_truth : bool
        Also return the generating parameters.

    Returns
    -------
    Interactions
        Distinct (user, item) pairs sorted by user then item; no ratings or timestamps;
        indices are the ids (no mappers).
    truth : dict, only with ``return_truth=True``
        ``user_factors`` (n_users, n_factors), ``item_factors`` (n_items, n_factors) and
        ``item_bias`` (n_items,), float64, such that ``logit`` above is
        ``user_factors @ item_factors.T + item_bias``.
    """
    n_users, n_items, n_factors, seed = _check_sizes(n_users=n_users, n_items=n_items, n_factors=n_factors,
                                                     seed=seed)
    total = _total(n_users, n_items, density, n_interactions)
    exponent = _check_nonnegative(popularity_exponent, "popularity_exponent")
    rng = np.random.default_rng(seed)
    truth = _tastes(rng, n_users, n_items, n_factors, exponent, scale=_TASTE)
    counts = _activity(rng, n_users, n_items, total)
    users, items = _draw_items(rng, truth, counts)
    data = Interactions(users, items, n_users=n_users, n_items=n_items)
    return (data, truth) if return_truth else data


def synthetic_ratings(n_users=1000, n_items=500, *, density=None, n_interactions=None, n_factors=8,
                      popularity_exponent=1.0, rating_scale=(1, 5), noise=0.5, seed=0, return_truth=False):
    """Explicit ratings: global mean + user and item biases + low-rank tastes + noise, on a scale.

    Which (user, item) pairs are rated is drawn as in :func:`synthetic_implicit` (popular items
    and items a user likes are rated more often, as in real data). The rating of a drawn pair is::

        round(global_mean + user_bias[u] + item_bias[j] + user_factors[u] @ item_factors[j]
              + noise * N(0, 1))

    clipped to ``rating_scale``. ``global_mean`` sits half a step below the middle of the scale
    (selection lifts the observed mean to about the middle plus half a step, as in MovieLens);
    biases have a standard deviation of 0.5 steps (items' also rise with popularity) and the
    taste term one of 0.8 steps, where a step is ``(high - low) / 4``.

    Parameters
    ----------
    n_users, n_items, density, n_interactions, n_factors, popularity_exponent, seed
        As for :func:`synthetic_implicit`.
    rating_scale : (int, int)
        Lowest and highest rating; ratings are whole numbers in between.
    noise : float >= 0
        Standard deviation of the noise, in rating units, before rounding.
    return_truth : bool
        Also return the generating parameters.

    Returns
    -------
    Interactions
        Sorted by user then item, with float32 ratings; no timestamps; no mappers.
    truth : dict, only with ``return_truth=True``
        ``global_mean`` (float), ``user_bias`` (n_users,), ``item_bias`` (n_items,),
        ``user_factors`` (n_users, n_factors), ``item_factors`` (n_items, n_factors): the
        expected rating before noise, rounding and clipping.
    """
    n_users, n_items, n_factors, seed = _check_sizes(n_users=n_users, n_items=n_items, n_factors=n_factors,
                                                     seed=seed)
    total = _total(n_users, n_items, density, n_interactions)
    exponent = _check_nonnegative(popularity_exponent, "popularity_exponent")
    noise = _check_nonnegative(noise, "noise")
    low, high = _check_scale(rating_scale)
    rng = np.random.default_rng(seed)
    observed = _tastes(rng, n_users, n_items, n_factors, exponent, scale=_TASTE)
    counts = _activity(rng, n_users, n_items, total)
    users, items = _draw_items(rng, observed, counts)
    step = (high - low) / 4.0
    popularity = observed["item_bias"] - observed["item_bias"].mean()
    popularity /= popularity.std() if popularity.std() > 0 else 1.0
    # The rating tastes share direction with the observation tastes: people rate what they like.
    factor_scale = np.sqrt(0.8 * step / _TASTE)
    truth = {
        "global_mean": (low + high) / 2.0 - 0.5 * step,
        "user_bias": rng.normal(0.0, 0.5 * step, n_users),
        "item_bias": rng.normal(0.0, 0.5 * step, n_items) + 0.2 * step * popularity,
        "user_factors": observed["user_factors"] * factor_scale,
        "item_factors": observed["item_factors"] * factor_scale,
    }
    expected = (truth["global_mean"] + truth["user_bias"][users] + truth["item_bias"][items]
                + np.einsum("ij,ij->i", truth["user_factors"][users], truth["item_factors"][items]))
    ratings = np.clip(np.round(expected + noise * rng.standard_normal(len(users))), low, high)
    data = Interactions(users, items, ratings, n_users=n_users, n_items=n_items)
    return (data, truth) if return_truth else data


def synthetic_sequences(n_users=500, n_items=300, *, mean_length=20, n_clusters=10, popularity_exponent=1.0,
                        seed=0, return_truth=False):
    """Timestamped per-user event sequences driven by Markov transitions between item clusters.

    Items are split into ``n_clusters`` equal-size clusters. A user's first event picks a cluster
    at random; every next event moves from the current cluster to another by a fixed transition
    matrix (each cluster has two favourite successors, taking 55% and 25% of the moves; the other
    20% spread evenly), then picks an item of that cluster by Zipf popularity. A user never
    repeats an item. Timestamps start at a random moment of one year per user and advance by
    exponential gaps (mean one hour, at least one second). So the next item is predictable from
    the last one: a sequential model (or a first-order Markov chain over clusters) beats
    popularity.

    Parameters
    ----------
    n_users, n_items : int
    mean_length : int >= 3
        Mean events per user; lengths are log-normal, at least 3 and at most ``n_items // 2``.
    n_clusters : int
        At most ``n_items``.
    popularity_exponent : float >= 0
        Zipf exponent of item popularity within clusters.
    seed : int
    return_truth : bool
        Also return the generating parameters.

    Returns
    -------
    Interactions
        Sorted by user, then time; int64 timestamps (Unix seconds, all distinct within a user);
        no ratings; no mappers.
    truth : dict, only with ``return_truth=True``
        ``item_cluster`` (n_items,) int, ``transitions`` (n_clusters, n_clusters) row-stochastic,
        ``item_popularity`` (n_items,) (sums to 1 within each cluster).
    """
    n_users, n_items, n_clusters, seed = _check_sizes(n_users=n_users, n_items=n_items, n_clusters=n_clusters,
                                                      seed=seed)
    mean_length = _check_sizes(mean_length=mean_length)[0]
    if mean_length < 3:
        raise ValueError(f"mean_length: expected >= 3, got {mean_length}")
    if n_clusters > n_items:
        raise ValueError(f"n_clusters: expected at most n_items={n_items}, got {n_clusters}")
    if n_items < 6:
        raise ValueError(f"n_items: expected >= 6 (sequences of at least 3 distinct items), got {n_items}")
    exponent = _check_nonnegative(popularity_exponent, "popularity_exponent")
    rng = np.random.default_rng(seed)
    item_cluster = rng.permutation(n_items) % n_clusters
    popularity = (rng.permutation(n_items) + 1.0) ** -exponent
    for c in range(n_clusters):
        popularity[item_cluster == c] /= popularity[item_cluster == c].sum()
    transitions = np.full((n_clusters, n_clusters), 0.2 / n_clusters)
    if n_clusters > 2:
        for c in range(n_clusters):
            first, second = rng.choice(np.delete(np.arange(n_clusters), c), size=2, replace=False)
            transitions[c, first] += 0.55
            transitions[c, second] += 0.25
    else:
        transitions[:] = 1.0 / n_clusters
    transitions /= transitions.sum(axis=1, keepdims=True)
    lengths = np.clip(np.round(mean_length * rng.lognormal(-0.125, 0.5, n_users)), 3, n_items // 2).astype(np.int64)

    # Per cluster: its items and their cumulative popularity, padded to one table.
    size = np.bincount(item_cluster, minlength=n_clusters).max()
    members = np.full((n_clusters, size), -1, dtype=np.int64)
    cumulative = np.full((n_clusters, size), 2.0)
    for c in range(n_clusters):
        ids = np.flatnonzero(item_cluster == c)
        members[c, :len(ids)] = ids
        cumulative[c, :len(ids)] = np.cumsum(popularity[ids])
        cumulative[c, len(ids) - 1] = 1.0 + 1e-12
    cum_transitions = np.cumsum(transitions, axis=1)
    cum_transitions[:, -1] = 1.0 + 1e-12

    longest = int(lengths.max())
    sequences = np.full((n_users, longest), -1, dtype=np.int64)
    cluster = rng.integers(0, n_clusters, n_users)
    for t in range(longest):
        active = np.flatnonzero(lengths > t)
        if t > 0:
            cluster[active] = (cum_transitions[cluster[active]] < rng.random(len(active))[:, None]).sum(axis=1)
        pending = active
        for _ in range(20):  # redraw items a user already has; rare unless the cluster is small
            table = cumulative[cluster[pending]]
            picks = members[cluster[pending], (table < rng.random(len(pending))[:, None]).sum(axis=1)]
            sequences[pending, t] = picks
            repeated = (sequences[pending, :t] == picks[:, None]).any(axis=1)
            pending = pending[repeated]
            if not len(pending):
                break
        for user in pending:  # the cluster is exhausted for this user: the most popular unseen item
            seen = sequences[user, :t]
            unseen = np.setdiff1d(np.flatnonzero(item_cluster == cluster[user]), seen)
            if not len(unseen):
                unseen = np.setdiff1d(np.arange(n_items), seen)
            sequences[user, t] = unseen[np.argmax(popularity[unseen])]
            cluster[user] = item_cluster[sequences[user, t]]

    starts = 1_600_000_000 + rng.integers(0, 365 * 86_400, n_users)
    gaps = 1 + np.floor(rng.exponential(3600.0, (n_users, longest))).astype(np.int64)
    times = starts[:, None] + np.cumsum(gaps, axis=1) - gaps[:, :1]
    mask = np.arange(longest)[None, :] < lengths[:, None]
    users = np.repeat(np.arange(n_users), lengths)
    data = Interactions(users, sequences[mask], timestamps=times[mask], n_users=n_users, n_items=n_items)
    truth = {"item_cluster": item_cluster, "transitions": transitions, "item_popularity": popularity}
    return (data, truth) if return_truth else data


def synthetic_item_features(item_factors, n_features=40, *, per_item=4.0, noise=0.5, seed=0):
    """Multi-hot item features ("genres") that carry the signal of items' latent factors.

    Each feature ``g`` gets a random unit direction ``d_g`` in factor space, and item ``j`` an
    affinity to it::

        affinity[j, g] = sqrt(n_factors) * cos(item_factors[j], d_g) + noise * N(0, 1)

    (the first term has unit variance for Gaussian factors, so ``noise`` is the noise-to-signal
    ratio). Item ``j`` then carries its ``m_j`` features of highest affinity, with
    ``m_j = 1 + Poisson(per_item - 1)`` (at most ``n_features``): items with similar tastes share
    features, as films liked by the same people tend to share genres. Pass the ``item_factors``
    of :func:`synthetic_implicit`'s truth, and a content-based model
    (:class:`~turborec.models.ContentKNN`) learns something real; ``noise`` large makes the
    features useless. Popularity plays no part.

    Parameters
    ----------
    item_factors : array of shape (n_items, n_factors)
        Finite real values (e.g. ``synthetic_implicit(..., return_truth=True)[1]["item_factors"]``);
        an all-zero row gets features by noise alone.
    n_features : int, default 40
    per_item : float >= 1, default 4.0
        Mean number of features per item.
    noise : float >= 0, default 0.5
    seed : int, default 0

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_items, n_features), float32
        1.0 for each feature of each item; sorted, distinct column indices; every row non-empty.
    """
    factors = np.asarray(item_factors)
    if factors.ndim != 2 or factors.shape[1] == 0 or factors.dtype.kind not in "iuf":
        raise ValueError(f"item_factors: expected a real array of shape (n_items, n_factors >= 1), got "
                         f"{factors.dtype} of shape {factors.shape}")
    if not np.isfinite(factors).all():
        raise ValueError("item_factors: contains NaN or inf values")
    n_features, seed = _check_sizes(n_features=n_features, seed=seed)
    per_item = _check_nonnegative(per_item, "per_item")
    if per_item < 1:
        raise ValueError(f"per_item: expected a mean of at least 1 feature per item, got {per_item}")
    noise = _check_nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    n_items, n_factors = factors.shape
    directions = rng.standard_normal((n_features, n_factors))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    unit = np.divide(factors, norms, out=np.zeros(factors.shape), where=norms > 0)
    affinity = np.sqrt(n_factors) * (unit @ directions.T) + noise * rng.standard_normal((n_items, n_features))
    counts = np.minimum(1 + rng.poisson(per_item - 1.0, n_items), n_features)
    ranked = np.argsort(-affinity, axis=1, kind="stable")
    chosen = np.arange(n_features)[None, :] < counts[:, None]
    # Each row's chosen features sorted by column; the padding (n_features) sorts after them.
    indices = np.sort(np.where(chosen, ranked, n_features), axis=1)[chosen]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(n_items, n_features))


_TASTE = 2.0  # standard deviation of the taste term of the logits, against Zipf log-popularity


def _check_sizes(**values):
    out = []
    for name, value in values.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
        if value < (0 if name == "seed" else 1):
            raise ValueError(f"{name}: expected {'>= 0' if name == 'seed' else 'a positive int'}, got {value}")
        out.append(int(value))
    return out


def _check_nonnegative(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
    return float(value)


def _check_scale(rating_scale):
    try:
        low, high = rating_scale
    except (TypeError, ValueError):
        raise TypeError(f"rating_scale: expected (low, high), got {rating_scale!r}") from None
    for value in (low, high):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"rating_scale: expected two ints, got {rating_scale!r}")
    if not low < high:
        raise ValueError(f"rating_scale: expected low < high, got {rating_scale!r}")
    return int(low), int(high)


def _total(n_users, n_items, density, n_interactions):
    cells = n_users * n_items
    if density is not None and n_interactions is not None:
        raise ValueError("density, n_interactions: give at most one of them")
    if n_interactions is not None:
        if isinstance(n_interactions, (bool, np.bool_)) or not isinstance(n_interactions, (int, np.integer)):
            raise TypeError(f"n_interactions: expected an int, got {type(n_interactions).__name__}")
        if not 0 <= n_interactions <= cells:
            raise ValueError(f"n_interactions: expected 0 .. n_users * n_items = {cells}, got {n_interactions}")
        return int(n_interactions)
    density = 0.05 if density is None else density
    if isinstance(density, (bool, np.bool_)) or not isinstance(density, (int, float, np.integer, np.floating)):
        raise TypeError(f"density: expected a float, got {type(density).__name__}")
    if not 0 < density <= 1:
        raise ValueError(f"density: expected a fraction in (0, 1], got {density}")
    return int(round(density * cells))


def _tastes(rng, n_users, n_items, n_factors, exponent, scale):
    rank = rng.permutation(n_items) + 1.0
    # Factors with variance sqrt(1/k) each make user @ item of unit variance; then scale it.
    spread = np.sqrt(scale) / n_factors ** 0.25
    return {
        "user_factors": rng.standard_normal((n_users, n_factors)) * spread,
        "item_factors": rng.standard_normal((n_items, n_factors)) * spread,
        "item_bias": -exponent * np.log(rank),
    }


def _activity(rng, n_users, n_items, total):
    """Interactions per user: log-normal weights, exactly ``total`` in all, each in [min, n_items]."""
    floor = 1 if total >= n_users else 0
    weights = rng.lognormal(0.0, 0.75, n_users)
    counts = np.clip(np.floor(total * weights / weights.sum()), floor, n_items).astype(np.int64)
    # Fix the rounding: hand out (or take back) single interactions, heaviest users first.
    order = np.argsort(-weights, kind="stable")
    while counts.sum() != total:
        gap = total - int(counts.sum())
        room = counts[order] < n_items if gap > 0 else counts[order] > floor
        chosen = order[room][:abs(gap)]
        counts[chosen] += 1 if gap > 0 else -1
    return counts


def _draw_items(rng, truth, counts):
    """Per user, ``counts[u]`` distinct items drawn with probability ~ exp(logit), no replacement.

    Adding Gumbel noise to the logits and keeping the top ``counts[u]`` is exactly such a draw
    (the Gumbel top-k trick), and vectorises over a block of users at a time.
    """
    n_users, n_items = len(counts), len(truth["item_bias"])
    block = max(1, (1 << 21) // n_items)
    users, items = [], []
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        need = counts[start:stop]
        top = int(need.max()) if len(need) else 0
        if top == 0:
            continue
        logits = truth["user_factors"][start:stop] @ truth["item_factors"].T + truth["item_bias"]
        logits += rng.gumbel(size=logits.shape)
        if top < n_items:
            best = np.argpartition(-logits, top - 1, axis=1)[:, :top]
        else:
            best = np.broadcast_to(np.arange(n_items), logits.shape)
        ranked = np.take_along_axis(best, np.argsort(-np.take_along_axis(logits, best, axis=1), axis=1), axis=1)
        keep = np.arange(top)[None, :] < need[:, None]
        chosen = np.where(keep, ranked, n_items)
        chosen.sort(axis=1)
        users.append(np.repeat(np.arange(start, stop), need))
        items.append(chosen[chosen < n_items])
    if not users:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(users), np.concatenate(items)
