"""The sparse result of a similarity top-k kernel: each kernel writes padded ``(rows, k)`` blocks
of ids and scores (-1 and -inf past a row's entries), which are compacted here into the CSR.
Shared by ``sparse_dot_topk`` (every sparse measure) and ``corated_topk`` (the co-rated ones)."""

import numpy as np
import scipy.sparse as sp

from .._dispatch import dispatch
from ..selection import topk_capacity

# Rows are taken this many padded entries at a time, so that the padded block stays bounded.
BLOCK_ENTRIES = 1 << 22


def padded_topk(kernel, inputs, params, n, m, k, dtype, backend, n_threads):
    """The CSR (n x m) of each row's top-k from the similarity ``kernel``, run once per block of
    rows; ``params(rows, k, capacity)`` gives its parameters for the rows ``(r0, r1)``. Each
    row's entries are stored best first (``has_sorted_indices`` is False)."""
    k = min(k, m)
    block = max(1, BLOCK_ENTRIES // max(k, 1))
    counts, chunks_ids, chunks_values = [], [], []
    for r0 in range(0, max(n, 1), block):
        r1 = min(n, r0 + block)
        ids, values = dispatch("similarity", kernel, inputs=inputs, params=params((r0, r1), k, topk_capacity(k)),
                               outputs=[((r1 - r0, k), np.int32), ((r1 - r0, k), dtype)], backend=backend,
                               n_threads=n_threads)
        stored = ids >= 0  # each row's entries come first, best first; -1 pads the rest
        counts.append(stored.sum(axis=1))
        chunks_ids.append(ids[stored])
        chunks_values.append(values[stored])
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    out = sp.csr_matrix((np.concatenate(chunks_values).astype(dtype, copy=False), np.concatenate(chunks_ids),
                         indptr), shape=(n, m))
    out.has_sorted_indices = False  # best first, not by column
    return out
