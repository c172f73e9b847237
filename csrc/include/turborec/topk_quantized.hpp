// Top-k by dot product over an int8 item table, with an exact re-rank (turborec.topk_dot_quantized).
//
// The table stores each item x_j as codes c_j (int8) and a scale s_j = max_f |x_jf| / 127, so that
// x_jf ~ s_j c_jf (symmetric, per item; turborec/selection/__init__.py's quantize_items). Each
// query q comes with int16 codes g (q_f ~ t g_f for some t > 0, quantize_queries there), and
// every item gets the approximate score
//     a_j = float(sum_f g_f * c_jf) * s_j     (an exact int32 sum; t, the same for all j, dropped)
// The best n_candidates of those (excluded items never, ties to the lower id) are re-scored
// exactly against the float32 table,
//     e_j = float(sum_f double(q_f) * double(x_jf))   (float64, in order of f, rounded once)
// and the best k of the re-scored candidates are returned (ties to the lower id). A quarter of
// the float32 table's bytes are streamed per query; the answer is exact whenever the true top-k
// are among the candidates. Integer sums are exact, so every backend gives the same bits.
//
// Layout of the codes: panels of kQuantizedPanel items; in a panel, for each pair of features
// (2h, 2h + 1), the two codes of item 0, then of item 1, ...: the code of item
// p * kQuantizedPanel + j, feature f is codes[((p * pairs + f / 2) * kQuantizedPanel + j) * 2 + f % 2]
// with pairs = ceil(d / 2) (an odd d padded with a zero feature, the last panel with zero items).
// A pair of int16 products per int32 lane is what pmaddwd computes (AVX2 below); the baseline
// loop does the same integer arithmetic.
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

// out[j] = sum_f g[f] * panel code (j, f), for the 64 items of one panel (exact int32 sums).
inline void panel_dots_baseline(const std::int16_t* __restrict g, const std::int8_t* __restrict panel, index_t pairs,
                                std::int32_t* __restrict out) {
  for (index_t j = 0; j < kQuantizedPanel; ++j) out[j] = 0;
  for (index_t h = 0; h < pairs; ++h) {
    const std::int32_t ga = g[2 * h], gb = g[2 * h + 1];
    const std::int8_t* c = panel + h * kQuantizedPanel * 2;
    for (index_t j = 0; j < kQuantizedPanel; ++j) out[j] += ga * c[2 * j] + gb * c[2 * j + 1];
  }
}

#ifdef TR_X86_DISPATCH
// The same sums, eight items per register: sign-extend 16 codes (8 items x 2 features) to int16,
// pmaddwd with the broadcast pair (g_2h, g_2h+1), add into one of 8 int32 accumulators.
__attribute__((target("avx2"))) inline void panel_dots_avx2(const std::int16_t* __restrict g,
                                                            const std::int8_t* __restrict panel, index_t pairs,
                                                            std::int32_t* __restrict out) {
  __m256i acc[8];
  for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_si256();
  for (index_t h = 0; h < pairs; ++h) {
    const std::uint32_t both = static_cast<std::uint16_t>(g[2 * h]) |
                               (static_cast<std::uint32_t>(static_cast<std::uint16_t>(g[2 * h + 1])) << 16);
    const __m256i w = _mm256_set1_epi32(static_cast<int>(both));
    const std::int8_t* c = panel + h * kQuantizedPanel * 2;
    for (int v = 0; v < 8; ++v) {
      const __m256i codes = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * v)));
      acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(codes, w));
    }
  }
  for (int v = 0; v < 8; ++v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * v), acc[v]);
}
#endif

using PanelDotsFn = void (*)(const std::int16_t*, const std::int8_t*, index_t, std::int32_t*);

// The version for this CPU (all give the same, exact, sums).
inline PanelDotsFn pick_panel_dots() {
#ifdef TR_X86_DISPATCH
  const std::string level = simd_level();
  if (level == "avx512f" || level == "avx2") return &panel_dots_avx2;
#endif
  return &panel_dots_baseline;
}

// Approximate scores of rows [r0, r0 + rows) and items [c0, c0 + cols) into tile (rows * cols);
// c0 is a multiple of the panel width. Panel by panel, so each panel's codes stay in L1 while
// every row of the block reads them.
inline void quantized_tile(PanelDotsFn dots_fn, const std::int16_t* __restrict qcodes, index_t pairs,
                           const std::int8_t* __restrict codes, const float* __restrict scales, index_t r0,
                           index_t rows, index_t c0, index_t cols, float* __restrict tile) {
  std::int32_t dots[kQuantizedPanel];
  for (index_t j0 = 0; j0 < cols; j0 += kQuantizedPanel) {
    const std::int8_t* panel = codes + (c0 + j0) / kQuantizedPanel * pairs * kQuantizedPanel * 2;
    const index_t width = std::min(kQuantizedPanel, cols - j0);
    for (index_t r = 0; r < rows; ++r) {
      dots_fn(qcodes + (r0 + r) * pairs * 2, panel, pairs, dots);
      float* out = tile + r * cols + j0;
      for (index_t j = 0; j < width; ++j) out[j] = static_cast<float>(dots[j]) * scales[c0 + j0 + j];
    }
  }
}

}  // namespace detail

// @param queries       n * d, row-major, finite: the float32 queries (for the re-rank)
// @param qcodes        n * 2 * ceil(d / 2), row-major: their int16 codes (|g| * 127 * 2 * pairs < 2^31)
// @param codes         ceil(m / kQuantizedPanel) * ceil(d / 2) * kQuantizedPanel * 2, the layout above
// @param scales        m, finite, >= 0
// @param items         m * d, row-major, finite: the float32 table the codes approximate
// @param k             1 <= k <= n_candidates
// @param n_candidates  k <= n_candidates <= m: approximate winners re-scored per query
// @param exclude       n rows, item ids in [0, m), sorted within each row; may be empty
// @param plan          see TilePlan; block_items a multiple of kQuantizedPanel, capacity > n_candidates
// @param ids           n * k, written: best first, -1 past the eligible items
// @param values        n * k, written: exact scores, -inf past the eligible items
template <class I>
void topk_dot_quantized(const float* __restrict queries, const std::int16_t* __restrict qcodes, index_t n,
                        const std::int8_t* __restrict codes, const float* __restrict scales,
                        const float* __restrict items, index_t m, index_t d, index_t k, index_t n_candidates,
                        CsrView<I> exclude, const TilePlan& plan, int n_threads, id_t* __restrict ids,
                        float* __restrict values) {
  TR_CHECK(k >= 1 && k <= n_candidates && n_candidates <= m, "topk_dot_quantized: need 1 <= k <= n_candidates <= m");
  TR_CHECK(plan.block_items % kQuantizedPanel == 0,
           "topk_dot_quantized: block_items must be a multiple of the panel width");
  const index_t pairs = (d + 1) / 2;
  const detail::PanelDotsFn dots_fn = detail::pick_panel_dots();
  const auto score_tile = [=](index_t r0, index_t rows, index_t c0, index_t cols, float* tile) {
    detail::quantized_tile(dots_fn, qcodes, pairs, codes, scales, r0, rows, c0, cols, tile);
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
