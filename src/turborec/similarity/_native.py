"""C++/OpenMP similarity kernels (``csrc/include/turborec/similarity.hpp`` and ``corated.hpp`` via
``bind_similarity.cpp``). The contract is in ``_numpy.py``."""

from .. import _native
from . import ACCUMULATE, COMBINE
from ._corated import CORATED_MEASURES

# the header's codes must be the package's
if tuple(_native.SIMILARITY_COMBINE) != COMBINE or tuple(_native.SIMILARITY_ACCUMULATE) != ACCUMULATE:
    raise ImportError(f"turborec._native numbers the similarity codes {_native.SIMILARITY_COMBINE} and "
                      f"{_native.SIMILARITY_ACCUMULATE}, expected {COMBINE} and {ACCUMULATE}: rebuild the "
                      "extension (pip install .)")
if tuple(_native.SIMILARITY_CORATED) != CORATED_MEASURES:
    raise ImportError(f"turborec._native numbers the co-rated measures {_native.SIMILARITY_CORATED}, expected "
                      f"{CORATED_MEASURES}: rebuild the extension (pip install .)")


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    n, d = len(a[0]) - 1, len(bt[0]) - 1
    _native.sparse_dot_topk(*a, n, *bt, d, m, *rows, k, scoring.combine, row_weight, col_weight,
                            float(scoring.shrinkage), float(scoring.min_score), scoring.min_support,
                            scoring.exclude_self, scoring.accumulate, capacity, n_threads, ids, values)


def corated_similarity(r, r_t, measure, min_support, shrinkage, n_threads, out):
    n, m = len(r[0]) - 1, len(r_t[0]) - 1
    _native.corated_similarity(*r, n, m, *r_t, measure, min_support, shrinkage, n_threads, out)


def corated_topk(r, r_t, measure, min_support, shrinkage, rows, k, min_score, capacity, n_threads, ids, values):
    n, m = len(r[0]) - 1, len(r_t[0]) - 1
    _native.corated_topk(*r, n, m, *r_t, measure, min_support, shrinkage, *rows, k, float(min_score), capacity,
                         n_threads, ids, values)
