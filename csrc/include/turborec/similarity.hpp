// Top-k of a sparse product A @ B^T, row by row, without the dense n x m product.
//
// Each row r of A is multiplied into a dense accumulator of length m (Gustavson's row-wise
// sparse product): for every stored a[r, j], row j of B^T (the columns of B that share feature
// j) is added, scaled by a[r, j]. The columns touched are listed as they are first touched, and
// only they are scored and offered to the row's running top-k (RowTopK::offer, topk.hpp): a
// column that shares no stored feature with row r has no score and is never returned. Memory
// beyond inputs and outputs: per thread, m accumulators (sum and count), m touched ids and one
// candidate buffer. Each row's sums run in the order of its stored entries, whatever the thread
// that runs it, so results never depend on n_threads.
//
// Scores, from the sum s[r, c] = sum_j a[r, j] b[c, j] and the count n[r, c] of shared
// features (turborec/similarity/__init__.py derives every measure from these two):
//   combine = kScale:    s * (row_weight[r] * col_weight[c]), or s when the weights are null
//   combine = kJaccard:  n / (row_weight[r] + col_weight[c] - n)   (weights: stored entries)
// then, when shrinkage > 0, score * (n / (n + shrinkage)). Pairs with n < min_support, scores
// below min_score, NaN scores and (exclude_self) the diagonal c == r are never returned.
// Surprise's co-rated measures have their own kernels, in corated.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common.hpp"
#include "topk.hpp"

