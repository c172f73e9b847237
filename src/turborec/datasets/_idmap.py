"""Raw user / item ids (strings or ints) <-> contiguous int32 indices."""

import numpy as np

_UNKNOWN_POLICIES = ("error", "ignore")
_INT64_MAX = np.iinfo(np.int64).max


class IdMapper:
    """Map raw ids to contiguous int32 indices ``0 .. n-1`` and back, vectorised.

    Indices follow the sorted order of the distinct raw ids seen by :meth:`fit`, so the mapping
    does not depend on the order of the input. Ids are all integers (kept as int64) or all
    strings (a NumPy unicode or bytes array); a mapper fitted on one kind rejects the other with
    a ``TypeError`` instead of guessing that ``"7"`` means ``7``.

    Parameters
    ----------
    unknown : {"error", "ignore"}, default "error"
        What :meth:`transform` does with a raw id that :meth:`fit` never saw: ``"error"`` raises
        a ``KeyError`` naming (some of) them; ``"ignore"`` maps them to -1, so callers can drop
        them or answer with a popularity fallback.

    Attributes
    ----------
    classes_ : ndarray of shape (n_ids,)
        The distinct raw ids, sorted; ``classes_[i]`` is the raw id of index ``i``.

    Notes
    -----
    A fitted mapper saves as plain arrays (:meth:`to_arrays`, loadable with
    ``np.load(..., allow_pickle=False)``) and pickles.

    Examples
    --------
    >>> mapper = IdMapper().fit(["b", "a", "c", "a"])
    >>> mapper.transform(["c", "a"])
    array([2, 0], dtype=int32)
    >>> mapper.inverse_transform([1])
    array(['b'], dtype='<U1')
    """

    def __init__(self, unknown="error"):
        self.unknown = _check_policy(unknown)

    def fit(self, raw_ids):
        """Learn the distinct raw ids of ``raw_ids``.

        Parameters
        ----------
        raw_ids : array-like of str or int, shape (n,)
            Any order, repeats allowed. Integer ids must fit int64.

        Returns
        -------
        self : IdMapper
        """
        raw_ids = _as_fit_ids(raw_ids)
        self.classes_ = _check_count(_distinct(np.sort(raw_ids)))
        return self

    def transform(self, raw_ids, unknown=None):
        """Indices of ``raw_ids``; ids that :meth:`fit` never saw follow the ``unknown`` policy.

        Parameters
        ----------
        raw_ids : array-like of str or int, shape (n,)
            Of the same kind (int or str) as the fitted ids.
        unknown : {"error", "ignore"}, optional
            The policy for this call only; default: the mapper's own ``unknown``. The mapper is
            not changed (``Interactions.from_raw(..., like=train)`` looks test ids up this way
            in the training mappers, which stay shared and equal).

        Returns
        -------
        indices : int32 ndarray of shape (n,)
            In ``[0, n_ids)``; -1 for unknown ids when ``unknown="ignore"``.

        Raises
        ------
        KeyError
            Some id was not seen by :meth:`fit` and ``unknown="error"``.
        TypeError
            The ids are of another kind than the fitted ones (e.g. str against int).
        """
        policy = self.unknown if unknown is None else _check_policy(unknown)
        classes = self._fitted()
        raw_ids = _as_raw(raw_ids, "raw_ids")
        if raw_ids.size and len(classes) and _kind(raw_ids.dtype) != _kind(classes.dtype):
            raise TypeError(f"raw_ids: expected ids like the fitted ones ({classes.dtype}), got {raw_ids.dtype}")
        query, fits = raw_ids, np.ones(len(raw_ids), dtype=bool)
        if raw_ids.dtype == np.uint64:
            # Ids above int64's range cannot be among the (int64) classes: unknown by definition.
            fits = raw_ids <= _INT64_MAX
            query = np.where(fits, raw_ids, 0)
        if raw_ids.dtype.kind in "iu":
            query = query.astype(np.int64)
        if len(classes) == 0:
            positions = np.zeros(len(raw_ids), dtype=np.intp)
            found = np.zeros(len(raw_ids), dtype=bool)
        else:
            positions = np.minimum(np.searchsorted(classes, query), len(classes) - 1)
            found = (classes[positions] == query) & fits
        if not found.all():
            if policy == "error":
                missing = np.unique(raw_ids[~found])
                raise KeyError(f"raw_ids: {len(missing)} unknown id(s) not seen by fit, e.g. {_examples(missing)}")
            return np.where(found, positions, -1).astype(np.int32)
        return positions.astype(np.int32)

    def fit_transform(self, raw_ids):
        """:meth:`fit` then :meth:`transform` on the same ids (int32 indices of shape (n,)), in one sort."""
        raw_ids = _as_fit_ids(raw_ids)
        order = np.argsort(raw_ids, kind="stable")
        ordered = raw_ids[order]
        starts = np.ones(len(ordered), dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        self.classes_ = _check_count(ordered[starts])
        indices = np.empty(len(raw_ids), dtype=np.int32)
        indices[order] = np.cumsum(starts) - 1
        return indices

    def inverse_transform(self, indices):
        """Raw ids of indices.

        Parameters
        ----------
        indices : array-like of int, any shape
            In ``[0, n_ids)``; -1 (an unknown id under ``unknown="ignore"``) is out of range.

        Returns
        -------
        raw_ids : ndarray of the shape of ``indices``, dtype of ``classes_``

        Raises
        ------
        IndexError
            An index outside ``[0, n_ids)``.
        """
        classes = self._fitted()
        indices = np.asarray(indices)
        if indices.size == 0:
            return classes[:0].reshape(indices.shape)
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"indices: expected integers, got dtype {indices.dtype}")
        if indices.min() < 0 or indices.max() >= len(classes):
            bad = indices.min() if indices.min() < 0 else indices.max()
            raise IndexError(f"indices: {bad} out of range [0, {len(classes)})")
        return classes[indices]

    def __len__(self):
        return len(self._fitted())

    def same_ids(self, other):
        """Whether ``other`` maps the same raw ids to the same indices (the ``unknown`` policy aside).

        Two tables whose mappers are not the same ids must never be compared index by index
        (``turborec.evaluate`` checks this).

        Parameters
        ----------
        other : IdMapper

        Returns
        -------
        bool
        """
        return (isinstance(other, IdMapper) and hasattr(self, "classes_") == hasattr(other, "classes_")
                and (not hasattr(self, "classes_") or (self.classes_.dtype.kind == other.classes_.dtype.kind
                                                       and np.array_equal(self.classes_, other.classes_))))

    def __eq__(self, other):
        return isinstance(other, IdMapper) and self.unknown == other.unknown and self.same_ids(other)

    __hash__ = None  # mutable: fit() changes what it compares equal to

    def __repr__(self):
        n = len(self.classes_) if hasattr(self, "classes_") else "unfitted"
        return f"IdMapper({n} ids, unknown={self.unknown!r})"

    def to_arrays(self, prefix=""):
        """Plain arrays for ``np.savez``, loadable with ``allow_pickle=False``.

        Parameters
        ----------
        prefix : str
            Prepended to the keys, so several mappers can share one file.

        Returns
        -------
        dict
            ``{prefix + "classes": classes_, prefix + "unknown": 0-d str array}``.
        """
        return {f"{prefix}classes": self._fitted(), f"{prefix}unknown": np.array(self.unknown)}

    @classmethod
    def from_arrays(cls, arrays, prefix=""):
        """Inverse of :meth:`to_arrays`; checks what it loads.

        Parameters
        ----------
        arrays : mapping
            E.g. the ``NpzFile`` from ``np.load(path, allow_pickle=False)``.
        prefix : str
            As given to :meth:`to_arrays`.

        Raises
        ------
        KeyError
            A key is missing.
        ValueError, TypeError
            The stored classes are not 1-D, sorted and distinct ids, or the policy is unknown.
        """
        for key in (f"{prefix}classes", f"{prefix}unknown"):
            if key not in arrays:
                raise KeyError(f"arrays: missing key {key!r} (saved with IdMapper.to_arrays(prefix={prefix!r})?)")
        unknown = np.asarray(arrays[f"{prefix}unknown"])
        if unknown.shape != () or unknown.dtype.kind != "U":
            raise ValueError(f"{prefix}unknown: expected a 0-d str array, got shape {unknown.shape} "
                             f"dtype {unknown.dtype}")
        mapper = cls(unknown=str(unknown.item()))
        classes = np.asarray(arrays[f"{prefix}classes"])
        if classes.ndim != 1:
            raise ValueError(f"{prefix}classes: expected a 1-D array, got shape {classes.shape}")
        if classes.dtype.kind not in "iuUS":
            raise TypeError(f"{prefix}classes: expected int or str ids, got dtype {classes.dtype}")
        if classes.dtype.kind in "iu":
            classes = classes.astype(np.int64)
        if len(classes) > 1 and not (classes[1:] > classes[:-1]).all():
            raise ValueError(f"{prefix}classes: expected sorted, distinct ids (as IdMapper.fit stores them)")
        mapper.classes_ = classes
        return mapper

    def _fitted(self):
        if not hasattr(self, "classes_"):
            raise RuntimeError("IdMapper is not fitted: call fit() first")
        return self.classes_


