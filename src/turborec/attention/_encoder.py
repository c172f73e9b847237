"""The Transformer encoder's forward pass, written once over a backend's kernels.

``_numpy.py`` and ``_native.py`` run it on their own ``linear``, ``layer_norm`` and
``masked_attention`` (the backend signature: inputs, parameters, ``n_threads``, outputs), so a
whole forward is one ``dispatch`` (one backend resolution, one BLAS pin) instead of one per
layer. RecBole's encoder, post-LN, per block:

    a = LayerNorm(dense(attention(x)) + x);   x = LayerNorm(dense_2(act(dense_1(a))) + a)

The final block computes keys and values for every position and everything else for the last
real one only (exact: no later block reads the other rows).

SASRec.pytorch's encoder (``forward_pmixer``) runs on the same kernels: its sequences are
left-padded to the full window and attention has no key-padding mask, so every slot is a key
(``lengths`` = the width) and the causal mask alone applies; the query that matters is the last
slot. Its three blocks (``_pmixer_block``) differ only in where LayerNorm and the residuals sit.
"""

from typing import NamedTuple

import numpy as np

from . import ACTIVATIONS, LINEAR_BLOCK_ROWS


class Settings(NamedTuple):
    """What a forward needs beyond the weights: heads, mask, LayerNorm epsilon, FFN activation
    (an index of ``ACTIVATIONS``)."""

    n_heads: int
    causal: bool
    eps: float
    activation: int


def _linear(k, x, w, b, activation, n_threads):
    out = np.empty((x.shape[0], w.shape[0]), x.dtype)
    k.linear(x, w, b, activation, LINEAR_BLOCK_ROWS, n_threads, out)
    return out


def _layer_norm(k, x, residual, weight_bias, eps, n_threads):
    out = np.empty_like(x)
    k.layer_norm(x, residual, *weight_bias, eps, n_threads, out)
    return out


def _attention(k, q, keys, values, lengths, s, last_only, n_threads):
    out = np.empty_like(q)
    k.masked_attention(q, keys, values, lengths, s.n_heads, s.causal, last_only, n_threads, out)
    return out


def _block_tail(k, attended, x, p, s, n_threads):
    """Residual + LayerNorm around the attention output, then the feed-forward sublayer."""
    x = _layer_norm(k, attended, x, p["ln1"], s.eps, n_threads)
    hidden = _linear(k, x, p["ff1"], p["ff1_bias"], s.activation, n_threads)
    return _layer_norm(k, _linear(k, hidden, p["ff2"], p["ff2_bias"], 0, n_threads), x, p["ln2"], s.eps, n_threads)


def forward(k, ids, lengths, embeddings, blocks, embedding_ln, s, caches, n_threads, out):
    """``out`` (n, d) = the encoder's output at position ``lengths - 1`` for the right-padded item
    ids (n, width); ``embeddings`` = (item table, position table), summed before the embedding
    LayerNorm. ``caches``: None, or a list that gets each block's (keys, values) of shape
    (n, width, d)."""
    items, positions = embeddings
    n, width = ids.shape
    d = items.shape[1]
    x = (items[ids] + positions[:width]).reshape(n * width, d)
    x = _layer_norm(k, x, None, embedding_ln, s.eps, n_threads)
    for i, p in enumerate(blocks):
        last = i == len(blocks) - 1
        if last:
            kv = _linear(k, x, p["kv"], p["kv_bias"], 0, n_threads).reshape(n, width, 2 * d)
            keys, values = np.ascontiguousarray(kv[..., :d]), np.ascontiguousarray(kv[..., d:])
            x = np.ascontiguousarray(x.reshape(n, width, d)[np.arange(n), lengths - 1])
            q = _linear(k, x, p["q"], p["q_bias"], 0, n_threads).reshape(n, 1, d)
        else:
            qkv = _linear(k, x, p["qkv"], p["qkv_bias"], 0, n_threads).reshape(n, width, 3 * d)
            q, keys, values = (np.ascontiguousarray(qkv[..., j * d:(j + 1) * d]) for j in range(3))
        if caches is not None:
            caches.append((keys, values))
        context = _attention(k, q, keys, values, lengths, s, last, n_threads).reshape(-1, d)
        x = _block_tail(k, _linear(k, context, p["out"], p["out_bias"], 0, n_threads), x, p, s, n_threads)
    out[...] = x


