"""Raw user / item ids (strings or ints) <-> contiguous int32 indices."""

import numpy as np

_UNKNOWN_POLICIES = ("error", "ignore")


class IdMapper:
    """Map raw ids to contiguous int32 indices ``0 .. n-1`` and back, vectorised.

    Indices follow the sorted order of the distinct raw ids seen by :meth:`fit`, so the mapping
    does not depend on the order of the input.

    Parameters
    ----------
    unknown : {"error", "ignore"}, default "error"
        What :meth:`transform` does with a raw id that :meth:`fit` never saw: ``"error"`` raises
        a ``KeyError`` naming (some of) them; ``"ignore"`` maps them to -1, so callers can drop
        them or answer with a popularity fallback.

    Attributes
    ----------
    classes_ : ndarray of shape (n_ids,)
        The raw ids, sorted; ``classes_[i]`` is the raw id of index ``i``.
    """

    def __init__(self, unknown="error"):
        if unknown not in _UNKNOWN_POLICIES:
            raise ValueError(f"unknown: expected one of {_UNKNOWN_POLICIES}, got {unknown!r}")
        self.unknown = unknown

    def fit(self, raw_ids):
        """Learn the distinct raw ids of ``raw_ids`` (1-D array-like of str or int)."""
        raw_ids = _as_raw(raw_ids, "raw_ids")
        self.classes_ = np.unique(raw_ids)
        if len(self.classes_) > np.iinfo(np.int32).max:
            raise ValueError(f"raw_ids: {len(self.classes_)} distinct ids do not fit int32 indices")
        return self

    def transform(self, raw_ids):
        """int32 indices of ``raw_ids``; unknown ids follow the ``unknown`` policy."""
        classes = self._fitted()
        raw_ids = _as_raw(raw_ids, "raw_ids")
        if len(classes) == 0:
            positions = np.zeros(len(raw_ids), dtype=np.intp)
            found = np.zeros(len(raw_ids), dtype=bool)
        else:
            if raw_ids.size and not _comparable(raw_ids.dtype, classes.dtype):
                raise TypeError(f"raw_ids: expected ids like the fitted ones ({classes.dtype}), got {raw_ids.dtype}")
            positions = np.searchsorted(classes, raw_ids)
            clipped = np.minimum(positions, len(classes) - 1)
            found = classes[clipped] == raw_ids
            positions = clipped
        if not found.all():
            if self.unknown == "error":
                missing = np.unique(raw_ids[~found])
                shown = ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in missing[:5])
                raise KeyError(f"raw_ids: {len(missing)} unknown id(s) not seen by fit, e.g. {shown}")
            return np.where(found, positions, -1).astype(np.int32)
        return positions.astype(np.int32)

    def fit_transform(self, raw_ids):
        """:meth:`fit` then :meth:`transform` on the same ids."""
        return self.fit(raw_ids).transform(raw_ids)

    def inverse_transform(self, indices):
        """Raw ids of int indices in ``[0, n_ids)``."""
        classes = self._fitted()
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"indices: expected integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= len(classes)):
            bad = indices.min() if indices.min() < 0 else indices.max()
            raise IndexError(f"indices: {bad} out of range [0, {len(classes)})")
        return classes[indices]

    def __len__(self):
        return len(self._fitted())

    def __eq__(self, other):
        return (isinstance(other, IdMapper) and self.unknown == other.unknown
                and hasattr(self, "classes_") == hasattr(other, "classes_")
                and (not hasattr(self, "classes_") or np.array_equal(self.classes_, other.classes_)))

    def __repr__(self):
        n = len(self.classes_) if hasattr(self, "classes_") else "unfitted"
        return f"IdMapper({n} ids, unknown={self.unknown!r})"

    def to_arrays(self, prefix=""):
        """Plain arrays for ``np.savez`` (loadable with ``allow_pickle=False``)."""
        return {f"{prefix}classes": self._fitted(), f"{prefix}unknown": np.array(self.unknown)}

    @classmethod
    def from_arrays(cls, arrays, prefix=""):
        """Inverse of :meth:`to_arrays`."""
        mapper = cls(unknown=str(arrays[f"{prefix}unknown"]))
        mapper.classes_ = np.asarray(arrays[f"{prefix}classes"])
        return mapper

    def _fitted(self):
        if not hasattr(self, "classes_"):
            raise RuntimeError("IdMapper is not fitted: call fit() first")
        return self.classes_


def _as_raw(raw_ids, name):
    raw_ids = np.asarray(raw_ids)
    if raw_ids.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of ids, got shape {raw_ids.shape}")
    if raw_ids.dtype == object:
        kinds = {type(x) for x in raw_ids[:1000]}
        if kinds <= {str}:
            raw_ids = raw_ids.astype(str)
        elif all(issubclass(k, (int, np.integer)) for k in kinds):
            raw_ids = raw_ids.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected str or int ids, got {sorted(k.__name__ for k in kinds)}")
    if raw_ids.dtype.kind not in "iuUS":
        raise TypeError(f"{name}: expected str or int ids, got dtype {raw_ids.dtype}")
    return raw_ids


def _comparable(a, b):
    return (a.kind in "iu") == (b.kind in "iu")
