// Row-wise top-k selection on the GPU; the host entry points are declared in selection.cuh.
//
// select_topk_kernel: one block per (row, column tile). The block keeps the best entries seen
// so far in shared memory (the "top" half, sorted best first) and an admission threshold, the
// current k-th best (key, id). Each chunk of columns is read coalesced; an entry ranking
// before the threshold is appended to the "candidate" half (slots from a block-wide count of
// warp ballots, so there is one barrier per chunk and no shared atomics). When the next chunk
// might not fit, the candidates are bitonic-sorted worst first and bitonic-merged with the top
// half (top best-first + candidates worst-first is a bitonic sequence), which leaves the best
// entries sorted in the top half and raises the threshold. On random scores the threshold
// climbs fast and few entries are ever appended (about k * ln(m / k) per row).
//
// Excluded columns: for each span of kExcludeSpan columns the block sets bits in a shared
// bitmap from the row's CSR list (any order, duplicates harmless), then tests the bit per
// entry. The scores are never written.
//
// k > kMaxPassK, or few long rows: the row is split into column tiles, each tile writes its
// best min(k, tile width) entries sorted (a "run", padded), and merge_runs_kernel merges runs
// pairwise (merge path: output i of a merged pair binary-searches how many of its first i come
// from the first run) until one run of k is left. The same merge joins running top-k lists in
// the cuda backend's topk_dot (selection/_gpu_tiles.py).
//
// Ties: every comparison is on (key, id) with the lower id first, a strict total order over
// distinct ids, so results do not depend on the order in which blocks or threads ran.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "cuda_check.cuh"
#include "selection.cuh"

namespace turborec::cuda {
namespace {

constexpr int kBlock = 256;                        // threads per selection block
constexpr int kWarps = kBlock / 32;
constexpr int kItems = 4;                          // columns per thread per chunk
constexpr int kChunk = kBlock * kItems;            // columns between two barriers
constexpr int kExcludeSpan = 8192;                 // columns per exclusion bitmap
constexpr int kExcludeWords = kExcludeSpan / 32;
constexpr id_t kNoId = std::numeric_limits<id_t>::max();  // id of empty slots: ranks last
constexpr index_t kMinTileWidth = 4096;            // narrowest tile when splitting for parallelism
constexpr int kMergeBlock = 256;

__device__ __forceinline__ float neg_inf(float) { return __int_as_float(0xff800000); }
__device__ __forceinline__ double neg_inf(double) {
  return __longlong_as_double(static_cast<long long>(0xfff0000000000000ULL));
}

// (ka, ia) comes before (kb, ib): larger key, then lower id. False for NaN keys.
template <class T>
__device__ __forceinline__ bool ranks_before(T ka, id_t ia, T kb, id_t ib) {
  return ka > kb || (ka == kb && ia < ib);
}

template <class T>
__device__ __forceinline__ void swap_entries(T* keys, id_t* ids, int a, int b) {
  const T k = keys[a];
  keys[a] = keys[b];
  keys[b] = k;
  const id_t i = ids[a];
  ids[a] = ids[b];
  ids[b] = i;
}

// keys/ids hold 2 * half entries: [0, half) the best so far, sorted best first; [half,
// half + filled) new candidates. Afterwards [0, half) holds the best of both, sorted.
// Called by the whole block; starts and ends with a barrier.
template <class T>
__device__ void merge_candidates(T* keys, id_t* ids, int half, int filled) {
  const int span = 2 * half;
  __syncthreads();  // the candidates are written
  for (int i = half + filled + threadIdx.x; i < span; i += kBlock) {
    keys[i] = neg_inf(T());
    ids[i] = kNoId;
  }
  __syncthreads();
  // Bitonic sort of the candidate half, worst first: for each block of `size` entries, pairs
  // `stride` apart are put in order, ascending in even blocks and descending in odd ones.
  for (int size = 2; size <= half; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int p = threadIdx.x; p < half / 2; p += kBlock) {
        const int i = 2 * p - (p & (stride - 1));
        const int a = half + i, b = a + stride;
        const bool worst_first = (i & size) == 0;
        const bool swap = worst_first ? ranks_before(keys[a], ids[a], keys[b], ids[b])
                                      : ranks_before(keys[b], ids[b], keys[a], ids[a]);
        if (swap) swap_entries(keys, ids, a, b);
      }
      __syncthreads();
    }
  }
  // Bitonic merge of the whole bitonic sequence, best first.
  for (int stride = half; stride > 0; stride >>= 1) {
    for (int p = threadIdx.x; p < half; p += kBlock) {
      const int a = 2 * p - (p & (stride - 1)), b = a + stride;
      if (ranks_before(keys[b], ids[b], keys[a], ids[a])) swap_entries(keys, ids, a, b);
    }
    __syncthreads();
  }
}

