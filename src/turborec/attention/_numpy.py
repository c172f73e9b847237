"""NumPy reference of the attention kernels: slow, obviously correct, the test oracle.

The contract every backend of the family meets (the public functions in ``__init__.py`` have
validated and coerced everything: C-contiguous float32 or float64 arrays of one dtype, shapes
consistent, ``lengths`` int32 in ``[1, L]``, ``n_heads`` dividing the hidden size):

- ``gelu``: ``out = x * 0.5 * (1 + erf(x / sqrt(2)))`` (exact, not the tanh approximation).
- ``linear``: ``out = act(x @ weight.T + bias)``, ``act`` one of ``ACTIVATIONS`` by index.
- ``layer_norm``: ``s = x + residual`` (in the input dtype), then per row ``(s - mean) /
  sqrt(var + eps) * weight + bias`` with the biased variance, mean and variance in float64.
- ``masked_attention``: per sequence ``b``, head ``h`` (size ``hs``), query position ``i``, key
  position ``j``: ``s_j = (q_i . k_j) / sqrt(hs) + m_ij`` with RecBole's additive mask ``m_ij =
  0`` when ``j < lengths[b]`` and (not ``causal`` or ``j <= i``), else ``-10000``; softmax over
  every ``j``; ``out_i = sum_j p_j v_j``. With ``last_only`` the one query row of a sequence
  sits at position ``lengths[b] - 1``.
- ``encoder`` / ``encoder_step``: a whole forward pass (``_encoder.forward`` / ``step``) on the
  backend's own kernels above; ``pmixer_encoder``: SASRec.pytorch's (``_encoder.forward_pmixer``).
"""

import sys

import numpy as np
from scipy.special import erf

from . import _encoder

MASKED = -10000.0  # RecBole's additive mask value


def _gelu(x):
    return x * x.dtype.type(0.5) * (1 + erf(x / np.sqrt(x.dtype.type(2))))


def _activate(x, activation):
    if activation == 1:
        return _gelu(x)
    if activation == 2:
        return np.maximum(x, 0)
    return x


def gelu(x, n_threads, out):
    out[...] = _gelu(x)


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    y = x @ weight.T
    if bias is not None:
        y = y + bias
    out[...] = _activate(y, activation)


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    s = x if residual is None else x + residual
    wide = s.astype(np.float64)
    mean = wide.mean(axis=1, keepdims=True)
    var = ((wide - mean) ** 2).mean(axis=1, keepdims=True)
    out[...] = ((wide - mean) / np.sqrt(var + eps)).astype(x.dtype) * weight + bias


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    n, L, D = k.shape
    hs = D // n_heads
    root = np.sqrt(q.dtype.type(hs))
    keys = np.arange(L)
    for b in range(n):
        length = int(lengths[b])
        positions = np.array([length - 1]) if last_only else np.arange(L)
        visible = (keys[None, :] < length) & ((not causal) | (keys[None, :] <= positions[:, None]))
        mask = np.where(visible, 0, MASKED).astype(q.dtype)
        for h in range(n_heads):
            part = slice(h * hs, (h + 1) * hs)
            scores = q[b, :, part] @ k[b, :, part].T / root + mask
            weights = np.exp(scores - scores.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            out[b, :, part] = weights @ v[b, :, part]


def encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out):
    _encoder.forward(_KERNELS, ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out)


def encoder_step(x, t, keys, values, blocks, embedding_ln, settings, n_threads, out):
    _encoder.step(_KERNELS, x, t, keys, values, blocks, embedding_ln, settings, n_threads, out)


def pmixer_encoder(x, keep, blocks, last_ln, settings, n_threads, out):
    _encoder.forward_pmixer(_KERNELS, x, keep, blocks, last_ln, settings, n_threads, out)


def encoder_topk(ids, lengths, seen, embeddings, blocks, embedding_ln, settings, table, exclude_seen, k, n_candidates,
                 plan, n_threads, out_ids, out_values):
    from ..selection import _numpy as selection

    _encoder.encoder_topk(_KERNELS, selection, ids, lengths, seen, embeddings, blocks, embedding_ln, settings, table,
                          exclude_seen, k, n_candidates, plan, n_threads, out_ids, out_values)


_KERNELS = sys.modules[__name__]
