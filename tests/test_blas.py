"""The BLAS/LAPACK registry (csrc/include/turborec/blas.hpp) every family shares: each wrapper,
through the test hooks of bind_blas.cpp, against NumPy, in both precisions."""

import numpy as np
import pytest

from turborec import _native

DTYPES = {np.float32: "_f32", np.float64: "_f64"}
TOL = {np.float32: 1e-4, np.float64: 1e-11}


def hook(name, dtype):
    return getattr(_native, f"_{name}{DTYPES[dtype]}")


def spd(rng, d, dtype):
    a = rng.standard_normal((d + 3, d))
    return (a.T @ a + d * np.eye(d)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows, cols, d", [(5, 7, 3), (1, 1, 1), (64, 33, 16), (3, 4, 0)])
def test_gemm_abt(rng, dtype, rows, cols, d):
    a, b = rng.standard_normal((rows, d)).astype(dtype), rng.standard_normal((cols, d)).astype(dtype)
    np.testing.assert_allclose(hook("gemm_abt", dtype)(a, b), a.astype(np.float64) @ b.T, rtol=TOL[dtype],
                               atol=TOL[dtype] * max(d, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows, d", [(10, 4), (1, 1), (200, 32)])
def test_syrk_gram_matrix_is_symmetric(rng, dtype, rows, d):
    a = rng.standard_normal((rows, d)).astype(dtype)
    gram = hook("syrk_ata", dtype)(a)
    np.testing.assert_allclose(gram, a.astype(np.float64).T @ a, rtol=TOL[dtype], atol=TOL[dtype] * rows)
    np.testing.assert_array_equal(gram, gram.T)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemv(rng, dtype):
    a, x = rng.standard_normal((9, 5)).astype(dtype), rng.standard_normal(5).astype(dtype)
    np.testing.assert_allclose(hook("gemv", dtype)(a, x), a.astype(np.float64) @ x, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_potrf_and_posv(rng, dtype):
    a = spd(rng, 6, dtype)
    factor, info = hook("potrf", dtype)(a)
    lower = np.tril(factor)
    assert info == 0
    np.testing.assert_allclose(lower @ lower.T, a, rtol=TOL[dtype] * 10)
    b = rng.standard_normal((3, 6)).astype(dtype)  # three right-hand sides, one per row
    x, info = hook("posv", dtype)(a, b)
    assert info == 0
    np.testing.assert_allclose(x @ a, b, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lapack_reports_a_matrix_that_is_not_positive_definite(dtype):
    not_spd = np.array([[1.0, 2.0], [2.0, 1.0]], dtype)
    assert hook("potrf", dtype)(not_spd)[1] == 2
    assert hook("posv", dtype)(not_spd, np.ones((1, 2), dtype))[1] == 2


def test_hooks_check_their_arguments():
    with pytest.raises(ValueError, match="b: expected as many columns as a"):
        _native._gemm_abt_f32(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="a: expected dtype float32, got float64"):
        _native._syrk_ata_f32(np.ones((2, 3)))
    with pytest.raises(ValueError, match="a: expected a square matrix"):
        _native._potrf_f64(np.ones((2, 3)))
    with pytest.raises(ValueError, match="x: expected one entry per column"):
        _native._gemv_f64(np.ones((2, 3)), np.ones(2))


def test_dimensions_beyond_a_32_bit_blas_integer_are_errors_not_wraps():
    """Issue 7: BLAS takes int; a dimension past INT_MAX is refused before narrowing."""
    huge = np.zeros((2**31 + 1, 0), np.float32)  # no bytes: only the shape is huge
    with pytest.raises(ValueError, match="BLAS dimension cols = 2147483649 does not fit"):
        _native._gemm_abt_f32(np.zeros((0, 0), np.float32), huge)