namespace turborec {

enum Combine : int { kScale = 0, kJaccard = 1 };

// One accumulator: the sum and the number of shared entries side by side, so a touch reads and
// writes one cache line.
template <class T>
struct Slot {
  T sum = T(0);
  std::int32_t count = 0;
};

// Prefetch distances, measured on the 5M-interaction benchmark (one thread; docs/benchmarks.md).
// A row of a visits many short rows of bt scattered over memory, and each visit would start with
// a cache miss: the first kRowLines cache lines of the bt row kRowsAhead entries ahead are
// fetched early (its indptr entry twice as far ahead), so the misses overlap (1.2-1.4x). Within a
// visit, the accumulators kPrefetch touches ahead are prefetched: they are scattered over m
// slots (8%).
inline constexpr index_t kRowsAhead = 4;
inline constexpr index_t kRowLines = 4;
inline constexpr index_t kPrefetch = 16;

namespace detail {

// always_inline: GCC finds a function of prefetches alone free of side effects and drops its
// calls before inlining them.
__attribute__((always_inline)) inline void prefetch_lines(const void* start, std::size_t bytes) {
  const char* p = static_cast<const char*>(start);
  for (std::size_t line = 0; line < static_cast<std::size_t>(kRowLines) && line * 64 < bytes; ++line)
    __builtin_prefetch(p + line * 64);
}

// Prefetches for the visit of entry e of a's row (which ends at e_end): bt's row of the entry
// kRowsAhead on (indices, and the values when bt_data is set) and the indptr of the one 2 *
// kRowsAhead on.
template <class T, class I>
__attribute__((always_inline)) inline void prefetch_visit(CsrView<I> a, CsrView<I> bt, const T* bt_data, index_t e,
                                                          index_t e_end) {
  if (e + 2 * kRowsAhead < e_end) __builtin_prefetch(bt.indptr + a.indices[e + 2 * kRowsAhead]);
  if (e + kRowsAhead < e_end) {
    const index_t j = static_cast<index_t>(a.indices[e + kRowsAhead]);
    const index_t begin = bt.row_begin(j);
    const auto length = static_cast<std::size_t>(bt.row_end(j) - begin);
    prefetch_lines(bt.indices + begin, length * sizeof(I));
    if (bt_data != nullptr) prefetch_lines(bt_data + begin, length * sizeof(T));
  }
}

// Visits the products of row r of a @ bt: for each, update(acc[c], a value, f) adds to the
// accumulator of column c (f indexes bt's entry) and returns whether c was untouched; first
// touches are listed in `seen`, and their number returned. The append is branch-free: whether a
// column is new is unpredictable, and a mispredicted branch would serialise the accumulators'
// cache misses, which the prefetch kPrefetch touches ahead also hides. `values` is bt's data when
// the update reads it (for the row prefetch), else null.
template <class Acc, class T, class I, class Update>
inline index_t scatter_row(CsrView<I> a, const T* __restrict a_data, CsrView<I> bt, const T* values, index_t r,
                           Acc* __restrict acc, id_t* __restrict seen, Update update) {
  index_t n_seen = 0;
  const I* __restrict cols = bt.indices;
  for (index_t e = a.row_begin(r), e_end = a.row_end(r); e < e_end; ++e) {
    prefetch_visit(a, bt, values, e, e_end);
    const index_t j = static_cast<index_t>(a.indices[e]);
    const T av = a_data[e];
    const index_t f_end = bt.row_end(j);
    for (index_t f = bt.row_begin(j); f < f_end; ++f) {
      if (f + kPrefetch < f_end) __builtin_prefetch(acc + cols[f + kPrefetch], 1);
      seen[n_seen] = static_cast<id_t>(cols[f]);
      n_seen += update(acc[cols[f]], av, f);
    }
  }
  return n_seen;
}

// The three accumulators (see Accumulate below): the sum and the count of a column side by side
// in one slot; the count alone when every value is 1 (the sums are the counts); the sum alone
// when no count is needed and every product is positive (a sum is then 0 exactly until touched).
template <class T, class I>
inline index_t accumulate_row(CsrView<I> a, const T* a_data, CsrView<I> bt, const T* __restrict bt_data, index_t r,
                              Slot<T>* slot, id_t* seen) {
  return scatter_row(a, a_data, bt, bt_data, r, slot, seen, [bt_data](Slot<T>& here, T av, index_t f) {
    const bool fresh = here.count == 0;
    here.count += 1;
    here.sum += av * bt_data[f];
    return fresh;
  });
}

template <class T, class I>
inline index_t count_row(CsrView<I> a, const T* a_data, CsrView<I> bt, index_t r, std::int32_t* count, id_t* seen) {
  return scatter_row(a, a_data, bt, static_cast<const T*>(nullptr), r, count, seen,
                     [](std::int32_t& here, T, index_t) {
                       const bool fresh = here == 0;
                       here += 1;
                       return fresh;
                     });
}

template <class T, class I>
inline index_t sum_row(CsrView<I> a, const T* a_data, CsrView<I> bt, const T* __restrict bt_data, index_t r, T* sum,
                       id_t* seen) {
  return scatter_row(a, a_data, bt, bt_data, r, sum, seen, [bt_data](T& here, T av, index_t f) {
    const bool fresh = here == T(0);
    here += av * bt_data[f];
    return fresh;
  });
}

}  // namespace detail

// How a row is accumulated: sums and counts (any values), counts only (every value is 1), or
// sums only (no counts needed, every product positive).
enum Accumulate : int { kSumsAndCounts = 0, kCounts = 1, kSums = 2 };

// @param a            n rows of column ids in [0, d), strictly increasing within each row
// @param a_data       the values of a, one per stored entry
// @param bt           B^T: d rows of column ids in [0, m), strictly increasing within each row
// @param bt_data      the values of bt, one per stored entry
// @param row_begin    first row of a to compute (rows [row_begin, row_end) are written)
// @param k            1 <= k <= m
// @param combine      kScale or kJaccard
// @param row_weight   n, or null (kScale only: both null or both set)
// @param col_weight   m, or null
// @param shrinkage    >= 0
// @param min_score    scores below it are dropped (-inf: none)
// @param min_support  pairs sharing fewer entries are dropped (<= 1: none; kSums needs <= 1)
// @param exclude_self drop column c == r (needs m == n)
// @param accumulate   kSumsAndCounts; kCounts when every value of a_data and bt_data is 1 (the
//                     sums are the counts); kSums when every product is positive and neither
//                     jaccard nor shrinkage needs the counts
// @param capacity     candidates buffered per row (> k)
// @param ids          (row_end - row_begin) * k, written: best first, -1 past the row's entries
// @param values       (row_end - row_begin) * k, written: -inf past the row's entries
template <class T, class I>
void sparse_dot_topk(CsrView<I> a, const T* __restrict a_data, index_t n, CsrView<I> bt,
                     const T* __restrict bt_data, index_t d, index_t m, index_t row_begin, index_t row_end,
                     index_t k, int combine, const T* row_weight, const T* col_weight, T shrinkage, T min_score,
                     std::int64_t min_support, bool exclude_self, int accumulate, index_t capacity, int n_threads,
                     id_t* __restrict ids, T* __restrict values) {
  TR_CHECK(k >= 1 && k <= m, "sparse_dot_topk: k must be in [1, m]");
  TR_CHECK(capacity > k, "sparse_dot_topk: need capacity > k");
  TR_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= n, "sparse_dot_topk: rows out of range");
  TR_CHECK(combine == kScale || combine == kJaccard, "sparse_dot_topk: unknown combine");
  TR_CHECK((row_weight == nullptr) == (col_weight == nullptr),
           "sparse_dot_topk: row_weight and col_weight must be given together");
  TR_CHECK(combine == kScale || row_weight != nullptr, "sparse_dot_topk: jaccard needs the weights");
  TR_CHECK(!exclude_self || m == n, "sparse_dot_topk: exclude_self needs m == n");
  TR_CHECK(d <= static_cast<index_t>(std::numeric_limits<std::int32_t>::max()),
           "sparse_dot_topk: counts are int32, d must fit");
  TR_CHECK(!(shrinkage < 0), "sparse_dot_topk: shrinkage must be >= 0");
  TR_CHECK(accumulate == kSumsAndCounts || accumulate == kCounts || accumulate == kSums,
           "sparse_dot_topk: unknown accumulate");
  TR_CHECK(accumulate != kSums || (combine == kScale && !(shrinkage > 0) && min_support <= 1),
           "sparse_dot_topk: sums only, but the counts are needed");
  check_ids_fit(m, "sparse_dot_topk");
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none)                                            \
    shared(a, a_data, bt, bt_data, m, row_begin, row_end, k, combine, row_weight, col_weight, shrinkage, \
               min_score, min_support, exclude_self, accumulate, capacity, ids, values, errors)
  {
    std::vector<Slot<T>> slots;       // count 0: untouched (every touch adds 1)
    std::vector<std::int32_t> counts;  // instead, for kCounts
    std::vector<T> sums;               // instead, for kSums
    std::vector<id_t> touched;
    std::vector<Candidate<T>> buffer;
    errors.run([&] {
      if (accumulate == kCounts)
        counts.assign(m, 0);
      else if (accumulate == kSums)
        sums.assign(m, T(0));
      else
        slots.assign(m, Slot<T>{});
      touched.resize(m + 1);  // one past m: the append always writes, then counts
      buffer.resize(capacity);
    });
#pragma omp for schedule(dynamic, 4)
    for (index_t r = row_begin; r < row_end; ++r) {
      if (errors.failed()) continue;
      errors.run([&] {
        Slot<T>* __restrict slot = slots.data();
        std::int32_t* __restrict count = counts.data();
        id_t* __restrict seen = touched.data();
        T* __restrict sum = sums.data();
        const index_t n_seen = accumulate == kCounts ? detail::count_row(a, a_data, bt, r, count, seen)
                               : accumulate == kSums ? detail::sum_row(a, a_data, bt, bt_data, r, sum, seen)
                                                     : detail::accumulate_row(a, a_data, bt, bt_data, r, slot, seen);
        RowTopK<T> top(buffer.data(), k, capacity);
        const T rw = row_weight != nullptr ? row_weight[r] : T(1);
        for (index_t t = 0; t < n_seen; ++t) {
          const id_t c = seen[t];
          T common = T(0), score;
          std::int32_t shared = 1;  // kSums: unknown, but min_support <= 1 there
          if (accumulate == kCounts) {
            shared = count[c];
            score = common = static_cast<T>(count[c]);
            count[c] = 0;
          } else if (accumulate == kSums) {
            score = sum[c];
            sum[c] = T(0);
          } else {
            shared = slot[c].count;
            common = static_cast<T>(slot[c].count);
            score = slot[c].sum;
            slot[c] = Slot<T>{};
          }
          if ((exclude_self && c == r) || shared < min_support) continue;
          if (combine == kJaccard)
            score = common / (rw + col_weight[c] - common);
          else if (row_weight != nullptr)
            score = score * (rw * col_weight[c]);
          if (shrinkage > 0) score = score * (common / (common + shrinkage));
          if (!(score >= min_score)) continue;
          top.offer(score, c);
        }
        top.write(ids + (r - row_begin) * k, values + (r - row_begin) * k, T(1));
      });
    }
  }
  errors.rethrow();
}

}  // namespace turborec
