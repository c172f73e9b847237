"""``implicit.lmf``: the ``LogisticMatrixFactorization`` factory, on turborec's model."""

import numpy as np

from ...models.lmf import LogisticMatrixFactorization as _Model
from . import gpu


def LogisticMatrixFactorization(factors=30, learning_rate=1.0, regularization=0.6, dtype=np.float32, iterations=30,
                                neg_prop=30, use_gpu=gpu.HAS_CUDA, num_threads=0, random_state=None):
    """implicit 0.7's factory (same parameters, in its order): a
    :class:`turborec.models.LogisticMatrixFactorization`.

    Parameters
    ----------
    factors, learning_rate, regularization, dtype, iterations, neg_prop, num_threads, random_state
        As in :class:`turborec.models.LogisticMatrixFactorization`.
    use_gpu : bool, default ``gpu.HAS_CUDA`` (False)
        turborec has no GPU LMF model yet: True is a NotImplementedError.

    Returns
    -------
    turborec.models.LogisticMatrixFactorization
    """
    if use_gpu:
        raise NotImplementedError("use_gpu: turborec has no GPU LMF model yet; use use_gpu=False")
    return _Model(factors=factors, learning_rate=learning_rate, regularization=regularization, dtype=dtype,
                  iterations=iterations, neg_prop=neg_prop, num_threads=num_threads, random_state=random_state)
