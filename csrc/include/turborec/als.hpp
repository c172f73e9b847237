// Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008, "Collaborative
// Filtering for Implicit Feedback Datasets"), with implicit 0.7's definitions.
//
// One half-step solves, for every row u of the confidence matrix C (rows x cols, CSR),
//
//     x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u,
//
// where a stored value c > 0 is a positive preference (p = 1) with confidence c, a stored
// value c <= 0 a negative preference (p = 0) with confidence |c|, and every entry not stored
// has p = 0 and confidence 1. Since Y^T C_u Y = Y^T Y + sum_i (|c_ui| - 1) y_i y_i^T, the Gram
// matrix G = Y^T Y + reg I is computed once per half-step (BLAS syrk) and each row adds only
// its stored entries. Rows without stored entries get x_u = 0 (as implicit).
//
// Two solvers, as implicit's CPU ones:
// - conjugate gradient (Takacs, Pilaszy, Tikk 2011), `cg_steps` steps starting from the current
//   x_u, never forming Y^T C_u Y: A p = G p + sum_i (|c_i| - 1) (y_i . p) y_i;
// - Cholesky: A = G + sum_i (|c_i| - 1) y_i y_i^T formed and solved exactly (LAPACK posv).
//
// The per-row work is loops over the factors that the compiler vectorises; rows run in
// parallel (OpenMP); BLAS is called once per half-step (syrk) and, for Cholesky, once per row
// (posv: the caller pins BLAS to one thread).
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "blas.hpp"
#include "common.hpp"
#include "simd.hpp"

// The per-row loops are inlined into one copy per instruction set (baseline, AVX2+FMA,
// AVX-512), the best the CPU runs picked at run time (no -march=native: one binary runs on any
// x86-64). A copy compiled for FMA rounds a*b+c once, so results differ from the baseline copy's
// in the last bits.
#if defined(__GNUC__) || defined(__clang__)
#define TR_ALS_INLINE inline __attribute__((always_inline))
#else
#define TR_ALS_INLINE inline
#endif

