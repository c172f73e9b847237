// Row-wise top-k selection, over a dense score matrix or fused with the scoring product.
//
// Order: larger key first, ties to the lower id. NaN keys and keys equal to -inf are never
// selected (they count as excluded); rows with fewer than k eligible entries are padded with
// id -1 and key -inf. Smallest-k runs on negated keys, so the same code serves both.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "blas.hpp"
#include "common.hpp"
#include "simd.hpp"

namespace turborec {

template <class T>
struct Candidate {
  T key;
  id_t id;
};

template <class T>
inline bool ranks_before(const Candidate<T>& a, const Candidate<T>& b) {
  return a.key > b.key || (a.key == b.key && a.id < b.id);
}

// ranks_before as a function object: std::sort and std::nth_element inline it (through a function
// pointer they call it, which was most of a one-query top-k's selection time).
struct RanksBefore {
  template <class T>
  bool operator()(const Candidate<T>& a, const Candidate<T>& b) const {
    return ranks_before(a, b);
  }
};

// The running top-k of one row. Candidates are appended to a buffer until it is full, then the
// best k are kept (nth_element, linear time) and the k-th key becomes the admission threshold.
// Candidates must arrive in increasing id order: a newcomer whose key only ties the current
// k-th best then loses the tie-break, so admitting strictly greater keys is exact.
template <class T>
class RowTopK {
 public:
  // @param buffer    capacity entries (capacity > k), scratch owned by the caller
  RowTopK(Candidate<T>* buffer, index_t k, index_t capacity) : buf_(buffer), k_(k), capacity_(capacity) {}

  T threshold() const { return threshold_; }

  void push(T key, id_t id) {
    buf_[size_++] = {key, id};
    if (size_ == capacity_) keep_best();
  }

  // Offers one candidate whose id may come in any order (the sparse product visits columns in
  // the order it first touches them). A key that only ties the current k-th best is admitted
  // when its id is lower: the k-th best is the worst kept candidate, so admitting exactly what
  // ranks before it keeps the result exact. NaN and -inf never pass.
  void offer(T key, id_t id) {
    if (key > threshold_ || (key == threshold_ && id < threshold_id_)) push(key, id);
  }

  // Offers keys[0..n) with ids first_id + j; NaN and -inf never pass the threshold test.
  void scan(const T* keys, index_t n, id_t first_id) {
    for (index_t j = next_greater(keys, n, 0, threshold_); j < n;
         j = next_greater(keys, n, j + 1, threshold_))
      push(keys[j], first_id + static_cast<id_t>(j));
  }

  // @param ids     k, written: best first, -1 past the eligible entries
  // @param values  k, written: sign * key, sign * -inf past the eligible entries
  void write(id_t* ids, T* values, T sign) {
    if (size_ > k_) keep_best();
    std::sort(buf_, buf_ + size_, RanksBefore{});
    for (index_t i = 0; i < size_; ++i) {
      ids[i] = buf_[i].id;
      values[i] = sign * buf_[i].key;
    }
    for (index_t i = size_; i < k_; ++i) {
      ids[i] = -1;
      values[i] = sign * -std::numeric_limits<T>::infinity();
    }
  }

 private:
  void keep_best() {
    std::nth_element(buf_, buf_ + (k_ - 1), buf_ + size_, RanksBefore{});
    size_ = k_;
    threshold_ = buf_[k_ - 1].key;
    threshold_id_ = buf_[k_ - 1].id;
  }

