"""Built-in synthetic data (seeded, no download needed)."""

import numpy as np
import scipy.sparse as sp


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
