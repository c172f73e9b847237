"""Bayesian Personalized Ranking (Rendle et al., UAI 2009): one SGD epoch over sampled
(user, liked item, negative item) triples, as implicit 0.7's CPU BPR samples and updates.

:func:`bpr_epoch` draws ``nnz`` samples (``nnz``: the stored interactions). Sample ``s`` takes a
stored interaction ``(u, i)`` uniformly, and a negative item ``j``: the item of another uniformly
drawn stored interaction (so negatives follow item popularity, as in implicit). With
``verify_negative_samples`` a sample whose ``j`` the user liked is skipped (counted, never
redrawn: an epoch always ends, even for a user who liked every item). The update, with
``z = sigmoid(-(x_u . (y_i - y_j)))``, ``lr`` and ``reg``::

    x_uf += lr (z (y_if - y_jf) - reg x_uf)       f < F (the user's bias column is fixed)
    y_if += lr (z x_uf - reg y_if)                f <= F (column F is the item bias, x_uF = 1)
    y_jf += lr (-z x_uf - reg y_jf)

Random numbers are counter-based: sample ``s`` reads outputs ``2s + 1`` and ``2s + 2`` of the
splitmix64 sequence of ``seed`` (:func:`splitmix64`), mapped to ``[0, nnz)`` by their high 32
bits. The arithmetic (``_numpy.py`` states it exactly) is the same on every backend, so with one
thread native, numba and numpy give bit-identical factors. With more threads the samples are
split among the threads (native: chunks of 16384 consecutive samples handed out as threads come
free; numba: one contiguous block per thread) and the threads update shared rows without locks
(Hogwild, as implicit): an update racing another on the same row may be lost, and results vary
from run to run. A model's fit runs all its epochs in one kernel call (:func:`epochs`: the native
kernel checks the interactions and builds its liked-items filter once). See docs/bpr.md.
"""

import numpy as np

from .. import _validation as v
from .._dispatch import dispatch
from ..similarity._operands import check_number

__all__ = ["bpr_epoch", "splitmix64"]

# splitmix64 (Steele, Lea, Flood 2014); csrc/include/turborec/rng.hpp holds the same constants.
SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX_MULTIPLIERS = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
LANES = 8  # partial sums of the dot product (element f into lane f % 8), as bpr.hpp
MAX_INTERACTIONS = 1 << 32  # draws map to [0, nnz) by their high 32 bits


def splitmix64(seed, counters):
    """Outputs ``counters`` (uint64 array, each >= 1) of the splitmix64 sequence of ``seed``:
    ``mix64(seed + c * 0x9E3779B97F4A7C15)`` modulo 2**64, as ``csrc/include/turborec/rng.hpp``."""
    z = np.uint64(seed) + np.asarray(counters, dtype=np.uint64) * SPLITMIX_GAMMA
    z = (z ^ (z >> np.uint64(30))) * MIX_MULTIPLIERS[0]
    z = (z ^ (z >> np.uint64(27))) * MIX_MULTIPLIERS[1]
    return z ^ (z >> np.uint64(31))


def below(draws, n):
    """Draws mapped to ``[0, n)`` (``n <= 2**32``): ``floor(high32 * n / 2**32)``, as int64."""
    return ((draws >> np.uint64(32)) * np.uint64(n) >> np.uint64(32)).astype(np.int64)


class Likes:
    """A checked interaction matrix as the kernel takes it: ``arrays`` (its CSR ``(indptr,
    indices)``, rows sorted, no duplicates, no stored zeros), ``rows`` (the user of each stored
    entry, same dtype) and ``shape``. Built once by :func:`as_likes`, used by every epoch."""

    __slots__ = ("arrays", "rows", "shape")

    def __init__(self, arrays, rows, shape):
        self.arrays, self.rows, self.shape = arrays, rows, shape

    @property
    def nnz(self):
        return len(self.rows)


def as_likes(user_items, name="user_items"):
    """``user_items`` (any scipy sparse matrix) checked once: finite, non-negative values, at most
    2**32 interactions. Duplicates merge and stored zeros are dropped: a stored entry is one liked
    (user, item) pair, its value ignored (implicit's documented meaning)."""
    matrix = v.as_csr(user_items, name)
    data = matrix.data[: matrix.indptr[-1]]
    if data.dtype == np.bool_:
        data = data.view(np.uint8)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: contains NaN or inf values")
    if (data < 0).any():
        raise ValueError(f"{name}: contains negative values; BPR takes interactions (values > 0, "
                         "their size ignored), not dislikes")
    matrix = v.as_csr(matrix, name, canonical=True)
    if matrix.nnz > MAX_INTERACTIONS:
        raise ValueError(f"{name}: {matrix.nnz} stored interactions; at most 2**32 are supported")
    v.check_id_range(matrix.shape[0], name, "rows")
    v.check_id_range(matrix.shape[1], name, "columns")
    indptr, indices = v.csr_arrays(matrix)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=indices.dtype), np.diff(indptr))
    return Likes((indptr, indices), rows, matrix.shape)


