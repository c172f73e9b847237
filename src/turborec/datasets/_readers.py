"""Text readers for interaction files: GroupLens MovieLens, RecBole atomic files, any CSV/TSV.

Every reader returns an :class:`~turborec.datasets.Interactions` and follows one policy for
messy files (see :func:`read_csv`): nothing is dropped silently, and a row that cannot be read is
either an error naming the file, the 1-based line and the value, or (``on_bad_line="skip"``)
skipped and counted in a :class:`DataWarning`.

This module holds the format front-ends (arguments, GroupLens format detection); the parser is
in ``_tokenizer`` (splitting, bad-line bookkeeping) and ``_convert`` (column converters), the
file access in ``_source``, the assembly into Interactions in ``_assemble``, and Parquet in
``_parquet``.
"""

import numpy as np

from ._assemble import _finish, _warn
from ._interactions import _LIKE_POLICIES, _check_like
from ._source import _show, _Source
from ._tokenizer import _IfPresent, _read_delimited

_DUPLICATES = ("keep", "sum", "last", "error")
_ON_BAD_LINE = ("error", "skip")
_ROLES = ("user", "item", "rating", "timestamp")


# --------------------------------------------------------------------------------------------
# Public readers


def read_csv(path, *, user_col, item_col, rating_col=None, timestamp_col=None, sep=None, header=True,
             duplicates="keep", on_bad_line="error", encoding="utf-8", like=None, unknown="drop"):
    """Read interactions from any delimited text file (CSV, TSV, ...).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    user_col, item_col : str or int
        The columns of the user and item ids: a header name, or a 0-based position (the only
        choice when ``header=False``).
    rating_col, timestamp_col : str or int, optional
        The columns of the ratings (any real number; stored as float32) and timestamps (whole
        numbers, e.g. Unix seconds; stored as int64). Other columns are ignored.
    sep : str, optional
        The field separator. By default it is detected on the first non-blank line: a tab if
        that line has one, else a comma.
    header : bool, default True
        Whether the first non-blank line holds the column names.
    duplicates : {"keep", "sum", "last", "error"}, default "keep"
        Repeated (user, item) pairs: keep every row (``Interactions.to_csr`` has its own
        policy); ``"sum"`` their ratings into one row (without a rating column: count them) with
        the latest timestamp; keep the ``"last"`` one (latest timestamp, ties and files without
        timestamps by line); or raise a ``ValueError`` naming both lines (``"error"``).
    on_bad_line : {"error", "skip"}, default "error"
        A row that cannot be read raises a ``ValueError`` naming the file, the line and the
        value; with ``"skip"`` such rows are skipped and counted in one :class:`DataWarning`.
    encoding : str, default "utf-8"
        The text encoding; a byte sequence it cannot decode is an error naming the line.
    like : Interactions, optional
        The training data, for a test set read separately: ids are mapped with its mappers (the
        result shares them and has its shape), as in ``Interactions.from_raw(..., like=)``.
        Without it, the file's own ids are mapped by new mappers.
    unknown : {"drop", "error"}, default "drop"
        With ``like``: interactions whose user or item the training data does not know are
        dropped and counted in one :class:`DataWarning` naming the file (``"drop"``), or raise a
        ``ValueError`` naming an unknown id (``"error"``). A file whose every interaction is
        unknown is a ``ValueError`` either way.

    Returns
    -------
    Interactions
        Ids mapped by fitted :class:`IdMapper` s (integer ids when every id of a column is a
        plain integer such as ``42``, otherwise the strings as written; with ``like``, the
        training data's mappers and shape); ``source`` holds the
        file name, ``format`` and the counts of lines, blank lines, bad lines, trailing
        separators and merged duplicates (with ``like``: also ``unknown_dropped``).

    Notes
    -----
    Messy-file policy, shared by all the text readers:

    - a UTF-8 byte-order mark at the start of the file is removed;
    - blank (or whitespace-only) lines are skipped and counted;
    - a separator at the end of a line (empty trailing fields) is tolerated and counted;
    - spaces around ids and numbers are ignored;
    - unreadable rows (a wrong number of fields, an empty id, a rating that is not a finite
      number, a timestamp that is not a whole number, broken quoting) follow ``on_bad_line``;
      when every row is unreadable, ``"skip"`` raises a ``ValueError`` too (the file is not
      what the arguments describe) rather than return empty interactions;
    - with ``sep=","``, a field may be double-quoted (``"a, b"``, ``""`` for a quote) within
      one line; other separators take quotes literally.

    Line numbers count every line of the file from 1, header and blank lines included, with
    ``\\n``, ``\\r\\n`` and ``\\r`` each ending a line.

    Examples
    --------
    >>> data = read_csv("clicks.csv", user_col="user", item_col="item",
    ...                 timestamp_col="time")  # doctest: +SKIP
    """
    _check_policies(duplicates, on_bad_line, like, unknown)
    columns = _check_columns(user_col, item_col, rating_col, timestamp_col, header)
    if sep is not None and (not isinstance(sep, str) or not sep or sep.strip("\"\r\n") != sep):
        raise ValueError(f"sep: expected a non-empty separator without quotes or newlines, got {sep!r}")
    source = _Source(path, encoding=encoding)
    table = _read_delimited(source, sep=sep, header=bool(header), columns=columns, on_bad_line=on_bad_line)
    fmt = {"\t": "tsv", ",": "csv"}.get(table.sep, "delimited")
    inter, messages = _finish(table, fmt, duplicates, like=like, unknown=unknown)
    _warn(messages)
    return inter


