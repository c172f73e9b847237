"""NumPy reference of the similarity family: slow, obviously correct, the test oracle. It builds
the dense product of the row block, which the other backends never do, and sums it by BLAS in
BLAS's order: equal to the kernels' sums (each column in the order of the row's stored entries)
whenever they are exact, e.g. on integer values, and within rounding otherwise.

The contract every backend of this family meets (the public functions in ``__init__.py`` have
validated and coerced everything before the call):

- ``a`` is ``(indptr, indices, data)`` of a canonical CSR with ``n = len(indptr) - 1`` rows
  over ``d`` columns (indices strictly increasing within each row, no stored zeros), ``bt``
  likewise ``B`` transposed (``d`` rows over ``m`` columns); both index arrays int32, or both
  int64; ``data`` float32 or float64, the same in both, finite;
- ``row_weight`` (n) / ``col_weight`` (m) are None or both given, in that dtype;
- ``rows = (row_begin, row_end)``: the rows of ``a`` computed, ``1 <= k <= m``, ``scoring`` a
  ``Scoring`` (combine, shrinkage and min_score as scalars of the dtype, exclude_self only
  when m == n), ``capacity`` the candidate buffer (> k), ``n_threads`` a resolved positive int,
  and ``ids`` / ``values`` the (row_end - row_begin, k) outputs.

For row r and column c let ``s`` be the sum of a[r, j] * b[c, j] and ``n`` the number of j
stored in both. Only pairs with ``n >= 1`` are scored, by ``Scoring``'s formula, computed in the
data's dtype in the order written there. Each output row holds the row's best k scores, best
first, ties to the lower column id; pairs with ``n < min_support``, NaN scores, scores below
``min_score`` and (exclude_self) the diagonal are never selected; the rest of the row is padded
with id -1 and -inf.

The co-rated kernels take ``r``, the CSR ``(indptr, indices, values)`` of n rows over m columns
(indices sorted within rows, no duplicates, float64 values: ratings, residuals or centred
ratings; stored zeros are entries), and ``r_t`` its transpose; ``measure`` a code of
``_corated.CORATED_MEASURES``, ``min_support`` the effective one (>= 0), ``shrinkage`` >= 0.
``corated_similarity`` writes the (n, n) float64 matrix: diagonal 1, ``corated_scores`` for the
supported pairs (at least ``max(1, min_support)`` common columns), 0 elsewhere. ``corated_topk``
writes, for the rows ``rows``, the best k other rows among the supported pairs by the same
score cast to the output dtype, as ``sparse_dot_topk`` does (``min_score``, order, padding).
"""

import numpy as np
import scipy.sparse as sp

from ..selection import _numpy as selection
from . import COUNTS, JACCARD
from . import _corated as corated


def _dense(parts, n_rows, n_cols, ones=False):
    indptr, indices, data = parts
    values = np.ones_like(data) if ones else data
    return sp.csr_matrix((values, indices, indptr), shape=(n_rows, n_cols)).toarray()


def scores(a, bt, row_weight, col_weight, m, rows, scoring):
    """The dense (row_end - row_begin, m) scores of the row block, -inf where not eligible."""
    n, d = len(a[0]) - 1, len(bt[0]) - 1
    r0, r1 = rows
    dtype = a[2].dtype
    sums = (_dense(a, n, d)[r0:r1] @ _dense(bt, d, m)).astype(dtype)
    common = _dense(a, n, d, ones=True)[r0:r1].astype(np.float64) @ _dense(bt, d, m, ones=True).astype(np.float64)
    n_common = common.astype(dtype)
    if scoring.accumulate == COUNTS:  # every value is 1: the sums are the counts
        sums = n_common
    if scoring.combine == JACCARD:
        score = n_common / ((row_weight[r0:r1, None] + col_weight[None, :]) - n_common)
    elif row_weight is not None:
        score = sums * (row_weight[r0:r1, None] * col_weight[None, :])
    else:
        score = sums
    if scoring.shrinkage > 0:
        score = score * (n_common / (n_common + scoring.shrinkage))
    eligible = (common > 0) & (common >= scoring.min_support) & (score >= scoring.min_score)
    if scoring.exclude_self:
        eligible[np.arange(r1 - r0), np.arange(r0, r1)] = False
    return np.where(eligible, score, -np.inf).astype(dtype)


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        keys = scores(a, bt, row_weight, col_weight, m, rows, scoring)
    selection.topk(keys, None, k, True, None, n_threads, ids, values)


