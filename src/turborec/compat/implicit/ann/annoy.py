"""``implicit.ann.annoy``: ``AnnoyModel``, answered exactly (annoy is not needed)."""

import numpy as np

from ._exact import ExactIndexModel, check_int

__all__ = ["AnnoyModel"]


class AnnoyModel(ExactIndexModel):
    """implicit 0.7's ``AnnoyModel``: ``model``'s queries, answered exactly by ``model`` (see
    :mod:`turborec.compat.implicit.ann._exact`); no annoy trees are built.

    Parameters
    ----------
    model : a turborec factor model
    approximate_similar_items, approximate_recommend : bool, default True
    n_trees : int, default 50
        Trees of annoy's index (>= 1, or -1: annoy's automatic count): accepted and ignored.
    search_k : int, default -1
        Nodes annoy inspects per query (>= 1, or -1: ``n_trees * N``): accepted and ignored.

    Attributes
    ----------
    max_norm : float or None
        After ``fit`` with ``approximate_recommend``: the largest norm of an item factor.
    """

    def __init__(self, model, approximate_similar_items=True, approximate_recommend=True, n_trees=50, search_k=-1):
        super().__init__(model, approximate_similar_items, approximate_recommend)
        self.n_trees = check_int(n_trees, "n_trees", ("an int >= 1 or -1", lambda n: n >= 1 or n == -1))
        self.search_k = check_int(search_k, "search_k", ("an int >= 1 or -1", lambda n: n >= 1 or n == -1))
        self.max_norm = None

    def _fitted(self, item_factors):
        if self.approximate_recommend:
            self.max_norm = float(np.linalg.norm(item_factors, axis=1).max()) if len(item_factors) else 0.0
