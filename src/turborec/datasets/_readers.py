"""Readers for interaction files: GroupLens MovieLens, RecBole atomic files, any CSV/TSV, Parquet.

Every reader returns an :class:`~turborec.datasets.Interactions` and follows one policy for
messy files (see :func:`read_csv`): nothing is dropped silently, and a row that cannot be read is
either an error naming the file, the 1-based line and the value, or (``on_bad_line="skip"``)
skipped and counted in a :class:`DataWarning`.

Text is parsed a few MiB at a time: each slice is split with ``str.split`` (or the ``csv``
module when double quotes appear in a comma-separated file) and its columns are converted by
NumPy in one call each; the slow per-value path runs only to find and describe bad values.
"""

import csv
import io
import os
import warnings
import zipfile
from itertools import repeat
from operator import itemgetter

import numpy as np

from ..exceptions import DataWarning
from ._interactions import Interactions

_DUPLICATES = ("keep", "sum", "last", "error")
_ON_BAD_LINE = ("error", "skip")
_CHUNK_CHARS = 1 << 22  # text per parsing step: bounds memory on the 25M-line MovieLens files
_N_EXAMPLES = 3  # bad lines quoted in a DataWarning
_ROLES = ("user", "item", "rating", "timestamp")
_LABEL = {"user": "user id", "item": "item id", "rating": "rating", "timestamp": "timestamp"}
_EXACT_FLOAT = 2.0 ** 53  # integers up to this are exact in float64




# --------------------------------------------------------------------------------------------
# Public readers


def read_csv(path, *, user_col, item_col, rating_col=None, timestamp_col=None, sep=None, header=True,
             duplicates="keep", on_bad_line="error", encoding="utf-8"):
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

    Returns
    -------
    Interactions
        Ids mapped by fitted :class:`IdMapper` s (integer ids when every id of a column is a
        plain integer such as ``42``, otherwise the strings as written); ``source`` holds the
        file name, ``format`` and the counts of lines, blank lines, bad lines, trailing
        separators and merged duplicates.

    Notes
    -----
    Messy-file policy, shared by all the text readers:

    - a UTF-8 byte-order mark at the start of the file is removed;
    - blank (or whitespace-only) lines are skipped and counted;
    - a separator at the end of a line (empty trailing fields) is tolerated and counted;
    - spaces around ids and numbers are ignored;
    - unreadable rows (a wrong number of fields, an empty id, a rating that is not a finite
      number, a timestamp that is not a whole number, broken quoting) follow ``on_bad_line``;
    - with ``sep=","``, a field may be double-quoted (``"a, b"``, ``""`` for a quote) within
      one line; other separators take quotes literally.

    Line numbers count every line of the file from 1, header and blank lines included, with
    ``\\n``, ``\\r\\n`` and ``\\r`` each ending a line.

    Examples
    --------
    >>> data = read_csv("clicks.csv", user_col="user", item_col="item",
    ...                 timestamp_col="time")  # doctest: +SKIP
    """
    _check_policies(duplicates, on_bad_line)
    columns = _check_columns(user_col, item_col, rating_col, timestamp_col, header)
    if sep is not None and (not isinstance(sep, str) or not sep or sep.strip("\"\r\n") != sep):
        raise ValueError(f"sep: expected a non-empty separator without quotes or newlines, got {sep!r}")
    source = _Source(path, encoding=encoding)
    table = _read_delimited(source, sep=sep, header=bool(header), columns=columns, on_bad_line=on_bad_line)
    fmt = {"\t": "tsv", ",": "csv"}.get(table.sep, "delimited")
    inter, message = _finish(table, fmt, duplicates)
    _warn(message)
    return inter


def read_recbole(path, *, user_col="user_id", item_col="item_id", rating_col="auto", timestamp_col="auto",
                 duplicates="keep", on_bad_line="error", encoding="utf-8"):
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
    duplicates, on_bad_line, encoding
        As for :func:`read_csv`, whose messy-file policy applies.

    Returns
    -------
    Interactions
        With ``source["format"] == "recbole"``.
    """
    _check_policies(duplicates, on_bad_line)
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
    inter, message = _finish(table, "recbole", duplicates)
    _warn(message)
    return inter


