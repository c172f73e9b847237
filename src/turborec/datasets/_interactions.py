"""A table of (user, item[, rating][, timestamp]) interactions over contiguous indices."""

import warnings

import numpy as np
import scipy.sparse as sp

from ..exceptions import DataWarning
from ._idmap import IdMapper, _as_raw, _examples

_LIKE_POLICIES = ("drop", "error")


class Interactions:
    """User-item interactions: what readers return and splitters take.

    Parameters
    ----------
    users, items : array-like of int, shape (n,)
        Contiguous indices in ``[0, n_users)`` and ``[0, n_items)``.
    ratings : array-like of float, shape (n,), optional
        Stored as float32. NaN, inf and values beyond float32's range are rejected.
    timestamps : array-like of int, shape (n,), optional
        Stored as int64 (e.g. Unix seconds). Floats are accepted only when every value is a
        whole number: a fraction, NaN or inf is a ``ValueError``, never a silent truncation.
    user_mapper, item_mapper : IdMapper, optional
        Raw ids of the indices. Without them, indices are their own raw ids.
    n_users, n_items : int, optional
        Matrix shape; defaults to the mappers' sizes, else ``max index + 1``.

    Attributes
    ----------
    users, items : int32 ndarray
    ratings : float32 ndarray or None
    timestamps : int64 ndarray or None
    user_mapper, item_mapper : IdMapper or None
    n_users, n_items : int
    source : dict or None
        Set by the readers (:func:`~turborec.datasets.read_csv` and friends): the file, its
        format, and counts of lines read, blank lines and bad lines skipped, trailing
        separators tolerated and duplicates merged. None for interactions built in memory.
    """

    def __init__(self, users, items, ratings=None, timestamps=None, *, user_mapper=None, item_mapper=None,
                 n_users=None, n_items=None):
        self.users = _as_index(users, "users")
        self.items = _as_index(items, "items")
        n = len(self.users)
        if len(self.items) != n:
            raise ValueError(f"items: expected {n} entries like users, got {len(self.items)}")
        self.ratings = None if ratings is None else _as_ratings(ratings, n)
        self.timestamps = None if timestamps is None else _as_timestamps(timestamps, n)
        self.user_mapper, self.item_mapper = user_mapper, item_mapper
        self.n_users = _extent(n_users, user_mapper, self.users, "n_users", "users")
        self.n_items = _extent(n_items, item_mapper, self.items, "n_items", "items")
        self.source = None

    @classmethod
    def from_raw(cls, raw_users, raw_items, ratings=None, timestamps=None, *, like=None, unknown=None):
        """Build from raw ids (str or int): fitting one :class:`IdMapper` per side, or, with
        ``like``, mapping them with the training data's mappers.

        Parameters
        ----------
        raw_users, raw_items : array-like of str or int, shape (n,)
        ratings, timestamps : array-like, shape (n,), optional
            As for the constructor.
        like : Interactions, optional
            The training data (with mappers, as every reader and ``from_raw`` gives). The result
            shares its ``user_mapper`` and ``item_mapper`` (the same objects) and its shape
            ``(n_users, n_items)``, so it can be compared with it index by index (e.g. as the
            ``test`` of :func:`turborec.evaluate`). Raw ids must be of the mappers' kind (int
            or str), else ``TypeError``.
        unknown : str, optional
            Without ``like``: the new mappers' policy for ids they have not seen,
            ``"error"`` (default) or ``"ignore"`` (see :class:`IdMapper`).
            With ``like``: what to do with interactions whose user or item the training data does
            not know. ``"drop"`` (default) drops them and counts them in one
            :class:`~turborec.exceptions.DataWarning` (users, items and interactions);
            ``"error"`` raises a ``ValueError`` naming an unknown id.

        Returns
        -------
        Interactions
            Without ``like``: users and items indexed in the sorted order of their raw ids.

        Raises
        ------
        ValueError
            With ``like``: an unknown id under ``unknown="error"``, or every interaction unknown
            (the ids do not match the training data's at all).

        Examples
        --------
        >>> train = Interactions.from_raw(["ann", "bob"], ["x", "y"])
        >>> test = Interactions.from_raw(["bob"], ["x"], like=train)
        >>> test.shape == train.shape and test.user_mapper is train.user_mapper
        True
        """
        if like is not None:
            inter, _, message = _map_like(like, raw_users, raw_items, ratings, timestamps, unknown,
                                          "raw_users, raw_items")
            if message:
                warnings.warn(message, DataWarning, stacklevel=2)
            return inter
        unknown = "error" if unknown is None else unknown
        if unknown == "drop":
            raise ValueError("unknown: 'drop' needs like= (the training Interactions whose mappers to use)")
        user_mapper, item_mapper = IdMapper(unknown), IdMapper(unknown)
        return cls(user_mapper.fit_transform(raw_users), item_mapper.fit_transform(raw_items), ratings, timestamps,
                   user_mapper=user_mapper, item_mapper=item_mapper)

    def __len__(self):
        return len(self.users)

    @property
    def shape(self):
        """``(n_users, n_items)``."""
        return (self.n_users, self.n_items)

    def subset(self, index):
        """The interactions selected by ``index``, with the same shape and mappers.

        Parameters
        ----------
        index : array-like of bool, shape (n,), or of int
            A mask over the interactions, or their positions (any order; repeats repeat).

        Returns
        -------
        Interactions
        """
        index = np.asarray(index)
        if index.ndim != 1:
            raise ValueError(f"index: expected a 1-D mask or positions, got shape {index.shape}")
        if index.dtype == bool:
            if len(index) != len(self):
                raise ValueError(f"index: boolean mask of length {len(index)} for {len(self)} interactions")
        elif index.size == 0:
            index = index.astype(np.intp)
        elif not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"index: expected a boolean mask or integer positions, got dtype {index.dtype}")
        elif index.min() < -len(self) or index.max() >= len(self):
            bad = index.min() if index.min() < -len(self) else index.max()
            raise IndexError(f"index: position {bad} out of range for {len(self)} interactions")
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Interactions(self.users[index], self.items[index], pick(self.ratings), pick(self.timestamps),
                            user_mapper=self.user_mapper, item_mapper=self.item_mapper,
                            n_users=self.n_users, n_items=self.n_items)

    def to_csr(self, values="ratings", duplicates="sum"):
        """users x items ``scipy.sparse.csr_matrix`` (float32), sorted and duplicate-free.

        Parameters
        ----------
        values : {"ratings", "ones"}
            Stored values: the ratings (ones when there are none), or 1 for every interaction.
        duplicates : {"sum", "last"}
            Repeated (user, item) pairs: add their values (with ``values="ones"``: count them),
            or keep the last one by timestamp (ties, and data without timestamps, by position).

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_users, n_items), float32
        """
        if values not in ("ratings", "ones"):
            raise ValueError(f"values: expected 'ratings' or 'ones', got {values!r}")
        if duplicates not in ("sum", "last"):
            raise ValueError(f"duplicates: expected 'sum' or 'last', got {duplicates!r}")
        data = self.ratings if values == "ratings" and self.ratings is not None else np.ones(len(self), np.float32)
        users, items = self.users, self.items
        if duplicates == "last" and len(self):
            order = np.argsort(self.timestamps, kind="stable") if self.timestamps is not None else np.arange(len(self))
            keys = users[order].astype(np.int64) * self.n_items + items[order]
            _, last = np.unique(keys[::-1], return_index=True)
            keep = order[len(order) - 1 - last]
            users, items, data = users[keep], items[keep], data[keep]
        matrix = sp.csr_matrix((data, (users, items)), shape=self.shape, dtype=np.float32)
        matrix.sum_duplicates()
        return matrix

    def __repr__(self):
        extras = [name for name in ("ratings", "timestamps") if getattr(self, name) is not None]
        return f"Interactions({len(self)} interactions, {self.n_users} users x {self.n_items} items" + (
            f", with {' and '.join(extras)})" if extras else ")")


