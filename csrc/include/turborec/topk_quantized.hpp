// Top-k by dot product over an int8 item table, with an exact re-rank (turborec.topk_dot_quantized).
//
// The table stores each item x_j as codes c_j (int8) and a scale s_j = max_f |x_jf| / 127, so that
// x_jf ~ s_j c_jf (symmetric, per item; turborec/selection/__init__.py's quantize_items). A query q
// (float32) gets the approximate score
//     a_j = (sum_f q_f * float(c_jf)) * s_j      (float32, summed over f = 0, 1, ... in order)
// for every item, the best n_candidates of those (excluded items never, ties to the lower id) are
// re-scored exactly against the float32 table,
//     e_j = float(sum_f double(q_f) * double(x_jf))   (float64, in order, rounded once)
// and the best k of the re-scored candidates are returned (ties to the lower id). A quarter of the
// float32 table's bytes are streamed per query; the answer is exact whenever the true top-k are
// among the candidates.
//
// Layout of the codes: panels of kQuantizedPanel items, each d rows of kQuantizedPanel codes:
// the code of item p * kQuantizedPanel + j, feature f is codes[(p * d + f) * kQuantizedPanel + j]
// (the last panel padded with zeros). One panel's scores are kQuantizedPanel independent sums, one
// vector lane each, so every step is an elementwise multiply and add in a fixed order: the
// vectorised clones, numba and NumPy give the same bits (the build uses -ffp-contract=off).
#pragma once

#include <cstdint>
#include <cstring>

#include "topk.hpp"

namespace turborec {

inline constexpr index_t kQuantizedPanel = 64;

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
#define TR_QUANT_INLINE inline __attribute__((always_inline))
#else
#define TR_QUANT_INLINE inline
#endif

// out[j] = sum_f q[f] * float(panel[f * 64 + j]), for the 64 items of one panel. The j loop is
// 64 independent lanes (a sign extension, an exact int -> float conversion, a multiply and an
// add each), which the compiler vectorises and keeps in registers across f.
TR_QUANT_INLINE void panel_dots(const float* __restrict q, const std::int8_t* __restrict panel, index_t d,
                                float* __restrict out) {
  float acc[kQuantizedPanel] = {};
  for (index_t f = 0; f < d; ++f) {
    const float qf = q[f];
    const std::int8_t* codes = panel + f * kQuantizedPanel;
    for (index_t j = 0; j < kQuantizedPanel; ++j) acc[j] += qf * static_cast<float>(codes[j]);
  }
  for (index_t j = 0; j < kQuantizedPanel; ++j) out[j] = acc[j];
}

// Approximate scores of rows [r0, r0 + rows) of queries and items [c0, c0 + cols) into tile
// (rows * cols); c0 is a multiple of the panel width. Panel by panel, so each panel's codes stay
// in L1 while every row of the block reads them.
TR_QUANT_INLINE void quantized_tile_body(const float* __restrict queries, index_t d,
                                         const std::int8_t* __restrict codes, const float* __restrict scales,
                                         index_t r0, index_t rows, index_t c0, index_t cols, float* __restrict tile) {
  float dots[kQuantizedPanel];
  for (index_t j0 = 0; j0 < cols; j0 += kQuantizedPanel) {
    const std::int8_t* panel = codes + (c0 + j0) / kQuantizedPanel * d * kQuantizedPanel;
    const index_t width = std::min(kQuantizedPanel, cols - j0);
    for (index_t r = 0; r < rows; ++r) {
      panel_dots(queries + (r0 + r) * d, panel, d, dots);
      float* out = tile + r * cols + j0;
      for (index_t j = 0; j < width; ++j) out[j] = dots[j] * scales[c0 + j0 + j];
    }
  }
}

using QuantizedTileFn = void (*)(const float*, index_t, const std::int8_t*, const float*, index_t, index_t, index_t,
                                 index_t, float*);

inline void quantized_tile_baseline(const float* q, index_t d, const std::int8_t* codes, const float* scales,
                                    index_t r0, index_t rows, index_t c0, index_t cols, float* tile) {
  quantized_tile_body(q, d, codes, scales, r0, rows, c0, cols, tile);
}

#ifdef TR_X86_DISPATCH
__attribute__((target("avx2"))) inline void quantized_tile_avx2(const float* q, index_t d, const std::int8_t* codes,
                                                                const float* scales, index_t r0, index_t rows,
                                                                index_t c0, index_t cols, float* tile) {
  quantized_tile_body(q, d, codes, scales, r0, rows, c0, cols, tile);
}
__attribute__((target("avx512f"))) inline void quantized_tile_avx512(const float* q, index_t d,
                                                                    const std::int8_t* codes, const float* scales,
                                                                    index_t r0, index_t rows, index_t c0,
                                                                    index_t cols, float* tile) {
  quantized_tile_body(q, d, codes, scales, r0, rows, c0, cols, tile);
}
#endif

// The clone for this CPU (all give the same bits).
inline QuantizedTileFn pick_quantized_tile() {
#ifdef TR_X86_DISPATCH
  const std::string level = simd_level();
  if (level == "avx512f") return &quantized_tile_avx512;
  if (level == "avx2") return &quantized_tile_avx2;
#endif
  return &quantized_tile_baseline;
}

}  // namespace detail

