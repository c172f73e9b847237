"""Item features for content-based and hybrid models: multi-hot labels and TF-IDF text tokens.

Both return a float32 ``scipy.sparse.csr_matrix`` with one row per item (in the order given)
and one column per label or term, with sorted, distinct column indices, and the array of
column names. Neither needs scikit-learn; :func:`tfidf_tokens` gives the numbers of
scikit-learn's ``TfidfVectorizer`` with the same arguments (float32 here, float64 there).

Item features read from a file and aligned with a training set's items:
:func:`turborec.datasets.read_item_features`.
"""

import numbers
import re
from itertools import chain

import numpy as np
import scipy.sparse as sp

__all__ = ["multi_hot", "tfidf_tokens"]

_UNKNOWN = ("error", "ignore")
_NORMS = ("l1", "l2", None)


def multi_hot(list_of_labels, *, vocabulary=None, unknown="error"):
    """One row per item, 1.0 in the column of each of its labels.

    Parameters
    ----------
    list_of_labels : sequence of sequences of str or int, length n_items
        Each item's labels (a list, tuple, set or 1-D array; empty for none). A label repeated
        within one item counts once. A bare string is refused (it would read as its characters):
        wrap a single label in a list. Labels are all strings or all integers.
    vocabulary : sequence of str or int, optional
        The columns, in this order (distinct labels of the items' kind). Default: every label
        that occurs, sorted.
    unknown : {"error", "ignore"}, default "error"
        With ``vocabulary``: a label not in it raises a ``ValueError`` naming the item and the
        label (``"error"``), or is left out of the item's row (``"ignore"``, e.g. to encode test
        items with the training vocabulary; the row may end up empty).

    Returns
    -------
    features : scipy.sparse.csr_matrix of shape (n_items, n_labels), float32
        Entries are 1.0; column indices sorted within each row.
    labels : ndarray of shape (n_labels,)
        The label of each column (str or int64).

    Examples
    --------
    >>> X, labels = multi_hot([["Comedy", "Drama"], [], ["Drama", "Drama"]])
    >>> labels
    array(['Comedy', 'Drama'], dtype='<U6')
    >>> X.toarray()
    array([[1., 1.],
           [0., 0.],
           [0., 1.]], dtype=float32)
    """
    if unknown not in _UNKNOWN:
        raise ValueError(f"unknown: expected one of {_UNKNOWN}, got {unknown!r}")
    lists = _as_sequence(list_of_labels, "list_of_labels")
    for k, labels in enumerate(lists):
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
            raise TypeError(f"list_of_labels[{k}]: expected a sequence of labels, got {type(labels).__name__} "
                            f"{labels!r}; wrap a single label in a list")
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = _as_labels(list(chain.from_iterable(lists)), "list_of_labels", lengths)
    rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    if vocabulary is None:
        labels, columns = np.unique(flat, return_inverse=True)
        columns = columns.reshape(-1)
    else:
        labels = _as_labels(list(_as_sequence(vocabulary, "vocabulary")), "vocabulary")
        if len(flat) and len(labels) and flat.dtype.kind != labels.dtype.kind:
            raise TypeError(f"vocabulary: expected labels of the items' kind ({_kind_name(flat)}), "
                            f"got {_kind_name(labels)}")
        order = np.argsort(labels, kind="stable")
        ordered = labels[order]
        repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
        if len(repeated):
            raise ValueError(f"vocabulary: label {ordered[repeated[0]].item()!r} appears more than once")
        at = np.minimum(np.searchsorted(ordered, flat), max(len(ordered) - 1, 0))
        known = ordered[at] == flat if len(ordered) else np.zeros(len(flat), dtype=bool)
        if not known.all():
            if unknown == "error":
                first = int(np.flatnonzero(~known)[0])
                raise ValueError(f"list_of_labels[{rows[first]}]: label {flat[first].item()!r} is not in the "
                                 "vocabulary (pass unknown='ignore' to leave such labels out)")
            rows, at = rows[known], at[known]
        columns = order[at]
    return _ones_csr(rows, columns, (len(lists), len(labels))), labels


