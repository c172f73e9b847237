"""implicit 0.7's module layout on turborec's kernels: code written for implicit runs unchanged
after ``import turborec.compat.implicit as implicit``, computing with turborec (never by calling
implicit, which need not be installed).

What is here so far: ``als``, ``bpr`` and ``lmf`` (the ``AlternatingLeastSquares``,
``BayesianPersonalizedRanking`` and ``LogisticMatrixFactorization`` factories), ``cpu.als``
(``AlternatingLeastSquares``, ``calculate_loss``), ``cpu.bpr``, ``cpu.lmf``, ``evaluation`` (the ranking metrics and ``train_test_split``),
``nearest_neighbours`` (the item-item recommenders and their
weightings), ``gpu`` (``HAS_CUDA``) and ``utils`` (``ParameterWarning``, ``nonzeros``).
implicit's ``evaluation.leave_k_out_split`` and ``approximate_als`` are not mirrored yet. See
docs/implicit.md.
"""

from . import als, bpr, cpu, evaluation, gpu, lmf, nearest_neighbours, utils

__version__ = "0.7.3"  # the implicit release whose API this mirrors

__all__ = ["als", "bpr", "cpu", "evaluation", "gpu", "lmf", "nearest_neighbours", "utils", "__version__"]