// @param queries       n * d, row-major, finite
// @param codes         ceil(m / kQuantizedPanel) * d * kQuantizedPanel, the panel layout above
// @param scales        m, finite, >= 0
// @param items         m * d, row-major, finite: the float32 table the codes approximate
// @param k             1 <= k <= n_candidates
// @param n_candidates  k <= n_candidates <= m: approximate winners re-scored per query
// @param exclude       n rows, item ids in [0, m), sorted within each row; may be empty
// @param plan          see TilePlan; block_items a multiple of kQuantizedPanel, capacity > n_candidates
// @param ids           n * k, written: best first, -1 past the eligible items
// @param values        n * k, written: exact scores, -inf past the eligible items
template <class I>
void topk_dot_quantized(const float* __restrict queries, index_t n, const std::int8_t* __restrict codes,
                        const float* __restrict scales, const float* __restrict items, index_t m, index_t d,
                        index_t k, index_t n_candidates, CsrView<I> exclude, const TilePlan& plan, int n_threads,
                        id_t* __restrict ids, float* __restrict values) {
  TR_CHECK(k >= 1 && k <= n_candidates && n_candidates <= m, "topk_dot_quantized: need 1 <= k <= n_candidates <= m");
  TR_CHECK(plan.block_items % kQuantizedPanel == 0,
           "topk_dot_quantized: block_items must be a multiple of the panel width");
  const detail::QuantizedTileFn tile_fn = detail::pick_quantized_tile();
  const auto score_tile = [=](index_t r0, index_t rows, index_t c0, index_t cols, float* tile) {
    tile_fn(queries, d, codes, scales, r0, rows, c0, cols, tile);
  };
  std::vector<id_t> candidate_ids(n * n_candidates);
  std::vector<float> approximate(n * n_candidates);
  tiled_topk<float>(n, m, n_candidates, exclude, plan, n_threads, score_tile, candidate_ids.data(),
                    approximate.data());
  // The exact re-rank: n_candidates dot products per query.
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(queries, n, items, d, k, n_candidates, candidate_ids, ids, values, errors)
  {
    std::vector<Candidate<float>> buffer;
    errors.run([&] { buffer.resize(n_candidates + 1); });
#pragma omp for schedule(static)
    for (index_t r = 0; r < n; ++r) {
      if (errors.failed()) continue;
      RowTopK<float> top(buffer.data(), k, n_candidates + 1);
      const float* q = queries + r * d;
      for (index_t c = 0; c < n_candidates; ++c) {
        const id_t id = candidate_ids[r * n_candidates + c];
        if (id < 0) break;  // padding comes last: fewer eligible items than candidates
        const float* x = items + static_cast<index_t>(id) * d;
        double sum = 0.0;
        for (index_t f = 0; f < d; ++f) sum += static_cast<double>(q[f]) * static_cast<double>(x[f]);
        top.offer(static_cast<float>(sum), id);
      }
      top.write(ids + r * k, values + r * k, 1.0f);
    }
  }
  errors.rethrow();
}

}  // namespace turborec