def read_movielens_file(path, *, duplicates="keep", on_bad_line="error", encoding="utf-8"):
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
    duplicates, on_bad_line, encoding
        As for :func:`read_csv`, whose messy-file policy applies.

    Returns
    -------
    Interactions
        Integer user and item ids, ratings (float32) and timestamps (Unix seconds, int64);
        ``source["format"]`` names the detected format.
    """
    _check_policies(duplicates, on_bad_line)
    inter, message = _read_grouplens(_Source(path, encoding=encoding), duplicates, on_bad_line)
    _warn(message)
    return inter


def read_parquet(path, *, user_col, item_col, rating_col=None, timestamp_col=None, duplicates="keep",
                 on_bad_line="error"):
    """Read interactions from a Parquet file (needs ``pyarrow``).

    Parameters
    ----------
    path : str or os.PathLike
    user_col, item_col : str
        Columns of integer or string ids (dictionary-encoded strings too).
    rating_col, timestamp_col : str, optional
        A numeric rating column; a timestamp column of integers, whole floats, or a
        timestamp / date type (converted to Unix seconds; a fraction of a second is a bad row).
    duplicates, on_bad_line
        As for :func:`read_csv`. Bad rows here are nulls, NaN / inf ratings and fractional
        timestamps; they are named by their 1-based row number.

    Returns
    -------
    Interactions
        With ``source["format"] == "parquet"``.

    Raises
    ------
    ImportError
        pyarrow is not installed.
    """
    _check_policies(duplicates, on_bad_line)
    columns = _check_columns(user_col, item_col, rating_col, timestamp_col, header=True, positions=False)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError("read_parquet needs pyarrow, which is not installed: pip install pyarrow "
                          f"(or export the file to CSV and use read_csv) [{exc}]") from exc
    name = os.fspath(path)
    names = pq.read_schema(name).names
    for role, col in columns.items():
        if col not in names:
            raise ValueError(f"{name}: no column {col!r} for {role}_col; columns are {names}")
    table = pq.read_table(name, columns=list(dict.fromkeys(columns.values())))
    n = table.num_rows
    stats = _Stats(name)
    stats.lines = n
    checks, values = [], {}
    for role, col in columns.items():
        values[role], role_checks = _arrow_column(pa, table.column(col), role, col)
        checks += role_checks
    bad = np.zeros(n, dtype=bool)
    for mask, _ in checks:
        bad |= mask
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        if on_bad_line == "error":
            raise ValueError(f"{name}, row {first + 1}: {_first_reason(checks, first)} "
                             "(pass on_bad_line='skip' to skip such rows)")
        stats.bad = int(bad.sum())
        stats.examples = [(int(i) + 1, _first_reason(checks, int(i))) for i in np.flatnonzero(bad)[:_N_EXAMPLES]]
    keep = ~bad
    table_out = _Table(name, stats, None)
    for role in columns:
        table_out.parts[role] = [values[role][keep]]
    table_out.positions = [np.flatnonzero(keep) + 1]
    inter, message = _finish(table_out, "parquet", duplicates, unit="row")
    _warn(message)
    return inter


# --------------------------------------------------------------------------------------------
# Argument checks


def _check_policies(duplicates, on_bad_line):
    if duplicates not in _DUPLICATES:
        raise ValueError(f"duplicates: expected one of {_DUPLICATES}, got {duplicates!r}")
    if on_bad_line not in _ON_BAD_LINE:
        raise ValueError(f"on_bad_line: expected one of {_ON_BAD_LINE}, got {on_bad_line!r}")


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


class _IfPresent(str):
    """A column name to read only when the header has it (RecBole's "auto")."""


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
# Sources and line chunks


class _Source:
    """A text file to read: a path, or a member of a zip archive."""

    def __init__(self, path, member=None, encoding="utf-8"):
        self.path = os.fspath(path)
        self.member = member
        self.encoding = encoding
        self.name = self.path if member is None else f"{self.path}:{member}"
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding: unknown text encoding {encoding!r}") from None

    def open_binary(self):
        if self.member is None:
            return open(self.path, "rb")
        # The member keeps the archive's file open until it is closed itself.
        with zipfile.ZipFile(self.path) as archive:
            return archive.open(self.member)

    def open(self):
        """Text with universal newlines (``\\n``, ``\\r\\n`` and ``\\r`` end a line)."""
        return io.TextIOWrapper(self.open_binary(), encoding=self.encoding, newline=None)

    def chunks(self):
        """Yield ``(number of the first line, lines)``; lines keep their ``\\n``; no BOM."""
        lineno = 1
        with self.open() as stream:
            while True:
                try:
                    lines = stream.readlines(_CHUNK_CHARS)
                except UnicodeDecodeError as exc:
                    raise self._decode_error(exc) from None
                if not lines:
                    return
                if lineno == 1 and lines[0].startswith("\ufeff"):
                    lines[0] = lines[0][1:]
                yield lineno, lines
                lineno += len(lines)

    def first_line(self):
        """``(lineno, line)`` of the first non-blank line, or None for a blank file."""
        lineno = 0
        with self.open() as stream:
            try:
                for lineno, line in enumerate(stream, 1):
                    if lineno == 1:
                        line = line.lstrip("\ufeff")
                    if line.strip():
                        return lineno, line
            except UnicodeDecodeError as exc:
                raise self._decode_error(exc) from None
        return None

    def _decode_error(self, exc):
        # The text layer does not say where it failed: find the line from the raw bytes.
        with self.open_binary() as raw:
            for lineno, line in enumerate(raw, 1):
                try:
                    line.decode(self.encoding)
                except UnicodeDecodeError as line_exc:
                    bad = line[line_exc.start:line_exc.end]
                    return ValueError(f"{self.name}, line {lineno}: not valid {self.encoding} text "
                                      f"({line_exc.reason}: {bad!r}); pass encoding= (e.g. 'latin-1')")
        return ValueError(f"{self.name}: not valid {self.encoding} text ({exc.reason})")


# --------------------------------------------------------------------------------------------
# Delimited text


class _Stats:
    def __init__(self, name):
        self.name = name
        self.lines = 0
        self.blank = 0
        self.bad = 0
        self.trailing = 0
        self.examples = []  # (line, reason) of the first skipped rows


class _Table:
    """Column parts read from a file, chunk by chunk."""

    def __init__(self, name, stats, sep):
        self.name, self.stats, self.sep = name, stats, sep
        self.parts = {}
        self.positions = []  # line (or row) number of every kept row


def _read_delimited(source, *, sep, header, columns, on_bad_line, n_fields=None, quoting=None, header_names=None):
    """Parse ``source`` into a :class:`_Table` of the ``columns`` (role -> name or position)."""
    stats = _Stats(source.name)
    table = _Table(source.name, stats, sep)
    layout = None  # (sep, fields per row, {role: position}, quoting) from the first non-blank line
    for base, lines in source.chunks():
        stats.lines = base + len(lines) - 1
        if layout is None:
            start = 0
            while start < len(lines) and lines[start].isspace():
                start += 1
            stats.blank += start
            if start == len(lines):
                continue
            first, first_no = lines[start], base + start
            if sep is None:
                sep = _detect_sep(first, source.name, first_no)
                table.sep = sep
            use_quotes = (sep == ",") if quoting is None else quoting
            if header:
                rows, bad = _split([first], sep, use_quotes)
                if bad:
                    raise ValueError(f"{source.name}, line {first_no}: cannot split the header: {bad[0]}")
                fields = [field.strip() for field in rows[0]]
                if len(_drop_trailing(fields)) < len(fields):
                    stats.trailing += 1
                    fields = _drop_trailing(fields)
                names = header_names(fields, source.name, first_no) if header_names else fields
                positions = _resolve_names(names, columns, source.name, first_no)
                width = len(names)
                start += 1
            else:
                width = n_fields or _common_width(lines[start:start + 1000], sep, use_quotes)
                positions = dict(columns)
                for role, col in positions.items():
                    if col >= width:
                        raise ValueError(f"{role}_col: position {col} is beyond the {width} fields of "
                                         f"{source.name} (line {first_no}: {_show(first)})")
            layout = (sep, width, positions, use_quotes)
            for role in positions:
                table.parts[role] = []
            lines, base = lines[start:], base + start
            if not lines:
                continue
        _parse_chunk(lines, base, layout, table, on_bad_line)
    if layout is None and header:
        raise ValueError(f"{source.name}: empty file, expected a header line")
    if layout is None:
        table.parts = {role: [] for role in columns if not isinstance(columns[role], _IfPresent)}
    return table


def _detect_sep(line, name, lineno):
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    raise ValueError(f"{name}, line {lineno}: cannot detect the separator (no tab or comma in "
                     f"{_show(line)}); pass sep=")


def _common_width(lines, sep, quoting):
    """The most common number of fields (trailing empty fields ignored) among ``lines``."""
    rows, _ = _split([line for line in lines if not line.isspace()], sep, quoting)
    widths = [len(_drop_trailing(row)) for row in rows if row]
    return max(set(widths), key=widths.count) if widths else 0


def _drop_trailing(fields):
    end = len(fields)
    while end > 1 and not fields[end - 1].strip():
        end -= 1
    return fields[:end]


def _resolve_names(names, columns, name, lineno):
    positions = {}
    for role, col in columns.items():
        if isinstance(col, str):
            hits = [k for k, field in enumerate(names) if field == col]
            if not hits:
                if isinstance(col, _IfPresent):
                    continue
                raise ValueError(f"{name}, line {lineno}: no column {col!r} for {role}_col in the header; "
                                 f"columns are {names}")
            if len(hits) > 1:
                raise ValueError(f"{name}, line {lineno}: column {col!r} for {role}_col appears "
                                 f"{len(hits)} times in the header")
            positions[role] = hits[0]
        else:
            if col >= len(names):
                raise ValueError(f"{role}_col: position {col} is beyond the {len(names)} columns of "
                                 f"{name} (header on line {lineno}: {names})")
            positions[role] = col
    for role, at in positions.items():
        for other, taken in positions.items():
            if other != role and taken == at:
                raise ValueError(f"{role}_col and {other}_col: both name column {at} of {name} (header on "
                                 f"line {lineno}: {names})")
    return positions


def _split(lines, sep, quoting):
    """Fields of each line, and ``{index: reason}`` for lines whose quoting is broken."""
    if not (quoting and '"' in "".join(lines)):
        return list(map(str.split, lines, repeat(sep))), {}
    rows, bad = [], {}
    for k, line in enumerate(lines):
        try:
            rows.append(next(csv.reader((line,), delimiter=sep, strict=True)))
        except (csv.Error, StopIteration) as exc:
            rows.append([])
            bad[k] = f"broken quoting ({exc}): {_show(line)}"
    return rows, bad


def _parse_chunk(lines, base, layout, table, on_bad_line):
    sep, width, positions, quoting = layout
    stats = table.stats
    blank = np.fromiter(map(str.isspace, lines), dtype=bool, count=len(lines))
    if not blank.any() and _parse_clean_chunk(lines, base, layout, table):
        return
    if blank.any():
        kept = np.flatnonzero(~blank)
        stats.blank += len(lines) - len(kept)
        lines = [lines[k] for k in kept]
        linenos = base + kept
    else:
        linenos = base + np.arange(len(lines))
    if not lines:
        return
    rows, quote_bad = _split(lines, sep, quoting)
    counts = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    for k in np.flatnonzero(counts > width):
        row = rows[k]
        if not any(field.strip() for field in row[width:]):
            rows[k] = row[:width]
            counts[k] = width
            stats.trailing += 1
    # Checks on the n_rows rows of this chunk, in the order their reasons are preferred:
    # (bad mask, reason for row k).
    n_rows = len(rows)
    quoted = np.zeros(n_rows, dtype=bool)
    quoted[list(quote_bad)] = True
    wrong = (counts != width) & ~quoted
    checks = [(quoted, quote_bad.get),
              (wrong, lambda k: f"expected {width} fields separated by {sep!r}, got {counts[k]}: "
                                f"{_show(lines[k])}")]
    good = np.flatnonzero(~(wrong | quoted))
    roles = list(positions)
    converted = {}
    if len(good):
        selected = rows if len(good) == n_rows else [rows[k] for k in good]
        getter = itemgetter(*(positions[role] for role in roles))
        fields = list(zip(*map(getter, selected))) if len(roles) > 1 else [tuple(map(getter, selected))]
        for role, column in zip(roles, fields):
            values = np.array(column)
            converted[role], role_checks = _CONVERTERS[role](values, _LABEL[role])
            for mask, reason in role_checks:
                full = np.zeros(n_rows, dtype=bool)
                full[good[mask]] = True
                checks.append((full, _shifted(reason, good)))
    bad = np.zeros(n_rows, dtype=bool)
    for mask, _ in checks:
        bad |= mask
    if bad.any():
        where = np.flatnonzero(bad)
        if on_bad_line == "error":
            k = int(where[0])
            raise ValueError(f"{table.name}, line {linenos[k]}: {_first_reason(checks, k)} "
                             "(pass on_bad_line='skip' to skip such lines)")
        for k in where[:max(0, _N_EXAMPLES - len(stats.examples))]:
            stats.examples.append((int(linenos[k]), _first_reason(checks, int(k))))
        stats.bad += len(where)
    keep = ~bad[good]
    for role in roles:
        values = converted.get(role)
        if values is None:
            continue
        table.parts[role].append(values if keep.all() else values[keep])
    table.positions.append(linenos[good[keep]])


def _parse_clean_chunk(lines, base, layout, table):
    """The common case in one pass per column: no blank lines, quotes, or odd field counts.

    Returns False, having stored nothing, when the chunk needs the careful path of
    :func:`_parse_chunk` (which gives the same result on clean chunks, only slower).
    """
    sep, width, positions, quoting = layout
    n = len(lines)
    text = "".join(lines)
    if quoting and '"' in text:
        return False
    if not (np.fromiter(map(str.count, lines, repeat(sep)), dtype=np.intp, count=n) == width - 1).all():
        return False
    if len(sep) > 1:
        # Join lines with a one-character stand-in for the separator, set while the lines are
        # still apart: a line ending in ":" must not make "::" with the next line's join.
        if "\0" in text:
            return False
        text, sep = text.replace(sep, "\0"), "\0"
    tokens = text.replace("\n", sep).split(sep)
    if len(tokens) != n * width + text.endswith("\n"):
        return False
    converted = {}
    for role, at in positions.items():
        values = _FAST_CONVERTERS[role](tokens[at:n * width:width])
        if values is None:
            return False
        converted[role] = values
    for role, values in converted.items():
        table.parts[role].append(values)
    table.positions.append(base + np.arange(n))
    return True


def _fast_ids(tokens):
    return _fast_integers(tokens, _convert_ids)


def _fast_ratings(tokens):
    try:
        numbers = np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
    except ValueError:
        return None
    with np.errstate(over="ignore"):
        numbers = numbers.astype(np.float32)
    return numbers if np.isfinite(numbers).all() else None


def _fast_timestamps(tokens):
    return _fast_integers(tokens, _convert_timestamps)


def _fast_integers(tokens, convert):
    """Plain integers parsed at once, else ``convert``'s values, or None when any token is bad."""
    ints = _plain_ints(tokens)
    if ints is not None:
        return ints
    values, checks = convert(np.array(tokens), "")
    return None if checks else values


_POWERS_OF_TEN = 10 ** np.arange(1, 19, dtype=np.int64)


def _plain_ints(tokens):
    """int64 array of ``tokens`` when every one is a plainly written integer (as ``str(int(t))``
    writes it) of at most 18 characters, else None.

    NumPy's own text parser reads the joined tokens. A token of digits and at most one minus
    sign that reads as a number written with as many characters has no "+", space, underscore
    or leading zero (which Python's ``int`` would also accept), and 18 characters cannot
    overflow int64.
    """
    n = len(tokens)
    text = ",".join(tokens)
    if not n or not text.isascii() or text.encode("ascii").translate(None, b"0123456789,-"):
        return None  # only digits, minus signs and the commas joining them
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
    if lengths.max() > 18:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.int64, sep=",")
        except (ValueError, Warning):
            return None
    if len(values) != n:
        return None
    negative = values < 0
    if text.count("-") != np.count_nonzero(negative):
        return None  # a "-" that is no number's sign (such as "-" alone, which reads as 0)
    plain = np.searchsorted(_POWERS_OF_TEN, np.abs(values), side="right") + 1 + negative
    return values if np.array_equal(plain, lengths) else None


