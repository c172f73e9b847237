"""Parquet files (through pyarrow), with the text readers' bad-row and duplicates policies."""

import os

import numpy as np

from ._assemble import _finish, _warn
from ._convert import _EXACT_FLOAT, _LABEL
from ._readers import _check_columns, _check_policies
from ._tokenizer import _N_EXAMPLES, _first_reason, _Stats, _Table


def read_parquet(path, *, user_col, item_col, rating_col=None, timestamp_col=None, duplicates="keep",
                 on_bad_line="error", like=None, unknown="drop"):
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
    like, unknown
        As for :func:`read_csv`: map a test set with the training data's mappers.

    Returns
    -------
    Interactions
        With ``source["format"] == "parquet"``.

    Raises
    ------
    ImportError
        pyarrow is not installed.
    """
    _check_policies(duplicates, on_bad_line, like, unknown)
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
    inter, messages = _finish(table_out, "parquet", duplicates, unit="row", like=like, unknown=unknown)
    _warn(messages)
    return inter


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