def tfidf_tokens(list_of_texts, *, min_df=1, max_df=1.0, lowercase=True, token_pattern=r"(?u)\b\w\w+\b",
                 norm="l2", smooth_idf=True, sublinear_tf=False):
    """TF-IDF weights of the word tokens of each text, as scikit-learn's ``TfidfVectorizer``.

    With ``n`` texts, a term's document frequency ``df`` (texts containing it) and its count
    ``tf`` in a text, the weight is ``tf * idf`` with

    - ``idf = ln((1 + n) / (1 + df)) + 1`` (``smooth_idf=True``: as if one more text held every
      term once), or ``ln(n / df) + 1`` (``smooth_idf=False``);
    - ``tf`` replaced by ``1 + ln(tf)`` with ``sublinear_tf=True``;

    then each row is scaled to unit Euclidean length (``norm="l2"``), unit sum of absolute
    values (``"l1"``) or left as it is (None); rows without terms stay empty. Computed in
    float64 and returned in float32.

    Parameters
    ----------
    list_of_texts : sequence of str, length n_texts
    min_df, max_df : int or float, default 1 and 1.0
        Keep the terms whose document frequency is at least ``min_df`` and at most ``max_df``:
        a float in [0, 1] is a fraction of ``n_texts``, an int >= 1 a number of texts.
    lowercase : bool, default True
        Lower-case the texts (``str.lower``) before tokenising.
    token_pattern : str, default r"(?u)\\b\\w\\w+\\b"
        A regular expression: its matches are the tokens (the default: runs of two or more word
        characters). With one capturing group, the group is the token.
    norm : {"l2", "l1", None}, default "l2"
    smooth_idf : bool, default True
    sublinear_tf : bool, default False

    Returns
    -------
    features : scipy.sparse.csr_matrix of shape (n_texts, n_terms), float32
        Column indices sorted within each row.
    terms : str ndarray of shape (n_terms,)
        The terms, sorted (scikit-learn's ``get_feature_names_out()``).

    Raises
    ------
    ValueError
        When no term is left (no text has a token, or the document-frequency bounds leave
        nothing), or ``max_df`` comes to fewer texts than ``min_df``.
    """
    texts = _as_sequence(list_of_texts, "list_of_texts")
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"list_of_texts[{k}]: expected str, got {type(text).__name__}")
    for name, value in (("lowercase", lowercase), ("smooth_idf", smooth_idf), ("sublinear_tf", sublinear_tf)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    if norm not in _NORMS:
        raise ValueError(f"norm: expected one of {_NORMS}, got {norm!r}")
    if not isinstance(token_pattern, str):
        raise TypeError(f"token_pattern: expected a regular expression (str), got {type(token_pattern).__name__}")
    try:
        pattern = re.compile(token_pattern)
    except re.error as exc:
        raise ValueError(f"token_pattern: not a regular expression ({exc}): {token_pattern!r}") from None
    if pattern.groups > 1:
        raise ValueError(f"token_pattern: at most one capturing group, got {pattern.groups}: {token_pattern!r}")
    n = len(texts)
    low = _doc_count(min_df, "min_df", n)
    high = _doc_count(max_df, "max_df", n)
    if high < low:
        raise ValueError(f"max_df: {max_df!r} comes to {high:g} texts, fewer than min_df={min_df!r} ({low:g})")

    # One pass to tokenise; the rest works on the flat token array.
    if lowercase:
        texts = [text.lower() for text in texts]
    tokens = list(map(pattern.findall, texts))
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n)
    flat = list(chain.from_iterable(tokens))
    if not flat:
        raise ValueError("list_of_texts: no text has a token matching token_pattern: empty vocabulary")
    # Distinct tokens by hashing (a string sort of every token is several times slower), sorted
    # by code point as scikit-learn sorts its vocabulary; then each token's term id.
    terms = sorted(dict.fromkeys(flat))
    term_of = np.fromiter(map(dict(zip(terms, range(len(terms)))).__getitem__, flat), dtype=np.int64,
                          count=len(flat))
    terms = np.array(terms, dtype=str)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pairs, counts = np.unique(rows * len(terms) + term_of, return_counts=True)
    rows, columns = pairs // len(terms), pairs % len(terms)
    df = np.bincount(columns, minlength=len(terms))

    kept = (df >= low) & (df <= high)
    if not kept.any():
        raise ValueError(f"min_df and max_df: no term is left (document frequencies between {low:g} and "
                         f"{high:g} of {n} texts)")
    if not kept.all():
        new_column = np.cumsum(kept) - 1
        keep = kept[columns]
        rows, columns, counts = rows[keep], new_column[columns[keep]], counts[keep]
        terms, df = terms[kept], df[kept]

    tf = counts.astype(np.float64)
    if sublinear_tf:
        tf = 1.0 + np.log(tf)
    idf = np.log((1.0 + n) / (1.0 + df)) if smooth_idf else np.log(n / df)
    weights = tf * (idf + 1.0)[columns]
    if norm is not None:
        per_row = np.abs(weights) if norm == "l1" else weights * weights
        totals = np.bincount(rows, weights=per_row, minlength=n)
        if norm == "l2":
            totals = np.sqrt(totals)
        weights = weights / totals[rows]  # a row with weights has a positive total
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    matrix = sp.csr_matrix((weights.astype(np.float32), columns.astype(_index_dtype(len(terms))),
                            indptr.astype(_index_dtype(len(weights)))), shape=(n, len(terms)))
    return matrix, terms