def check_factors(user_factors, item_factors, shape):
    """Both factor matrices checked against each other and ``shape`` (n_users, n_items)."""
    x = v.as_float_matrix(user_factors, "user_factors", np, finite=True)
    y = v.as_float_matrix(item_factors, "item_factors", np, finite=True)
    if y.dtype != x.dtype:
        raise TypeError(f"item_factors: expected dtype {x.dtype} like user_factors, got {y.dtype}")
    if x.shape[1] < 1 or y.shape[1] != x.shape[1]:
        raise ValueError(f"user_factors, item_factors: expected one number of columns (factors + 1, the last the "
                         f"item bias), got shapes {x.shape} and {y.shape}")
    if (len(x), len(y)) != tuple(shape):
        raise ValueError(f"user_factors, item_factors: expected {shape[0]} and {shape[1]} rows (user_items is "
                         f"{shape[0]} x {shape[1]}), got shapes {x.shape} and {y.shape}")
    return x, y


def check_settings(learning_rate, regularization, seed, verify_negative_samples):
    """The plain parameters of an epoch, checked."""
    learning_rate = check_number(learning_rate, "learning_rate", 0.0)
    regularization = check_number(regularization, "regularization", 0.0)
    seed = v.as_int(seed, "seed", "an int in [0, 2**64)")
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed: expected an int in [0, 2**64), got {seed}")
    return learning_rate, regularization, seed, v.as_bool(verify_negative_samples, "verify_negative_samples")


def epochs(likes, user_factors, item_factors, learning_rate, regularization, seeds, verify, backend, n_threads,
           on_epoch=None):
    """``len(seeds)`` epochs of :func:`bpr_epoch`, one per seed in order, on operands already
    checked, updating the factors IN PLACE (the model's own arrays), in one kernel call (the native
    kernel sets up its liked-items filter once for all). ``on_epoch(e, correct, skipped)``, when
    given, is called after epoch ``e``. Returns the (correct, skipped) of each epoch, int64 of
    shape ``(len(seeds), 2)``."""
    seeds = np.asarray(seeds, dtype=np.uint64).reshape(-1)
    return dispatch("bpr", "bpr_epochs", inputs=(likes.arrays, likes.rows, user_factors, item_factors, seeds),
                    params=(learning_rate, regularization, verify, on_epoch), outputs=[((len(seeds), 2), np.int64)],
                    backend=backend, n_threads=n_threads)


def bpr_epoch(user_items, user_factors, item_factors, *, learning_rate=0.01, regularization=0.01, seed=0,
              verify_negative_samples=True, backend=None, n_threads=None):
    """One epoch of BPR stochastic gradient ascent (implicit 0.7's ``bpr_update``).

    Parameters
    ----------
    user_items : scipy.sparse matrix of shape (n_users, n_items)
        The interactions: every stored positive entry is a liked (user, item) pair, its value
        ignored; duplicates count once; stored zeros are dropped. NaN, inf or negative values
        are a ValueError. Users without interactions are never sampled.
    user_factors : array of shape (n_users, factors + 1), float32 or float64
        The last column is the item bias's user side (1 in a model); it is read, never updated.
    item_factors : array of shape (n_items, factors + 1), same dtype
        The last column is the item bias.
    learning_rate, regularization : float >= 0
        Of the update (cast to the factors' dtype).
    seed : int in [0, 2**64)
        The splitmix64 sequence this epoch draws from (a model draws one per epoch).
    verify_negative_samples : bool, default True
        Skip samples whose negative item the user liked (looked up in the sorted row).
    backend, n_threads
        See :func:`turborec.topk` (backends: native, numba, numpy). With ``n_threads=1`` every
        backend gives the same bits; with more, updates race (Hogwild) and vary between runs.

    Returns
    -------
    user_factors, item_factors : ndarray
        Updated copies (the arguments are not modified), in their dtype.
    correct : int
        Samples the factors already ranked right (``x_u . (y_i - y_j) > 0``) before their update.
    skipped : int
        Samples skipped because the user liked the negative item.
    """
    likes = as_likes(user_items)
    x, y = check_factors(user_factors, item_factors, likes.shape)
    settings = check_settings(learning_rate, regularization, seed, verify_negative_samples)
    learning_rate, regularization, seed, verify = settings
    x, y = x.copy(), y.copy()
    (correct, skipped), = epochs(likes, x, y, learning_rate, regularization, [seed], verify, backend, n_threads)
    return x, y, int(correct), int(skipped)