namespace turborec {

enum AlsSolver : int { kAlsCg = 0, kAlsCholesky = 1 };

// implicit's threshold on the squared residual norm below which CG stops.
inline constexpr double kAlsCgTolerance = 1e-20;

// The most values (nnz * d) of one row's item factors CG copies together (16 MB of floats).
inline constexpr index_t kAlsGatherLimit = index_t(1) << 22;

namespace als_detail {

template <class T>
TR_ALS_INLINE T dot(const T* __restrict a, const T* __restrict b, index_t d) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (index_t j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

// y += a * x
template <class T>
TR_ALS_INLINE void axpy(T a, const T* __restrict x, T* __restrict y, index_t d) {
#pragma omp simd
  for (index_t j = 0; j < d; ++j) y[j] += a * x[j];
}

// y = scale * G x for the symmetric G (d x d, row-major, both triangles set), as the sum of G's
// rows (= columns) weighted by x: vector operations only, no horizontal sums.
template <class T>
TR_ALS_INLINE void symv(const T* __restrict G, const T* __restrict x, T scale, T* __restrict y, index_t d) {
  std::fill(y, y + d, T(0));
  index_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const T a0 = scale * x[j], a1 = scale * x[j + 1], a2 = scale * x[j + 2], a3 = scale * x[j + 3];
    const T* g0 = G + j * d;
    const T* g1 = g0 + d;
    const T* g2 = g1 + d;
    const T* g3 = g2 + d;
#pragma omp simd
    for (index_t i = 0; i < d; ++i) y[i] += a0 * g0[i] + a1 * g1[i] + a2 * g2[i] + a3 * g3[i];
  }
  for (; j < d; ++j) axpy(scale * x[j], G + j * d, y, d);
}

// out += sum_e (base_e + scale * weight_e * (y_e . v)) y_e over the contiguous rows y_e of Yg
// (nnz x d; base null: 0), four entries at a time: four independent dot products, then one
// pass over out for the four.
template <class T>
TR_ALS_INLINE void weighted_pass(const T* __restrict Yg, index_t nnz, index_t d, const T* __restrict v,
                                 const T* __restrict weight, const T* __restrict base, T scale, T* __restrict out) {
  index_t e = 0;
  for (; e + 4 <= nnz; e += 4) {
    const T* y0 = Yg + e * d;
    const T* y1 = y0 + d;
    const T* y2 = y1 + d;
    const T* y3 = y2 + d;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (index_t j = 0; j < d; ++j) {
      s0 += y0[j] * v[j];
      s1 += y1[j] * v[j];
      s2 += y2[j] * v[j];
      s3 += y3[j] * v[j];
    }
    const T c0 = (base ? base[e] : T(0)) + scale * weight[e] * s0;
    const T c1 = (base ? base[e + 1] : T(0)) + scale * weight[e + 1] * s1;
    const T c2 = (base ? base[e + 2] : T(0)) + scale * weight[e + 2] * s2;
    const T c3 = (base ? base[e + 3] : T(0)) + scale * weight[e + 3] * s3;
#pragma omp simd
    for (index_t j = 0; j < d; ++j) out[j] += c0 * y0[j] + c1 * y1[j] + c2 * y2[j] + c3 * y3[j];
  }
  for (; e < nnz; ++e) {
    const T* y = Yg + e * d;
    axpy((base ? base[e] : T(0)) + scale * weight[e] * dot(y, v, d), y, out, d);
  }
}

// Prefetch the factors of the entry `ahead` positions on: the rows of Y a row touches are
// scattered, and waiting for each in turn (not the arithmetic) is what a pass over them costs.
inline constexpr index_t kPrefetchAhead = 8;

template <class T, class I>
TR_ALS_INLINE void prefetch_row(const T* Y, index_t d, const I* idx, index_t e, index_t nnz) {
#if defined(__GNUC__) || defined(__clang__)
  if (e + kPrefetchAhead < nnz) {
    const char* row = reinterpret_cast<const char*>(Y + static_cast<index_t>(idx[e + kPrefetchAhead]) * d);
    for (index_t byte = 0; byte < d * static_cast<index_t>(sizeof(T)); byte += 64) __builtin_prefetch(row + byte);
  }
#endif
}

}  // namespace als_detail

// G (d x d, row-major, both triangles) = Y^T Y + reg I, through BLAS syrk.
// @param Y     n_y * d, row-major
// @param G     d * d, written
template <class T>
void als_gram(const T* Y, index_t n_y, index_t d, T reg, T* G) {
  std::fill(G, G + d * d, T(0));
  if (n_y > 0 && d > 0) syrk_ata<T>(Y, n_y, d, T(1), T(0), G);
  for (index_t j = 0; j < d; ++j) G[j * d + j] += reg;
}

// One row by conjugate gradient, x updated in place (implicit's least_squares_cg).
// Every step reads the row's item factors again (1 + cg_steps passes): when `gathered` is given
// they are first copied into it, contiguous, with each entry's weight |c| - 1 and positive part
// max(c, 0), so the passes read L1/L2 instead of scattered rows of Y (weighted_pass).
// @param G         d * d, Y^T Y + reg I
// @param idx/conf  the row's nnz stored columns and confidences
// @param x         d, the current factors in, the new ones out
// @param r, p, ap  d each, scratch
// @param gathered  nnz * (d + 2) scratch, or null (then the passes read Y directly)
template <class T, class I>
TR_ALS_INLINE void als_cg_row(const T* G, const T* Y, index_t d, const I* idx, const T* conf, index_t nnz, int cg_steps,
                              T* x, T* r, T* p, T* ap, T* gathered) {
  using namespace als_detail;
  T* weight = gathered != nullptr ? gathered + nnz * d : nullptr;
  T* positive = gathered != nullptr ? weight + nnz : nullptr;
  // r = Y^T C_u p_u - A x
  symv(G, x, T(-1), r, d);
  if (gathered != nullptr) {
    for (index_t e = 0; e < nnz; ++e) {
      prefetch_row(Y, d, idx, e, nnz);
      const T* __restrict from = Y + static_cast<index_t>(idx[e]) * d;
      T* __restrict to = gathered + e * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) to[j] = from[j];
      const T c = conf[e];
      weight[e] = (c > 0 ? c : -c) - T(1);
      positive[e] = c > 0 ? c : T(0);
    }
    weighted_pass(gathered, nnz, d, x, weight, positive, T(-1), r);
  } else {
    for (index_t e = 0; e < nnz; ++e) {
      const T* y = Y + static_cast<index_t>(idx[e]) * d;
      const T c = conf[e];
      axpy((c > 0 ? c : T(0)) - ((c > 0 ? c : -c) - T(1)) * dot(y, x, d), y, r, d);
    }
  }
  std::memcpy(p, r, sizeof(T) * d);
  T rs_old = dot(r, r, d);
  if (rs_old < kAlsCgTolerance) return;
  for (int step = 0; step < cg_steps; ++step) {
    // ap = A p = G p + sum_i (|c_i| - 1) (y_i . p) y_i
    symv(G, p, T(1), ap, d);
    if (gathered != nullptr) {
      weighted_pass(gathered, nnz, d, p, weight, static_cast<const T*>(nullptr), T(1), ap);
    } else {
      for (index_t e = 0; e < nnz; ++e) {
        const T* y = Y + static_cast<index_t>(idx[e]) * d;
        const T c = conf[e];
        axpy(((c > 0 ? c : -c) - T(1)) * dot(y, p, d), y, ap, d);
      }
    }
    const T alpha = rs_old / dot(p, ap, d);
    axpy(alpha, p, x, d);
    axpy(-alpha, ap, r, d);
    const T rs_new = dot(r, r, d);
    if (rs_new < kAlsCgTolerance) break;
    const T beta = rs_new / rs_old;
#pragma omp simd
    for (index_t j = 0; j < d; ++j) p[j] = r[j] + beta * p[j];
    rs_old = rs_new;
  }
}

