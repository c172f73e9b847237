"""C++/OpenMP BPR epochs (``csrc/include/turborec/bpr.hpp``). Contract: ``_numpy.py``."""

from .. import _native


def bpr_epochs(likes, rows, user_factors, item_factors, seeds, learning_rate, regularization, verify, on_epoch,
               n_threads, counts):
    indptr, indices = likes
    _native.bpr_epochs(indptr, indices, rows, user_factors, item_factors, seeds, learning_rate, regularization,
                       verify, on_epoch, n_threads, counts)
