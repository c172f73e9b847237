"""Item feature tables (RecBole atomic ``.item`` files) as multi-hot matrices aligned with the
items of an :class:`Interactions`."""

import warnings

import numpy as np
import scipy.sparse as sp

from ..exceptions import DataWarning
from ..features import multi_hot
from ._assemble import _concat_ids, _lookup_read_ids
from ._idmap import IdMapper, _examples
from ._interactions import _LIKE_POLICIES, _check_like
from ._readers import _recbole_names
from ._source import _Source
from ._tokenizer import _read_delimited


def read_item_features(path, *, like=None, item_col="item_id", label_col="class", label_sep=None, vocabulary=None,
                       unknown="drop", on_bad_line="error", encoding="utf-8"):
    """Read items' labels (genres, tags) from a RecBole atomic item file as a multi-hot matrix.

    The file is tab-separated with a header of ``name:type`` fields, as MovieLens 100K's
    ``items.tsv``: ``item_id:token  movie_title:token_seq  release_year:token  class:token_seq``;
    the label field holds an item's labels separated by spaces (RecBole's ``token_seq``).

    Parameters
    ----------
    path : str or os.PathLike
    like : Interactions, optional
        The training data: the matrix then has one row per item of ``like`` in its index order
        (row ``i`` is item index ``i`` of ``like.item_mapper``); items the file does not
        describe get empty rows, and rows of items ``like`` does not know follow ``unknown``.
        Without it, the rows are the file's items in the order of a new :class:`IdMapper`
        (sorted raw ids).
    item_col, label_col : str, default "item_id", "class"
        Field names, with or without their ``:type``.
    label_sep : str, optional
        What separates an item's labels; default: runs of whitespace (``token_seq``). Pass
        e.g. ``"|"`` for ``Comedy|Drama``.
    vocabulary : sequence of str, optional
        The columns, in this order (see :func:`turborec.features.multi_hot`); a label outside it
        is a ``ValueError`` naming the line. Default: the labels of the rows kept, sorted.
    unknown : {"drop", "error"}, default "drop"
        With ``like``: rows of items the training data does not know are dropped and counted in
        one :class:`DataWarning` naming the file (``"drop"``), or raise a ``ValueError`` naming
        one (``"error"``).
    on_bad_line, encoding
        As for :func:`read_csv`, whose messy-file policy applies. An item on two lines is a
        ``ValueError`` naming both.

    Returns
    -------
    features : scipy.sparse.csr_matrix of shape (n_items, n_labels), float32
        1.0 for each label of each item; rows aligned as described under ``like``.
    labels : str ndarray of shape (n_labels,)
        The label of each column.
    item_mapper : IdMapper
        The raw item id of each row (``like.item_mapper`` itself with ``like``).

    Examples
    --------
    >>> train = read_movielens_file("ml-100k/u.data")  # doctest: +SKIP
    >>> genres, names, _ = read_item_features("ml-100k/items.tsv", like=train)  # doctest: +SKIP
    >>> genres.shape == (train.n_items, len(names))  # doctest: +SKIP
    True
    """
    if like is not None:
        unknown = _check_like(like, unknown)
    elif unknown not in _LIKE_POLICIES:
        raise ValueError(f"unknown: expected one of {_LIKE_POLICIES}, got {unknown!r}")
    if on_bad_line not in ("error", "skip"):
        raise ValueError(f"on_bad_line: expected one of ('error', 'skip'), got {on_bad_line!r}")
    for name, col in (("item_col", item_col), ("label_col", label_col)):
        if not isinstance(col, str):
            raise TypeError(f"{name}: expected a RecBole field name (str), got {type(col).__name__}")
    if label_sep is not None and (not isinstance(label_sep, str) or not label_sep):
        raise ValueError(f"label_sep: expected a non-empty str or None, got {label_sep!r}")
    source = _Source(path, encoding=encoding)
    columns = {"item": item_col.split(":", 1)[0], "label": label_col.split(":", 1)[0]}
    if columns["item"] == columns["label"]:
        raise ValueError(f"label_col: {label_col!r} is also item_col")
    table = _read_delimited(source, sep="\t", header=True, columns=columns, on_bad_line=on_bad_line,
                            quoting=False, header_names=_recbole_names)
    ids = _concat_ids(table.parts["item"])
    texts = _concat(table.parts["label"], str)
    lines = _concat(table.positions, np.int64)
    if table.stats.bad:
        shown = "; ".join(f"line {at}: {reason}" for at, reason in table.stats.examples)
        warnings.warn(f"{table.name}: skipped {table.stats.bad} bad line(s) of {table.stats.lines} "
                      f"(on_bad_line='skip'); first: {shown}", DataWarning, stacklevel=2)
    _refuse_repeats(ids, lines, table.name)

    if like is None:
        mapper = IdMapper().fit(ids)
        rows = mapper.transform(ids)
    else:
        mapper = like.item_mapper
        rows = _lookup_read_ids(mapper, ids)
        known = rows >= 0
        if not known.all():
            missing = ids[~known]
            if unknown == "error":
                raise ValueError(f"{table.name}, line {lines[~known][0]}: item {missing[0].item()!r} is not in the "
                                 "training data (unknown='error')")
            warnings.warn(f"{table.name}: dropped the features of {len(missing)} of {len(ids)} item(s) the training "
                          f"data does not know, e.g. {_examples(np.sort(missing))}", DataWarning, stacklevel=2)
            rows, texts, lines = rows[known], texts[known], lines[known]
    label_lists = [text.split(label_sep) for text in texts.tolist()]
    try:
        by_line, labels = multi_hot(label_lists, vocabulary=vocabulary)
    except ValueError as exc:  # name the line, not the position among the kept rows
        message = str(exc)
        if message.startswith("list_of_labels["):
            k = int(message[len("list_of_labels["):message.index("]")])
            raise ValueError(f"{table.name}, line {lines[k]}: {message.split(': ', 1)[1]}") from None
        raise
    # Row r of the result is line where[r] of by_line, or the empty row appended after them.
    n_rows = len(mapper.classes_)
    where = np.full(n_rows, len(rows), dtype=np.int64)
    where[rows] = np.arange(len(rows))
    padded = sp.vstack([by_line, sp.csr_matrix((1, by_line.shape[1]), dtype=np.float32)], format="csr")
    features = padded[where]
    features.sort_indices()
    return sp.csr_matrix(features, dtype=np.float32), labels, mapper


def _concat(parts, dtype):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _refuse_repeats(ids, lines, name):
    order = np.argsort(ids, kind="stable")
    repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if len(repeated):
        a, b = order[repeated[0]], order[repeated[0] + 1]
        raise ValueError(f"{name}: item {ids[a].item()!r} is described on lines {lines[a]} and {lines[b]}")