// One row exactly (implicit's least_squares): A = G + sum_i (|c_i| - 1) y_i y_i^T,
// b = sum_{c_i > 0} c_i y_i, x = A^-1 b. Returns LAPACK's info (0: solved).
// @param A  d * d scratch; only its row-major lower triangle is formed (posv reads that one)
// @param x  d, written
template <class T, class I>
TR_ALS_INLINE int als_cholesky_row(const T* G, const T* Y, index_t d, const I* idx, const T* conf, index_t nnz, T* A,
                                   T* x) {
  using namespace als_detail;
  std::memcpy(A, G, sizeof(T) * d * d);
  std::fill(x, x + d, T(0));
  for (index_t e = 0; e < nnz; ++e) {
    prefetch_row(Y, d, idx, e, nnz);
    const T* y = Y + static_cast<index_t>(idx[e]) * d;
    const T c = conf[e];
    if (c > 0) axpy(c, y, x, d);
    const T weight = (c > 0 ? c : -c) - T(1);
    for (index_t i = 0; i < d; ++i) axpy(weight * y[i], y, A + i * d, i + 1);  // row i, columns 0..i
  }
  return posv<T>(A, d, x, 1);
}

// One row's term of implicit's loss: (A x - 2 b) . x + sum |c| without forming A, with
// r = Y^T Y x + sum_i ((|c_i| - 1) (y_i . x) - 2 max(c_i, 0)) y_i; its sum |c| in *total.
// @param G  d * d, Y^T Y (no regularization)
// @param r  d, scratch
template <class T, class I>
TR_ALS_INLINE double als_loss_row(const T* G, const T* Y, index_t d, const I* idx, const T* conf, index_t nnz,
                                  const T* x, T* r, double* total) {
  using namespace als_detail;
  symv(G, x, T(1), r, d);
  double confidence = 0;
  for (index_t e = 0; e < nnz; ++e) {
    prefetch_row(Y, d, idx, e, nnz);
    const T* y = Y + static_cast<index_t>(idx[e]) * d;
    const T c = conf[e];
    const T magnitude = c > 0 ? c : -c;
    axpy((c > 0 ? T(-2) * c : T(0)) + (magnitude - T(1)) * dot(y, x, d), y, r, d);
    confidence += static_cast<double>(magnitude);
  }
  *total = confidence;
  return confidence + static_cast<double>(dot(r, x, d));
}

