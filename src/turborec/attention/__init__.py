"""Self-attention inference: the kernels of a Transformer encoder block, and the SASRec and
BERT4Rec models served from RecBole's weights (:class:`SASRec`, :class:`BERT4Rec`,
:func:`save_npz`, :func:`load_npz`).

Kernels (each validates once, then one ``dispatch``): :func:`linear` (``x W^T + b`` through the
BLAS registry, optionally followed by GELU or ReLU), :func:`gelu` (exact erf form),
:func:`layer_norm` (of a residual sum) and :func:`masked_attention` (multi-head attention over
right-padded sequences with RecBole's additive -10000 key-padding and causal mask, and the
last-position-only query of the final block). Definitions: ``_numpy.py``, the reference.
"""

import numpy as np

from .. import _validation as checks
from .._dispatch import dispatch

__all__ = ["gelu", "linear", "layer_norm", "masked_attention", "SASRec", "BERT4Rec", "save_npz", "load_npz"]

ACTIVATIONS = ("none", "gelu", "relu")  # by index: the C++ Activation enum of attention.hpp
LINEAR_BLOCK_ROWS = 256  # rows per BLAS call of linear (a fact of the problem, never of the threads)


def _as_float_array(x, name, ndim, dtype=None):
    """A C-contiguous float32/float64 array of ``ndim`` dimensions (of ``dtype`` when given),
    with finite values."""
    if ndim == 2:
        x = checks.as_float_matrix(x, name, finite=True)
    else:
        x = checks.as_array(x, name) if isinstance(x, (list, tuple)) else x
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name}: expected a {ndim}-D NumPy array, got {type(x).__name__}")
        if x.ndim != ndim:
            raise ValueError(f"{name}: expected a {ndim}-D array, got shape {x.shape}")
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
        x = np.ascontiguousarray(x)
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: contains NaN or inf")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)} like x, got {x.dtype}")
    return x


def _as_vector(x, name, length, dtype):
    x = checks.as_array(x, name) if isinstance(x, (list, tuple)) else x
    if not isinstance(x, np.ndarray) or x.ndim != 1 or x.shape[0] != length:
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{name}: expected a 1-D array of length {length}, got {shape}")
    return _as_float_array(x[None, :], name, 2, dtype)[0]


def _activation_index(activation):
    name = "none" if activation is None else activation
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected None, 'gelu' or 'relu', got {activation!r}")
    return ACTIVATIONS.index(name)


# ---- the dispatching halves: arrays already checked (the model calls these on its own arrays) ----


def _gelu(x, backend, n_threads):
    return dispatch("attention", "gelu", inputs=(x,), outputs=[(x.shape, x.dtype)], backend=backend,
                    n_threads=n_threads)


def _linear(x, weight, bias, activation, backend, n_threads):
    return dispatch("attention", "linear", inputs=(x, weight, bias), params=(activation, LINEAR_BLOCK_ROWS),
                    outputs=[((x.shape[0], weight.shape[0]), x.dtype)], backend=backend, n_threads=n_threads)


def _layer_norm(x, residual, weight, bias, eps, backend, n_threads):
    return dispatch("attention", "layer_norm", inputs=(x, residual, weight, bias), params=(eps,),
                    outputs=[(x.shape, x.dtype)], backend=backend, n_threads=n_threads)


def _attention(q, k, v_, lengths, n_heads, causal, last_only, backend, n_threads):
    return dispatch("attention", "masked_attention", inputs=(q, k, v_, lengths),
                    params=(n_heads, causal, last_only), outputs=[(q.shape, q.dtype)], backend=backend,
                    n_threads=n_threads)


# ---- the public kernels ----


def gelu(x, *, backend=None, n_threads=None):
    """Exact GELU, ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (RecBole's and BERT's ``gelu``).

    Parameters
    ----------
    x : array of shape (rows, cols), float32 or float64
        Finite values.
    backend, n_threads
        As in :func:`turborec.topk`.

    Returns
    -------
    array of the shape and dtype of ``x``
    """
    return _gelu(_as_float_array(x, "x", 2), backend, n_threads)


def linear(x, weight, bias=None, *, activation=None, backend=None, n_threads=None):
    """A dense layer, ``act(x @ weight.T + bias)``, as PyTorch's ``nn.Linear`` (then ``act``).

    Parameters
    ----------
    x : array of shape (rows, d_in), float32 or float64
    weight : array of shape (d_out, d_in), dtype of ``x``
        PyTorch's layout of ``nn.Linear.weight``.
    bias : array of shape (d_out,), optional
    activation : None, "gelu" or "relu"
        Applied after the bias (GELU in its exact erf form).
    backend, n_threads
        As in :func:`turborec.topk`.

    Returns
    -------
    array of shape (rows, d_out), dtype of ``x``
    """
    x = _as_float_array(x, "x", 2)
    weight = _as_float_array(weight, "weight", 2, x.dtype)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight: expected shape (d_out, {x.shape[1]}) like x's columns, got {weight.shape}")
    if bias is not None:
        bias = _as_vector(bias, "bias", weight.shape[0], x.dtype)
    return _linear(x, weight, bias, _activation_index(activation), backend, n_threads)


