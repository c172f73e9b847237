"""Small pieces shared by several backend adapters."""

import numpy as np


def empty_topk(n, k, dtype):
    """Host outputs of a top-k call: int32 ids and values of ``dtype``, both (n, k)."""
    return np.empty((n, k), dtype=np.int32), np.empty((n, k), dtype=dtype)


def inverse_norms(x, xp):
    """1 / ||row|| for each row of ``x`` (0 for all-zero rows, whose cosine is then 0).

    ``xp`` is the array module of ``x`` (numpy or cupy). Result has ``x``'s dtype. Squares are
    summed in float64, so float32 vectors with norms up to float32's range do not overflow.
    """
    wide = x.astype(xp.float64)
    norms = xp.sqrt(xp.einsum("ij,ij->i", wide, wide))
    out = xp.zeros_like(norms)
    nonzero = norms > 0
    out[nonzero] = 1 / norms[nonzero]
    return out.astype(x.dtype)