_FAST_CONVERTERS = {"user": _fast_ids, "item": _fast_ids, "rating": _fast_ratings, "timestamp": _fast_timestamps}


def _shifted(reason, good):
    """A reason indexed by chunk row, from one indexed by position among the ``good`` rows."""
    def at(k):
        return reason(int(np.searchsorted(good, k)))
    return at


def _first_reason(checks, k):
    for mask, reason in checks:
        if mask[k]:
            return reason(k)
    raise AssertionError("row is not bad")


def _show(line, limit=80):
    line = line.rstrip("\r\n")
    return repr(line if len(line) <= limit else line[:limit] + "...")


# --------------------------------------------------------------------------------------------
# Column converters: (values, [(bad mask, reason for position k)])


def _convert_ids(values, label):
    values = np.char.strip(values)
    empty = np.char.str_len(values) == 0
    checks = [(empty, lambda k: f"empty {label}")] if empty.any() else []
    present = values[~empty] if empty.any() else values
    try:
        ints = present.astype(np.int64)
    except (ValueError, OverflowError):
        return values, checks
    # Integer ids only when every id is written plainly: "007" and "7" must stay two ids.
    if not np.array_equal(ints.astype(present.dtype), present):
        return values, checks
    if not empty.any():
        return ints, checks
    out = np.zeros(len(values), dtype=np.int64)
    out[~empty] = ints
    return out, checks


