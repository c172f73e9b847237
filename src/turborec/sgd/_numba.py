"""Numba SGD epochs: the loops of ``csrc/include/turborec/sgd.hpp`` (see ``_numpy.py`` for the
contract), compiled without ``fastmath`` so that every sum keeps its order; scalars are cast to
the model's dtype (``t``) so float32 models compute in float32, as the C++ kernels do."""

import numpy as np
from numba import njit, prange

from .._jit import launch


def _typed(pu, rates, global_mean):
    t = pu.dtype.type
    return t(0), t(1), t(global_mean), tuple(t(x) for x in rates)


LANES = 32  # sgd.hpp's kDotLanes


@njit(cache=True, nogil=True)
def _dot_lanes(q, p, lanes):
    """sgd.hpp's dot_lanes: 32 interleaved partial sums (``lanes``, zeroed here), combined by
    halving: lanes[l] += lanes[l + w] for w = 16, 8, 4, 2, 1."""
    lanes[:] = 0
    k = len(q)
    whole = k - k % LANES
    for f in range(0, whole, LANES):
        for lane in range(LANES):
            lanes[lane] += q[f + lane] * p[f + lane]
    for lane in range(k - whole):
        lanes[lane] += q[whole + lane] * p[whole + lane]
    width = LANES // 2
    while width >= 1:
        for lane in range(width):
            lanes[lane] += lanes[lane + width]
        width //= 2
    return lanes[0]


@njit(cache=True, nogil=True)
def _svd_steps(users, items, ratings, begin, end, one, mu, biased, rates, bu, bi, pu, qi):
    lr_bu, lr_bi, lr_pu, lr_qi, _, reg_bu, reg_bi, reg_pu, reg_qi, _ = rates
    k = pu.shape[1]
    keep_p, keep_q = one - lr_pu * reg_pu, one - lr_qi * reg_qi
    lanes = np.zeros(LANES, dtype=pu.dtype)
    for r in range(begin, end):
        u = users[r]
        i = items[r]
        err = ratings[r] - (mu + bu[u] + bi[i] + _dot_lanes(qi[i], pu[u], lanes))
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        step_p, step_q = lr_pu * err, lr_qi * err  # sgd.hpp's p = (1 - lr_pu reg_pu) p + (lr_pu e) q
        for f in range(k):
            puf = pu[u, f]
            qif = qi[i, f]
            pu[u, f] = keep_p * puf + step_p * qif
            qi[i, f] = keep_q * qif + step_q * puf


@njit(cache=True, nogil=True, parallel=True)
def _svd_blocks(users, items, ratings, bounds, n_blocks, one, mu, biased, rates, bu, bi, pu, qi):
    """Sub-epoch s runs its blocks in parallel: they share no user and no item (sgd.hpp)."""
    for s in range(n_blocks):
        for b in prange(n_blocks):
            _svd_steps(users, items, ratings, bounds[s * n_blocks + b], bounds[s * n_blocks + b + 1], one, mu, biased,
                       rates, bu, bi, pu, qi)