// One row of explicit ALS-WR (Zhou, Wilkinson, Schreiber, Pan 2008; Spark MLlib's explicit
// ALS): A = sum_i y_i y_i^T + reg * nnz * I ("weighted-lambda": the penalty grows with the
// row's number of ratings), b = sum_i r_i y_i, x = A^-1 b. Returns LAPACK's info (0: solved).
// @param idx/ratings  the row's nnz stored columns and ratings
// @param A            d * d scratch; only its row-major lower triangle is formed (posv reads that one)
// @param x            d, written
template <class T, class I>
TR_ALS_INLINE int als_explicit_row(const T* Y, index_t d, const I* idx, const T* ratings, index_t nnz, T reg, T* A,
                                   T* x) {
  using namespace als_detail;
  std::fill(A, A + d * d, T(0));
  std::fill(x, x + d, T(0));
  const T diagonal = reg * static_cast<T>(nnz);
  for (index_t j = 0; j < d; ++j) A[j * d + j] = diagonal;
  for (index_t e = 0; e < nnz; ++e) {
    prefetch_row(Y, d, idx, e, nnz);
    const T* y = Y + static_cast<index_t>(idx[e]) * d;
    axpy(ratings[e], y, x, d);
    for (index_t i = 0; i < d; ++i) axpy(y[i], y, A + i * d, i + 1);  // row i, columns 0..i
  }
  return posv<T>(A, d, x, 1);
}

// The row functions compiled for one instruction set each.
#define TR_ALS_ROW_KERNELS(SUFFIX, ATTRIBUTES)                                                                  \
  template <class T, class I>                                                                                  \
  ATTRIBUTES void als_cg_row_##SUFFIX(const T* G, const T* Y, index_t d, const I* idx, const T* conf,          \
                                      index_t nnz, int cg_steps, T* x, T* r, T* p, T* ap, T* gathered) {       \
    als_cg_row<T, I>(G, Y, d, idx, conf, nnz, cg_steps, x, r, p, ap, gathered);                                \
  }                                                                                                            \
  template <class T, class I>                                                                                  \
  ATTRIBUTES int als_cholesky_row_##SUFFIX(const T* G, const T* Y, index_t d, const I* idx, const T* conf,     \
                                           index_t nnz, T* A, T* x) {                                          \
    return als_cholesky_row<T, I>(G, Y, d, idx, conf, nnz, A, x);                                              \
  }                                                                                                            \
  template <class T, class I>                                                                                  \
  ATTRIBUTES double als_loss_row_##SUFFIX(const T* G, const T* Y, index_t d, const I* idx, const T* conf,      \
                                          index_t nnz, const T* x, T* r, double* total) {                      \
    return als_loss_row<T, I>(G, Y, d, idx, conf, nnz, x, r, total);                                          \
  }                                                                                                            \
  template <class T, class I>                                                                                  \
  ATTRIBUTES int als_explicit_row_##SUFFIX(const T* Y, index_t d, const I* idx, const T* ratings, index_t nnz, \
                                           T reg, T* A, T* x) {                                                \
    return als_explicit_row<T, I>(Y, d, idx, ratings, nnz, reg, A, x);                                          \
  }

TR_ALS_ROW_KERNELS(baseline, )
#ifdef TR_X86_DISPATCH
TR_ALS_ROW_KERNELS(avx2, __attribute__((target("avx2,fma"))))
TR_ALS_ROW_KERNELS(avx512, __attribute__((target("avx512f,avx2,fma,prefer-vector-width=512"))))
#endif

