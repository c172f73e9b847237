"""Numba attention kernels: the algorithms of ``csrc/include/turborec/attention.hpp``,
JIT-compiled. Contract: ``_numpy.py``. The dense product of ``linear`` is NumPy's BLAS call
(BLAS pinned to one thread), its bias and activation a parallel loop."""

import math
import sys

import numpy as np
from numba import njit, prange

from .._jit import launch
from .._threads import blas_single_thread
from . import _encoder

MASKED = -10000.0  # RecBole's additive mask value (the header's and the reference's)


def _saturated(dtype):
    """|z| past which erf(z) is +-1 in ``dtype`` (attention.hpp's gelu_exact)."""
    return 4.0 if dtype == np.float32 else 6.0


@njit(cache=True, nogil=True)
def _gelu_value(x, limit):
    z = x / math.sqrt(2.0)
    e = 1.0 if z >= limit else (-1.0 if z <= -limit else math.erf(z))
    return x * 0.5 * (1.0 + e)


@njit(cache=True, nogil=True, parallel=True)
def _gelu_kernel(flat, limit, out):
    for i in prange(flat.shape[0]):
        out[i] = _gelu_value(flat[i], limit)


@njit(cache=True, nogil=True, parallel=True)
def _bias_activation_kernel(out, bias, has_bias, activation, limit):
    rows, cols = out.shape
    for r in prange(rows):
        for c in range(cols):
            value = out[r, c] + bias[c] if has_bias else out[r, c]
            if activation == 1:
                value = _gelu_value(value, limit)
            elif activation == 2:
                value = max(value, 0.0)
            out[r, c] = value


@njit(cache=True, nogil=True, parallel=True)
def _layer_norm_kernel(x, residual, has_residual, weight, bias, eps, out):
    rows, d = x.shape
    for r in prange(rows):
        for c in range(d):
            out[r, c] = x[r, c] + residual[r, c] if has_residual else x[r, c]  # the sum in the dtype
        mean = 0.0
        for c in range(d):
            mean += float(out[r, c])
        mean /= d
        var = 0.0
        for c in range(d):
            var += (float(out[r, c]) - mean) ** 2
        inv = 1.0 / math.sqrt(var / d + eps)
        for c in range(d):
            out[r, c] = out.dtype.type((float(out[r, c]) - mean) * inv) * weight[c] + bias[c]


@njit(cache=True, nogil=True, parallel=True)
def _attention_kernel(q, k, v, lengths, n_heads, causal, last_only, out):
    n, L, D = k.shape
    lq = q.shape[1]
    hs = D // n_heads
    root = np.sqrt(q.dtype.type(hs))
    for task in prange(n * lq):
        b, row = task // lq, task % lq
        length = lengths[b]
        pos = length - 1 if last_only else row
        scores = np.empty(L, q.dtype)
        for h in range(n_heads):
            off = h * hs
            top = -np.inf
            for j in range(L):
                dot = q.dtype.type(0)
                for c in range(hs):
                    dot += q[b, row, off + c] * k[b, j, off + c]
                visible = j < length and (not causal or j <= pos)
                s = dot / root + (q.dtype.type(0) if visible else q.dtype.type(MASKED))
                scores[j] = s
                top = max(top, s)
            total = q.dtype.type(0)
            for j in range(L):
                scores[j] = np.exp(scores[j] - top)
                total += scores[j]
            for c in range(hs):
                out[b, row, off + c] = 0
            for j in range(L):
                p = scores[j] / total
                if p == 0:
                    continue
                for c in range(hs):
                    out[b, row, off + c] += p * v[b, j, off + c]


def gelu(x, n_threads, out):
    launch(_gelu_kernel, n_threads, x.reshape(-1), _saturated(x.dtype), out.reshape(-1))


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    with blas_single_thread():
        np.matmul(x, weight.T, out=out)
    if bias is not None or activation:
        has_bias = bias is not None
        launch(_bias_activation_kernel, n_threads, out, bias if has_bias else out[0], has_bias, activation,
               _saturated(out.dtype))


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    has_residual = residual is not None
    launch(_layer_norm_kernel, n_threads, x, residual if has_residual else x, has_residual, weight, bias, eps, out)


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    launch(_attention_kernel, n_threads, q, k, v, lengths, n_heads, causal, last_only, out)


def encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out):
    _encoder.forward(_KERNELS, ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out)


def encoder_step(x, t, keys, values, blocks, embedding_ln, settings, n_threads, out):
    _encoder.step(_KERNELS, x, t, keys, values, blocks, embedding_ln, settings, n_threads, out)


def pmixer_encoder(x, keep, blocks, last_ln, settings, n_threads, out):
    _encoder.forward_pmixer(_KERNELS, x, keep, blocks, last_ln, settings, n_threads, out)


def encoder_topk(ids, lengths, seen, embeddings, blocks, embedding_ln, settings, table, exclude_seen, k, n_candidates,
                 plan, n_threads, out_ids, out_values):
    from ..selection import _numba as selection

    _encoder.encoder_topk(_KERNELS, selection, ids, lengths, seen, embeddings, blocks, embedding_ln, settings, table,
                          exclude_seen, k, n_candidates, plan, n_threads, out_ids, out_values)


_KERNELS = sys.modules[__name__]