def read_recbole(path, *, user_col="user_id", item_col="item_id", rating_col="auto", timestamp_col="auto",
                 duplicates="keep", on_bad_line="error", encoding="utf-8", like=None, unknown="drop"):
    """Read a RecBole atomic ``.inter`` file.

    The file is tab-separated with a header of ``name:type`` fields, e.g.
    ``user_id:token	item_id:token	rating:float	timestamp:float``; types are ``token``,
    ``token_seq``, ``float`` and ``float_seq``.

    Parameters
    ----------
    path : str or os.PathLike
    user_col, item_col : str, default "user_id", "item_id"
        Field names, with or without their ``:type``.
    rating_col, timestamp_col : str or None, default "auto"
        ``"auto"`` reads the ``rating`` / ``timestamp`` field when the header has one; a name
        requires that field; None ignores it.
    duplicates, on_bad_line, encoding, like, unknown
        As for :func:`read_csv`, whose messy-file policy applies.

    Returns
    -------
    Interactions
        With ``source["format"] == "recbole"``.
    """
    _check_policies(duplicates, on_bad_line, like, unknown)
    roles = {"user": user_col, "item": item_col, "rating": rating_col, "timestamp": timestamp_col}
    columns = {}
    for role, col in roles.items():
        if col is None:
            continue
        if not isinstance(col, str):
            raise TypeError(f"{role}_col: expected a RecBole field name (str), got {type(col).__name__}")
        if col == "auto" and role in ("rating", "timestamp"):
            columns[role] = _IfPresent(role)
        else:
            columns[role] = col.split(":", 1)[0]
    source = _Source(path, encoding=encoding)
    table = _read_delimited(source, sep="\t", header=True, columns=columns, on_bad_line=on_bad_line,
                            quoting=False, header_names=_recbole_names)
    inter, messages = _finish(table, "recbole", duplicates, like=like, unknown=unknown)
    _warn(messages)
    return inter


def read_movielens_file(path, *, duplicates="keep", on_bad_line="error", encoding="utf-8", like=None,
                        unknown="drop"):
    """Read a GroupLens MovieLens ratings file, detecting its format.

    ====================  ==================================================  ===========
    file                  format                                              variants
    ====================  ==================================================  ===========
    ``u.data``            ``user<TAB>item<TAB>rating<TAB>timestamp``, no      100K
                          header
    ``ratings.dat``       ``user::item::rating::timestamp``, no header        1M, 10M
    ``ratings.csv``       header ``userId,movieId,rating,timestamp``          20M, 25M,
                                                                              32M, latest
    ====================  ==================================================  ===========

    The format is detected from the first non-blank line (``::``, the ``userId`` header, or a
    tab), not from the file name.

    Parameters
    ----------
    path : str or os.PathLike
    duplicates, on_bad_line, encoding, like, unknown
        As for :func:`read_csv`, whose messy-file policy applies.

    Returns
    -------
    Interactions
        Integer user and item ids, ratings (float32) and timestamps (Unix seconds, int64);
        ``source["format"]`` names the detected format.
    """
    _check_policies(duplicates, on_bad_line, like, unknown)
    inter, messages = _read_grouplens(_Source(path, encoding=encoding), duplicates, on_bad_line, like=like,
                                      unknown=unknown)
    _warn(messages)
    return inter


