"""Stable orders of small non-negative integer keys (user, item and block numbers)."""

import numpy as np

RADIX_KEYS = 1 << 16


def stable_argsort(keys, n_keys):
    """``np.argsort(keys, kind="stable")`` for int keys in ``[0, n_keys)``.

    Keys that fit 16 bits are sorted as uint16, which NumPy sorts by radix: ~8x faster than the
    merge sort it runs on int64 keys (80,000 ratings: 0.6 ms against 5 ms).
    """
    keys = np.asarray(keys)
    if n_keys <= RADIX_KEYS:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable")
