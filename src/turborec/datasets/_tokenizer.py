"""The delimited-text parser shared by the text readers.

Text is parsed a few MiB at a time (``_source._Source.chunks``): each slice is split with
``str.split`` (or the ``csv`` module when double quotes appear in a comma-separated file) and
its columns are converted by NumPy in one call each (``_convert``). Bad rows are either an error
naming the file, the 1-based line and the value, or (``on_bad_line="skip"``) skipped and
counted in the table's ``_Stats``.
"""

import csv
from itertools import repeat
from operator import itemgetter

import numpy as np

from ._convert import _CONVERTERS, _FAST_CONVERTERS, _LABEL
from ._source import _show

_N_EXAMPLES = 3  # bad lines quoted in a DataWarning


class _IfPresent(str):
    """A column name to read only when the header has it (RecBole's "auto")."""


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
    # From the first non-blank line: (sep, fields per row, {role: position}, quoting, the most
    # fields a row may have: the header's, unnamed trailing columns included).
    layout = None
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
                limit = len(fields)
                if len(_drop_trailing(fields)) < len(fields):
                    stats.trailing += 1
                    fields = _drop_trailing(fields)
                names = header_names(fields, source.name, first_no) if header_names else fields
                positions = _resolve_names(names, columns, source.name, first_no)
                width = len(names)
                start += 1
            else:
                width = limit = n_fields or _common_width(lines[start:start + 1000], sep, use_quotes)
                positions = dict(columns)
                for role, col in positions.items():
                    if col >= width:
                        raise ValueError(f"{role}_col: position {col} is beyond the {width} fields of "
                                         f"{source.name} (line {first_no}: {_show(first)})")
            layout = (sep, width, positions, use_quotes, limit)
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
    """Parse one chunk of lines into ``table``, row by row where needed.

    Field counts, as pandas reads them: a row may lack columns that nobody asked for (at least
    ``needed`` fields); fields past the named columns may hold anything up to the header's width
    (columns with empty names: a spreadsheet's or a trailing separator's), and blank fields
    beyond that are trailing separators. Anything else is a bad row.
    """
    sep, width, positions, quoting, limit = layout
    needed = max(positions.values()) + 1
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
        if not any(field.strip() for field in row[limit:]):  # values, if any, in unnamed columns
            if len(row) > limit or not any(field.strip() for field in row[width:]):
                stats.trailing += 1
            rows[k] = row[:width]
            counts[k] = width
    # Checks on the n_rows rows of this chunk, in the order their reasons are preferred:
    # (bad mask, reason for row k).
    n_rows = len(rows)
    quoted = np.zeros(n_rows, dtype=bool)
    quoted[list(quote_bad)] = True
    wrong = ((counts < needed) | (counts > width)) & ~quoted
    expected = f"{needed}" if needed == limit else f"{needed} to {limit}"
    checks = [(quoted, quote_bad.get),
              (wrong, lambda k: f"expected {expected} fields separated by {sep!r}, got {counts[k]}: "
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
    sep, width, positions, quoting, _ = layout
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
