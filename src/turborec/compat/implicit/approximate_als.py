"""``implicit.approximate_als``: implicit 0.7's ALS factories with an approximate
nearest-neighbours index (nmslib, annoy, faiss), on turborec: the ALS model is turborec's, and
``recommend`` / ``similar_items`` / ``similar_users`` answer EXACTLY through its fused top-k.
The index parameters are accepted (and checked) and change nothing; neither nmslib, annoy nor
faiss is needed. See :mod:`turborec.compat.implicit.ann` and docs/implicit.md.
"""

from . import als, gpu
from .ann.annoy import AnnoyModel
from .ann.faiss import FaissModel
from .ann.nmslib import NMSLibModel

__all__ = ["AnnoyAlternatingLeastSquares", "FaissAlternatingLeastSquares", "NMSLibAlternatingLeastSquares"]


def NMSLibAlternatingLeastSquares(*args, approximate_similar_items=True, approximate_recommend=True, method="hnsw",
                                  index_params=None, query_params=None, use_gpu=gpu.HAS_CUDA, **kwargs):
    """implicit's factory: :func:`als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    <turborec.compat.implicit.als.AlternatingLeastSquares>` wrapped in an
    :class:`~turborec.compat.implicit.ann.nmslib.NMSLibModel` (exact answers).

    Returns
    -------
    NMSLibModel
    """
    model = als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    return NMSLibModel(model, approximate_similar_items=approximate_similar_items,
                       approximate_recommend=approximate_recommend, method=method, index_params=index_params,
                       query_params=query_params)


def AnnoyAlternatingLeastSquares(*args, approximate_similar_items=True, approximate_recommend=True, n_trees=50,
                                 search_k=-1, use_gpu=gpu.HAS_CUDA, **kwargs):
    """implicit's factory: :func:`als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    <turborec.compat.implicit.als.AlternatingLeastSquares>` wrapped in an
    :class:`~turborec.compat.implicit.ann.annoy.AnnoyModel` (exact answers).

    Returns
    -------
    AnnoyModel
    """
    model = als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    return AnnoyModel(model, approximate_similar_items=approximate_similar_items,
                      approximate_recommend=approximate_recommend, n_trees=n_trees, search_k=search_k)


def FaissAlternatingLeastSquares(*args, approximate_similar_items=True, approximate_recommend=True, nlist=400,
                                 nprobe=20, use_gpu=gpu.HAS_CUDA, **kwargs):
    """implicit's factory: :func:`als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    <turborec.compat.implicit.als.AlternatingLeastSquares>` wrapped in a
    :class:`~turborec.compat.implicit.ann.faiss.FaissModel` (exact answers).

    Returns
    -------
    FaissModel
    """
    model = als.AlternatingLeastSquares(*args, use_gpu=use_gpu, **kwargs)
    return FaissModel(model, approximate_similar_items=approximate_similar_items,
                      approximate_recommend=approximate_recommend, nlist=nlist, nprobe=nprobe, use_gpu=use_gpu)
