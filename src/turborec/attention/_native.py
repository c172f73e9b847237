"""C++/OpenMP attention kernels (``csrc/include/turborec/attention.hpp`` via ``bind_attention.cpp``).
The contract is in ``_numpy.py``."""

from .. import _native
from .._threads import blas_single_thread


def gelu(x, n_threads, out):
    _native.gelu(x, n_threads, out)


def linear(x, weight, bias, activation, block_rows, n_threads, out):
    with blas_single_thread():
        _native.linear(x, weight, bias, activation, block_rows, n_threads, out)


def layer_norm(x, residual, weight, bias, eps, n_threads, out):
    _native.layer_norm(x, residual, weight, bias, eps, n_threads, out)


def masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out):
    _native.masked_attention(q, k, v, lengths, n_heads, causal, last_only, n_threads, out)
