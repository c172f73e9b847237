"""C++/OpenMP LMF half-step (``csrc/include/turborec/lmf.hpp``). Contract: ``_numpy.py``."""

from .. import _native


def lmf_update(likes, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop, seed, n_threads,
               drawn):
    indptr, indices = likes
    _native.lmf_update(indptr, indices, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop,
                       seed, n_threads, drawn)
