"""C++/OpenMP attention kernels (``csrc/include/turborec/attention.hpp`` via ``bind_attention.cpp``).
The contract is in ``_numpy.py``.

RecBole's forward pass (``encoder``, without caches) is one C++ call, ``encoder_forward``: the
embedding sum, then the same linear / layer_norm / masked_attention pieces in the same order as
``_encoder.forward`` (the other backends' composition), so the same bits, without returning to
Python between layers.

BLAS is pinned to one thread (``_threads.blas_single_thread``) around every call that reaches it,
once per forward pass."""

from types import SimpleNamespace

import numpy as np

from .. import _native
from .._threads import blas_single_thread
from . import LINEAR_BLOCK_ROWS, _encoder


def gelu(x, n_threads, out):
    _native.gelu(x, n_threads, out)


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    with blas_single_thread():
        _native.linear(x, weight, bias, activation, block_rows, n_threads, out)


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    _native.layer_norm(x, residual, weight, bias, eps, n_threads, out)


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    _native.masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out)


# The Python compositions (caches, step, SASRec.pytorch): the bindings called straight, one pin.
_RAW = SimpleNamespace(linear=_native.linear, layer_norm=_native.layer_norm, masked_attention=_native.masked_attention)


def encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out):
    with blas_single_thread():
        if caches is not None:  # start(): the keys and values of every block are kept
            _encoder.forward(_RAW, ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out)
        else:
            _native.encoder_forward(ids, lengths, *embeddings, [p["packed"] for p in blocks], *embedding_ln,
                                    settings.n_heads, settings.causal, settings.eps, settings.activation,
                                    LINEAR_BLOCK_ROWS, n_threads, out)


def encoder_topk(ids, lengths, seen, embeddings, blocks, embedding_ln, settings, table, exclude_seen, k, n_candidates,
                 plan, n_threads, out_ids, out_values):
    """encoder_forward, the exclusion, the queries' int8 codes and the selection kernel in one C++
    call (attention.hpp's encoder_topk); ``table``: the float32 items, or a QuantizedItems."""
    codes, scales, scored = (None, None, table) if isinstance(table, np.ndarray) else table
    with blas_single_thread():
        _native.encoder_topk(ids, lengths, *seen, exclude_seen, *embeddings, [p["packed"] for p in blocks],
                             *embedding_ln, settings.n_heads, settings.causal, settings.eps, settings.activation,
                             LINEAR_BLOCK_ROWS, scored, codes, scales, k, n_candidates, *plan, n_threads, out_ids,
                             out_values)


def encoder_step(x, t, keys, values, blocks, embedding_ln, settings, n_threads, out):
    with blas_single_thread():
        _encoder.step(_RAW, x, t, keys, values, blocks, embedding_ln, settings, n_threads, out)


def pmixer_encoder(x, keep, blocks, last_ln, settings, n_threads, out):
    with blas_single_thread():
        _encoder.forward_pmixer(_RAW, x, keep, blocks, last_ln, settings, n_threads, out)