def _convert_ratings(values, label):
    try:
        numbers = values.astype(np.float64)
        unparsed = None
    except ValueError:
        numbers, unparsed = _elementwise(values, float, np.float64)
    with np.errstate(over="ignore"):
        numbers = numbers.astype(np.float32)
    finite = np.isfinite(numbers)
    checks = []
    if unparsed is not None:
        checks.append((unparsed, lambda k: f"{label} {values[k].strip()!r} is not a number"))
        finite |= unparsed
    if not finite.all():
        checks.append((~finite, lambda k: f"{label} {values[k].strip()!r} is not a finite float32 number"))
    return numbers.astype(np.float32), checks


def _convert_timestamps(values, label):
    try:
        return values.astype(np.int64), []
    except (ValueError, OverflowError):
        pass
    try:  # whole numbers written as floats ("881250949.0"), exact in float64
        numbers = values.astype(np.float64)
        if (np.abs(numbers) <= _EXACT_FLOAT).all() and (numbers == np.round(numbers)).all():
            return numbers.astype(np.int64), []
    except ValueError:
        pass
    out = np.zeros(len(values), dtype=np.int64)
    bad = np.zeros(len(values), dtype=bool)
    for k, text in enumerate(values.tolist()):
        try:
            out[k] = _whole_number(text)
        except (ValueError, OverflowError):
            bad[k] = True
    return out, [(bad, lambda k: f"{label} {values[k].strip()!r} is not a whole number that fits int64")]


