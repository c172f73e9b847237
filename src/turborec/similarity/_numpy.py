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
first, ties to the lower column id; NaN scores, scores below ``min_score`` and (exclude_self)
the diagonal are never selected; the rest of the row is padded with id -1 and -inf.
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
    eligible = (common > 0) & (score >= scoring.min_score)
    if scoring.exclude_self:
        eligible[np.arange(r1 - r0), np.arange(r0, r1)] = False
    return np.where(eligible, score, -np.inf).astype(dtype)


def sparse_dot_topk(a, bt, row_weight, col_weight, m, rows, k, scoring, capacity, n_threads, ids, values):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        keys = scores(a, bt, row_weight, col_weight, m, rows, scoring)
    selection.topk(keys, None, k, True, None, n_threads, ids, values)


def corated_similarity(r, r_t, measure, min_support, shrinkage, n_threads, out):
    """Surprise's co-rated similarities (``_corated.py``) from dense matrices: ``R`` the ratings
    (0 where not rated), ``M`` the pattern (1 where rated), so that over the columns two rows both
    rated, ``M @ M.T`` counts them, ``R @ R.T`` sums the products and ``R**2 @ M.T`` the squares
    of the first row's ratings. ``r`` is the CSR ``(indptr, indices, values)`` of the ratings
    (residuals for pearson_baseline; stored zeros are ratings), ``r_t`` its transpose (unused
    here), ``measure`` a code of ``_corated.CORATED_MEASURES``, ``min_support`` the effective one,
    ``out`` the (n, n) float64 result, diagonal 1, pairs below ``min_support``, without common
    columns or with a denominator that is not positive 0."""
    indptr, indices, values = r
    n, m = len(indptr) - 1, len(r_t[0]) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    R, M = np.zeros((n, m)), np.zeros((n, m))
    R[rows, indices], M[rows, indices] = values, 1.0
    freq = M @ M.T
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == corated.MSD:
            squares = (R * R) @ M.T
            sim = 1.0 / ((squares + squares.T - 2.0 * (R @ R.T)) / freq + 1.0)
            defined = freq > 0
        elif measure == corated.PEARSON:
            prods, squares, sums = R @ R.T, (R * R) @ M.T, R @ M.T
            spread = freq * squares - sums * sums
            denominator = spread * spread.T
            sim = (freq * prods - sums * sums.T) / np.sqrt(denominator)
            defined = denominator > 0
        else:  # cosine of the ratings, or of the residuals for pearson_baseline
            squares = (R * R) @ M.T
            denominator = squares * squares.T
            sim = (R @ R.T) / np.sqrt(denominator)
            defined = denominator > 0
            if measure == corated.PEARSON_BASELINE:
                sim = sim * ((freq - 1) / (freq - 1 + shrinkage))
    out[...] = np.where(defined & (freq >= min_support) & (freq > 0), sim, 0.0)
    np.fill_diagonal(out, 1.0)
