"""implicit 0.7's module layout on turborec's kernels: code written for implicit runs unchanged
after ``import turborec.compat.implicit as implicit``, computing with turborec (never by calling
implicit, which need not be installed).

What is here so far: ``als`` and ``bpr`` (the ``AlternatingLeastSquares`` and
``BayesianPersonalizedRanking`` factories), ``cpu.als`` (``AlternatingLeastSquares``,
``calculate_loss``), ``cpu.bpr``, ``evaluation`` (the ranking metrics and ``train_test_split``),
``nearest_neighbours`` (the item-item recommenders and their
weightings), ``gpu`` (``HAS_CUDA``) and ``utils`` (``ParameterWarning``, ``nonzeros``).
implicit's ``lmf``, ``evaluation.leave_k_out_split`` and ``approximate_als`` are not mirrored yet. See
docs/implicit.md.
"""

from . import als, bpr, cpu, evaluation, gpu, nearest_neighbours, utils

__version__ = "0.7.3"  # the implicit release whose API this mirrors

__all__ = ["als", "bpr", "cpu", "evaluation", "gpu", "nearest_neighbours", "utils", "__version__"]
