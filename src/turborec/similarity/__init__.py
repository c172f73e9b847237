"""Sparse similarity: the top-k of a sparse product (:func:`sparse_dot_topk`), item-item or
user-user neighbours by several measures (:func:`topk_similarity`), and the TF-IDF and BM25
weightings of implicit (:func:`tfidf_weight`, :func:`bm25_weight`); and Surprise's dense co-rated
similarity matrices (:func:`corated_similarity`, in ``_corated.py``: its own kernel).

The sparse measures (``MEASURES``) run on the one kernel ``sparse_dot_topk``
(``csrc/include/turborec/similarity.hpp``); the rating measures (``RATING_MEASURES``: adjusted
cosine and Surprise's co-rated ones) on ``corated_topk`` (``corated.hpp``, prepared in
``_corated.py``), the top-k sibling of the dense ``corated_similarity``. ``sparse_dot_topk``:
row-wise sparse accumulation into a dense accumulator per thread, merged into a running top-k
per row. The facts the backends share live here, once: the measures' weights (inverse norms
for cosine, norm powers for asymmetric cosine, stored-entry counts for Jaccard) are computed
here and every backend applies them to each score after the product in the same order, so
native, numba and the numpy reference round alike; the candidate buffer; the row blocks of the
padded output (``_padded.py``). Implementations: ``_numpy.py`` (the reference), ``_native.py``,
``_numba.py``, ``_cupy.py`` (GPU). Definitions and parity with implicit and Surprise: docs/similarity.md.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from ._corated import CORATED_MEASURES, PEARSON_BASELINE_SHRINKAGE, RATING_MEASURES, corated_similarity, corated_topk
from ._operands import (as_operand, check_min_support, check_number, check_threshold, cosine_rows, output_dtype, power,
                        squared_norms)
from ._padded import padded_topk
from ._weighting import bm25_weight, tfidf_weight

__all__ = ["CORATED_MEASURES", "MEASURES", "RATING_MEASURES", "bm25_weight", "corated_similarity", "sparse_dot_topk",
           "tfidf_weight", "topk_similarity"]

# The measures of the sparse product (sparse_dot_topk); topk_similarity also takes RATING_MEASURES.
MEASURES = ("dot", "cosine", "jaccard", "asymmetric_cosine")

# How a score is formed from the product's sum s and the count n of shared entries (the order of
# the combine codes of similarity.hpp, exported by the binding as _native.SIMILARITY_COMBINE).
COMBINE = ("scale", "jaccard")
SCALE, JACCARD = 0, 1
# How the native kernel accumulates a row (_native.SIMILARITY_ACCUMULATE): sums and counts of
# shared entries; counts only when every value is 1 (the sums are the counts); sums only when no
# count is needed and every product is positive (a sum is 0 exactly until touched). The results
# are the same; the lighter accumulators halve the memory traffic of the hot loop.
ACCUMULATE = ("sums_and_counts", "counts", "sums")
SUMS_AND_COUNTS, COUNTS, SUMS = 0, 1, 2


class Scoring(NamedTuple):
    """What every backend applies to the sum ``s`` and count ``n`` of a pair (row r, column c):
    ``combine`` SCALE: ``s * (row_weight[r] * col_weight[c])`` (or ``s`` without weights);
    JACCARD: ``n / (row_weight[r] + col_weight[c] - n)``; then, when ``shrinkage > 0``,
    ``score * (n / (n + shrinkage))``. Pairs with ``n < min_support``, scores below ``min_score``
    (and NaN) are dropped, and the diagonal too when ``exclude_self``. ``shrinkage`` and
    ``min_score`` are scalars of the output dtype, so every backend computes in it.
    ``accumulate`` (:func:`_topk_product` sets it, and clips ``min_support`` to ``d + 1``): with
    ``COUNTS`` every stored value is 1, so ``s`` is ``n`` cast to the dtype."""

    combine: int
    shrinkage: np.floating
    min_score: np.floating
    exclude_self: bool
    min_support: int = 1
    accumulate: int = SUMS_AND_COUNTS


def _accumulate(a_data, bt_data, scoring):
    """The lightest accumulator that gives the same results (see ``ACCUMULATE``)."""
    if (a_data == 1).all() and (bt_data == 1).all():
        return COUNTS
    if scoring.combine == SCALE and not scoring.shrinkage > 0 and scoring.min_support <= 1 and len(a_data) and \
            len(bt_data):
        a_min, b_min = a_data.min(), bt_data.min()
        if a_min > 0 and b_min > 0 and a_min * b_min >= np.finfo(a_data.dtype).tiny:  # in the dtype, as the binding
            return SUMS
    return SUMS_AND_COUNTS


def _csr_parts(x, index_dtype):
    indptr, indices = v.csr_arrays(x)
    return (indptr.astype(index_dtype, copy=False), indices.astype(index_dtype, copy=False),
            np.ascontiguousarray(x.data[: x.nnz]))


def _topk_product(a, b_t, m, k, weights, scoring, backend, n_threads):
    """The CSR (n x m) of each row's top-k of ``a @ b_t``, from the padded blocks the kernel writes."""
    index_dtype = np.int64 if max(a.nnz, b_t.nnz, a.shape[0] + 1, m + 1, a.shape[1] + 1) > v.INT32_MAX else np.int32
    a_parts, bt_parts = _csr_parts(a, index_dtype), _csr_parts(b_t, index_dtype)
    scoring = scoring._replace(accumulate=_accumulate(a_parts[2], bt_parts[2], scoring),
                               min_support=min(scoring.min_support, a.shape[1] + 1))  # past d: no pair
    return padded_topk("sparse_dot_topk", (a_parts, bt_parts, *weights),
                       lambda rows, k, capacity: (m, rows, k, scoring, capacity), a.shape[0], m, k, a.dtype, backend,
                       n_threads)