// Best tile_k entries of each (row, column tile), best first, padded with id -1 / sign * -inf.
// Grid-stride over rows (x) and tiles (y). Dynamic shared memory: 2 * half keys, 2 * half ids,
// kExcludeWords bitmap words. half = max(next power of two >= tile_k, kChunk).
// @param scores       n * m, row-major
// @param indptr       n + 1, or null; indices: global column ids (col_base + column)
// @param out_ids      row r, tile t at out_ids[r * out_stride + t * tile_k], tile_k entries
// @param out_values   same layout as out_ids
template <class T, class I>
__global__ void __launch_bounds__(kBlock)
    select_topk_kernel(const T* __restrict__ scores, index_t n, index_t m, index_t tile_width,
                       index_t n_tiles, index_t tile_k, int half, const I* __restrict__ indptr,
                       const I* __restrict__ indices, index_t col_base, bool largest,
                       id_t* __restrict__ out_ids, T* __restrict__ out_values,
                       index_t out_stride) {
  extern __shared__ __align__(16) unsigned char smem[];
  T* keys = reinterpret_cast<T*>(smem);
  id_t* ids = reinterpret_cast<id_t*>(keys + 2 * half);
  unsigned* excluded = reinterpret_cast<unsigned*>(ids + 2 * half);
  __shared__ int warp_counts[2][kWarps];  // double-buffered: one barrier per chunk suffices
  __shared__ T shared_thr_key;
  __shared__ id_t shared_thr_id;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const unsigned lanes_below = (1u << lane) - 1u;
  const T sign = largest ? T(1) : T(-1);
  int parity = 0;

  for (index_t row = blockIdx.x; row < n; row += gridDim.x) {
    const index_t ex_begin = indptr ? static_cast<index_t>(indptr[row]) : 0;
    const index_t ex_end = indptr ? static_cast<index_t>(indptr[row + 1]) : 0;
    const bool masked = ex_end > ex_begin;
    const T* row_scores = scores + row * m;
    for (index_t tile = blockIdx.y; tile < n_tiles; tile += gridDim.y) {
      const index_t c_begin = tile * tile_width;
      const index_t c_end = c_begin + tile_width < m ? c_begin + tile_width : m;
      for (int i = threadIdx.x; i < half; i += kBlock) {
        keys[i] = neg_inf(T());
        ids[i] = kNoId;
      }
      T thr_key = neg_inf(T());
      id_t thr_id = kNoId;
      int filled = 0;  // candidates appended since the last merge (same in every thread)

      for (index_t s0 = c_begin; s0 < c_end; s0 += kExcludeSpan) {
        const index_t s_len = c_end - s0 < kExcludeSpan ? c_end - s0 : kExcludeSpan;
        if (masked) {
          for (int w = threadIdx.x; w < kExcludeWords; w += kBlock) excluded[w] = 0u;
          __syncthreads();
          for (index_t e = ex_begin + threadIdx.x; e < ex_end; e += kBlock) {
            const index_t c = static_cast<index_t>(indices[e]) - col_base - s0;
            if (c >= 0 && c < s_len) atomicOr(&excluded[c >> 5], 1u << (c & 31));
          }
          __syncthreads();
        }
        for (index_t c0 = 0; c0 < s_len; c0 += kChunk) {
          T key[kItems];
          id_t id[kItems];
          unsigned ballot[kItems];
          int warp_taken = 0;
#pragma unroll
          for (int it = 0; it < kItems; ++it) {
            const index_t c = c0 + it * kBlock + threadIdx.x;
            bool take = false;
            key[it] = neg_inf(T());
            id[it] = kNoId;
            if (c < s_len) {
              key[it] = sign * row_scores[s0 + c];
              id[it] = static_cast<id_t>(col_base + s0 + c);
              // NaN fails every comparison; -inf (and an excluded column) is never eligible.
              take = key[it] > neg_inf(T()) && ranks_before(key[it], id[it], thr_key, thr_id) &&
                     !(masked && ((excluded[c >> 5] >> (c & 31)) & 1u));
            }
            ballot[it] = __ballot_sync(0xffffffffu, take);
            warp_taken += __popc(ballot[it]);
          }
          if (lane == 0) warp_counts[parity][warp] = warp_taken;
          __syncthreads();
          int slot = half + filled, total = 0;
#pragma unroll
          for (int w = 0; w < kWarps; ++w) {
            const int count = warp_counts[parity][w];
            slot += w < warp ? count : 0;
            total += count;
          }
          parity ^= 1;
#pragma unroll
          for (int it = 0; it < kItems; ++it) {
            if ((ballot[it] >> lane) & 1u) {
              const int s = slot + __popc(ballot[it] & lanes_below);
              keys[s] = key[it];
              ids[s] = id[it];
            }
            slot += __popc(ballot[it]);
          }
          filled += total;
          if (filled + kChunk > half) {  // the next chunk might not fit: merge now
            merge_candidates(keys, ids, half, filled);
            filled = 0;
            if (threadIdx.x == 0) {
              shared_thr_key = keys[tile_k - 1];
              shared_thr_id = ids[tile_k - 1];
            }
            __syncthreads();
            thr_key = shared_thr_key;
            thr_id = shared_thr_id;
          }
        }
      }
      if (filled > 0)
        merge_candidates(keys, ids, half, filled);
      else
        __syncthreads();

      id_t* tile_ids = out_ids + row * out_stride + tile * tile_k;
      T* tile_values = out_values + row * out_stride + tile * tile_k;
      for (int i = threadIdx.x; i < tile_k; i += kBlock) {
        const bool found = keys[i] > neg_inf(T());
        tile_ids[i] = found ? ids[i] : -1;
        tile_values[i] = sign * (found ? keys[i] : neg_inf(T()));
      }
      __syncthreads();  // the next tile resets the shared lists
    }
  }
}

