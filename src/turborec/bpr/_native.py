"""C++/OpenMP BPR epoch (``csrc/include/turborec/bpr.hpp``). Contract: ``_numpy.py``."""

from .. import _native


def bpr_epoch(likes, rows, user_factors, item_factors, learning_rate, regularization, seed, verify, n_threads,
              counts):
    indptr, indices = likes
    _native.bpr_epoch(indptr, indices, rows, user_factors, item_factors, learning_rate, regularization, seed, verify,
                      n_threads, counts)
