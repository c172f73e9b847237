"""Reference (NumPy, one Python step per rating) SGD epochs, the oracle of the other backends.

Contract of every backend of the family: the inputs are validated and coerced in
``__init__.py``: int64 ``users`` and ``items`` in range, ``ratings`` in the model's dtype
(float32 or float64, the dtype of every model array), in the order the pass must follow;
``svd_epoch`` also gets the int64 ``bounds`` of its ``n_blocks`` x ``n_blocks`` grid (the
ratings already ordered block by block, see ``block_order``); ``svdpp_epoch`` gets N(u) as an
int64 CSR ``(indptr, indices)`` over users. Then the model
arrays (``bu, bi, pu, qi[, yj]``, read only), ``global_mean``, ``biased`` (SVD, NMF), the
``rates`` tuple (``RATE_NAMES`` order), ``n_blocks`` (SVD), ``exact`` (SVD++), ``n_threads``,
and the outputs, one per model array, written in full with the updated model.

Arithmetic is in the model's dtype, each rate cast to it first, and every sum runs in a fixed
order, so the compiled backends equal this reference bit for bit (SVD, SVD++'s exact mode, NMF).
SVD++ and NMF sum as Surprise's Cython loops: the dot product over factors ``f = 0, 1, ...`` from
0 (``np.cumsum`` accumulates sequentially), ``s_u`` over N(u) in its order, term
``y_j / sqrt|N(u)|`` by term. SVD (either mode) sums its dot products in 32 interleaved lanes
(``_dot_lanes``, ``sgd.hpp``'s ``dot_lanes_simd``), which vectorise, and updates a factor as
``p = (1 - lr_pu reg_pu) p + (lr_pu e) q`` (three operations, not five): Surprise's updates,
rounded otherwise (float64 predictions within ~1e-13 of Surprise's on MovieLens 100K).
SVD++'s fast mode (``exact=False``: the implicit term carried in closed form along a run of one
user's ratings, see ``sgd.hpp``) is the same mathematics with other roundings; this reference
computes the exact definition for both modes.
"""

import numpy as np

from .._sorting import stable_argsort


def _copy(model, outputs):
    for source, target in zip(model, outputs):
        target[...] = source
    return outputs


def _dot(q, p):
    return np.cumsum(q * p)[-1] if len(q) else q.dtype.type(0)