@njit(cache=True, nogil=True)
def _svdpp(users, items, ratings, indptr, indices, sizes, zero, one, mu, rates, exact, bu, bi, pu, qi, yj):
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj = rates
    k = pu.shape[1]
    decay = one - lr_yj * reg_yj
    s = np.zeros(k, dtype=pu.dtype)
    shift = np.zeros(k, dtype=pu.dtype)
    eqs = np.zeros(k, dtype=pu.dtype)
    seen = np.full(0 if exact else qi.shape[0], -1, dtype=np.int64)
    n_ratings = len(ratings)
    r = 0
    while r < n_ratings:
        u = users[r]
        end = r + 1
        while end < n_ratings and users[end] == u:
            end += 1
        begin, stop = indptr[u], indptr[u + 1]
        n_nu = stop - begin
        sqrt_nu = np.sqrt(sizes[u])
        fast = not exact
        if fast:
            for a in range(begin, stop):
                if seen[indices[a]] == r:
                    fast = False
                    break
                seen[indices[a]] = r
        scale = one
        shift[:] = zero
        run_start = r
        while r < end:
            i = items[r]
            if not fast or r == run_start:
                s[:] = zero
                for a in range(begin, stop):
                    j = indices[a]
                    for f in range(k):
                        s[f] += yj[j, f] / sqrt_nu
            dot = zero
            for f in range(k):
                dot += qi[i, f] * (pu[u, f] + s[f])
            err = ratings[r] - (mu + bu[u] + bi[i] + dot)
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
            for f in range(k):
                puf = pu[u, f]
                qif = qi[i, f]
                pu[u, f] += lr_pu * (err * qif - reg_pu * puf)
                qi[i, f] += lr_qi * (err * (puf + s[f]) - reg_qi * qif)
                eqs[f] = err * qif / sqrt_nu
            r += 1
            if n_nu == 0:
                continue
            if fast:
                n = sizes[u]
                scale *= decay
                for f in range(k):
                    c = lr_yj * eqs[f]
                    shift[f] = decay * shift[f] + c
                    s[f] = decay * s[f] + n * c / sqrt_nu
            else:
                for a in range(begin, stop):
                    j = indices[a]
                    for f in range(k):
                        yj[j, f] += lr_yj * (eqs[f] - reg_yj * yj[j, f])
        if fast:
            for a in range(begin, stop):
                j = indices[a]
                for f in range(k):
                    yj[j, f] = scale * yj[j, f] + shift[f]


@njit(cache=True, nogil=True)
def _nmf_update(factors, num, den, count, reg):
    for row in range(factors.shape[0]):
        if count[row] == 0:  # never visited (Surprise knows no such user or item)
            continue
        for f in range(factors.shape[1]):
            if factors[row, f] != 0:
                den[row, f] += count[row] * reg * factors[row, f]
                factors[row, f] *= num[row, f] / den[row, f]


@njit(cache=True, nogil=True)
def _nmf(users, items, ratings, user_count, item_count, zero, mu, biased, rates, bu, bi, pu, qi):
    lr_bu, lr_bi, _, _, _, reg_bu, reg_bi, reg_pu, reg_qi, _ = rates
    k = pu.shape[1]
    user_num = np.zeros_like(pu)
    user_den = np.zeros_like(pu)
    item_num = np.zeros_like(qi)
    item_den = np.zeros_like(qi)
    for r in range(len(ratings)):
        u = users[r]
        i = items[r]
        dot = zero
        for f in range(k):
            dot += qi[i, f] * pu[u, f]
        est = mu + bu[u] + bi[i] + dot
        err = ratings[r] - est
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        for f in range(k):
            user_num[u, f] += qi[i, f] * ratings[r]
            user_den[u, f] += qi[i, f] * est
            item_num[i, f] += pu[u, f] * ratings[r]
            item_den[i, f] += pu[u, f] * est
    _nmf_update(pu, user_num, user_den, user_count, reg_pu)
    _nmf_update(qi, item_num, item_den, item_count, reg_qi)


def svd_epoch(users, items, ratings, bounds, bu, bi, pu, qi, global_mean, biased, rates, n_blocks, n_epochs, n_threads,
              out_bu, out_bi, out_pu, out_qi):
    for source, target in zip((bu, bi, pu, qi), (out_bu, out_bi, out_pu, out_qi)):
        target[...] = source
    zero, one, mu, rates = _typed(pu, rates, global_mean)
    arguments = (one, mu if biased else zero, bool(biased), rates, out_bu, out_bi, out_pu, out_qi)
    for _ in range(n_epochs):
        if n_blocks == 1:
            _svd_steps(users, items, ratings, 0, len(ratings), *arguments)
        else:
            launch(_svd_blocks, n_threads, users, items, ratings, bounds, n_blocks, *arguments)


def svdpp_epoch(users, items, ratings, implicit, bu, bi, pu, qi, yj, global_mean, rates, exact, n_threads, out_bu,
                out_bi, out_pu, out_qi, out_yj):
    for source, target in zip((bu, bi, pu, qi, yj), (out_bu, out_bi, out_pu, out_qi, out_yj)):
        target[...] = source
    zero, one, mu, rates = _typed(pu, rates, global_mean)
    indptr, indices = implicit
    sizes = np.diff(indptr).astype(pu.dtype)  # |N(u)| in the model's dtype
    _svdpp(users, items, ratings, indptr, indices, sizes, zero, one, mu, rates, bool(exact), out_bu, out_bi, out_pu, out_qi,
           out_yj)