def sparse_dot_topk(A, B, k, *, threshold=None, normalize=False, exclude_self=False, backend=None,
                    n_threads=None):
    """The top-k of each row of ``A @ B.T`` for sparse ``A`` and ``B``, as a sparse matrix.

    The dense ``n x m`` product is never built: each row of ``A`` is multiplied into an
    accumulator of length ``m`` and merged into a running top-k. Memory beyond the inputs and
    the output: about ``n_threads * (m + k)`` entries, plus one padded block of at most 4M
    (id, score) pairs. Results do not depend on ``n_threads``.

    Parameters
    ----------
    A : scipy.sparse matrix of shape (n, d)
        Any format (checked, then converted to CSR); finite values of any real or bool dtype.
        Duplicate entries are summed (as scipy sums them) and stored zeros dropped; ``A`` itself
        is never modified.
    B : scipy.sparse matrix of shape (m, d)
        Likewise.
    k : int
        Entries to keep per row (``k > m`` keeps every scored column).
    threshold : float, optional
        Scores below it are not returned.
    normalize : bool, default False
        Score by cosine: ``(a . b) / (|a| |b|)`` with Euclidean row norms.
    exclude_self : bool, default False
        Never return column ``r`` for row ``r`` (needs ``m == n``; ``A`` and ``B`` are usually
        the same matrix).
    backend : str, optional
        ``"native"``, ``"numba"``, ``"cupy"`` (GPU), ``"numpy"`` or ``"auto"``; see
        :mod:`turborec.backends`.
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, m)
        At most ``k`` stored entries per row, in score order (best first, ties to the lower
        column id), so its indices are NOT sorted by column. float64 when ``A`` or ``B`` is
        float64, else float32. Only columns that share at least one stored entry with the row
        are scored: a row with nothing in common with ``B`` has no entries, and a stored 0 means
        a product that summed to 0. NaN scores (a product that overflowed) are never returned.
    """
    k = v.check_k(k)
    A, B = v.as_csr(A, "A"), v.as_csr(B, "B")  # shape and format checks first, values next
    dtype = output_dtype(A.dtype, B.dtype)
    A, B = as_operand(A, "A", dtype), as_operand(B, "B", dtype)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"B: expected {A.shape[1]} columns like A, got shape {B.shape}")
    n, m = A.shape[0], B.shape[0]
    v.check_id_range(m, "B", "rows")
    normalize = v.as_bool(normalize, "normalize")
    exclude_self = v.as_bool(exclude_self, "exclude_self")
    if exclude_self and m != n:
        raise ValueError(f"exclude_self: needs A and B with as many rows, got {n} and {m}")
    weights = (None, None)
    if normalize:
        A, B = cosine_rows(A), cosine_rows(B)
        weights = (power(squared_norms(A), -0.5, dtype), power(squared_norms(B), -0.5, dtype))
    scoring = Scoring(SCALE, dtype.type(0), check_threshold(threshold, dtype), exclude_self)
    return _topk_product(A, B.T.tocsr(), m, k, weights, scoring, backend, n_threads)


