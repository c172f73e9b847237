"""Users' item sequences into the right-padded batch the forward pass takes, checked once."""

import numpy as np
import scipy.sparse as sp

from .. import _validation as checks
from . import _check_lengths


def _as_list(sequences, lengths):
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        if lengths is None:
            lengths = np.full(len(sequences), sequences.shape[1])
        full = _check_lengths(lengths, len(sequences), sequences.shape[1], "lengths")
        return [sequences[b, :full[b]] for b in range(len(sequences))]
    if lengths is not None:
        raise ValueError("lengths: give it only with a padded 2-D array of sequences")
    if isinstance(sequences, (np.ndarray, str, bytes)) or not hasattr(sequences, "__len__"):
        shape = f" of shape {sequences.shape}" if isinstance(sequences, np.ndarray) else ""
        raise TypeError("sequences: expected a list of 1-D int arrays or a padded 2-D int array, got "
                        f"{type(sequences).__name__}{shape}")
    return [checks.as_array(s, f"sequences[{b}]") for b, s in enumerate(sequences)]


def check_sequence(s, n_items, name):
    """``s`` as a 1-D int array of ids in ``[1, n_items)``, at least one."""
    if s.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of item ids, got shape {s.shape}")
    if s.size == 0:
        raise ValueError(f"{name}: empty sequence (at least one item is needed)")
    if s.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer item ids, got dtype {s.dtype}")
    low, high = int(s.min()), int(s.max())
    if low < 1 or high >= n_items:
        bad = low if low < 1 else high
        raise IndexError(f"{name}: item id {bad} out of range [1, {n_items})"
                         + (" (0 is RecBole's padding id)" if bad == 0 else ""))
    return s


class Batch:
    """Sequences checked and laid out: ``padded`` int32 (n, width) right-padded with 0, each the
    ``max_len`` most recent items; ``lengths`` int32 (n,) of the kept items; ``indptr``,
    ``seen`` the CSR of every item passed (the truncated ones too)."""

    def __init__(self, sequences, lengths, n_items, max_len):
        seqs = [check_sequence(s, n_items, f"sequences[{b}]") for b, s in enumerate(_as_list(sequences, lengths))]
        n = len(seqs)
        if n == 1:  # one user's request: the fewest NumPy calls (each costs more than its work here)
            s = seqs[0]
            kept = s[-max_len:]
            self.lengths = np.array([len(kept)], dtype=np.int32)
            self.padded = kept.astype(np.int32).reshape(1, -1)
            self.indptr = np.array([0, len(s)], np.int64)
            self.seen = s  # read, never written: no copy
            return
        self.lengths = np.array([min(len(s), max_len) for s in seqs], dtype=np.int32)
        self.padded = np.zeros((n, int(self.lengths.max()) if n else 1), dtype=np.int32)
        for b, s in enumerate(seqs):
            self.padded[b, :self.lengths[b]] = s[len(s) - self.lengths[b]:]
        self.indptr = np.cumsum([0] + [len(s) for s in seqs], dtype=np.int64)
        self.seen = np.concatenate(seqs).astype(np.int64) if n else np.zeros(0, np.int64)

    def __len__(self):
        return len(self.lengths)

    def seen_csr(self):
        """``(indptr, items)``, int64: every item of each sequence, the truncated ones too."""
        return self.indptr, np.ascontiguousarray(self.seen, dtype=np.int64)

    def exclusion(self, n_items, exclude_seen):
        """:func:`seen_exclusion` of this batch's items."""
        return seen_exclusion(self.indptr, self.seen, n_items, exclude_seen)

    def exclusion_matrix(self, n_items, exclude_seen):
        """:meth:`exclusion` as a scipy CSR matrix (n, n_items)."""
        indptr, indices = self.exclusion(n_items, exclude_seen)
        return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(self), n_items))


def seen_exclusion(indptr, seen, n_items, exclude_seen):
    """The canonical CSR ``(indptr, indices)`` (int64; rows sorted, no repeats) of the items never
    recommended to each sequence: the padding id 0, and with ``exclude_seen`` every item of the
    sequence (``seen[indptr[b]:indptr[b + 1]]``, ids in ``[1, n_items)``). attention.hpp's
    ``seen_exclusion`` builds the same arrays."""
    n = len(indptr) - 1
    if n == 1:  # the padding id 0, then the sequence's items sorted (all >= 1), once each
        indices = np.array([0] + sorted(set(seen.tolist())) if exclude_seen else [0], np.int64)
        return np.array([0, len(indices)], np.int64), indices
    rows, cols = np.arange(n, dtype=np.int64), np.zeros(n, np.int64)
    if exclude_seen:
        rows = np.concatenate([rows, np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))])
        cols = np.concatenate([cols, np.asarray(seen, np.int64)])
    keys = np.unique(rows * n_items + cols)
    return np.searchsorted(keys // n_items, np.arange(n + 1), side="left").astype(np.int64), keys % n_items
