// Dense products through a real BLAS handed in at run time (scipy's cython_blas capsules),
// so the kernels need no link-time BLAS and run on whatever BLAS the user's scipy ships.
#pragma once

#include <algorithm>

#include "common.hpp"

namespace turborec {

// Fortran ?gemm: C = alpha * op(A) op(B) + beta * C, column-major, 32-bit integers.
template <class T>
using GemmFn = void (*)(char* transa, char* transb, int* m, int* n, int* k, T* alpha, T* a,
                        int* lda, T* b, int* ldb, T* beta, T* c, int* ldc);

// C (rows x cols, row-major, leading dim cols) = A (rows x d, row-major) * B (cols x d,
// row-major)^T. Row-major C is column-major C^T = B A^T, which is what we ask BLAS for.
template <class T>
void gemm_abt(GemmFn<T> gemm, const T* A, index_t rows, const T* B, index_t cols, index_t d,
              T* C) {
  char trans = 'T', no_trans = 'N';
  int m = static_cast<int>(cols), n = static_cast<int>(rows), k = static_cast<int>(d);
  int ld_ab = static_cast<int>(std::max<index_t>(d, 1)), ldc = static_cast<int>(std::max<index_t>(cols, 1));
  T one = 1, zero = 0;
  gemm(&trans, &no_trans, &m, &n, &k, &one, const_cast<T*>(B), &ld_ab, const_cast<T*>(A), &ld_ab,
       &zero, C, &ldc);
}

}  // namespace turborec
