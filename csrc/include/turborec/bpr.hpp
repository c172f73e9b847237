// One epoch of Bayesian Personalized Ranking (Rendle et al., UAI 2009) by stochastic gradient
// ascent on ln sigmoid(x_ui - x_uj), sampled as implicit 0.7's CPU BPR samples it:
//
//   for each of nnz samples:
//     a stored interaction (u, i) uniformly among the nnz stored entries        (draw 2s + 1)
//     a negative item j: the item of another uniformly drawn stored entry       (draw 2s + 2)
//       (so j follows item popularity, as in implicit; j may equal i)
//     if verify and u liked j (binary search in u's sorted row): skipped, no update
//     z = 1 / (1 + exp(x_u . (y_i - y_j)))          (the gradient's weight, sigmoid(-x_uij))
//     for every factor f < F:  t = x_uf
//       x_uf += lr (z (y_if - y_jf) - reg x_uf)
//       y_if += lr (z t - reg y_if)
//       y_jf += lr (-z t - reg y_jf)
//     y_iF += lr (z - reg y_iF);  y_jF += lr (-z - reg y_jF)      (item bias; x_uF is fixed)
//
// The last of the F + 1 columns is the item bias; its user side x_uF is never updated (the model
// stores 1 there). A sample counts as correct when z < 1/2 (the pair was already ranked right),
// as implicit's progress bar counts. Draws are counter-based (rng.hpp): sample s uses outputs
// 2s + 1 and 2s + 2 of splitmix64(seed), whatever thread runs it.
//
// Arithmetic, in T except z: the dot product accumulates in 8 lanes (element f into lane f % 8,
// in order of f), summed lane 0 to 7 in order; z = T(1 / (1 + exp(double(score)))). The numba
// and NumPy mirrors do the same operations in the same order, so with one thread the three agree
// bit for bit (no FMA contraction: the extension is built without -mfma / -march).
//
// Threads (Hogwild, as implicit): the samples are split into n_threads contiguous blocks, one
// per thread, and threads update the shared factor rows without locks. Two threads touching one
// row at once may lose one of the two updates to an element or read a row half updated; each
// element is an aligned float, so no value is ever torn, and SGD tolerates the noise (Niu et al.,
// NIPS 2011). With one thread the epoch is sequential and reproducible bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common.hpp"
#include "rng.hpp"

