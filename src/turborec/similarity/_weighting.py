"""TF-IDF and BM25 weighting of a sparse matrix, with implicit 0.7's definitions
(``implicit.nearest_neighbours.tfidf_weight`` / ``bm25_weight``): rows are documents, columns
are terms. Plain NumPy on the stored entries; no kernel needed."""

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from ._operands import as_operand, check_number, output_dtype


def _weighting_input(X):
    """A fresh canonical float64 CSR of non-negative values and the output dtype."""
    X = v.as_csr(X, "X")
    dtype = output_dtype(X.dtype)
    X = as_operand(X, "X", np.float64)
    if X.nnz and X.data.min() < 0:
        raise ValueError(f"X: expected non-negative values (counts), got {X.data.min()}")
    return X, dtype


def _idf(X):
    """``log(N) - log1p(df)`` per column: N rows, df the rows that store the column."""
    df = np.bincount(X.indices, minlength=X.shape[1])
    return np.log(float(X.shape[0])) - np.log1p(df)


def _rows(X):
    return np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))


def _result(X, data, dtype):
    out = sp.csr_matrix((data.astype(dtype), X.indices, X.indptr), shape=X.shape)
    out.has_sorted_indices = True
    return out


def tfidf_weight(X):
    """TF-IDF weights of the stored entries of ``X``, as implicit 0.7 defines them.

    ``w[r, c] = sqrt(x[r, c]) * (log(N) - log1p(df[c]))`` with ``N`` the number of rows and
    ``df[c]`` the number of rows storing column ``c``.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (N, n_terms)
        Non-negative finite counts, any format; duplicates are summed and stored zeros dropped
        first (implicit counts them in ``df``). Never modified.

    Returns
    -------
    scipy.sparse.csr_matrix of the same shape
        A new matrix with the same stored entries; float64 for float64 ``X``, else float32.
        (implicit returns a COO matrix, in float64.)
    """
    X, dtype = _weighting_input(X)
    if X.nnz == 0:
        return _result(X, X.data, dtype)
    return _result(X, np.sqrt(X.data) * _idf(X)[X.indices], dtype)


def bm25_weight(X, K1=100, B=0.8):
    """BM25 weights of the stored entries of ``X``, as implicit 0.7 defines them.

    ``w[r, c] = x * (K1 + 1) / (K1 * L[r] + x) * idf[c]`` with ``x = x[r, c]``,
    ``idf[c] = log(N) - log1p(df[c])`` as in :func:`tfidf_weight`, and the length norm
    ``L[r] = (1 - B) + B * len[r] / mean(len)``, ``len[r]`` the sum of row ``r``.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (N, n_terms)
        Non-negative finite counts, any format; duplicates summed, stored zeros dropped, never
        modified.
    K1 : float >= 0, default 100
        Term-frequency saturation (implicit's default for this function; its
        ``BM25Recommender`` passes 1.2).
    B : float in [0, 1], default 0.8
        Length normalisation.

    Returns
    -------
    scipy.sparse.csr_matrix of the same shape
        A new matrix with the same stored entries; float64 for float64 ``X``, else float32.
    """
    K1 = check_number(K1, "K1", 0.0)
    B = check_number(B, "B", 0.0, 1.0)
    X, dtype = _weighting_input(X)
    if X.nnz == 0:
        return _result(X, X.data, dtype)
    row_sums = np.asarray(X.sum(axis=1)).ravel()
    length_norm = (1.0 - B) + B * row_sums / row_sums.mean()
    rows = _rows(X)
    data = X.data * (K1 + 1.0) / (K1 * length_norm[rows] + X.data) * _idf(X)[X.indices]
    return _result(X, data, dtype)
