"""Surprise 1.1's co-rated similarity measures (``surprise.similarities``) and Sarwar's adjusted
cosine: as the full dense ``n x n`` float64 matrices Surprise's KNN algorithms use
(:func:`corated_similarity`) or as each row's top k (:func:`corated_topk`, for
``topk_similarity``). Validation, the shared facts (measure codes, the baseline residuals of
``pearson_baseline``, the column-centred values of ``adjusted_cosine``), then one ``dispatch``.
Definitions: the docstring of :func:`corated_similarity` and docs/similarity.md.
Implementations: ``corated_similarity`` and ``corated_topk`` in ``_numpy.py`` (the reference),
``_native.py`` (``csrc/include/turborec/corated.hpp``), ``_numba.py`` and ``_cupy.py``.
"""

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._dispatch import dispatch
from ._operands import check_min_support, check_number, check_threshold, output_dtype
from ._padded import padded_topk

__all__ = ["CORATED_MEASURES", "RATING_MEASURES", "corated_similarity", "corated_topk"]

CORATED_MEASURES = ("corated_cosine", "msd", "pearson", "pearson_baseline")
# The measure codes every backend receives, in the order of CORATED_MEASURES. pearson_baseline
# reaches the kernel as the cosine of the baseline residuals, times the shrinkage factor;
# adjusted_cosine as the cosine of the column-centred values.
COSINE, MSD, PEARSON, PEARSON_BASELINE = range(4)
# The measures of topk_similarity computed over co-rated entries by the corated_topk kernel.
RATING_MEASURES = ("adjusted_cosine", *CORATED_MEASURES)
PEARSON_BASELINE_SHRINKAGE = 100.0  # Surprise's default


def _ratings(ratings, name):
    """The checked CSR and its stored values as float64 (stored zeros are ratings, kept)."""
    X = v.as_csr(ratings, name)
    if sp.issparse(ratings) and ratings.format == "coo":  # checked by as_csr; its conversion summed any duplicates away
        _refuse_duplicates(np.asarray(ratings.row, np.int64) * X.shape[1] + ratings.col, X.shape[1], name)
    nnz = int(X.indptr[-1])
    data = np.asarray(X.data[:nnz])
    if data.dtype.kind == "c":
        raise TypeError(f"{name}: expected real values, got dtype {data.dtype}")
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: contains NaN or inf values")
    indptr, indices = v.csr_arrays(X)
    if bool((indices[1:] == indices[:-1]).any()):  # sorted within rows: a repeat is a neighbour
        rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(indptr))
        _refuse_duplicates(rows * X.shape[1] + indices, X.shape[1], name)
    return X.shape, indptr, indices, data


def _refuse_duplicates(keys, n_cols, name):
    """A ValueError naming the first (row, column) that ``keys`` (row * n_cols + column) repeat."""
    keys = np.sort(keys)
    repeated = keys[1:][keys[1:] == keys[:-1]]
    if len(repeated):
        row, col = divmod(int(repeated[0]), n_cols)
        raise ValueError(f"{name}: duplicate entries (row {row}, column {col} is stored twice); one rating per "
                         "pair expected")


def _baselines(baselines, n, m):
    """``(row_bias (n,), col_bias (m,), global_mean)`` checked, as float64."""
    if baselines is None:
        raise ValueError("baselines: measure='pearson_baseline' needs baselines=(row_bias, col_bias, global_mean)")
    if not isinstance(baselines, (tuple, list)) or len(baselines) != 3:
        raise TypeError("baselines: expected a tuple (row_bias, col_bias, global_mean)")
    row_bias, col_bias, global_mean = baselines
    out = []
    for name, bias, size in (("row_bias", row_bias, n), ("col_bias", col_bias, m)):
        bias = np.asarray(bias)
        if bias.dtype.kind not in "iuf":
            raise TypeError(f"baselines: {name} must be real numbers, got dtype {bias.dtype}")
        if bias.shape != (size,):
            raise ValueError(f"baselines: {name} must have shape ({size},), got {bias.shape}")
        bias = bias.astype(np.float64)
        if not np.isfinite(bias).all():
            raise ValueError(f"baselines: {name} contains NaN or inf values")
        out.append(bias)
    global_mean = check_number(global_mean, "baselines: global_mean", -np.inf)
    return out[0], out[1], global_mean


