"""C++/OpenMP attention kernels (``csrc/include/turborec/attention.hpp`` via ``bind_attention.cpp``).
The contract is in ``_numpy.py``.

BLAS is pinned to one thread around every call that reaches it, even a single block of rows run
outside any OpenMP team: an unpinned OpenBLAS leaves its own threads spinning after a small
gemm, which on a busy machine costs more than the gemm. A whole forward pass is pinned once
(threadpoolctl's pin costs more than a one-user request's layer)."""

from types import SimpleNamespace

from .. import _native
from .._threads import blas_single_thread
from . import _encoder


def gelu(x, n_threads, out):
    _native.gelu(x, n_threads, out)


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    with blas_single_thread():
        _native.linear(x, weight, bias, activation, block_rows, n_threads, out)


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    _native.layer_norm(x, residual, weight, bias, eps, n_threads, out)


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    _native.masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out)


# The forward passes: the bindings called straight, under one pin for the whole pass.
_RAW = SimpleNamespace(linear=_native.linear, layer_norm=_native.layer_norm, masked_attention=_native.masked_attention)


def encoder(x, lengths, blocks, embedding_ln, settings, caches, n_threads, out):
    with blas_single_thread():
        _encoder.forward(_RAW, x, lengths, blocks, embedding_ln, settings, caches, n_threads, out)


def encoder_step(x, t, keys, values, blocks, embedding_ln, settings, n_threads, out):
    with blas_single_thread():
        _encoder.step(_RAW, x, t, keys, values, blocks, embedding_ln, settings, n_threads, out)


def pmixer_encoder(x, keep, blocks, last_ln, settings, n_threads, out):
    with blas_single_thread():
        _encoder.forward_pmixer(_RAW, x, keep, blocks, last_ln, settings, n_threads, out)