def step(k, x, t, keys, values, blocks, embedding_ln, s, n_threads, out):
    """``out`` (1, d) = the causal encoder's output for one new item at position ``t``, from its
    embedded row ``x`` (1, d) and each block's cached ``keys[b]``, ``values[b]`` (max_len, d) of
    positions ``0 .. t-1``; row ``t`` of each cache is written."""
    d = x.shape[1]
    x = _layer_norm(k, x, None, embedding_ln, s.eps, n_threads)
    lengths = np.array([t + 1], np.int32)
    for p, block_keys, block_values in zip(blocks, keys, values):
        qkv = _linear(k, x, p["qkv"], p["qkv_bias"], 0, n_threads)
        block_keys[t], block_values[t] = qkv[0, d:2 * d], qkv[0, 2 * d:]
        q = np.ascontiguousarray(qkv[:, :d]).reshape(1, 1, d)
        context = _attention(k, q, block_keys[None, :t + 1], block_values[None, :t + 1], lengths, s, True, n_threads)
        x = _block_tail(k, _linear(k, context.reshape(1, d), p["out"], p["out_bias"], 0, n_threads), x, p, s,
                        n_threads)
    out[...] = x


# ---- SASRec.pytorch (pmixer) ----


class PmixerSettings(NamedTuple):
    """SASRec.pytorch's forward settings: heads, block variant (``"original"``, ``"post_ln"``,
    ``"pre_ln"``), LayerNorm epsilon, and whether padded slots are zeroed after every block (the
    2020 code's timeline mask)."""

    n_heads: int
    variant: str
    eps: float
    timeline_mask: bool


RELU = ACTIVATIONS.index("relu")


def _pmixer_ffn(k, x, p, n_threads):
    """PointWiseFeedForward: conv2(relu(conv1(x))), kernel-1 convolutions as dense layers."""
    return _linear(k, _linear(k, x, p["ff1"], p["ff1_bias"], RELU, n_threads), p["ff2"], p["ff2_bias"], 0, n_threads)


def _pmixer_block(k, x, n, width, p, s, last, n_threads):
    """One block of SASRec.pytorch on ``x`` (n * width, d); with ``last``, the output rows of the
    last slot only (n, d). Per variant (``MHA(query, key=value)``, causal):

        original:  Q = LN_a(x);  x = LN_f(Q + MHA(Q, x));  x = FFN(x) + x
        post_ln:   x = LN_a(x + MHA(x, x));  x = LN_f(x + FFN(x))
        pre_ln:    h = LN_a(x);  x = x + MHA(h, h);  x = x + FFN(LN_f(x))
    """
    d = x.shape[1]
    normed = _layer_norm(k, x, None, p["ln1"], s.eps, n_threads) if s.variant == "pre_ln" else None
    kv_input = x if normed is None else normed  # what keys and values are projected from
    if last:
        x = np.ascontiguousarray(x.reshape(n, width, d)[:, -1])
        if s.variant == "pre_ln":
            q_input = np.ascontiguousarray(normed.reshape(n, width, d)[:, -1])
        else:
            q_input = _layer_norm(k, x, None, p["ln1"], s.eps, n_threads) if s.variant == "original" else x
        kv = _linear(k, kv_input, p["kv"], p["kv_bias"], 0, n_threads).reshape(n, width, 2 * d)
        keys, values = np.ascontiguousarray(kv[..., :d]), np.ascontiguousarray(kv[..., d:])
        q = _linear(k, q_input, p["q"], p["q_bias"], 0, n_threads).reshape(n, 1, d)
    elif s.variant == "original":  # the query is normed, keys and values are not: two projections
        q_input = _layer_norm(k, x, None, p["ln1"], s.eps, n_threads)
        q = _linear(k, q_input, p["q"], p["q_bias"], 0, n_threads).reshape(n, width, d)
        kv = _linear(k, x, p["kv"], p["kv_bias"], 0, n_threads).reshape(n, width, 2 * d)
        keys, values = np.ascontiguousarray(kv[..., :d]), np.ascontiguousarray(kv[..., d:])
    else:
        q_input = kv_input
        qkv = _linear(k, kv_input, p["qkv"], p["qkv_bias"], 0, n_threads).reshape(n, width, 3 * d)
        q, keys, values = (np.ascontiguousarray(qkv[..., j * d:(j + 1) * d]) for j in range(3))
    lengths = np.full(n, width, np.int32)  # no key-padding mask: every slot is a key
    context = np.empty_like(q)
    k.masked_attention(q, keys, values, lengths, s.n_heads, True, last, n_threads, context)
    attended = _linear(k, context.reshape(-1, d), p["out"], p["out_bias"], 0, n_threads)
    if s.variant == "original":
        x = _layer_norm(k, attended, q_input, p["ln2"], s.eps, n_threads)
        return _pmixer_ffn(k, x, p, n_threads) + x
    if s.variant == "post_ln":
        x = _layer_norm(k, attended, x, p["ln1"], s.eps, n_threads)
        return _layer_norm(k, _pmixer_ffn(k, x, p, n_threads), x, p["ln2"], s.eps, n_threads)
    x = x + attended
    return x + _pmixer_ffn(k, _layer_norm(k, x, None, p["ln2"], s.eps, n_threads), p, n_threads)


