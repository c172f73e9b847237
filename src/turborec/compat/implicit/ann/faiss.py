"""``implicit.ann.faiss``: ``FaissModel``, answered exactly (faiss is not needed)."""

from .. import gpu
from .... import _validation as v
from ._exact import ExactIndexModel, check_int

__all__ = ["FaissModel"]


class FaissModel(ExactIndexModel):
    """implicit 0.7's ``FaissModel``: ``model``'s queries, answered exactly by ``model`` (see
    :mod:`turborec.compat.implicit.ann._exact`); no IVF index is built.

    Parameters
    ----------
    model : a turborec factor model
    approximate_similar_items, approximate_recommend : bool, default True
    nlist : int, default 400
        Cells of faiss's IVF index (>= 1): accepted and ignored.
    nprobe : int, default 20
        Cells visited per query (>= 1): accepted and ignored.
    use_gpu : bool, default ``gpu.HAS_CUDA`` (False)
        Where faiss would search: accepted and ignored (the model's own backend answers).

    Attributes
    ----------
    factors : int or None
        After ``fit``: the width of the item factors.
    quantizer, gpu_resources : None
        faiss objects implicit keeps; none here.
    """

    def __init__(self, model, approximate_similar_items=True, approximate_recommend=True, nlist=400, nprobe=20,
                 use_gpu=gpu.HAS_CUDA):
        super().__init__(model, approximate_similar_items, approximate_recommend)
        self.nlist = check_int(nlist, "nlist", ("an int >= 1", lambda n: n >= 1))
        self.nprobe = check_int(nprobe, "nprobe", ("an int >= 1", lambda n: n >= 1))
        self.use_gpu = v.as_bool(use_gpu, "use_gpu")
        self.quantizer = None
        self.gpu_resources = None
        self.factors = None

    def _fitted(self, item_factors):
        self.factors = item_factors.shape[1]
