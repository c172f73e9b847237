"""``implicit.als``: the ``AlternatingLeastSquares`` factory, on turborec's model."""

import numpy as np

from ...models.als import AlternatingLeastSquares as _Model
from . import gpu


def AlternatingLeastSquares(factors=100, regularization=0.01, alpha=1.0, dtype=np.float32, use_native=True,
                            use_cg=True, use_gpu=gpu.HAS_CUDA, iterations=15, calculate_training_loss=False,
                            num_threads=0, random_state=None):
    """implicit 0.7's factory (same parameters, in its order): a
    :class:`turborec.models.AlternatingLeastSquares`.

    Parameters
    ----------
    factors, regularization, alpha, dtype, use_native, use_cg, iterations, calculate_training_loss,
    num_threads, random_state
        As in :class:`turborec.models.AlternatingLeastSquares`.
    use_gpu : bool, default ``gpu.HAS_CUDA`` (False)
        turborec has no GPU ALS model yet: True is a NotImplementedError.

    Returns
    -------
    turborec.models.AlternatingLeastSquares
    """
    if use_gpu:
        raise NotImplementedError("use_gpu: turborec has no GPU ALS model yet; use use_gpu=False")
    return _Model(factors, regularization, alpha, dtype, use_native, use_cg, iterations, calculate_training_loss,
                  num_threads, random_state)
