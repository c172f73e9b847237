"""Baselines every evaluation should be read against: popularity and random."""

import numpy as np

from .. import selection as _topk
from ..metrics import as_relevance
from .._progress import check_show_progress
from ._base import RecommenderBase, as_user_items, resolve_backend_and_threads, topk_of_pool


class MostPopular(RecommenderBase):
    """Recommends the items most users interacted with (ties to the lower item id).

    Parameters
    ----------
    backend : str, optional
        Backend of the top-k selection (see :mod:`turborec.backends`).
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Attributes
    ----------
    item_popularity_ : float32 ndarray of shape (n_items,)
        Number of users with a stored interaction per item.
    """

    def __init__(self, backend=None, n_threads=None):
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, user_items, show_progress=True, callback=None):
        """Count each item's users.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Stored nonzero entries are interactions (other sparse formats: converted with a
            ParameterWarning; :class:`~turborec.datasets.Interactions`: every row counts).
        show_progress : bool, default True
            Accepted for implicit compatibility; counting takes well under a second, so no bar
            is drawn.
        callback : callable, optional
            Accepted for implicit compatibility; never called (there are no iterations).

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        # A canonical copy: a stored zero is no interaction, a duplicate entry is one user.
        user_items = as_relevance(as_user_items(user_items), "user_items")
        self.n_users_, self.n_items_ = user_items.shape
        self.item_popularity_ = np.bincount(user_items.indices, minlength=self.n_items_).astype(np.float32)
        self.backend_, self.n_threads_ = resolve_backend_and_threads(self.backend, self.n_threads)
        return self

    def _score(self, users):
        return np.repeat(self.item_popularity_[None, :], len(users), axis=0)

    def _rank(self, users, N, exclude, candidates):
        # Only the most popular (N + most liked items of a user) can make any user's list.
        pool = np.arange(self.n_items_) if candidates is None else candidates
        longest = 0 if exclude is None else int(np.diff(exclude.indptr).max(initial=0))
        width = min(len(pool), N + longest)
        if width == 0:
            return np.empty((len(users), 0), np.int32), np.empty((len(users), 0), np.float32)
        best, _ = _topk.topk(self.item_popularity_[pool][None, :], width, backend=self.backend_,
                             n_threads=self.n_threads_)
        shortlist = np.sort(pool[best[0]])
        queries = np.ones((len(users), 1), np.float32)
        return _topk.topk_dot(queries, self.item_popularity_[:, None], N, exclude=exclude, candidates=shortlist,
                              backend=self.backend_, n_threads=self.n_threads_)


class Random(RecommenderBase):
    """Recommends items in a random order, fresh on every call (seeded once at construction).

    Parameters
    ----------
    seed : int, default 0
        Seed of the generator drawn from at every ``recommend`` (re-seeded by every ``fit``).
    backend, n_threads
        As in :class:`MostPopular`.
    """

    def __init__(self, seed=0, backend=None, n_threads=None):
        self.seed = seed
        self.backend = backend
        self.n_threads = n_threads

    def fit(self, user_items, show_progress=True, callback=None):
        """Remember the shape of ``user_items`` and seed the generator.

        The random order is drawn at every ``recommend``.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Only its shape is used.
        show_progress : bool, default True
            Accepted for implicit compatibility; nothing to report.
        callback : callable, optional
            Accepted for implicit compatibility; never called.

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        user_items = as_user_items(user_items)
        self.n_users_, self.n_items_ = user_items.shape
        self.backend_, self.n_threads_ = resolve_backend_and_threads(self.backend, self.n_threads)
        self._rng = np.random.default_rng(self.seed)
        return self

    def _score(self, users):
        return self._rng.random((len(users), self.n_items_), dtype=np.float32)

    def _rank(self, users, N, exclude, candidates):
        pool = np.arange(self.n_items_) if candidates is None else candidates
        block = max(1, (1 << 24) // max(len(pool), 1))  # bound the random score block to ~64 MiB
        ids, scores = [], []
        for start in range(0, len(users), block):
            stop = min(start + block, len(users))
            random_scores = self._rng.random((stop - start, len(pool)), dtype=np.float32)
            i, s = topk_of_pool(random_scores, N, None if exclude is None else exclude[start:stop], pool,
                                self.n_items_, self.backend_, self.n_threads_)
            ids.append(i)
            scores.append(s)
        return np.vstack(ids), np.vstack(scores)
