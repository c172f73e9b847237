"""C++/OpenMP attention kernels (``csrc/include/turborec/attention.hpp`` via ``bind_attention.cpp``).
The contract is in ``_numpy.py``.

RecBole's forward pass (``encoder``, without caches) is one C++ call, ``encoder_forward``: the
embedding sum, then the same linear / layer_norm / masked_attention pieces in the same order as
``_encoder.forward`` (the other backends' composition), so the same bits, without returning to
Python between layers.

BLAS is pinned to one thread around every call that reaches it: OpenBLAS splits a gemm of more
than 2^18 multiply-adds (a 30-item sequence's feed-forward) over its own threads, which on a busy
machine wait for the other core far longer than the gemm takes. threadpoolctl's pin costs ~30 us
(more than a one-user request's layer), so where every BLAS loaded is a pthreads OpenBLAS the pin
calls its ``openblas_get/set_num_threads`` directly (~1 us) and restores the previous count after
the call (after the last of overlapping calls from several Python threads); BLAS threading outside
our calls is never changed. Other BLAS: threadpoolctl's pin."""

import itertools
import threading
from types import SimpleNamespace

from .. import _native
from .._threads import blas_single_thread
from . import LINEAR_BLOCK_ROWS, _encoder

_thread_setters = None  # found on first use: [(get, set)] per OpenBLAS, or False (use threadpoolctl)
_pin_lock = threading.Lock()
_pin_users = 0  # calls inside a pin now (Python threads overlap while the GIL is released)
_pin_saved = []  # the thread counts the first of them found, restored by the last


def _openblas_thread_setters():
    """``(get, set)`` thread-count functions of every BLAS loaded, when each is an OpenBLAS with its
    own thread pool (not its OpenMP layer); else False."""
    from threadpoolctl import ThreadpoolController

    found = []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.internal_api != "openblas" or getattr(lib, "threading_layer", None) == "openmp":
            return False
        for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):  # threadpoolctl's names
            get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                found.append((get, set_))
                break
        else:
            return False
    return found


def _pinned(function, *args):
    """``function(*args)`` with BLAS on one thread; the thread counts found are restored when the
    last overlapping call (another Python thread's) ends, so none is left pinned."""
    global _thread_setters, _pin_users, _pin_saved
    if _thread_setters is None:
        _thread_setters = _openblas_thread_setters()
    if not _thread_setters:
        with blas_single_thread():
            return function(*args)
    with _pin_lock:
        if _pin_users == 0:
            _pin_saved = [get() for get, _ in _thread_setters]
            for _, set_ in _thread_setters:
                set_(1)
        _pin_users += 1
    try:
        return function(*args)
    finally:
        with _pin_lock:
            _pin_users -= 1
            if _pin_users == 0:
                for (_, set_), count in zip(_thread_setters, _pin_saved):
                    set_(count)


def gelu(x, n_threads, out):
    _native.gelu(x, n_threads, out)


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    _pinned(_native.linear, x, weight, bias, activation, block_rows, n_threads, out)


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    _native.layer_norm(x, residual, weight, bias, eps, n_threads, out)


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    _native.masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out)


# The Python compositions (caches, step, SASRec.pytorch): the bindings called straight, one pin.
_RAW = SimpleNamespace(linear=_native.linear, layer_norm=_native.layer_norm, masked_attention=_native.masked_attention)


def encoder(ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads, out):
    if caches is not None:  # start(): the keys and values of every block are kept
        _pinned(_encoder.forward, _RAW, ids, lengths, embeddings, blocks, embedding_ln, settings, caches, n_threads,
                out)
        return
    _pinned(_native.encoder_forward, ids, lengths, *embeddings, [p["packed"] for p in blocks], *embedding_ln,
            settings.n_heads, settings.causal, settings.eps, settings.activation, LINEAR_BLOCK_ROWS, n_threads, out)


def encoder_step(x, t, keys, values, blocks, embedding_ln, settings, n_threads, out):
    _pinned(_encoder.step, _RAW, x, t, keys, values, blocks, embedding_ln, settings, n_threads, out)


def pmixer_encoder(x, keep, blocks, last_ln, settings, n_threads, out):
    _pinned(_encoder.forward_pmixer, _RAW, x, keep, blocks, last_ln, settings, n_threads, out)
