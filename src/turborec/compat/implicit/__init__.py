"""implicit 0.7's module layout on turborec's kernels: code written for implicit runs unchanged
after ``import turborec.compat.implicit as implicit``, computing with turborec (never by calling
implicit, which need not be installed).

What is here so far: ``als`` (the ``AlternatingLeastSquares`` factory), ``cpu.als``
(``AlternatingLeastSquares``, ``calculate_loss``), ``nearest_neighbours`` (the item-item
recommenders and their weightings), ``gpu`` (``HAS_CUDA``) and ``utils`` (``ParameterWarning``,
``nonzeros``). implicit's ``bpr``, ``lmf``, ``evaluation`` and ``approximate_als`` are not
mirrored yet. See docs/implicit.md.
"""

from . import als, cpu, gpu, nearest_neighbours, utils

__version__ = "0.7.3"  # the implicit release whose API this mirrors

__all__ = ["als", "cpu", "gpu", "nearest_neighbours", "utils", "__version__"]
