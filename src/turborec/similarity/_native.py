"""C++/OpenMP similarity kernel (``csrc/include/turborec/similarity.hpp`` via
``bind_similarity.cpp``). The contract is in ``_numpy.py``."""

from .. import _native
from . import ACCUMULATE, COMBINE

# the header's codes must be the package's
if tuple(_native.SIMILARITY_COMBINE) != COMBINE or tuple(_native.SIMILARITY_ACCUMULATE) != ACCUMULATE:
    raise ImportError(f"turborec._native numbers the similarity codes {_native.SIMILARITY_COMBINE} and "
                      f"{_native.SIMILARITY_ACCUMULATE}, expected {COMBINE} and {ACCUMULATE}: rebuild the "
                      "extension (pip install .)")


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    n, d = len(a[0]) - 1, len(bt[0]) - 1
    _native.sparse_dot_topk(*a, n, *bt, d, m, *rows, k, scoring.combine, row_weight, col_weight,
                            float(scoring.shrinkage), float(scoring.min_score), scoring.exclude_self,
                            scoring.accumulate, capacity, n_threads, ids, values)
