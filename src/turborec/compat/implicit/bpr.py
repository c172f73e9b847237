"""``implicit.bpr``: the ``BayesianPersonalizedRanking`` factory, on turborec's model."""

import numpy as np

from ...models.bpr import BayesianPersonalizedRanking as _Model
from . import gpu


def BayesianPersonalizedRanking(factors=100, learning_rate=0.01, regularization=0.01, dtype=np.float32,
                                iterations=100, use_gpu=gpu.HAS_CUDA, num_threads=0, verify_negative_samples=True,
                                random_state=None):
    """implicit 0.7's factory (same parameters, in its order): a
    :class:`turborec.models.BayesianPersonalizedRanking`.

    Parameters
    ----------
    factors, learning_rate, regularization, dtype, iterations, num_threads, verify_negative_samples, random_state
        As in :class:`turborec.models.BayesianPersonalizedRanking`.
    use_gpu : bool, default ``gpu.HAS_CUDA`` (False)
        turborec has no GPU BPR model yet: True is a NotImplementedError.

    Returns
    -------
    turborec.models.BayesianPersonalizedRanking
    """
    if use_gpu:
        raise NotImplementedError("use_gpu: turborec has no GPU BPR model yet; use use_gpu=False")
    return _Model(factors=factors, learning_rate=learning_rate, regularization=regularization, dtype=dtype,
                  iterations=iterations, verify_negative_samples=verify_negative_samples, num_threads=num_threads,
                  random_state=random_state)