# --------------------------------------------------------------------------------------------
# Argument checks


def _check_policies(duplicates, on_bad_line, like=None, unknown="drop"):
    if duplicates not in _DUPLICATES:
        raise ValueError(f"duplicates: expected one of {_DUPLICATES}, got {duplicates!r}")
    if on_bad_line not in _ON_BAD_LINE:
        raise ValueError(f"on_bad_line: expected one of {_ON_BAD_LINE}, got {on_bad_line!r}")
    if like is not None:
        _check_like(like, unknown)  # before reading a large file
    elif unknown not in _LIKE_POLICIES:
        raise ValueError(f"unknown: expected one of {_LIKE_POLICIES}, got {unknown!r}")


def _check_columns(user_col, item_col, rating_col, timestamp_col, header, positions=True):
    columns = {}
    for role, col in zip(_ROLES, (user_col, item_col, rating_col, timestamp_col)):
        if col is None:
            if role in ("user", "item"):
                raise TypeError(f"{role}_col: required, got None")
            continue
        if isinstance(col, (bool, np.bool_)) or not isinstance(col, (str, int, np.integer)):
            raise TypeError(f"{role}_col: expected a column name (str) or 0-based position (int), "
                            f"got {type(col).__name__}")
        if isinstance(col, str):
            if not header:
                raise ValueError(f"{role}_col: {col!r} is a column name, but header=False; "
                                 "pass a 0-based column position")
        else:
            if not positions:
                raise TypeError(f"{role}_col: expected a column name (str), got {type(col).__name__}")
            if col < 0:
                raise ValueError(f"{role}_col: expected a position >= 0, got {col}")
            col = int(col)
        for other, taken in columns.items():
            if taken == col:
                raise ValueError(f"{role}_col: column {col!r} is already {other}_col")
        columns[role] = col
    return columns


def _recbole_names(fields, name, lineno):
    """Field names of a RecBole header, checking its ``name:type`` form."""
    names = []
    for field in fields:
        base, colon, kind = field.partition(":")
        if not colon or not base or kind not in ("token", "token_seq", "float", "float_seq"):
            raise ValueError(f"{name}, line {lineno}: not a RecBole atomic header: field {field!r} is not "
                             "name:type with type token, token_seq, float or float_seq")
        names.append(base)
    return names


# --------------------------------------------------------------------------------------------
# GroupLens


_GROUPLENS = {
    "u.data": dict(sep="\t", header=False, n_fields=4, quoting=False,
                   columns={"user": 0, "item": 1, "rating": 2, "timestamp": 3}),
    "ratings.dat": dict(sep="::", header=False, n_fields=4, quoting=False,
                        columns={"user": 0, "item": 1, "rating": 2, "timestamp": 3}),
    "ratings.csv": dict(sep=",", header=True, quoting=True,
                        columns={"user": "userId", "item": "movieId", "rating": "rating",
                                 "timestamp": "timestamp"}),
}


def _grouplens_format(source):
    """'u.data', 'ratings.dat' or 'ratings.csv', from the first non-blank line."""
    found = source.first_line()
    if found is None:
        raise ValueError(f"{source.name}: empty file, expected GroupLens ratings")
    lineno, line = found
    if "::" in line:
        return "ratings.dat"
    if line.split(",")[0].strip().strip('"') == "userId":
        return "ratings.csv"
    if "\t" in line:
        return "u.data"
    raise ValueError(f"{source.name}, line {lineno}: not a GroupLens ratings file (u.data: tab-separated; "
                     "ratings.dat: '::'-separated; ratings.csv: header userId,movieId,rating,timestamp), "
                     f"got {_show(line)}; read other files with read_csv")


def _read_grouplens(source, duplicates, on_bad_line, fmt=None, like=None, unknown="drop"):
    fmt = fmt or _grouplens_format(source)
    spec = _GROUPLENS[fmt]
    table = _read_delimited(source, sep=spec["sep"], header=spec["header"], columns=spec["columns"],
                            n_fields=spec.get("n_fields"), quoting=spec["quoting"], on_bad_line=on_bad_line)
    return _finish(table, fmt, duplicates, like=like, unknown=unknown)