namespace turborec {

namespace detail {

inline constexpr index_t kBprPrefetch = 8;  // the prefetch distance, in samples

template <class T>
inline void prefetch_row(const T* row, index_t n_cols) {
#if defined(__GNUC__) || defined(__clang__)
  const char* p = reinterpret_cast<const char*>(row);
  const index_t bytes = n_cols * static_cast<index_t>(sizeof(T));
  for (index_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 1);
  __builtin_prefetch(p + bytes - 1, 1);
#else
  (void)row;
  (void)n_cols;
#endif
}

inline void prefetch_read(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0);
#else
  (void)p;
#endif
}

// x_u . (y_i - y_j) over n columns: element f into lane f % 8 in order of f, lanes summed 0..7.
template <class T>
inline T pair_score(const T* x, const T* yi, const T* yj, index_t n) {
  T lanes[8] = {};
  index_t f = 0;
  for (; f + 8 <= n; f += 8)
    for (index_t l = 0; l < 8; ++l) lanes[l] += x[f + l] * (yi[f + l] - yj[f + l]);
  for (; f < n; ++f) lanes[f & 7] += x[f] * (yi[f] - yj[f]);
  T score = lanes[0];
  for (index_t l = 1; l < 8; ++l) score += lanes[l];
  return score;
}

// The update of one sample whose items differ (three distinct rows: vectorised). `last` is the
// bias column.
template <class T>
inline void pair_step(T* __restrict x, T* __restrict yi, T* __restrict yj, index_t last, T z, T lr, T reg) {
  for (index_t f = 0; f < last; ++f) {
    const T t = x[f];
    x[f] += lr * (z * (yi[f] - yj[f]) - reg * x[f]);
    yi[f] += lr * (z * t - reg * yi[f]);
    yj[f] += lr * ((-z) * t - reg * yj[f]);
  }
  yi[last] += lr * (z - reg * yi[last]);
  yj[last] += lr * ((-z) - reg * yj[last]);
}

// The same operations when the negative is the liked item (possible without verification): the
// second item update reads what the first wrote.
template <class T>
inline void same_item_step(T* __restrict x, T* __restrict y, index_t last, T z, T lr, T reg) {
  for (index_t f = 0; f < last; ++f) {
    const T t = x[f];
    x[f] += lr * (z * (y[f] - y[f]) - reg * x[f]);
    y[f] += lr * (z * t - reg * y[f]);
    y[f] += lr * ((-z) * t - reg * y[f]);
  }
  y[last] += lr * (z - reg * y[last]);
  y[last] += lr * ((-z) - reg * y[last]);
}

// The samples [lo, hi) of one block, in order; adds to correct and skipped.
template <class T, class I>
void bpr_block(CsrView<I> likes, const I* __restrict rows, index_t nnz, T* user_factors, T* item_factors,
               index_t n_cols, T lr, T reg, std::uint64_t seed, bool verify, index_t lo, index_t hi,
               std::int64_t& correct, std::int64_t& skipped) {
  const I* indices = likes.indices;
  const auto n = static_cast<std::uint64_t>(nnz);
  constexpr index_t D = kBprPrefetch;
  auto liked_at = [&](index_t s) { return static_cast<index_t>(below(splitmix64(seed, 2 * s + 1), n)); };
  auto other_at = [&](index_t s) { return static_cast<index_t>(below(splitmix64(seed, 2 * s + 2), n)); };
  for (index_t s = lo; s < hi; ++s) {
    // Three-stage prefetch (the draws are recomputed, cheaper than a queue): the index entries of
    // the sample 3D ahead; the factor rows and the user's row bounds 2D ahead; the middle of the
    // user's row, the binary search's first probe, D ahead. Nothing here changes a result.
    if (s + 3 * D < hi) {
      const index_t k = liked_at(s + 3 * D);
      prefetch_read(rows + k);
      prefetch_read(indices + k);
      prefetch_read(indices + other_at(s + 3 * D));
    }
    if (s + 2 * D < hi) {
      const index_t k = liked_at(s + 2 * D);
      prefetch_row(user_factors + static_cast<index_t>(rows[k]) * n_cols, n_cols);
      prefetch_row(item_factors + static_cast<index_t>(indices[k]) * n_cols, n_cols);
      prefetch_row(item_factors + static_cast<index_t>(indices[other_at(s + 2 * D)]) * n_cols, n_cols);
      if (verify) prefetch_read(likes.indptr + rows[k]);
    }
    if (verify && s + D < hi) {
      const index_t u = rows[liked_at(s + D)];
      prefetch_read(indices + (likes.row_begin(u) + likes.row_end(u)) / 2);
    }
    const index_t k = liked_at(s);
    const index_t u = rows[k];
    const I negative = indices[other_at(s)];
    if (verify && std::binary_search(indices + likes.row_begin(u), indices + likes.row_end(u), negative)) {
      ++skipped;
      continue;
    }
    T* x = user_factors + u * n_cols;
    T* yi = item_factors + static_cast<index_t>(indices[k]) * n_cols;
    T* yj = item_factors + static_cast<index_t>(negative) * n_cols;
    const T score = pair_score(x, yi, yj, n_cols);
    const T z = static_cast<T>(1.0 / (1.0 + std::exp(static_cast<double>(score))));
    if (z < T(0.5)) ++correct;
    if (yi != yj)
      pair_step(x, yi, yj, n_cols - 1, z, lr, reg);
    else
      same_item_step(x, yi, n_cols - 1, z, lr, reg);
  }
}

}  // namespace detail

// @param likes         n_users rows of liked item ids in [0, n_items), sorted within each row;
//                      nnz = indptr[n_users] entries, 1 <= nnz <= 2^32
// @param rows          nnz, rows[k] = the row (user) of entry k
// @param user_factors  n_users * n_cols, updated (column n_cols - 1 is read, never written)
// @param item_factors  n_items * n_cols, updated
// @param n_cols        factors + 1 (>= 1): the last column is the item bias
// @param seed          the splitmix64 sequence of this epoch
// @param verify        skip samples whose negative item the user liked
// @param n_threads     the blocks of samples, one per thread (results depend on it: Hogwild)
// @param counts        2, written: samples ranked right before their update, samples skipped
template <class T, class I>
void bpr_epoch(CsrView<I> likes, const I* __restrict rows, index_t nnz, T* user_factors, T* item_factors,
               index_t n_cols, T learning_rate, T regularization, std::uint64_t seed, bool verify, int n_threads,
               std::int64_t* __restrict counts) {
  TR_CHECK(n_cols >= 1, "n_cols: expected >= 1");
  TR_CHECK(nnz >= 0 && nnz <= (index_t{1} << 32), "nnz: expected at most 2**32 stored entries");
  std::int64_t correct = 0, skipped = 0;
  const index_t n_blocks = n_threads;
#pragma omp parallel for schedule(static, 1) num_threads(n_threads) reduction(+ : correct, skipped) default(none) \
    shared(likes, rows, nnz, user_factors, item_factors, n_cols, learning_rate, regularization, seed, verify,     \
           n_blocks)
  for (index_t b = 0; b < n_blocks; ++b) {
    const index_t lo = nnz * b / n_blocks, hi = nnz * (b + 1) / n_blocks;
    detail::bpr_block(likes, rows, nnz, user_factors, item_factors, n_cols, learning_rate, regularization, seed,
                      verify, lo, hi, correct, skipped);
  }
  counts[0] = correct;
  counts[1] = skipped;
}

}  // namespace turborec