template <class T, class I>
struct AlsRowKernels {
  void (*cg)(const T*, const T*, index_t, const I*, const T*, index_t, int, T*, T*, T*, T*, T*);
  int (*cholesky)(const T*, const T*, index_t, const I*, const T*, index_t, T*, T*);
  double (*loss)(const T*, const T*, index_t, const I*, const T*, index_t, const T*, T*, double*);
  int (*explicit_row)(const T*, index_t, const I*, const T*, index_t, T, T*, T*);
};

// The copies for the best instruction set this CPU runs.
template <class T, class I>
AlsRowKernels<T, I> als_row_kernels() {
#ifdef TR_X86_DISPATCH
  const std::string level = simd_level();
  if (__builtin_cpu_supports("fma")) {
    if (level == "avx512f")
      return {&als_cg_row_avx512<T, I>, &als_cholesky_row_avx512<T, I>, &als_loss_row_avx512<T, I>,
              &als_explicit_row_avx512<T, I>};
    if (level == "avx2")
      return {&als_cg_row_avx2<T, I>, &als_cholesky_row_avx2<T, I>, &als_loss_row_avx2<T, I>,
              &als_explicit_row_avx2<T, I>};
  }
#endif
  return {&als_cg_row_baseline<T, I>, &als_cholesky_row_baseline<T, I>, &als_loss_row_baseline<T, I>,
          &als_explicit_row_baseline<T, I>};
}

// The ALS half-step: every row's factors given the other side's.
// @param cui       n_rows rows over n_cols columns, indices sorted within rows
// @param conf      the confidences, one per stored entry of cui
// @param Y         n_cols * d, row-major: the other side's factors
// @param x0        n_rows * d: the current factors (CG's starting point; unused by Cholesky)
// @param solver    kAlsCg or kAlsCholesky
// @param cg_steps  >= 0
// @param x_out     n_rows * d, written
template <class T, class I>
void als_solve(CsrView<I> cui, const T* conf, index_t n_rows, const T* Y, index_t n_cols, index_t d, const T* x0,
               T reg, int solver, int cg_steps, int n_threads, T* x_out) {
  std::vector<T> gram(static_cast<size_t>(d * d));
  als_gram<T>(Y, n_cols, d, reg, gram.data());
  const T* G = gram.data();
  const AlsRowKernels<T, I> rows = als_row_kernels<T, I>();
  ExceptionCapture capture;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(cui, conf, n_rows, Y, d, x0, solver, cg_steps, x_out, G, rows, capture)
  {
    std::vector<T> scratch(static_cast<size_t>(solver == kAlsCg ? 3 * d : d * d)), gathered;
#pragma omp for schedule(dynamic, 16)
    for (index_t u = 0; u < n_rows; ++u) {
      if (capture.failed()) continue;
      capture.run([&] {
        T* x = x_out + u * d;
        const index_t begin = cui.row_begin(u), nnz = cui.row_end(u) - begin;
        if (nnz == 0) {  // no stored entries: zero factors, as implicit
          std::fill(x, x + d, T(0));
          return;
        }
        if (solver == kAlsCg) {
          std::memcpy(x, x0 + u * d, sizeof(T) * d);
          T* copy = nullptr;
          if (nnz * d <= kAlsGatherLimit) {
            const index_t needed = nnz * (d + 2);  // the factors, weights and positive parts
            if (static_cast<index_t>(gathered.size()) < needed) gathered.resize(static_cast<size_t>(needed));
            copy = gathered.data();
          }
          rows.cg(G, Y, d, cui.indices + begin, conf + begin, nnz, cg_steps, x, scratch.data(), scratch.data() + d,
                  scratch.data() + 2 * d, copy);
        } else if (rows.cholesky(G, Y, d, cui.indices + begin, conf + begin, nnz, scratch.data(), x) != 0) {
          throw std::invalid_argument("regularization: the system of row " + std::to_string(u) +
                                      " is not positive definite (Cholesky failed); increase the regularization");
        }
      });
    }
  }
  capture.rethrow();
}

