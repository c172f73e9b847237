// One half-step of Logistic Matrix Factorization (Johnson, "Logistic Matrix Factorization for
// Implicit Feedback Data", NIPS 2014 workshop) as implicit 0.7's CPU `lmf_update` computes it:
// every row u with interactions (the users, or with the transposed matrix the items) takes one
// AdaGrad step on the log-likelihood of its row, the other side's factors Y held fixed:
//
//   g = sum_{i in row} c_ui y_i                                 (positives, in row order)
//     - sum_{i in row} c_ui sigmoid(x_u . y_i) y_i              (positives, in row order)
//     - sum_{t < n_neg} sigmoid(x_u . y_j_t) y_j_t              (sampled negatives, in order)
//     - reg x_u
//   G_u += g * g;   x_u += lr / sqrt(1e-6 + G_u) * g            (element-wise; G: AdaGrad sums)
//
// Negatives: n_neg = min(n_cols, count_u * neg_prop) (implicit caps at the factor width: its
// `n_items` reads item_vectors.shape[1]); negative t of row u is the column of a uniformly
// drawn stored entry (so negatives follow popularity, as in implicit): entry
// below(splitmix64(seed, indptr[u] * neg_prop + t + 1), nnz) (rng.hpp).
//
// Arithmetic in T except sigmoid: the dot products accumulate in 8 lanes (element f into lane
// f % 8, in order of f), summed lane 0 to 7; z = T(sigmoid(double(score))), the stable form
// (1 / (1 + exp(-s)) for s >= 0, else e / (1 + e) with e = exp(s)); a positive's weight is
// z * c. The numba and NumPy mirrors do the same operations in the same order.
//
// Threads: rows in parallel. A row writes only its own x_u and G_u and reads Y, and its draws
// depend on its counters only, so the result does not depend on the thread count: it is the
// same bits with one thread or many (implicit's rows are lock-free the same way, but its
// per-thread RNG makes its results depend on the threads).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common.hpp"
#include "rng.hpp"

namespace turborec {

namespace detail {

template <class T>
inline T lmf_dot(const T* x, const T* y, index_t n) {
  T lanes[8] = {};
  index_t f = 0;
  for (; f + 8 <= n; f += 8)
    for (index_t l = 0; l < 8; ++l) lanes[l] += x[f + l] * y[f + l];
  for (; f < n; ++f) lanes[f & 7] += x[f] * y[f];
  T score = lanes[0];
  for (index_t l = 1; l < 8; ++l) score += lanes[l];
  return score;
}

// g += a * y and g = g - a * y over n elements (distinct arrays: vectorised).
template <class T>
inline void lmf_add(T* __restrict g, T a, const T* __restrict y, index_t n) {
  for (index_t f = 0; f < n; ++f) g[f] += a * y[f];
}
template <class T>
inline void lmf_sub(T* __restrict g, T a, const T* __restrict y, index_t n) {
  for (index_t f = 0; f < n; ++f) g[f] = g[f] - a * y[f];
}

inline double lmf_sigmoid(double s) {
  if (s >= 0) return 1.0 / (1.0 + std::exp(-s));
  const double e = std::exp(s);
  return e / (1.0 + e);
}

}  // namespace detail

// @param likes         n_rows rows of column ids in [0, n_other), sorted; nnz = indptr[n_rows] <= 2^32
// @param data          nnz, the confidences c_ui (finite, > 0)
// @param other         n_other * n_cols, the fixed side Y (read)
// @param factors       n_rows * n_cols, X, updated in place (rows without entries untouched)
// @param deriv_sum_sq  n_rows * n_cols, the AdaGrad sums G, updated in place
// @param n_cols        factors + 2 (>= 1)
// @param neg_prop      negatives per stored entry (>= 0), capped per row at n_cols
// @param seed          the splitmix64 sequence of this half-step
// @param n_threads     threads over the rows (the result does not depend on it)
// @param drawn         1, written: negatives drawn
template <class T, class I>
void lmf_update(CsrView<I> likes, const T* __restrict data, index_t n_rows, const T* __restrict other, T* factors,
                T* deriv_sum_sq, index_t n_cols, T learning_rate, T regularization, index_t neg_prop,
                std::uint64_t seed, int n_threads, std::int64_t* __restrict drawn) {
  TR_CHECK(n_cols >= 1, "n_cols: expected >= 1");
  TR_CHECK(neg_prop >= 0, "neg_prop: expected >= 0");
  const index_t nnz = likes.row_begin(n_rows);
  TR_CHECK(nnz <= (index_t{1} << 32), "nnz: expected at most 2**32 stored entries");
  const auto n = static_cast<std::uint64_t>(nnz);
  const I* indices = likes.indices;
  const T eps = T(1e-6);
  std::int64_t total = 0;
  ExceptionCapture capture;
#pragma omp parallel num_threads(n_threads) default(none) reduction(+ : total)                              \
    shared(likes, data, n_rows, other, factors, deriv_sum_sq, n_cols, learning_rate, regularization, neg_prop, \
           seed, n, indices, eps, capture)
  {
    std::vector<T> deriv;
    capture.run([&] { deriv.resize(static_cast<std::size_t>(n_cols)); });
#pragma omp for schedule(static)
    for (index_t u = 0; u < n_rows; ++u) {
      if (deriv.empty()) continue;
      const index_t lo = likes.row_begin(u), hi = likes.row_end(u);
      if (lo == hi) continue;
      T* x = factors + u * n_cols;
      T* g = deriv.data();
      std::fill(g, g + n_cols, T(0));
      for (index_t k = lo; k < hi; ++k) {
        const T* y = other + static_cast<index_t>(indices[k]) * n_cols;
        detail::lmf_add(g, data[k], y, n_cols);
      }
      for (index_t k = lo; k < hi; ++k) {
        const T* y = other + static_cast<index_t>(indices[k]) * n_cols;
        const T z = static_cast<T>(detail::lmf_sigmoid(static_cast<double>(detail::lmf_dot(x, y, n_cols)))) * data[k];
        detail::lmf_sub(g, z, y, n_cols);
      }
      const index_t n_neg = std::min(n_cols, (hi - lo) * neg_prop);
      const auto base = static_cast<std::uint64_t>(lo) * static_cast<std::uint64_t>(neg_prop);
      for (index_t t = 0; t < n_neg; ++t) {
        const auto k = static_cast<index_t>(below(splitmix64(seed, base + static_cast<std::uint64_t>(t) + 1), n));
        const T* y = other + static_cast<index_t>(indices[k]) * n_cols;
        const T z = static_cast<T>(detail::lmf_sigmoid(static_cast<double>(detail::lmf_dot(x, y, n_cols))));
        detail::lmf_sub(g, z, y, n_cols);
      }
      total += n_neg;
      T* acc = deriv_sum_sq + u * n_cols;
      for (index_t f = 0; f < n_cols; ++f) {
        g[f] = g[f] - regularization * x[f];
        acc[f] += g[f] * g[f];
        x[f] += (learning_rate / std::sqrt(eps + acc[f])) * g[f];
      }
    }
  }
  capture.rethrow();
  drawn[0] = total;
}

}  // namespace turborec