def _check_policy(unknown):
    if not isinstance(unknown, str) or unknown not in _UNKNOWN_POLICIES:
        raise ValueError(f"unknown: expected one of {_UNKNOWN_POLICIES}, got {unknown!r}")
    return unknown


def _examples(ids, n=5):
    """The first ``n`` of some raw ids, as Python literals: ``'u9', 944``."""
    return ", ".join(repr(x.item()) for x in ids[:n])


def _as_raw(raw_ids, name):
    """A 1-D int, unicode or bytes array of ids; object arrays are checked element by element."""
    if not isinstance(raw_ids, np.ndarray) and not hasattr(raw_ids, "__array__"):
        # A list such as ["a", 5] would become the strings ["a", "5"] under np.asarray: keep the
        # Python objects so the kind check below sees the 5.
        raw_ids = np.array(raw_ids, dtype=object)
    raw_ids = np.asarray(raw_ids)
    if raw_ids.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of ids, got shape {raw_ids.shape}")
    if raw_ids.size == 0 and raw_ids.dtype.kind not in "iuUS":
        return np.zeros(0, dtype=np.int64)  # e.g. [] comes in as float64
    if raw_ids.dtype == object:
        # Every element, not a sample: a single int among strings would otherwise become a str.
        kinds = set(map(type, raw_ids.tolist()))
        if all(issubclass(k, str) for k in kinds):
            raw_ids = raw_ids.astype(str)
        elif all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
            try:
                raw_ids = raw_ids.astype(np.int64)
            except OverflowError:
                raise ValueError(f"{name}: an integer id does not fit int64") from None
        else:
            raise TypeError(f"{name}: expected str or int ids, got {sorted(k.__name__ for k in kinds)}")
    if raw_ids.dtype.kind not in "iuUS":
        raise TypeError(f"{name}: expected str or int ids, got dtype {raw_ids.dtype}")
    return raw_ids


def _as_fit_ids(raw_ids):
    """Ids to fit: integer ids as int64 (uint64 beyond int64's range is an error)."""
    raw_ids = _as_raw(raw_ids, "raw_ids")
    if raw_ids.dtype.kind in "iu":
        if raw_ids.dtype == np.uint64 and raw_ids.size and raw_ids.max() > _INT64_MAX:
            raise ValueError(f"raw_ids: id {raw_ids.max()} does not fit int64")
        raw_ids = raw_ids.astype(np.int64)
    return raw_ids


def _distinct(ordered):
    """The distinct values of a sorted array (np.unique's hash path is slower on ids)."""
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _check_count(classes):
    if len(classes) > np.iinfo(np.int32).max:
        raise ValueError(f"raw_ids: {len(classes)} distinct ids do not fit int32 indices")
    return classes


def _kind(dtype):
    """'int', 'str' or 'bytes': ids of different kinds never compare equal."""
    return {"i": "int", "u": "int", "U": "str", "S": "bytes"}[dtype.kind]