def _whole_number(text):
    try:
        return int(text)
    except ValueError:
        number = float(text)
    if not (abs(number) <= _EXACT_FLOAT and number == round(number)):
        raise ValueError(text)
    return int(number)


def _elementwise(values, parse, dtype):
    out = np.zeros(len(values), dtype=dtype)
    bad = np.zeros(len(values), dtype=bool)
    for k, text in enumerate(values.tolist()):
        try:
            out[k] = parse(text)
        except (ValueError, OverflowError):
            bad[k] = True
    return out, bad


_CONVERTERS = {"user": _convert_ids, "item": _convert_ids, "rating": _convert_ratings,
               "timestamp": _convert_timestamps}


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


def _read_grouplens(source, duplicates, on_bad_line, fmt=None):
    fmt = fmt or _grouplens_format(source)
    spec = _GROUPLENS[fmt]
    table = _read_delimited(source, sep=spec["sep"], header=spec["header"], columns=spec["columns"],
                            n_fields=spec.get("n_fields"), quoting=spec["quoting"], on_bad_line=on_bad_line)
    return _finish(table, fmt, duplicates)


# --------------------------------------------------------------------------------------------
# Parquet columns


def _arrow_column(pa, column, role, col):
    """NumPy values of an Arrow column and its checks (masks over all rows)."""
    label = f"{_LABEL[role]} (column {col!r})"
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    null = column.is_null().to_numpy(zero_copy_only=False)
    checks = [(null, lambda k: f"{label} is null")] if null.any() else []
    if role in ("user", "item"):
        if pa.types.is_integer(kind):
            values = column.fill_null(0).to_numpy().astype(np.int64)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = np.array(column.fill_null("").to_pylist(), dtype=str)
        else:
            raise TypeError(f"{col}: expected integer or string ids for {role}_col, got Arrow type {kind}")
        return values, checks
    if role == "rating":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            raise TypeError(f"{col}: expected numeric ratings for rating_col, got Arrow type {kind}")
        numbers = column.cast(pa.float64()).fill_null(0.0).to_numpy()
        with np.errstate(over="ignore"):
            finite = np.isfinite(numbers.astype(np.float32)) | null
        if not finite.all():
            checks.append((~finite, lambda k: f"{label} {numbers[k].item()!r} is not a finite float32 number"))
        return numbers.astype(np.float32), checks
    # timestamps
    if pa.types.is_integer(kind):
        return column.fill_null(0).to_numpy().astype(np.int64), checks
    if pa.types.is_floating(kind):
        numbers = column.fill_null(0.0).to_numpy().astype(np.float64)
        whole = (np.abs(numbers) <= _EXACT_FLOAT) & (numbers == np.round(numbers)) | null
        if not whole.all():
            checks.append((~whole, lambda k: f"{label} {numbers[k].item()!r} is not a whole number"))
        return np.where(whole, numbers, 0).astype(np.int64), checks
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        moments = column.cast(pa.timestamp("ns")) if pa.types.is_date(kind) else column
        stamps = moments.fill_null(0).to_numpy().astype("datetime64[ns]").astype(np.int64)
        whole = (stamps % 1_000_000_000 == 0) | null
        if not whole.all():
            checks.append((~whole, lambda k: f"{label} {column[k]} has a fraction of a second"))
        return stamps // 1_000_000_000, checks
    raise TypeError(f"{col}: expected numbers, timestamps or dates for timestamp_col, got Arrow type {kind}")