# --------------------------------------------------------------------------------------------
# Helpers


def _as_sequence(values, name):
    """A list of the elements of a list, tuple or 1-D array (not a bare string or a mapping)."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a sequence (list, tuple or 1-D array), got {type(values).__name__}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got an array of shape {values.shape}")
    return list(values)


def _as_labels(labels, name, lengths=None):
    """Labels as a str or int64 array; a TypeError naming the item for anything else or a mix."""
    types = set(map(type, labels))  # the common cases decided without a Python call per label
    if types and types <= {str, np.str_}:
        return np.array(labels, dtype=str)
    if types and all(issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_)) for t in types):
        return np.array(labels, dtype=np.int64)
    kinds = list(map(_kind_of, labels))
    if not kinds:
        return np.zeros(0, dtype=str)
    first = kinds[0]
    odd = next((k for k, kind in enumerate(kinds) if kind != first or kind not in ("str", "int")), None)
    if odd is not None:
        where = (f"{name}[{int(np.searchsorted(np.cumsum(lengths), odd, side='right'))}]" if lengths is not None
                 else f"{name}[{odd}]")
        raise TypeError(f"{where}: expected labels that are all str or all int, got {labels[odd]!r} "
                        f"({type(labels[odd]).__name__}) after {first} labels")
    return np.array(labels, dtype=str if first == "str" else np.int64)


def _kind_of(label):
    if isinstance(label, (str, np.str_)):
        return "str"
    if isinstance(label, numbers.Integral) and not isinstance(label, (bool, np.bool_)):
        return "int"
    return type(label).__name__


def _kind_name(array):
    return "str" if array.dtype.kind == "U" else "int"


def _doc_count(value, name, n):
    """A document-frequency bound as a number of texts (a fraction of ``n`` for a float)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a float in [0, 1] or an int >= 1, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise ValueError(f"{name}: expected a float in [0, 1] or an int >= 1, got {value}")
        return int(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a float in [0, 1] or an int >= 1, got {value}")
    return float(value) * n


def _index_dtype(n):
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def _ones_csr(rows, columns, shape):
    """A float32 CSR of ones at the distinct (row, column) pairs, indices sorted within rows."""
    keys = np.unique(rows.astype(np.int64) * max(shape[1], 1) + columns)
    rows, columns = keys // max(shape[1], 1), keys % max(shape[1], 1)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(keys), np.float32), columns.astype(_index_dtype(shape[1])),
                          indptr.astype(_index_dtype(len(keys)))), shape=shape)
