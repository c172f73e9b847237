// The one BLAS/LAPACK registry: every kernel family reaches dense linear algebra through the
// functions here, which call whatever BLAS and LAPACK the user's scipy ships (the capsules of
// scipy.linalg.cython_blas / cython_lapack, registered once when turborec._native is imported;
// how scikit-learn and implicit reach BLAS without linking one). No link-time BLAS.
//
// Row-major callers, column-major Fortran routines: each wrapper says which transposition it
// asks for. Every dimension is checked against int before narrowing: the Fortran interface
// takes 32-bit integers, and a silently wrapped size would be a wrong answer.
//
// Threads: BLAS may run its own thread pool; callers inside an OpenMP region must have pinned it
// to one thread (turborec._threads.blas_single_thread) before the region.
#pragma once

#include <algorithm>
#include <climits>
#include <string>

#include "common.hpp"

namespace turborec {

// Fortran signatures (all arguments by pointer, column-major).
template <class T>
using GemmFn = void (*)(char* transa, char* transb, int* m, int* n, int* k, T* alpha, T* a, int* lda, T* b,
                        int* ldb, T* beta, T* c, int* ldc);
template <class T>
using SyrkFn = void (*)(char* uplo, char* trans, int* n, int* k, T* alpha, T* a, int* lda, T* beta, T* c,
                        int* ldc);
template <class T>
using GemvFn = void (*)(char* trans, int* m, int* n, T* alpha, T* a, int* lda, T* x, int* incx, T* beta, T* y,
                        int* incy);
template <class T>
using PotrfFn = void (*)(char* uplo, int* n, T* a, int* lda, int* info);
template <class T>
using PosvFn = void (*)(char* uplo, int* n, int* nrhs, T* a, int* lda, T* b, int* ldb, int* info);

// The routines of one precision (s* for float, d* for double); null until registered.
template <class T>
struct Blas {
  GemmFn<T> gemm = nullptr;
  SyrkFn<T> syrk = nullptr;
  GemvFn<T> gemv = nullptr;
  PotrfFn<T> potrf = nullptr;
  PosvFn<T> posv = nullptr;
};

// The process-wide registry (C++17 inline variables: one instance across translation units).
inline Blas<float> g_blas_float;
inline Blas<double> g_blas_double;

template <class T>
Blas<T>& blas_registry();
template <>
inline Blas<float>& blas_registry<float>() { return g_blas_float; }
template <>
inline Blas<double>& blas_registry<double>() { return g_blas_double; }

// The registered routines of precision T; an error when the registry is still empty.
template <class T>
const Blas<T>& blas() {
  const Blas<T>& b = blas_registry<T>();
  TR_CHECK(b.gemm && b.syrk && b.gemv && b.potrf && b.posv,
           "BLAS/LAPACK not registered (turborec._native registers scipy's on import)");
  return b;
}

inline int blas_int(index_t value, const char* what) {
  TR_CHECK(value >= 0 && value <= INT_MAX, std::string("BLAS dimension ") + what + " = " + std::to_string(value) +
                                               " does not fit a 32-bit BLAS integer");
  return static_cast<int>(value);
}

// C (rows x cols, row-major) = A (rows x d, row-major) * B (cols x d, row-major)^T.
// Row-major C is column-major C^T = B A^T: gemm('T', 'N') on B and A.
template <class T>
void gemm_abt(const T* A, index_t rows, const T* B, index_t cols, index_t d, T* C) {
  char trans = 'T', no_trans = 'N';
  int m = blas_int(cols, "cols"), n = blas_int(rows, "rows"), k = blas_int(d, "d");
  int ld_ab = blas_int(std::max<index_t>(d, 1), "d"), ldc = blas_int(std::max<index_t>(cols, 1), "cols");
  T one = 1, zero = 0;
  blas<T>().gemm(&trans, &no_trans, &m, &n, &k, &one, const_cast<T*>(B), &ld_ab, const_cast<T*>(A), &ld_ab, &zero,
                 C, &ldc);
}

// C (d x d, row-major, symmetric) = alpha * A^T A + beta * C for A (rows x d, row-major): the Gram
// matrix of ALS (Y^T Y). Row-major A is column-major A^T (d x rows), so this is syrk('N') on it;
// both triangles of C are written (the upper is copied to the lower).
template <class T>
void syrk_ata(const T* A, index_t rows, index_t d, T alpha, T beta, T* C) {
  char uplo = 'U', no_trans = 'N';
  int n = blas_int(d, "d"), k = blas_int(rows, "rows"), lda = blas_int(std::max<index_t>(d, 1), "d");
  int ldc = lda;
  blas<T>().syrk(&uplo, &no_trans, &n, &k, &alpha, const_cast<T*>(A), &lda, &beta, C, &ldc);
  // Column-major upper = row-major lower: mirror it into the row-major upper triangle.
  for (index_t i = 0; i < d; ++i)
    for (index_t j = i + 1; j < d; ++j) C[i * d + j] = C[j * d + i];
}

// y (rows) = alpha * A x + beta * y for A (rows x cols, row-major): gemv('T') on column-major A^T.
template <class T>
void gemv(const T* A, index_t rows, index_t cols, const T* x, T alpha, T beta, T* y) {
  if (cols == 0) {  // BLAS returns early on an empty dimension and leaves y unscaled (issue 7)
    for (index_t i = 0; i < rows; ++i) y[i] = beta == T(0) ? T(0) : beta * y[i];
    return;
  }
  char trans = 'T';
  int m = blas_int(cols, "cols"), n = blas_int(rows, "rows"), lda = blas_int(std::max<index_t>(cols, 1), "cols");
  int inc = 1;
  blas<T>().gemv(&trans, &m, &n, &alpha, const_cast<T*>(A), &lda, const_cast<T*>(x), &inc, &beta, y, &inc);
}

// Cholesky factor of the symmetric positive definite A (d x d, row-major, both triangles set),
// in place: afterwards the lower triangle of A (row-major) holds L with A = L L^T. Returns
// LAPACK's info: 0 on success, i > 0 when the leading minor of order i is not positive definite.
template <class T>
int potrf(T* A, index_t d) {
  char uplo = 'U';  // column-major upper = row-major lower
  int n = blas_int(d, "d"), lda = blas_int(std::max<index_t>(d, 1), "d"), info = 0;
  blas<T>().potrf(&uplo, &n, A, &lda, &info);
  return info;
}

// Solves A X = B for the symmetric positive definite A (d x d, row-major, both triangles set; its
// factor overwrites it) and B (nrhs right-hand sides, each a contiguous row of d values:
// row-major B^T, i.e. column-major B), in place. Returns LAPACK's info (see potrf).
template <class T>
int posv(T* A, index_t d, T* B, index_t nrhs) {
  char uplo = 'U';
  int n = blas_int(d, "d"), n_rhs = blas_int(nrhs, "nrhs"), lda = blas_int(std::max<index_t>(d, 1), "d"),
      ldb = lda, info = 0;
  blas<T>().posv(&uplo, &n, &n_rhs, A, &lda, B, &ldb, &info);
  return info;
}

}  // namespace turborec