def _as_index(values, name):
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{name}: expected integer indices, got dtype {values.dtype}")
    if values.size and values.min() < 0:
        raise ValueError(f"{name}: expected indices >= 0, got {values.min()}")
    if values.size and values.max() > np.iinfo(np.int32).max:
        raise ValueError(f"{name}: index {values.max()} does not fit int32")
    return values.astype(np.int32)


def _as_column(values, name, n):
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {values.shape}")
    if values.size == 0:
        return values.astype(np.float64)
    if not (np.issubdtype(values.dtype, np.number) and not np.iscomplexobj(values)):
        raise TypeError(f"{name}: expected real numbers, got dtype {values.dtype}")
    return values


def _as_ratings(values, n):
    values = _as_column(values, "ratings", n)
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ValueError(f"ratings: {int(bad.sum())} value(s) are NaN, inf or beyond float32's range, "
                         f"e.g. ratings[{at}] = {values[at].item()!r}")
    return out


def _as_timestamps(values, n):
    values = _as_column(values, "timestamps", n)
    if np.issubdtype(values.dtype, np.integer):
        if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
            raise ValueError(f"timestamps: {values.max()} does not fit int64")
        return values.astype(np.int64)
    # Floats: only whole numbers inside int64's range, checked before the cast truncates anything.
    ok = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0 ** 63)
    if not ok.all():
        at = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"timestamps: expected whole numbers (stored as int64), "
                         f"got timestamps[{at}] = {values[at].item()!r}")
    return values.astype(np.int64)


