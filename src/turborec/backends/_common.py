"""Small pieces shared by several backend adapters."""


def inverse_norms(x, xp):
    """1 / ||row|| for each row of ``x`` (0 for all-zero rows, whose cosine is then 0).

    ``xp`` is the array module of ``x`` (numpy or cupy). Result has ``x``'s dtype.
    """
    norms = xp.sqrt(xp.einsum("ij,ij->i", x, x))
    out = xp.zeros_like(norms)
    nonzero = norms > 0
    out[nonzero] = 1 / norms[nonzero]
    return out