// implicit's training loss:
//   [ sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2) ] / (sum |c| + rows * cols - nnz),
// with confidence 1 and p = 0 for entries not stored, computed as implicit does it: per row
// (A x - 2 b) . x without forming A, plus |c| for every stored entry (a positive entry's
// c * p^2; implicit adds it for negative entries too). Per-row terms are summed in row order
// after the parallel loop: the result does not depend on the thread count.
// @param X  n_rows * d
// @param Y  n_cols * d
// @return   the loss (NaN when the denominator is 0: no rows or no columns)
template <class T, class I>
double als_loss(CsrView<I> cui, const T* conf, index_t n_rows, const T* X, const T* Y, index_t n_cols, index_t d,
                T reg, int n_threads) {
  using namespace als_detail;
  std::vector<T> gram(static_cast<size_t>(d * d));
  als_gram<T>(Y, n_cols, d, T(0), gram.data());
  const T* G = gram.data();
  std::vector<double> terms(static_cast<size_t>(n_rows)), confidence(static_cast<size_t>(n_rows));
  double* row_terms = terms.data();
  double* row_confidence = confidence.data();
  const AlsRowKernels<T, I> rows = als_row_kernels<T, I>();
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(cui, conf, n_rows, X, Y, d, G, rows, row_terms, row_confidence)
  {
    std::vector<T> r(static_cast<size_t>(d));
#pragma omp for schedule(dynamic, 64)
    for (index_t u = 0; u < n_rows; ++u) {
      const index_t begin = cui.row_begin(u);
      row_terms[u] = rows.loss(G, Y, d, cui.indices + begin, conf + begin, cui.row_end(u) - begin, X + u * d, r.data(),
                               row_confidence + u);
    }
  }
  double loss = 0, total = 0, norms = 0;
  for (index_t u = 0; u < n_rows; ++u) {
    loss += row_terms[u];
    total += row_confidence[u];
    norms += static_cast<double>(als_detail::dot(X + u * d, X + u * d, d));
  }
  for (index_t i = 0; i < n_cols; ++i) norms += static_cast<double>(als_detail::dot(Y + i * d, Y + i * d, d));
  loss += static_cast<double>(reg) * norms;
  const double nnz = static_cast<double>(cui.row_begin(n_rows));  // indptr[n_rows]
  const double denominator = total + static_cast<double>(n_rows) * static_cast<double>(n_cols) - nnz;
  return denominator == 0 ? std::nan("") : loss / denominator;
}

// The explicit ALS-WR half-step: every row's factors given the other side's (als_explicit_row);
// rows without ratings get zeros. BLAS pinned to one thread by the caller (posv per row).
// @param ratings  n_rows rows over n_cols columns, indices sorted within rows
// @param values   the ratings, one per stored entry
// @param Y        n_cols * d, row-major: the other side's factors
// @param reg      lambda >= 0, multiplied by each row's number of ratings
// @param x_out    n_rows * d, written
template <class T, class I>
void als_explicit_solve(CsrView<I> ratings, const T* values, index_t n_rows, const T* Y, index_t d, T reg,
                        int n_threads, T* x_out) {
  const AlsRowKernels<T, I> rows = als_row_kernels<T, I>();
  ExceptionCapture capture;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(ratings, values, n_rows, Y, d, reg, x_out, rows, capture)
  {
    std::vector<T> A(static_cast<size_t>(d * d));
#pragma omp for schedule(dynamic, 16)
    for (index_t u = 0; u < n_rows; ++u) {
      if (capture.failed()) continue;
      capture.run([&] {
        T* x = x_out + u * d;
        const index_t begin = ratings.row_begin(u), nnz = ratings.row_end(u) - begin;
        if (nnz == 0) {
          std::fill(x, x + d, T(0));
          return;
        }
        if (rows.explicit_row(Y, d, ratings.indices + begin, values + begin, nnz, reg, A.data(), x) != 0)
          throw std::invalid_argument("regularization: the system of row " + std::to_string(u) +
                                      " is not positive definite (Cholesky failed); increase the regularization");
      });
    }
  }
  capture.rethrow();
}

}  // namespace turborec
