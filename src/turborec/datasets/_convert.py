"""Column converters: the text of one column to NumPy values, and which rows are bad.

Two kinds, one per role (user / item ids, ratings, timestamps):

- the careful converters (``_CONVERTERS``) return ``(values, [(bad mask, reason for row k)])``
  and run on any chunk; their per-value Python path runs only to find and describe bad values;
- the fast converters (``_FAST_CONVERTERS``) read a clean chunk's column in one call and return
  None as soon as anything is not plain, sending the chunk to the careful path.
"""

import warnings

import numpy as np

_LABEL = {"user": "user id", "item": "item id", "rating": "rating", "timestamp": "timestamp", "label": "label"}
_EXACT_FLOAT = 2.0 ** 53  # integers up to this are exact in float64


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
    out, bad = _elementwise(values, _whole_number, np.int64)
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


def _plain_int_ids(texts):
    """``(int64 values, mask)`` of the ids among ``texts`` written plainly as integers
    (``str(int(t)) == t``, as :func:`_convert_ids` requires of integer columns)."""
    values, bad = _elementwise(texts, _plain_int, np.int64)
    return values, ~bad


def _plain_int(text):
    number = int(text)
    if str(number) != text:
        raise ValueError(text)
    return number


def _convert_text(values, label):
    """Free text (e.g. a RecBole ``token_seq`` of labels), stripped; never bad."""
    return np.char.strip(values), []


_CONVERTERS = {"user": _convert_ids, "item": _convert_ids, "rating": _convert_ratings,
               "timestamp": _convert_timestamps, "label": _convert_text}


# --------------------------------------------------------------------------------------------
# Fast converters for clean chunks


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


def _fast_text(tokens):
    return _convert_text(np.array(tokens, dtype=str), "")[0]


_FAST_CONVERTERS = {"user": _fast_ids, "item": _fast_ids, "rating": _fast_ratings, "timestamp": _fast_timestamps,
                    "label": _fast_text}