# --------------------------------------------------------------------------------------------
# Assembly


def _finish(table, fmt, duplicates, unit="line"):
    """Interactions from a table, the duplicates policy applied; and the warning to give, if any."""
    parts = table.parts
    users = _concat_ids(parts.get("user", []))
    items = _concat_ids(parts.get("item", []))
    ratings = _concat(parts["rating"], np.float32) if "rating" in parts else None
    timestamps = _concat(parts["timestamp"], np.int64) if "timestamp" in parts else None
    positions = _concat(table.positions, np.int64)
    inter = Interactions.from_raw(users, items, ratings, timestamps)
    inter, merged = _apply_duplicates(inter, positions, duplicates, table.name, unit)
    stats = table.stats
    inter.source = {"path": table.name, "format": fmt, "lines": stats.lines, "blank_lines": stats.blank,
                    "bad_lines": stats.bad, "trailing_separators": stats.trailing,
                    "duplicates": duplicates, "duplicates_merged": merged}
    message = None
    if stats.bad:
        shown = "; ".join(f"{unit} {at}: {reason}" for at, reason in stats.examples)
        message = (f"{table.name}: skipped {stats.bad} bad {unit}(s) of {stats.lines} "
                   f"(on_bad_line='skip'); first: {shown}")
    return inter, message


def _warn(message):
    if message:
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
