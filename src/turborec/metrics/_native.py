"""C++/OpenMP ranking-metrics kernel (``csrc/include/turborec/metrics.hpp``). Contract: ``_numpy.py``."""

from .. import _native
from . import RANKING_METRICS

if tuple(_native.METRICS) != RANKING_METRICS:  # the header's column order must be the package's
    raise ImportError(f"turborec._native writes metrics in the order {_native.METRICS}, expected {RANKING_METRICS}: "
                      "rebuild the extension (pip install .)")


def ranking_metrics(recs, relevant, n_negatives, cutoffs, n_threads, out):
    _native.ranking_metrics(recs, *relevant, n_negatives, cutoffs, n_threads, out)