  Candidate<T>* buf_;
  index_t k_, capacity_, size_ = 0;
  T threshold_ = -std::numeric_limits<T>::infinity();
  id_t threshold_id_ = -1;  // the id of the k-th best once the buffer was cut; -inf never ties in
};

// Sets keys[j] = -inf for every excluded column c0 + j of `row` inside [c0, c0 + len).
// Column ids are sorted within each row, so a binary search finds the first one in range.
template <class T, class I>
inline void mask_excluded(CsrView<I> exclude, index_t row, index_t c0, index_t len, T* keys) {
  if (exclude.empty()) return;
  const I* end = exclude.indices + exclude.row_end(row);
  for (const I* e = std::lower_bound(exclude.indices + exclude.row_begin(row), end, c0);
       e != end && static_cast<index_t>(*e) < c0 + len; ++e)
    keys[static_cast<index_t>(*e) - c0] = -std::numeric_limits<T>::infinity();
}

// Ids are int32: the columns of a matrix must fit.
inline void check_ids_fit(index_t m, const char* what) {
  TR_CHECK(m <= static_cast<index_t>(std::numeric_limits<id_t>::max()) + 1,
           std::string(what) + ": more columns than int32 ids can name");
}

// Row-wise top-k of a dense matrix. The blocking plan (chunk, capacity) comes from the caller
// (turborec/selection/__init__.py owns it, so the numba mirror runs the same one).
// @param scores    n * m, row-major
// @param k         1 <= k <= m (the caller clips k to m)
// @param exclude   n rows, column indices in [0, m), sorted within each row; may be empty
// @param chunk     columns staged at a time when keys must be negated or masked (>= 1)
// @param capacity  candidates buffered per row (> k)
// @param ids       n * k, written
// @param values    n * k, written
template <class T, class I>
void topk_rows(const T* __restrict scores, index_t n, index_t m, index_t k, CsrView<I> exclude, bool largest,
               index_t chunk, index_t capacity, int n_threads, id_t* __restrict ids, T* __restrict values) {
  TR_CHECK(k >= 1 && k <= m, "topk_rows: k must be in [1, m]");
  TR_CHECK(chunk >= 1 && capacity > k, "topk_rows: need chunk >= 1 and capacity > k");
  check_ids_fit(m, "topk_rows");
  const T sign = largest ? T(1) : T(-1);
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(scores, n, m, k, exclude, largest, ids, values, sign, capacity, errors, chunk)
  {
    std::vector<Candidate<T>> buffer;
    std::vector<T> staged;
    errors.run([&] {
      buffer.resize(capacity);
      staged.resize(std::min(m, chunk));
    });
#pragma omp for schedule(dynamic, 16)
    for (index_t r = 0; r < n; ++r) {
      if (errors.failed()) continue;
      errors.run([&] {
        RowTopK<T> top(buffer.data(), k, capacity);
        const T* row = scores + r * m;
        // Scan the caller's row in place unless keys need negating or masking.
        const bool stage = !largest || exclude.row_end(r) > exclude.row_begin(r);
        for (index_t c0 = 0; c0 < m; c0 += chunk) {
          const index_t len = std::min(chunk, m - c0);
          const T* keys = row + c0;
          if (stage) {
            for (index_t j = 0; j < len; ++j) staged[j] = sign * row[c0 + j];
            mask_excluded(exclude, r, c0, len, staged.data());
            keys = staged.data();
          }
          top.scan(keys, len, static_cast<id_t>(c0));
        }
        top.write(ids + r * k, values + r * k, sign);
      });
    }
  }
  errors.rethrow();
}

// How the tiled top-k kernels split their work (turborec/selection/__init__.py's DotPlan):
// query rows in blocks of block_rows, items in tiles of block_items scored at a time, a candidate
// buffer of capacity entries per row, and the tiles grouped into at most `segments` contiguous
// item segments. A unit of work is one (row block, item segment) pair, so a batch of one query
// still spreads over every thread.
struct TilePlan {
  index_t block_rows, block_items, capacity, segments;
};

// Merges one row's per-segment top-k lists (`lists` lists of k, padded with id -1) into its top-k:
// the same order (larger key, then lower id) over the union, so the result is the row's top-k of
// all items whatever the segments were.
// @param buffer  lists * k + 1 entries of scratch
template <class T>
void merge_lists(const id_t* list_ids, const T* list_keys, index_t lists, index_t k, Candidate<T>* buffer,
                 id_t* ids, T* values) {
  RowTopK<T> top(buffer, k, lists * k + 1);
  for (index_t i = 0; i < lists * k; ++i)
    if (list_ids[i] >= 0) top.offer(list_keys[i], list_ids[i]);
  top.write(ids, values, T(1));
}

// The top-k (largest first, ties to the lower id) of every row r in [0, n) over items [0, m),
// scored a tile at a time by score_tile(r0, rows, c0, cols, tile), which writes
// tile[r * cols + j] = the score of row r0 + r and item c0 + j. Excluded items are masked to -inf
// after scoring. Tiles and segments follow the plan, never n_threads, and the merge of segments
// is exact, so neither the scores nor the result depend on the thread count.
// Memory beyond the outputs: one tile and block_rows candidate buffers per thread, and with more
// than one segment n * segments * k staged candidates.
// @param ids     n * k, written
// @param values  n * k, written
template <class T, class I, class ScoreTile>
void tiled_topk(index_t n, index_t m, index_t k, CsrView<I> exclude, const TilePlan& plan, int n_threads,
                const ScoreTile& score_tile, id_t* __restrict ids, T* __restrict values) {
  TR_CHECK(k >= 1 && k <= m, "tiled_topk: k must be in [1, m]");
  TR_CHECK(plan.block_rows >= 1 && plan.block_items >= 1 && plan.capacity > k && plan.segments >= 1,
           "tiled_topk: need block_rows, block_items, segments >= 1 and capacity > k");
  check_ids_fit(m, "tiled_topk");
  const index_t block_rows = plan.block_rows, block_items = plan.block_items, capacity = plan.capacity;
  const index_t n_blocks = (n + block_rows - 1) / block_rows, n_tiles = (m + block_items - 1) / block_items;
  const index_t segments = std::min(plan.segments, n_tiles);
  // One segment: each unit writes its rows' results; else each segment's list is staged, then merged.
  std::vector<id_t> staged_ids(segments > 1 ? n * segments * k : 0);
  std::vector<T> staged_keys(staged_ids.size());
  id_t* list_ids = segments > 1 ? staged_ids.data() : ids;
  T* list_keys = segments > 1 ? staged_keys.data() : values;
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none)                                                   \
    shared(n, m, k, exclude, score_tile, block_rows, block_items, capacity, n_blocks, n_tiles, segments, list_ids, \
               list_keys, ids, values, errors)
  {
    std::vector<T> tile;
    std::vector<Candidate<T>> buffers;
    std::vector<RowTopK<T>> tops;
    errors.run([&] {  // sized for the rows a block can have (one query: one row, not block_rows)
      const index_t max_rows = std::min(block_rows, n);
      tile.resize(max_rows * std::min(m, block_items));
      buffers.resize(std::max(max_rows * capacity, segments * k + 1));
      tops.reserve(max_rows);
    });
#pragma omp for schedule(dynamic, 1)
    for (index_t unit = 0; unit < n_blocks * segments; ++unit) {
      if (errors.failed()) continue;
      errors.run([&] {
        const index_t b = unit / segments, s = unit % segments;
        const index_t r0 = b * block_rows, rows = std::min(block_rows, n - r0);
        const index_t begin = s * n_tiles / segments * block_items;
        const index_t end = std::min(m, (s + 1) * n_tiles / segments * block_items);
        tops.clear();
        for (index_t r = 0; r < rows; ++r) tops.emplace_back(buffers.data() + r * capacity, k, capacity);
        for (index_t c0 = begin; c0 < end; c0 += block_items) {
          const index_t cols = std::min(block_items, m - c0);
          score_tile(r0, rows, c0, cols, tile.data());
          for (index_t r = 0; r < rows; ++r) {
            T* row = tile.data() + r * cols;
            mask_excluded(exclude, r0 + r, c0, cols, row);
            tops[r].scan(row, cols, static_cast<id_t>(c0));
          }
        }
        for (index_t r = 0; r < rows; ++r) {
          const index_t list = (r0 + r) * segments + s;
          tops[r].write(list_ids + list * k, list_keys + list * k, T(1));
        }
      });
    }
    if (segments > 1) {
#pragma omp for schedule(static)
      for (index_t r = 0; r < n; ++r) {
        if (errors.failed()) continue;
        merge_lists(list_ids + r * segments * k, list_keys + r * segments * k, segments, k, buffers.data(),
                    ids + r * k, values + r * k);
      }
    }
  }
  errors.rethrow();
}