def layer_norm(x, weight, bias, *, eps=1e-12, residual=None, backend=None, n_threads=None):
    """Layer normalisation of each row of ``x`` (+ ``residual``), as PyTorch's ``nn.LayerNorm``.

    ``s = x + residual``; ``out = (s - mean(s)) / sqrt(var(s) + eps) * weight + bias`` per row,
    with the biased variance (mean and variance accumulated in float64).

    Parameters
    ----------
    x : array of shape (rows, d), float32 or float64
    weight, bias : arrays of shape (d,), dtype of ``x``
    eps : float, default 1e-12
        RecBole's ``layer_norm_eps`` default; finite, >= 0.
    residual : array of the shape and dtype of ``x``, optional
        Added to ``x`` before normalising (a Transformer block's residual connection).
    backend, n_threads
        As in :func:`turborec.topk`.

    Returns
    -------
    array of the shape and dtype of ``x``
    """
    x = _as_float_array(x, "x", 2)
    weight = _as_vector(weight, "weight", x.shape[1], x.dtype)
    bias = _as_vector(bias, "bias", x.shape[1], x.dtype)
    if residual is not None:
        residual = _as_float_array(residual, "residual", 2, x.dtype)
        if residual.shape != x.shape:
            raise ValueError(f"residual: expected shape {x.shape} like x, got {residual.shape}")
    eps = _check_eps(eps)
    return _layer_norm(x, residual, weight, bias, eps, backend, n_threads)


def _check_eps(eps):
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
        raise TypeError(f"eps: expected a float, got {type(eps).__name__}")
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: expected a finite value >= 0, got {eps}")
    return float(eps)


def _check_lengths(lengths, n, width, name="lengths"):
    """``lengths`` as C-contiguous int32 of length ``n``, each in ``[1, width]``."""
    lengths = checks.as_array(lengths, name)
    if lengths.ndim != 1 or lengths.shape[0] != n:
        raise ValueError(f"{name}: expected a 1-D array of {n} lengths, got shape {lengths.shape}")
    if lengths.size and not np.issubdtype(lengths.dtype, np.integer):
        raise TypeError(f"{name}: expected integers, got dtype {lengths.dtype}")
    if lengths.size and (lengths.min() < 1 or lengths.max() > width):
        bad = lengths.min() if lengths.min() < 1 else lengths.max()
        raise ValueError(f"{name}: {bad} out of range [1, {width}] (empty sequences are not allowed)")
    return np.ascontiguousarray(lengths, dtype=np.int32)


def masked_attention(q, k, v, lengths, n_heads, *, causal=True, last_only=False, backend=None, n_threads=None):
    """Multi-head scaled dot-product attention over right-padded sequences, RecBole's way.

    For sequence ``b``, head ``h`` (size ``hs = D / n_heads``), query position ``i`` and key
    position ``j``: ``s_j = (q_i . k_j) / sqrt(hs) + m_ij`` where the additive mask ``m_ij`` is 0
    when ``j < lengths[b]`` (a real item) and, if ``causal``, ``j <= i``, and -10000 otherwise
    (RecBole's ``get_attention_mask``); ``out_i = softmax(s) @ v`` over every key position.

    Parameters
    ----------
    q : array of shape (n, L, D), or (n, 1, D) with ``last_only``; float32 or float64
    k, v : arrays of shape (n, L, D), dtype of ``q``
    lengths : 1-D int array of length n
        Real items of each sequence, in ``[1, L]``; positions past it are padding.
    n_heads : int
        Number of heads; divides D.
    causal : bool, default True
        SASRec's left-to-right mask; False for BERT4Rec's bidirectional attention.
    last_only : bool, default False
        ``q`` holds one row per sequence, the query at position ``lengths[b] - 1`` (all the final
        block of next-item prediction needs).
    backend, n_threads
        As in :func:`turborec.topk`.

    Returns
    -------
    array of the shape and dtype of ``q``
    """
    k = _as_float_array(k, "k", 3)
    n, L, D = k.shape
    q = _as_float_array(q, "q", 3, k.dtype)
    v_ = _as_float_array(v, "v", 3, k.dtype)
    causal, last_only = checks.as_bool(causal, "causal"), checks.as_bool(last_only, "last_only")
    if v_.shape != k.shape:
        raise ValueError(f"v: expected shape {k.shape} like k, got {v_.shape}")
    want = (n, 1 if last_only else L, D)
    if q.shape != want:
        raise ValueError(f"q: expected shape {want}, got {q.shape}")
    n_heads = checks.as_int(n_heads, "n_heads", "an int")
    if n_heads < 1 or D % n_heads:
        raise ValueError(f"n_heads: expected a positive divisor of the hidden size {D}, got {n_heads}")
    lengths = _check_lengths(lengths, n, L)
    return _attention(q, k, v_, lengths, n_heads, causal, last_only, backend, n_threads)


from ._model import BERT4Rec, SASRec  # noqa: E402 - the models are built on the kernels above
from ._files import load_npz, save_npz  # noqa: E402
