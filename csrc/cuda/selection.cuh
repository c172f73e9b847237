// Host entry points of selection.cu: row-wise top-k selection on the GPU.
//
// Plain C++ declarations (no CUDA syntax), so module.cpp, built by the host compiler, can call
// them. Every pointer is a device pointer; every launch goes on `stream` and nothing here
// synchronises, so outputs and scratch stay in use until the stream reaches that point.
//
// Order, as in turborec/topk.hpp: larger key first, ties to the lower id. The key is the score
// (`largest`) or its negation; NaN keys and keys equal to -inf are never selected; rows with
// fewer than k eligible entries are padded with id -1 and the padding value (-inf when
// `largest`, +inf otherwise).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include <turborec/common.hpp>

namespace turborec::cuda {

// Largest k one selection pass keeps per block; larger k tiles the columns and merges.
constexpr index_t kMaxPassK = 1024;

// How topk_rows splits a row: column tiles selected independently, then merged pairwise.
struct TopkPlan {
  index_t tile_width = 0;        // columns per selection block
  index_t n_tiles = 0;           // tiles per row; 1 means the selection writes the output
  index_t tile_k = 0;            // entries each tile keeps: min(k, tile_width)
  index_t run_stride = 0;        // scratch entries per row, in each of the two buffers
  std::size_t bytes_per_row = 0; // scratch bytes per row (0 when n_tiles == 1)
};

// The plan for an (n, m) matrix and k (1 <= k <= m) with `value_bytes`-byte scores. Depends on
// the current device's multiprocessor count (few long rows are split for parallelism).
TopkPlan plan_topk(index_t n, index_t m, index_t k, std::size_t value_bytes);

// Scratch bytes to allocate for topk_rows: every row's need if it fits in `budget`, else as
// many whole rows as fit (at least one). 0 when no scratch is needed.
std::size_t topk_scratch_bytes(index_t n, index_t m, index_t k, std::size_t value_bytes,
                               std::size_t budget);

// Row-wise top-k of a dense row-major matrix.
// @param scores         n * m
// @param k              1 <= k <= m
// @param indptr         n + 1 (CSR of excluded columns), or null for none
// @param indices        indptr[n], global column ids (any order, duplicates harmless)
// @param col_base       id of column 0: returned ids are col_base + column, and an excluded id
//                       e masks column e - col_base (ids outside [col_base, col_base + m) are
//                       ignored). 0 for a whole matrix; the item offset for a score tile.
// @param ids            n * k, written
// @param values         n * k, written
// @param scratch        topk_scratch_bytes(...) bytes (any size >= one row's need), or null
//                       when that is 0
template <class T, class I>
void topk_rows(const T* scores, index_t n, index_t m, index_t k, const I* indptr,
               const I* indices, index_t col_base, bool largest, id_t* ids, T* values,
               void* scratch, std::size_t scratch_bytes, cudaStream_t stream);

// Merges two row-wise top lists (each sorted best first, padded entries last) into the best
// out_len entries per row. Ids must be distinct across a and b except for padding (-1).
// @param a_ids, a_values  n * a_len
// @param b_ids, b_values  n * b_len
// @param out_len          1 <= out_len <= a_len + b_len
// @param out_ids, out_values  n * out_len, written; must not overlap the inputs
template <class T>
void merge_topk(const id_t* a_ids, const T* a_values, index_t a_len, const id_t* b_ids,
                const T* b_values, index_t b_len, index_t n, index_t out_len, bool largest,
                id_t* out_ids, T* out_values, cudaStream_t stream);

// The nvcc version that compiled selection.cu ("13.0.88").
std::string nvcc_version();

extern template void topk_rows<float, std::int32_t>(const float*, index_t, index_t, index_t,
                                                    const std::int32_t*, const std::int32_t*,
                                                    index_t, bool, id_t*, float*, void*,
                                                    std::size_t, cudaStream_t);
extern template void topk_rows<float, std::int64_t>(const float*, index_t, index_t, index_t,
                                                    const std::int64_t*, const std::int64_t*,
                                                    index_t, bool, id_t*, float*, void*,
                                                    std::size_t, cudaStream_t);
extern template void topk_rows<double, std::int32_t>(const double*, index_t, index_t, index_t,
                                                     const std::int32_t*, const std::int32_t*,
                                                     index_t, bool, id_t*, double*, void*,
                                                     std::size_t, cudaStream_t);
extern template void topk_rows<double, std::int64_t>(const double*, index_t, index_t, index_t,
                                                     const std::int64_t*, const std::int64_t*,
                                                     index_t, bool, id_t*, double*, void*,
                                                     std::size_t, cudaStream_t);
extern template void merge_topk<float>(const id_t*, const float*, index_t, const id_t*,
                                       const float*, index_t, index_t, index_t, bool, id_t*,
                                       float*, cudaStream_t);
extern template void merge_topk<double>(const id_t*, const double*, index_t, const id_t*,
                                        const double*, index_t, index_t, index_t, bool, id_t*,
                                        double*, cudaStream_t);

}  // namespace turborec::cuda
