"""``implicit.cpu.bpr``: the BPR model class, on turborec's kernels."""

from ....models.bpr import BayesianPersonalizedRanking

__all__ = ["BayesianPersonalizedRanking"]
