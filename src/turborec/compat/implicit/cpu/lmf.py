"""``implicit.cpu.lmf``: the LMF model class, on turborec's kernels."""

from ....models.lmf import LogisticMatrixFactorization

__all__ = ["LogisticMatrixFactorization"]