def _corated_sums(r, n_cols, measure):
    """Dense (n, n) sums over the columns both rows rated: ``(freq, prods, sqi, sqj, si, sj)``
    (see ``corated_scores``). ``R`` holds the values (0 where not rated), ``M`` the pattern, so
    ``M @ M.T`` counts common columns, ``R @ R.T`` sums products and ``R**2 @ M.T`` the squares
    of the first row's values. Both co-rated kernels take these same matrices."""
    indptr, indices, values = r
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    R, M = np.zeros((n, n_cols)), np.zeros((n, n_cols))
    R[rows, indices], M[rows, indices] = values, 1.0
    freq, prods = M @ M.T, R @ R.T
    sqi, si = (R * R) @ M.T, R @ M.T
    sqj, sj = sqi.T, si.T
    if measure == corated.MSD:  # the sum of squared differences
        prods = sqi + sqj - 2.0 * prods
    return freq, prods, sqi, sqj, si, sj


def corated_scores(freq, prods, sqi, sqj, si, sj, measure, shrinkage):
    """The co-rated similarity of every pair from its sums (``corated_score`` of corated.hpp, the
    one formula of both co-rated kernels): meaningful where ``freq >= 1``, 0 where the
    denominator is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == corated.MSD:
            sim = 1.0 / (prods / freq + 1.0)
        elif measure == corated.PEARSON:
            denominator = (freq * sqi - si * si) * (freq * sqj - sj * sj)
            sim = np.where(denominator > 0, (freq * prods - si * sj) / np.sqrt(denominator), 0.0)
        else:
            denominator = sqi * sqj
            sim = np.where(denominator > 0, prods / np.sqrt(denominator), 0.0)
            if measure == corated.PEARSON_BASELINE:
                return np.where(denominator > 0, sim * ((freq - 1.0) / (freq - 1.0 + shrinkage)), 0.0)
        return sim * (freq / (freq + shrinkage)) if shrinkage > 0 else sim


def _supported(freq, min_support):
    return (freq > 0) & (freq >= min_support)


def corated_similarity(r, r_t, measure, min_support, shrinkage, n_threads, out):
    """Surprise's co-rated similarities (``_corated.py``) from dense sums (``_corated_sums``)."""
    freq, *sums = _corated_sums(r, len(r_t[0]) - 1, measure)
    out[...] = np.where(_supported(freq, min_support), corated_scores(freq, *sums, measure, shrinkage), 0.0)
    np.fill_diagonal(out, 1.0)


def corated_topk(r, r_t, measure, min_support, shrinkage, rows, k, min_score, capacity, n_threads, ids, values):
    """The top k of the dense scores of the rows ``rows`` (see the contract above)."""
    r0, r1 = rows
    freq, *sums = (a[r0:r1] for a in _corated_sums(r, len(r_t[0]) - 1, measure))
    with np.errstate(invalid="ignore", over="ignore"):
        score = corated_scores(freq, *sums, measure, shrinkage).astype(values.dtype)
        eligible = _supported(freq, min_support) & (score >= min_score)
    eligible[np.arange(r1 - r0), np.arange(r0, r1)] = False
    selection.topk(np.where(eligible, score, -np.inf).astype(values.dtype), None, k, True, None, n_threads, ids,
                   values)