def forward_pmixer(k, x, keep, blocks, last_ln, s, n_threads, out):
    """``out`` (n, d) = ``last_layernorm`` of SASRec.pytorch's encoder output at the last slot, for
    the embedded, left-padded input ``x`` (n, width, d) (scaled item + position embeddings, padded
    slots already zeroed when ``keep`` is given). ``keep``: None, or (n, width) 1 for an item and
    0 for padding, multiplied into every block's output (the 2020 timeline mask; the last slot is
    always an item, so the final block skips it)."""
    n, width, d = x.shape
    x = x.reshape(n * width, d)
    for i, p in enumerate(blocks):
        last = i == len(blocks) - 1
        x = _pmixer_block(k, x, n, width, p, s, last, n_threads)
        if keep is not None and not last:
            x = x * keep.reshape(n * width, 1)
    out[...] = _layer_norm(k, x, None, last_ln, s.eps, n_threads)


def encoder_topk(k, selection, ids, lengths, seen, embeddings, blocks, embedding_ln, s, table, exclude_seen, top,
                 n_candidates, plan, n_threads, out_ids, out_values):
    """The ``encoder_topk`` kernel as a composition (numba, NumPy): the backend's ``encoder`` (no
    caches), the exclusion CSR of the seen items (``_sequences.seen_exclusion``), then the
    selection family's ``topk_dot`` (``table`` a float32 array) or ``topk_dot_quantized`` (a
    ``QuantizedItems``, with the users' ``quantize_queries`` codes) of the same backend: the
    native kernel's steps, one after the other."""
    from ..selection import QuantizedItems, quantize_queries  # here: selection is not needed to load the family
    from ._sequences import seen_exclusion

    users = np.empty((len(lengths), embeddings[0].shape[1]), embeddings[0].dtype)
    k.encoder(ids, lengths, embeddings, blocks, embedding_ln, s, None, n_threads, users)
    quantized = isinstance(table, QuantizedItems)
    scored = table.items if quantized else table
    exclude = seen_exclusion(*seen, scored.shape[0], exclude_seen)
    if quantized:
        selection.topk_dot_quantized(users, quantize_queries(users), table.codes, table.scales, scored, exclude, top,
                                     n_candidates, plan, n_threads, out_ids, out_values)
    else:
        selection.topk_dot(users, scored, exclude, None, None, top, plan, n_threads, out_ids, out_values)