def _dot_lanes(q, p, lanes=32):
    """sgd.hpp's dot_lanes: lane l sums the products f = l, l + 32, ... in order (the zero
    padding adds exact zeros), then the lanes combine by halving: s[:w] += s[w:2w] for w = 16,
    8, 4, 2, 1."""
    products = np.zeros(max(-(-len(q) // lanes), 1) * lanes, dtype=q.dtype)
    products[:len(q)] = q * p
    s = np.cumsum(products.reshape(-1, lanes), axis=0)[-1]
    width = lanes // 2
    while width >= 1:
        s = s[:width] + s[width:2 * width]
        width //= 2
    return s[0]


def svd_epoch(users, items, ratings, bounds, bu, bi, pu, qi, global_mean, biased, rates, n_blocks, n_epochs, n_threads,
              out_bu, out_bi, out_pu, out_qi):
    """The blocks one after the other (they share no rows: any order, or all at once, is the same)."""
    bu, bi, pu, qi = _copy((bu, bi, pu, qi), (out_bu, out_bi, out_pu, out_qi))
    t = pu.dtype.type
    lr_bu, lr_bi, lr_pu, lr_qi, _, reg_bu, reg_bi, reg_pu, reg_qi, _ = (t(x) for x in rates)
    mu = t(global_mean) if biased else t(0)
    for u, i, r in zip(users.tolist() * n_epochs, items.tolist() * n_epochs, np.tile(ratings, n_epochs)):
        p, q = pu[u], qi[i]  # views: updated in place
        err = r - (mu + bu[u] + bi[i] + _dot_lanes(q, p))
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        p_old, q_old = p.copy(), q.copy()  # the rewrite p = (1 - lr_pu reg_pu) p + (lr_pu e) q
        p[:] = (t(1) - lr_pu * reg_pu) * p_old + (lr_pu * err) * q_old
        q[:] = (t(1) - lr_qi * reg_qi) * q_old + (lr_qi * err) * p_old


def svdpp_epoch(users, items, ratings, implicit, bu, bi, pu, qi, yj, global_mean, rates, exact, n_threads, out_bu,
                out_bi, out_pu, out_qi, out_yj):
    bu, bi, pu, qi, yj = _copy((bu, bi, pu, qi, yj), (out_bu, out_bi, out_pu, out_qi, out_yj))
    t = pu.dtype.type
    lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, reg_bi, reg_pu, reg_qi, reg_yj = (t(x) for x in rates)
    mu = t(global_mean)
    indptr, indices = implicit
    for u, i, r in zip(users.tolist(), items.tolist(), ratings):
        nu = indices[indptr[u]:indptr[u + 1]].tolist()
        sqrt_nu = np.sqrt(t(len(nu)))
        s = np.zeros(pu.shape[1], dtype=pu.dtype)
        for j in nu:
            s += yj[j] / sqrt_nu
        p, q = pu[u], qi[i]
        err = r - (mu + bu[u] + bi[i] + _dot(q, p + s))
        bu[u] += lr_bu * (err - reg_bu * bu[u])
        bi[i] += lr_bi * (err - reg_bi * bi[i])
        p_old, q_old = p.copy(), q.copy()
        p += lr_pu * (err * q_old - reg_pu * p_old)
        q += lr_qi * (err * (p_old + s) - reg_qi * q_old)
        if nu:
            step = err * q_old / sqrt_nu
            for j in nu:  # one at a time: N(u) may list an item twice
                yj[j] += lr_yj * (step - reg_yj * yj[j])


def nmf_epoch(users, items, ratings, bu, bi, pu, qi, global_mean, biased, rates, n_threads, out_bu, out_bi,
              out_pu, out_qi):
    bu, bi, pu, qi = _copy((bu, bi, pu, qi), (out_bu, out_bi, out_pu, out_qi))
    t = pu.dtype.type
    lr_bu, lr_bi, _, _, _, reg_bu, reg_bi, reg_pu, reg_qi, _ = (t(x) for x in rates)
    mu = t(global_mean) if biased else t(0)
    user_num, user_den = np.zeros_like(pu), np.zeros_like(pu)
    item_num, item_den = np.zeros_like(qi), np.zeros_like(qi)
    for u, i, r in zip(users.tolist(), items.tolist(), ratings):
        p, q = pu[u], qi[i]
        est = mu + bu[u] + bi[i] + _dot(q, p)
        err = r - est
        if biased:
            bu[u] += lr_bu * (err - reg_bu * bu[u])
            bi[i] += lr_bi * (err - reg_bi * bi[i])
        user_num[u] += q * r
        user_den[u] += q * est
        item_num[i] += p * r
        item_den[i] += p * est
    for factors, num, den, ids, reg in ((pu, user_num, user_den, users, reg_pu), (qi, item_num, item_den, items, reg_qi)):
        counts = np.bincount(ids, minlength=len(factors)).astype(factors.dtype)[:, None]
        move = (factors != 0) & (counts > 0)  # rows without ratings are never visited
        den += np.where(move, counts * reg * factors, 0)
        factors[move] *= num[move] / den[move]


PAIR_CHUNK = 1024  # pairs gathered at a time: two (1024, k) float64 blocks stay in the cache


def pair_dots(a, rows_a, b, rows_b, n_threads, out):
    """``out[e] = a[rows_a[e]] . b[rows_b[e]]`` in float64 (each factor converted first; the
    sum's order is NumPy's: the compiled backends agree to rounding)."""
    a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    for start in range(0, len(rows_a), PAIR_CHUNK):
        end = start + PAIR_CHUNK
        np.einsum("ij,ij->i", a[rows_a[start:end]], b[rows_b[start:end]], out=out[start:end])


def block_order(users, items, user_range, item_range, n_blocks, chunk, n_threads, order, bounds):
    """sgd.hpp's block_order: a stable sort by block, then (``chunk`` >= 1) each group of a
    block's ratings sorted by turn (stable: a turn lists the group's runs in order)."""
    user_block = user_range[users]
    key = ((item_range[items] - user_block) % n_blocks) * n_blocks + user_block
    bounds[0] = 0
    np.cumsum(np.bincount(key, minlength=n_blocks * n_blocks), out=bounds[1:])
    order[:] = stable_argsort(key, n_blocks * n_blocks)
    if chunk < 1 or len(order) == 0:
        return
    n, users = len(order), users[order]
    block = np.repeat(np.arange(n_blocks * n_blocks), np.diff(bounds))
    new_group = np.r_[True, (block[1:] != block[:-1]) | (users[1:] // chunk != users[:-1] // chunk)]
    starts = np.flatnonzero(new_group | np.r_[True, users[1:] != users[:-1]])  # the runs
    turn = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    group = np.cumsum(new_group) - 1  # non-decreasing: sorting by (group, turn) keeps the blocks
    order[:] = order[np.argsort(group * (int(turn.max()) + 1) + turn, kind="stable")]
