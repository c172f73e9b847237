"""implicit 0.7's module layout on turborec's kernels: code written for implicit runs unchanged
after ``import turborec.compat.implicit as implicit``, computing with turborec (never by calling
implicit, which need not be installed).

What is here: ``als``, ``bpr`` and ``lmf`` (the ``AlternatingLeastSquares``,
``BayesianPersonalizedRanking`` and ``LogisticMatrixFactorization`` factories), ``cpu.als``
(``AlternatingLeastSquares``, ``calculate_loss``), ``cpu.bpr``, ``cpu.lmf``, ``evaluation`` (the
ranking metrics, ``train_test_split`` and ``leave_k_out_split``), ``approximate_als`` and ``ann``
(the nmslib, annoy and faiss wrappers, answering exactly through turborec's top-k: their index
parameters are accepted and ignored), ``nearest_neighbours`` (the item-item recommenders and their
weightings), ``gpu`` (``HAS_CUDA``) and ``utils`` (``ParameterWarning``, ``nonzeros``).
See docs/implicit.md.
"""

from . import als, ann, approximate_als, bpr, cpu, evaluation, gpu, lmf, nearest_neighbours, utils

__version__ = "0.7.3"  # the implicit release whose API this mirrors

__all__ = ["als", "ann", "approximate_als", "bpr", "cpu", "evaluation", "gpu", "lmf", "nearest_neighbours", "utils",
           "__version__"]