def nmf_epoch(users, items, ratings, bu, bi, pu, qi, global_mean, biased, rates, n_threads, out_bu, out_bi,
              out_pu, out_qi):
    for source, target in zip((bu, bi, pu, qi), (out_bu, out_bi, out_pu, out_qi)):
        target[...] = source
    zero, _, mu, rates = _typed(pu, rates, global_mean)
    # rating counts in the model's dtype, as the C++ kernel converts them
    user_count = np.bincount(users, minlength=len(pu)).astype(pu.dtype)
    item_count = np.bincount(items, minlength=len(qi)).astype(pu.dtype)
    _nmf(users, items, ratings, user_count, item_count, zero, mu if biased else zero, bool(biased), rates, out_bu,
         out_bi, out_pu, out_qi)


@njit(cache=True, nogil=True, parallel=True)
def _pair_dots(a, rows_a, b, rows_b, out):
    k = a.shape[1]
    for e in prange(len(rows_a)):
        x, y = a[rows_a[e]], b[rows_b[e]]
        s0 = s1 = s2 = s3 = 0.0
        whole = k - k % 4
        for f in range(0, whole, 4):
            s0 += np.float64(x[f]) * np.float64(y[f])
            s1 += np.float64(x[f + 1]) * np.float64(y[f + 1])
            s2 += np.float64(x[f + 2]) * np.float64(y[f + 2])
            s3 += np.float64(x[f + 3]) * np.float64(y[f + 3])
        for f in range(whole, k):
            if f % 4 == 0:
                s0 += np.float64(x[f]) * np.float64(y[f])
            elif f % 4 == 1:
                s1 += np.float64(x[f]) * np.float64(y[f])
            else:
                s2 += np.float64(x[f]) * np.float64(y[f])
        out[e] = (s0 + s1) + (s2 + s3)


def pair_dots(a, rows_a, b, rows_b, n_threads, out):
    """sgd.hpp's pair_dots (the same four partial sums, so the same bits)."""
    launch(_pair_dots, n_threads, a, rows_a, b, rows_b, out)


@njit(cache=True, nogil=True, parallel=True)
def _block_order(users, items, user_range, item_range, n_blocks, chunk, order, bounds):
    n = len(users)
    block = np.empty(n, dtype=np.int64)
    bounds[:] = 0
    for r in range(n):
        b = user_range[users[r]]
        block[r] = ((item_range[items[r]] - b + n_blocks) % n_blocks) * n_blocks + b
        bounds[block[r] + 1] += 1
    for c in range(n_blocks * n_blocks):
        bounds[c + 1] += bounds[c]
    by_block = np.empty(n, dtype=np.int64) if chunk >= 1 else order
    following = bounds[:-1].copy()
    for r in range(n):
        by_block[following[block[r]]] = r
        following[block[r]] += 1
    if chunk < 1:
        return
    for c in prange(n_blocks * n_blocks):
        out, group, stop = bounds[c], bounds[c], bounds[c + 1]
        run_start = np.empty(stop - group, dtype=np.int64)  # a group's runs: at most the block's ratings
        run_length = np.empty(stop - group, dtype=np.int64)
        while group < stop:
            user_chunk = users[by_block[group]] // chunk
            end, n_runs = group, 0
            while end < stop and users[by_block[end]] // chunk == user_chunk:
                if end == group or users[by_block[end]] != users[by_block[end - 1]]:
                    run_start[n_runs], run_length[n_runs] = end, 1
                    n_runs += 1
                else:
                    run_length[n_runs - 1] += 1
                end += 1
            turn = 0
            while n_runs > 0:
                kept = 0
                for j in range(n_runs):
                    order[out] = by_block[run_start[j] + turn]
                    out += 1
                    if run_length[j] > turn + 1:
                        run_start[kept], run_length[kept] = run_start[j], run_length[j]
                        kept += 1
                n_runs = kept
                turn += 1
            group = end


def block_order(users, items, user_range, item_range, n_blocks, chunk, n_threads, order, bounds):
    """sgd.hpp's block_order (the same order: a permutation has no rounding)."""
    launch(_block_order, n_threads, users, items, user_range, item_range, n_blocks, chunk, order, bounds)