def topk_similarity(X, k, *, measure="cosine", shrinkage=None, min_support=1, threshold=None, alpha=0.5,
                    baselines=None, backend=None, n_threads=None):
    """The ``k`` most similar other rows of each row of ``X``.

    For item-item neighbours pass the items x users matrix: ``user_items.T`` as it is (a CSC
    matrix, whose transpose, needed too, is then free) rather than ``user_items.T.tocsr()``.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n, d)
        Any format, finite values, never modified. The sparse measures sum duplicates and drop
        stored zeros; the rating measures read the stored entries as the rated pairs (a stored
        0 is a rating of 0) and refuse duplicates, as :func:`corated_similarity`.
    k : int
        Neighbours per row.
    measure : str, default "cosine"
        With ``s = a . b``, Euclidean norms ``|a|``, and ``I`` the entries stored in both rows
        (``n = |I|``), the sparse measures:

        - ``"dot"``: ``s``;
        - ``"cosine"``: ``s / (|a| |b|)`` over whole rows (implicit's ``CosineRecommender``);
        - ``"jaccard"``: ``|A & B| / |A | B|`` over the sets of stored entries (values ignored);
        - ``"asymmetric_cosine"``: ``s / (|a|**(2 alpha) * |b|**(2 (1 - alpha)))``; ``alpha``
          0.5 is cosine;

        and the rating measures, over ``I`` only:

        - ``"adjusted_cosine"`` (Sarwar et al. 2001): each entry centred on the mean of its
          column's stored values (the user's mean rating, for items x users ``X``), then the
          cosine with norms over ``I``;
        - ``"corated_cosine"``, ``"msd"``, ``"pearson"``, ``"pearson_baseline"``: Surprise's
          measures, exactly as :func:`corated_similarity` computes them.
    shrinkage : float >= 0, optional
        Multiplies each score by ``n / (n + shrinkage)``: similarities backed by few shared
        entries shrink; ``pearson_baseline`` uses Surprise's ``(n - 1) / (n - 1 + shrinkage)``.
        Default (None): 100 for ``pearson_baseline`` (Surprise's default), 0 for every other
        measure.
    min_support : int >= 0, default 1
        Pairs sharing fewer stored entries are not returned (``pearson_baseline``: fewer than
        ``max(2, min_support)``, as Surprise). Pairs sharing none are never returned.
    threshold : float, optional
        Scores below it (after shrinkage, in the output dtype) are not returned.
    alpha : float in [0, 1], default 0.5
        The exponent of ``asymmetric_cosine`` (ignored by the other measures).
    baselines : tuple (row_bias, col_bias, global_mean), optional
        Required by ``pearson_baseline``, refused by the others; see :func:`corated_similarity`.
    backend, n_threads
        As in :func:`sparse_dot_topk`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
        At most ``k`` entries per row, best first (ties to the lower id), never the row itself;
        only pairs sharing at least ``max(1, min_support)`` stored entries are scored, and a
        rating measure whose denominator vanishes scores 0 there (as in
        :func:`corated_similarity`). float64 for float64 ``X``, else float32.
    """
    k = v.check_k(k)
    if not isinstance(measure, str):
        raise TypeError(f"measure: expected a str, got {type(measure).__name__}")
    if measure not in MEASURES + RATING_MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(MEASURES + RATING_MEASURES)}; got {measure!r}")
    if shrinkage is None:
        shrinkage = PEARSON_BASELINE_SHRINKAGE if measure == "pearson_baseline" else 0.0
    shrinkage = check_number(shrinkage, "shrinkage", 0.0)
    min_support = check_min_support(min_support)
    alpha = check_number(alpha, "alpha", 0.0, 1.0)
    if measure in RATING_MEASURES:
        return corated_topk(X, k, measure, min_support, shrinkage, threshold, baselines, backend, n_threads)
    if baselines is not None:
        raise ValueError(f"baselines: only measure='pearson_baseline' uses them, got measure={measure!r}")
    if sp.issparse(X) and X.format == "csc":  # e.g. user_items.T: its transpose is free, X costs one
        X_t = as_operand(v.as_csr_of_transpose(X, "X"), "X")
        X = X_t.T.tocsr()
    else:
        X = as_operand(v.as_csr(X, "X"), "X")
        X_t = X.T.tocsr()
    n, dtype = X.shape[0], X.dtype
    v.check_id_range(n, "X", "rows")
    combine, weights = SCALE, (None, None)
    if measure == "cosine":
        scaled = cosine_rows(X)
        if scaled is not X:
            X, X_t = scaled, scaled.T.tocsr()
        inverse = power(squared_norms(X), -0.5, dtype)
        weights = (inverse, inverse)
    elif measure == "asymmetric_cosine":
        squares = squared_norms(X)
        weights = (power(squares, -alpha, dtype), power(squares, alpha - 1.0, dtype))
    elif measure == "jaccard":  # on the pattern: ones, so the kernel keeps counts only
        combine = JACCARD
        X, X_t = (sp.csr_matrix((np.ones(M.nnz, dtype), M.indices, M.indptr), shape=M.shape) for M in (X, X_t))
        stored = np.diff(X.indptr).astype(dtype)
        weights = (stored, stored)
    scoring = Scoring(combine, dtype.type(shrinkage), check_threshold(threshold, dtype), True, min_support)
    return _topk_product(X, X_t, n, k, weights, scoring, backend, n_threads)