// Merges pairs of sorted runs into runs of out_len, best first (grid-stride over every output
// entry). Segment s of a row pairs run a (a_len entries) with run b (b_len entries when
// s < b_segs, else none); entries are (id, value) with key sign * value, padding (-1,
// sign * -inf) last. Output i takes the better of a[j] and b[i - j], where j, the number of
// a's entries among the first i outputs, is found by binary search (merge path); ties between
// equal entries go to a.
template <class T>
__global__ void merge_runs_kernel(const id_t* __restrict__ a_ids, const T* __restrict__ a_values,
                                  index_t a_row_stride, index_t a_seg_stride, index_t a_len,
                                  const id_t* __restrict__ b_ids, const T* __restrict__ b_values,
                                  index_t b_row_stride, index_t b_seg_stride, index_t b_len,
                                  index_t b_segs, index_t n_rows, index_t n_segs,
                                  index_t out_len, bool largest, id_t* __restrict__ out_ids,
                                  T* __restrict__ out_values, index_t out_row_stride,
                                  index_t out_seg_stride) {
  const T sign = largest ? T(1) : T(-1);
  const index_t total = n_rows * n_segs * out_len;
  for (index_t t = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t i = t % out_len, seg = (t / out_len) % n_segs, row = t / out_len / n_segs;
    const id_t* ai = a_ids + row * a_row_stride + seg * a_seg_stride;
    const T* av = a_values + row * a_row_stride + seg * a_seg_stride;
    const id_t* bi = b_ids + row * b_row_stride + seg * b_seg_stride;
    const T* bv = b_values + row * b_row_stride + seg * b_seg_stride;
    id_t* oi = out_ids + row * out_row_stride + seg * out_seg_stride;
    T* ov = out_values + row * out_row_stride + seg * out_seg_stride;
    const index_t la = a_len, lb = seg < b_segs ? b_len : 0;
    if (i >= la + lb) {
      oi[i] = -1;
      ov[i] = sign * neg_inf(T());
      continue;
    }
    // a[mid] is among the first i outputs iff b[i - 1 - mid] does not rank before it.
    index_t lo = i > lb ? i - lb : 0, hi = i < la ? i : la;
    while (lo < hi) {
      const index_t mid = (lo + hi) / 2, j = i - 1 - mid;
      if (ranks_before(sign * bv[j], bi[j], sign * av[mid], ai[mid]))
        hi = mid;
      else
        lo = mid + 1;
    }
    const index_t a = lo, b = i - lo;
    const bool take_a =
        b >= lb || (a < la && !ranks_before(sign * bv[b], bi[b], sign * av[a], ai[a]));
    oi[i] = take_a ? ai[a] : bi[b];
    ov[i] = take_a ? av[a] : bv[b];
  }
}