def _extent(given, mapper, indices, name, what):
    needed = int(indices.max()) + 1 if len(indices) else 0
    if given is not None:
        if isinstance(given, (bool, np.bool_)) or not isinstance(given, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {type(given).__name__}")
        if given < 0:
            raise ValueError(f"{name}: expected >= 0, got {given}")
    if given is None:
        given = len(mapper) if mapper is not None else needed
    if given < needed:
        raise IndexError(f"{what}: index {needed - 1} out of range for {name}={given}")
    if mapper is not None and given != len(mapper):
        raise ValueError(f"{name}: {given} does not match the mapper's {len(mapper)} ids")
    return int(given)


def _check_like(like, unknown):
    """``unknown`` resolved for ``like`` (default "drop"); TypeError / ValueError naming the argument."""
    if not isinstance(like, Interactions):
        raise TypeError(f"like: expected the training Interactions, got {type(like).__name__}")
    if like.user_mapper is None or like.item_mapper is None:
        raise ValueError("like: the training Interactions has no id mappers (built from indices, not raw ids); "
                         "read it with a reader or Interactions.from_raw")
    unknown = "drop" if unknown is None else unknown
    if not isinstance(unknown, str) or unknown not in _LIKE_POLICIES:
        raise ValueError(f"unknown: expected one of {_LIKE_POLICIES} with like=, got {unknown!r}")
    return unknown


def _lookup(mapper, raw_ids):
    return mapper.transform(raw_ids, unknown="ignore")


def _map_like(like, raw_users, raw_items, ratings, timestamps, unknown, name, lookup=_lookup):
    """Interactions of raw ids under ``like``'s mappers and shape, unknown ones dropped or refused.

    ``lookup(mapper, raw_ids)`` gives indices with -1 for unknown ids (the readers pass one that
    reconciles the int / str kind they chose per file). Returns ``(interactions, mask of the
    kept rows, warning message or None)``; raises ``ValueError`` under ``unknown="error"`` or
    when no interaction is known.
    """
    unknown = _check_like(like, unknown)
    raw_users, raw_items = _as_raw(raw_users, "raw_users"), _as_raw(raw_items, "raw_items")
    if len(raw_items) != len(raw_users):
        raise ValueError(f"raw_items: expected {len(raw_users)} entries like raw_users, got {len(raw_items)}")
    users, items = lookup(like.user_mapper, raw_users), lookup(like.item_mapper, raw_items)
    keep = (users >= 0) & (items >= 0)
    message = None
    if not keep.all():
        message = _unknown_report(raw_users[users < 0], raw_items[items < 0], int((~keep).sum()), len(keep),
                                  unknown, name)
    inter = Interactions(np.where(keep, users, 0), np.where(keep, items, 0), ratings, timestamps,
                         user_mapper=like.user_mapper, item_mapper=like.item_mapper,
                         n_users=like.n_users, n_items=like.n_items)
    return (inter if message is None else inter.subset(keep)), keep, message


def _unknown_report(bad_users, bad_items, n_dropped, n, unknown, name):
    """The DataWarning message for ids unknown to ``like=``, or the ValueError to raise instead."""
    bad_users, bad_items = np.unique(bad_users), np.unique(bad_items)
    parts = [f"{len(ids)} unknown {side} id(s), e.g. {_examples(ids, 3)}"
             for side, ids in (("user", bad_users), ("item", bad_items)) if len(ids)]
    what = "; ".join(parts)
    if unknown == "error":
        side, ids = ("user", bad_users) if len(bad_users) else ("item", bad_items)
        raise ValueError(f"{name}: {side} id {ids[0].item()!r} is unknown to like= (the training data): {what} "
                         f"in {n_dropped} of {n} interactions (unknown='error'; pass unknown='drop' to drop them)")
    if n_dropped == n:
        raise ValueError(f"{name}: all {n} interactions have a user or item unknown to like= (the training data): "
                         f"{what}; the ids do not match the training data's (another data set, other columns?)")
    return (f"{name}: dropped {n_dropped} of {n} interactions whose user or item is unknown to like= "
            f"(the training data): {what} (unknown='drop')")
