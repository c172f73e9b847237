"""C++ SGD epochs (``csrc/include/turborec/sgd.hpp``). Contract: ``_numpy.py``."""

from .. import _native


def svd_epoch(users, items, ratings, bounds, bu, bi, pu, qi, global_mean, biased, rates, n_blocks, n_epochs, n_threads,
              out_bu, out_bi, out_pu, out_qi):
    _native.svd_epoch(users, items, ratings, bounds, bu, bi, pu, qi, global_mean, biased, rates, n_blocks, n_epochs,
                      n_threads, out_bu, out_bi, out_pu, out_qi)


def svdpp_epoch(users, items, ratings, implicit, bu, bi, pu, qi, yj, global_mean, rates, exact, n_threads, out_bu,
                out_bi, out_pu, out_qi, out_yj):
    _native.svdpp_epoch(users, items, ratings, *implicit, bu, bi, pu, qi, yj, global_mean, rates, exact, n_threads,
                        out_bu, out_bi, out_pu, out_qi, out_yj)


def nmf_epoch(users, items, ratings, bu, bi, pu, qi, global_mean, biased, rates, n_threads, out_bu, out_bi,
              out_pu, out_qi):
    _native.nmf_epoch(users, items, ratings, bu, bi, pu, qi, global_mean, biased, rates, n_threads, out_bu, out_bi,
                      out_pu, out_qi)


def pair_dots(a, rows_a, b, rows_b, n_threads, out):
    _native.pair_dots(a, rows_a, b, rows_b, n_threads, out)


def block_order(users, items, user_range, item_range, n_blocks, chunk, n_threads, order, bounds):
    _native.block_order(users, items, user_range, item_range, n_blocks, chunk, n_threads, order, bounds)