index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

index_t next_pow2(index_t x) {
  index_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

int multiprocessor_count() {
  int device = 0, count = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    (void)cudaGetLastError();  // clear it: the plan just does not split rows
    return 0;
  }
  return count;
}

template <class T, class I>
void launch_select(const T* scores, index_t rows, index_t m, const TopkPlan& plan,
                   const I* indptr, const I* indices, index_t col_base, bool largest,
                   id_t* out_ids, T* out_values, index_t out_stride, cudaStream_t stream) {
  const int half = static_cast<int>(std::max<index_t>(next_pow2(plan.tile_k), kChunk));
  const std::size_t smem =
      2 * static_cast<std::size_t>(half) * (sizeof(T) + sizeof(id_t)) + kExcludeWords * 4;
  const dim3 grid(static_cast<unsigned>(std::min<index_t>(rows, index_t(1) << 30)),
                  static_cast<unsigned>(std::min<index_t>(plan.n_tiles, 65535)));
  select_topk_kernel<T, I><<<grid, kBlock, smem, stream>>>(
      scores, rows, m, plan.tile_width, plan.n_tiles, plan.tile_k, half, indptr, indices,
      col_base, largest, out_ids, out_values, out_stride);
  TR_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void launch_merge(const id_t* a_ids, const T* a_values, index_t a_row_stride,
                  index_t a_seg_stride, index_t a_len, const id_t* b_ids, const T* b_values,
                  index_t b_row_stride, index_t b_seg_stride, index_t b_len, index_t b_segs,
                  index_t n_rows, index_t n_segs, index_t out_len, bool largest, id_t* out_ids,
                  T* out_values, index_t out_row_stride, index_t out_seg_stride,
                  cudaStream_t stream) {
  const index_t total = n_rows * n_segs * out_len;
  if (total == 0) return;
  const auto blocks =
      static_cast<unsigned>(std::min<index_t>(ceil_div(total, kMergeBlock), index_t(1) << 16));
  merge_runs_kernel<T><<<blocks, kMergeBlock, 0, stream>>>(
      a_ids, a_values, a_row_stride, a_seg_stride, a_len, b_ids, b_values, b_row_stride,
      b_seg_stride, b_len, b_segs, n_rows, n_segs, out_len, largest, out_ids, out_values,
      out_row_stride, out_seg_stride);
  TR_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

TopkPlan plan_topk(index_t n, index_t m, index_t k, std::size_t value_bytes) {
  TR_CHECK(n >= 0 && m >= 1 && k >= 1 && k <= m, "topk: need n >= 0 and 1 <= k <= m");
  TopkPlan plan;
  if (k > kMaxPassK) {
    plan.tile_width = kMaxPassK;  // each tile keeps all its entries, sorted
  } else {
    // One block per row leaves most multiprocessors idle when there are few long rows: split
    // the columns (tiles of at least kMinTileWidth and 4k columns) up to ~4 blocks per SM.
    const index_t target = 4 * static_cast<index_t>(multiprocessor_count());
    index_t tiles = 1;
    if (n > 0 && n < target) {
      const index_t widest = std::max<index_t>(kMinTileWidth, 4 * k);
      tiles = std::max<index_t>(1, std::min(ceil_div(target, n), m / widest));
    }
    plan.tile_width = ceil_div(m, tiles);
  }
  plan.n_tiles = ceil_div(m, plan.tile_width);
  plan.tile_k = std::min(k, plan.tile_width);
  if (plan.n_tiles > 1) {
    // Runs per row after each pairwise merge; the last merge (two runs) writes the output.
    index_t runs = plan.n_tiles, len = plan.tile_k, stride = runs * len;
    while (runs > 2) {
      runs = ceil_div(runs, 2);
      len = std::min(2 * len, k);
      stride = std::max(stride, runs * len);
    }
    plan.run_stride = stride;
    plan.bytes_per_row = 2 * static_cast<std::size_t>(stride) * (value_bytes + sizeof(id_t));
  }
  return plan;
}

std::size_t topk_scratch_bytes(index_t n, index_t m, index_t k, std::size_t value_bytes,
                               std::size_t budget) {
  const TopkPlan plan = plan_topk(n, m, k, value_bytes);
  if (plan.bytes_per_row == 0 || n == 0) return 0;
  const auto rows = std::clamp<index_t>(static_cast<index_t>(budget / plan.bytes_per_row), 1, n);
  return static_cast<std::size_t>(rows) * plan.bytes_per_row;
}

template <class T, class I>
void topk_rows(const T* scores, index_t n, index_t m, index_t k, const I* indptr,
               const I* indices, index_t col_base, bool largest, id_t* ids, T* values,
               void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  TR_CHECK(n >= 0 && m >= 1 && k >= 1 && k <= m, "topk: need n >= 0 and 1 <= k <= m");
  TR_CHECK((indptr == nullptr) == (indices == nullptr),
           "topk: exclude indptr and indices must be given together");
  TR_CHECK(col_base >= 0 && col_base + m <= std::numeric_limits<id_t>::max(),
           "topk: column ids must fit in int32");
  if (n == 0) return;
  TR_CHECK(scores != nullptr && ids != nullptr && values != nullptr, "topk: null array pointer");
  const TopkPlan plan = plan_topk(n, m, k, sizeof(T));
  index_t batch = n;
  if (plan.bytes_per_row > 0) {
    TR_CHECK(scratch != nullptr && scratch_bytes >= plan.bytes_per_row,
             "topk: scratch smaller than one row's need (see topk_scratch_bytes)");
    batch = std::min<index_t>(n, static_cast<index_t>(scratch_bytes / plan.bytes_per_row));
  }
  const index_t stride = plan.run_stride;
  T* values_x = static_cast<T*>(scratch);
  T* values_y = values_x + batch * stride;
  id_t* ids_x = reinterpret_cast<id_t*>(values_y + batch * stride);
  id_t* ids_y = ids_x + batch * stride;

  for (index_t r0 = 0; r0 < n; r0 += batch) {
    const index_t rows = std::min(batch, n - r0);
    const T* block_scores = scores + r0 * m;
    const I* block_indptr = indptr ? indptr + r0 : nullptr;
    id_t* block_ids = ids + r0 * k;
    T* block_values = values + r0 * k;
    if (plan.n_tiles == 1) {
      launch_select(block_scores, rows, m, plan, block_indptr, indices, col_base, largest,
                    block_ids, block_values, k, stream);
      continue;
    }
    launch_select(block_scores, rows, m, plan, block_indptr, indices, col_base, largest, ids_x,
                  values_x, stride, stream);
    id_t *src_ids = ids_x, *dst_ids = ids_y;
    T *src_values = values_x, *dst_values = values_y;
    index_t runs = plan.n_tiles, len = plan.tile_k;
    while (runs > 1) {
      const index_t pairs = ceil_div(runs, 2), out_len = std::min(2 * len, k);
      const bool last = pairs == 1;  // then out_len == k: the runs cover all m >= k columns
      launch_merge(src_ids, src_values, stride, 2 * len, len, src_ids + len, src_values + len,
                   stride, 2 * len, len, runs / 2, rows, pairs, out_len, largest,
                   last ? block_ids : dst_ids, last ? block_values : dst_values,
                   last ? k : stride, out_len, stream);
      std::swap(src_ids, dst_ids);
      std::swap(src_values, dst_values);
      runs = pairs;
      len = out_len;
    }
  }
}

template <class T>
void merge_topk(const id_t* a_ids, const T* a_values, index_t a_len, const id_t* b_ids,
                const T* b_values, index_t b_len, index_t n, index_t out_len, bool largest,
                id_t* out_ids, T* out_values, cudaStream_t stream) {
  TR_CHECK(n >= 0 && a_len >= 0 && b_len >= 0 && out_len >= 1 && out_len <= a_len + b_len,
           "merge_topk: need 1 <= out_len <= a_len + b_len");
  if (n == 0) return;
  launch_merge(a_ids, a_values, a_len, 0, a_len, b_ids, b_values, b_len, 0, b_len, 1, n, 1,
               out_len, largest, out_ids, out_values, out_len, 0, stream);
}

std::string nvcc_version() {
  return std::to_string(__CUDACC_VER_MAJOR__) + "." + std::to_string(__CUDACC_VER_MINOR__) +
         "." + std::to_string(__CUDACC_VER_BUILD__);
}

template void topk_rows<float, std::int32_t>(const float*, index_t, index_t, index_t,
                                             const std::int32_t*, const std::int32_t*, index_t,
                                             bool, id_t*, float*, void*, std::size_t,
                                             cudaStream_t);
template void topk_rows<float, std::int64_t>(const float*, index_t, index_t, index_t,
                                             const std::int64_t*, const std::int64_t*, index_t,
                                             bool, id_t*, float*, void*, std::size_t,
                                             cudaStream_t);
template void topk_rows<double, std::int32_t>(const double*, index_t, index_t, index_t,
                                              const std::int32_t*, const std::int32_t*, index_t,
                                              bool, id_t*, double*, void*, std::size_t,
                                              cudaStream_t);
template void topk_rows<double, std::int64_t>(const double*, index_t, index_t, index_t,
                                              const std::int64_t*, const std::int64_t*, index_t,
                                              bool, id_t*, double*, void*, std::size_t,
                                              cudaStream_t);
template void merge_topk<float>(const id_t*, const float*, index_t, const id_t*, const float*,
                                index_t, index_t, index_t, bool, id_t*, float*, cudaStream_t);
template void merge_topk<double>(const id_t*, const double*, index_t, const id_t*,
                                 const double*, index_t, index_t, index_t, bool, id_t*, double*,
                                 cudaStream_t);

}  // namespace turborec::cuda