def corated_similarity(ratings, measure="msd", *, min_support=1, shrinkage=100, baselines=None, backend=None,
                       n_threads=None):
    """Surprise's similarity matrix of the rows of ``ratings``, over co-rated columns only.

    For rows ``u`` and ``v`` let ``I`` be the columns both rated (stored in both rows), ``n = |I|``
    and ``r_ui`` the rating of ``u`` for ``i``. Sums run over ``I``:

    - ``"corated_cosine"`` (Surprise's ``cosine``): ``sum r_ui r_vi / sqrt(sum r_ui^2 * sum r_vi^2)``,
      the norms restricted to ``I``;
    - ``"msd"``: ``1 / (sum (r_ui - r_vi)^2 / n + 1)``;
    - ``"pearson"``: ``(n sum r_ui r_vi - sum r_ui sum r_vi) / sqrt((n sum r_ui^2 - (sum r_ui)^2)
      (n sum r_vi^2 - (sum r_vi)^2))``, the means over ``I`` (Surprise's one-pass form);
    - ``"pearson_baseline"``: the cosine over ``I`` of the residuals ``d_ui = r_ui - ((mu + b_i)
      + b_u)``, times ``(n - 1) / (n - 1 + shrinkage)``.

    The diagonal is 1. A pair with ``n < min_support`` (``max(2, min_support)`` for
    ``pearson_baseline``), or with no column in common, is 0; so is a pair whose denominator is
    not positive (Surprise returns 0 there for ``pearson``, while its ``cosine``, ``msd`` and
    ``pearson_baseline`` raise ZeroDivisionError, or give NaN where rounding makes pearson's
    product negative). Everywhere else the result equals Surprise's to rounding.

    Parameters
    ----------
    ratings : scipy.sparse matrix of shape (n, m)
        Explicit ratings; its stored entries are the rated pairs (a stored 0 is a rating of 0).
        Rows are the objects compared: users x items for user-based similarities, the
        transpose for item-based ones. Any format; finite values; one entry per pair. Never
        modified.
    measure : {"msd", "corated_cosine", "pearson", "pearson_baseline"}, default "msd"
        As above (Surprise's default is ``"msd"``).
    min_support : int >= 0, default 1
        Pairs with fewer common ratings get similarity 0.
    shrinkage : float >= 0, default 100
        ``pearson_baseline``'s shrinkage (ignored by the other measures).
    baselines : tuple (row_bias, col_bias, global_mean), optional
        Required by ``pearson_baseline``, refused by the others: the biases of the rows (n,)
        and columns (m,) and the global mean, as Surprise's ``compute_baselines`` gives them
        (``(bu, bi, trainset.global_mean)`` user-based, ``(bi, bu, ...)`` item-based).
    backend : str, optional
        ``"native"``, ``"numba"``, ``"cupy"`` (GPU), ``"numpy"`` or ``"auto"``; see
        :mod:`turborec.backends`.
    n_threads : int, optional
        See :func:`turborec.resolve_n_threads`. Results do not depend on it.

    Returns
    -------
    numpy.ndarray of shape (n, n), float64
        Symmetric, with ones on the diagonal.

    See Also
    --------
    topk_similarity : each row's top k by these measures (``measure=``, ``min_support=``,
        ``baselines=``), from the same sums and formula, without the dense matrix.
    """
    if not isinstance(measure, str):
        raise TypeError(f"measure: expected a str, got {type(measure).__name__}")
    if measure not in CORATED_MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(CORATED_MEASURES)}; got {measure!r}")
    min_support = check_min_support(min_support)
    shrinkage = check_number(shrinkage, "shrinkage", 0.0)
    n, r, r_t, code, min_support = _prepare(ratings, measure, min_support, baselines)
    shrinkage = shrinkage if code == PEARSON_BASELINE else 0.0  # Surprise shrinks pearson_baseline alone
    return dispatch("similarity", "corated_similarity", inputs=(r, r_t), params=(code, min_support, shrinkage),
                    outputs=[((n, n), np.float64)], backend=backend, n_threads=n_threads)


def corated_topk(X, k, measure, min_support, shrinkage, threshold, baselines, backend, n_threads):
    """``topk_similarity`` for a measure of ``RATING_MEASURES`` (its other arguments checked):
    each row's top k among the pairs sharing at least ``max(1, min_support)`` stored entries
    (``max(2, .)`` for pearson_baseline), by the co-rated formula (``corated.hpp``) computed in
    float64 and cast to the output dtype, which ``threshold`` is compared in."""
    n, r, r_t, code, min_support = _prepare(X, measure, min_support, baselines, "X")
    v.check_id_range(n, "X", "rows")
    dtype = output_dtype(X.dtype)
    min_score = check_threshold(threshold, dtype)
    return padded_topk("corated_topk", (r, r_t),
                       lambda rows, k, capacity: (code, min_support, shrinkage, rows, k, min_score, capacity), n, n,
                       k, dtype, backend, n_threads)


def _prepare(ratings, measure, min_support, baselines, name="ratings"):
    """The kernels' inputs: ``(n, r, r_t, code, min_support)`` with ``r`` the CSR ``(indptr,
    indices, values)`` of the float64 values the measure's formula takes (ratings, residuals,
    centred ratings), ``r_t`` its transpose, and the effective ``min_support``."""
    (n, m), indptr, indices, values = _ratings(ratings, name)
    if measure == "adjusted_cosine":  # Sarwar et al.: centred on the mean of the column's stored values
        code = COSINE
        stored = np.bincount(indices, minlength=m)
        means = np.bincount(indices, weights=values, minlength=m) / np.maximum(stored, 1)
        values = values - means[indices]
    else:
        code = CORATED_MEASURES.index(measure)
    if code == PEARSON_BASELINE:
        row_bias, col_bias, global_mean = _baselines(baselines, n, m)
        rows = np.repeat(np.arange(n), np.diff(indptr))
        values = values - ((global_mean + col_bias[indices]) + row_bias[rows])  # Surprise's order
        min_support = max(2, min_support)
    elif baselines is not None:
        raise ValueError(f"baselines: only measure='pearson_baseline' uses them, got measure={measure!r}")
    min_support = min(min_support, m + 1)  # beyond m every off-diagonal pair is 0 anyway
    transposed = sp.csr_matrix((values, indices, indptr), shape=(n, m)).T.tocsr()  # keeps stored zeros
    t_indptr, t_indices = v.csr_arrays(transposed)
    index_dtype = np.int64 if np.int64 in (indptr.dtype, t_indptr.dtype) else np.int32
    r = (indptr.astype(index_dtype), indices.astype(index_dtype), values)
    r_t = (t_indptr.astype(index_dtype), t_indices.astype(index_dtype), np.ascontiguousarray(transposed.data))
    return n, r, r_t, code, min_support
