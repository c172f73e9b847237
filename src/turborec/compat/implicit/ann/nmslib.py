"""``implicit.ann.nmslib``: ``NMSLibModel``, answered exactly (nmslib is not needed)."""

import numpy as np

from ._exact import ExactIndexModel, check_params, warn_ignored

__all__ = ["NMSLibModel"]


class NMSLibModel(ExactIndexModel):
    """implicit 0.7's ``NMSLibModel``: ``model``'s queries, answered exactly by ``model`` (see
    :mod:`turborec.compat.implicit.ann._exact`); no HNSW index is built.

    Parameters
    ----------
    model : a turborec factor model
    approximate_similar_items, approximate_recommend : bool, default True
    method : str, default "hnsw"
        nmslib's method name: accepted and ignored.
    index_params : dict, optional
        Default ``{"M": 16, "post": 0, "efConstruction": 400}``: accepted and ignored.
    query_params : dict, optional
        Default ``{"ef": 90}``: accepted and ignored.
    **kwargs
        Ignored, as implicit ignores them (with a ParameterWarning here).

    Attributes
    ----------
    max_norm : float or None
        After ``fit`` with ``approximate_recommend``: the largest norm of an item factor (the
        scale of implicit's inner-product index).
    """

    def __init__(self, model, approximate_similar_items=True, approximate_recommend=True, method="hnsw",
                 index_params=None, query_params=None, **kwargs):
        super().__init__(model, approximate_similar_items, approximate_recommend)
        if not isinstance(method, str):
            raise TypeError(f"method: expected an nmslib method name (str), got {type(method).__name__}")
        self.method = method
        self.index_params = check_params(index_params, "index_params", {"M": 16, "post": 0, "efConstruction": 400})
        self.query_params = check_params(query_params, "query_params", {"ef": 90})
        self.max_norm = None
        warn_ignored(kwargs, "NMSLibModel")

    def _fitted(self, item_factors):
        if self.approximate_recommend:
            self.max_norm = float(np.linalg.norm(item_factors, axis=1).max()) if len(item_factors) else 0.0
