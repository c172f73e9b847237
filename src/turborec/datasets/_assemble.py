"""From parsed columns to :class:`Interactions`: id mapping, the duplicates policy, and the
reader's ``source`` record and warning."""

import warnings

import numpy as np

from ..exceptions import DataWarning
from ._convert import _plain_int_ids
from ._interactions import Interactions, _map_like


def _finish(table, fmt, duplicates, unit="line", like=None, unknown=None):
    """Interactions from a table, mapped (with ``like``: by the training mappers, unknown ids
    dropped or refused), the duplicates policy applied; and the warnings to give."""
    parts = table.parts
    users = _concat_ids(parts.get("user", []))
    items = _concat_ids(parts.get("item", []))
    ratings = _concat(parts["rating"], np.float32) if "rating" in parts else None
    timestamps = _concat(parts["timestamp"], np.int64) if "timestamp" in parts else None
    positions = _concat(table.positions, np.int64)
    stats = table.stats
    messages = []
    if stats.bad:
        shown = "; ".join(f"{unit} {at}: {reason}" for at, reason in stats.examples)
        if not len(users):
            raise ValueError(f"{table.name}: every {unit} was bad ({stats.bad} of {stats.lines} skipped with "
                             f"on_bad_line='skip'), nothing is left; first: {shown}. Is this an interactions "
                             "file, with the right separator and columns?")
        messages.append(f"{table.name}: skipped {stats.bad} bad {unit}(s) of {stats.lines} "
                        f"(on_bad_line='skip'); first: {shown}")
    dropped = 0
    if like is None:
        inter = Interactions.from_raw(users, items, ratings, timestamps)
    else:
        inter, keep, message = _map_like(like, users, items, ratings, timestamps, unknown, table.name,
                                         lookup=_lookup_read_ids)
        if message:
            positions, dropped = positions[keep], int((~keep).sum())
            messages.append(message)
    inter, merged = _apply_duplicates(inter, positions, duplicates, table.name, unit)
    inter.source = {"path": table.name, "format": fmt, "lines": stats.lines, "blank_lines": stats.blank,
                    "bad_lines": stats.bad, "trailing_separators": stats.trailing,
                    "duplicates": duplicates, "duplicates_merged": merged}
    if like is not None:
        inter.source["unknown_dropped"] = dropped
    return inter, messages


def _lookup_read_ids(mapper, ids):
    """Indices (-1: unknown) of ids read from a file under a training mapper.

    A reader makes a column's ids integers only when every id of that file is a plain integer, so
    the training and test files can disagree on the kind of the same id ("7" in both): compare
    them as the text they were written as.
    """
    kind = mapper.classes_.dtype.kind
    if ids.dtype.kind in "iu" and kind == "U":
        return mapper.transform(ids.astype(str), unknown="ignore")  # plain integers: str() is their text
    if ids.dtype.kind == "U" and kind in "iu":
        values, plain = _plain_int_ids(ids)
        out = np.full(len(ids), -1, dtype=np.int32)
        out[plain] = mapper.transform(values[plain], unknown="ignore")
        return out
    return mapper.transform(ids, unknown="ignore")


def _warn(messages):
    for message in messages:
        warnings.warn(message, DataWarning, stacklevel=3)


def _concat(parts, dtype):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _concat_ids(parts):
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if any(part.dtype.kind == "U" for part in parts):
        # Some chunk had non-integer ids: all ids are strings. Integer chunks were written plainly
        # (see _convert_ids), so str() gives back their exact text.
        parts = [part if part.dtype.kind == "U" else part.astype(str) for part in parts]
    return np.concatenate(parts)


def _apply_duplicates(inter, positions, policy, name, unit):
    """``(interactions, number of rows merged away)`` under the duplicates ``policy``."""
    n = len(inter)
    if policy == "keep" or n < 2:
        return inter, 0
    keys = inter.users.astype(np.int64) * inter.n_items + inter.items
    if policy == "error":
        order = np.argsort(keys, kind="stable")
        repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
        if len(repeated):
            later = order[repeated + 1]
            j = int(np.argmin(later))
            a, b = order[repeated[j]], later[j]
            user = inter.user_mapper.inverse_transform([inter.users[a]])[0].item()
            item = inter.item_mapper.inverse_transform([inter.items[a]])[0].item()
            raise ValueError(f"{name}: duplicate (user, item) pair ({user!r}, {item!r}) on {unit}s "
                             f"{positions[a]} and {positions[b]} (duplicates='error'; choose 'keep', "
                             "'sum' or 'last')")
        return inter, 0
    if policy == "last":
        stamps = inter.timestamps if inter.timestamps is not None else np.zeros(n, np.int64)
        order = np.lexsort((np.arange(n), stamps, keys))
        ends = np.append(keys[order][1:] != keys[order][:-1], True)
        keep = np.sort(order[ends])
        out = inter.subset(keep)
        return out, n - len(keep)
    # "sum": one row per pair, at its first line; ratings (or 1 each) added; latest timestamp.
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    weights = None if inter.ratings is None else inter.ratings.astype(np.float64)
    totals = np.bincount(inverse, weights=weights, minlength=len(first)).astype(np.float64)
    stamps = None
    if inter.timestamps is not None:
        stamps = np.full(len(first), np.iinfo(np.int64).min)
        np.maximum.at(stamps, inverse, inter.timestamps)
    order = np.argsort(first, kind="stable")
    rows = first[order]
    out = Interactions(inter.users[rows], inter.items[rows], totals[order],
                       None if stamps is None else stamps[order], user_mapper=inter.user_mapper,
                       item_mapper=inter.item_mapper, n_users=inter.n_users, n_items=inter.n_items)
    return out, n - len(rows)