// Top-k of queries x items^T without materialising it: tiled_topk with the scores of a tile
// computed by BLAS (one thread per call) for one block of query rows and one tile of items.
// Cosine scores: pass query_scale[i] = 1/|q_i| and item_scale[j] = 1/|x_j| (0 for zero vectors);
// each score is multiplied by query_scale[i] * item_scale[j] after the product.
// @param queries      n * d, row-major
// @param items        m * d, row-major
// @param k            1 <= k <= m
// @param exclude      n rows, item ids in [0, m), sorted within each row; may be empty
// @param query_scale  n, or null
// @param item_scale   m, or null (both null or both set)
// @param plan         see TilePlan (capacity > k)
// @param ids          n * k, written
// @param values       n * k, written
template <class T, class I>
void topk_dot(const T* __restrict queries, index_t n, const T* __restrict items, index_t m, index_t d, index_t k,
              CsrView<I> exclude, const T* query_scale, const T* item_scale, const TilePlan& plan, int n_threads,
              id_t* __restrict ids, T* __restrict values) {
  TR_CHECK((query_scale == nullptr) == (item_scale == nullptr),
           "topk_dot: query_scale and item_scale must be given together");
  if (d > 0) blas<T>();  // fails here, on the calling thread, when no BLAS is registered
  const auto score_tile = [=](index_t r0, index_t rows, index_t c0, index_t cols, T* tile) {
    if (d > 0)
      gemm_abt(queries + r0 * d, rows, items + c0 * d, cols, d, tile);
    else
      std::fill(tile, tile + rows * cols, T(0));
    if (query_scale != nullptr)
      for (index_t r = 0; r < rows; ++r) {
        const T qs = query_scale[r0 + r];
        for (index_t j = 0; j < cols; ++j) tile[r * cols + j] *= qs * item_scale[c0 + j];
      }
  };
  tiled_topk<T>(n, m, k, exclude, plan, n_threads, score_tile, ids, values);
}

}  // namespace turborec
