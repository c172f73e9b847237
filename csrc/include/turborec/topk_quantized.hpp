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
// A pair of int16 products per int32 lane is what pmaddwd (AVX2) and vpdpwssd (AVX-VNNI, AVX-512
// VNNI: multiply and accumulate in one instruction) compute; the baseline loop does the same
// integer arithmetic. The clone is picked at run time (detail::pick_panel_scores).
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "topk.hpp"

namespace turborec {

inline constexpr index_t kQuantizedPanel = 64;

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
#define TR_QUANT_INLINE inline __attribute__((always_inline))
#else
#define TR_QUANT_INLINE inline
#endif

// The clones below compute, for `rows` query rows and the `width` (<= kQuantizedPanel) items of
// one panel, out[r * out_stride + j] = float(sum_f g_rf * code_jf) * scales[j] (the sum an exact
// int32), g_r = qcodes + r * g_stride. All give the same bits: the integer sums are exact whatever
// their order, and the conversion and the product are single IEEE roundings (cvtdq2ps and mulps
// round as the scalar cast and product do).
using PanelScoresFn = void (*)(const std::int16_t*, index_t, index_t, const std::int8_t*, index_t, const float*,
                               index_t, float*, index_t);

inline void panel_scores_baseline(const std::int16_t* __restrict qcodes, index_t g_stride, index_t rows,
                                  const std::int8_t* __restrict panel, index_t pairs, const float* __restrict scales,
                                  index_t width, float* __restrict out, index_t out_stride) {
  std::int32_t dots[kQuantizedPanel];
  for (index_t r = 0; r < rows; ++r) {
    const std::int16_t* g = qcodes + r * g_stride;
    for (index_t j = 0; j < kQuantizedPanel; ++j) dots[j] = 0;
    for (index_t h = 0; h < pairs; ++h) {
      const std::int32_t ga = g[2 * h], gb = g[2 * h + 1];
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (index_t j = 0; j < kQuantizedPanel; ++j) dots[j] += ga * c[2 * j] + gb * c[2 * j + 1];
    }
    for (index_t j = 0; j < width; ++j) out[r * out_stride + j] = static_cast<float>(dots[j]) * scales[j];
  }
}

#ifdef TR_X86_DISPATCH
// The pair (g_2h, g_2h+1) as one int32, to broadcast: the two int16 a pmaddwd / vpdpwssd lane takes.
TR_QUANT_INLINE int code_pair(const std::int16_t* g, index_t h) {
  return static_cast<int>(static_cast<std::uint16_t>(g[2 * h]) |
                          (static_cast<std::uint32_t>(static_cast<std::uint16_t>(g[2 * h + 1])) << 16));
}

// AVX2: sign-extend 16 codes (8 items x 2 features) to int16, pmaddwd with the broadcast pair,
// add into one of 8 int32 accumulators (8 items each).
__attribute__((target("avx2"))) inline void panel_scores_avx2(const std::int16_t* __restrict qcodes, index_t g_stride,
                                                              index_t rows, const std::int8_t* __restrict panel,
                                                              index_t pairs, const float* __restrict scales,
                                                              index_t width, float* __restrict out,
                                                              index_t out_stride) {
  for (index_t r = 0; r < rows; ++r) {
    const std::int16_t* g = qcodes + r * g_stride;
    __m256i acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_si256();
    for (index_t h = 0; h < pairs; ++h) {
      const __m256i w = _mm256_set1_epi32(code_pair(g, h));
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (int v = 0; v < 8; ++v) {
        const __m256i codes = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * v)));
        acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(codes, w));
      }
    }
    float* o = out + r * out_stride;
    if (width == kQuantizedPanel) {
      for (int v = 0; v < 8; ++v)
        _mm256_storeu_ps(o + 8 * v, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[v]), _mm256_loadu_ps(scales + 8 * v)));
    } else {  // the last, partial panel: scales has `width` entries left
      alignas(32) std::int32_t dots[kQuantizedPanel];
      for (int v = 0; v < 8; ++v) _mm256_store_si256(reinterpret_cast<__m256i*>(dots + 8 * v), acc[v]);
      for (index_t j = 0; j < width; ++j) o[j] = static_cast<float>(dots[j]) * scales[j];
    }
  }
}

// AVX-VNNI (VEX, 256-bit): vpdpwssd multiplies the int16 pairs and adds into the accumulator in
// one instruction; two sets of accumulators (even and odd pairs) keep 16 sums in flight.
__attribute__((target("avx2,avxvnni"))) inline void panel_scores_avxvnni(
    const std::int16_t* __restrict qcodes, index_t g_stride, index_t rows, const std::int8_t* __restrict panel,
    index_t pairs, const float* __restrict scales, index_t width, float* __restrict out, index_t out_stride) {
  for (index_t r = 0; r < rows; ++r) {
    const std::int16_t* g = qcodes + r * g_stride;
    __m256i even[8], odd[8];
    for (int v = 0; v < 8; ++v) even[v] = odd[v] = _mm256_setzero_si256();
    index_t h = 0;
    for (; h + 2 <= pairs; h += 2) {
      const __m256i w0 = _mm256_set1_epi32(code_pair(g, h)), w1 = _mm256_set1_epi32(code_pair(g, h + 1));
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (int v = 0; v < 8; ++v) {
        const __m128i* p0 = reinterpret_cast<const __m128i*>(c + 16 * v);
        const __m128i* p1 = reinterpret_cast<const __m128i*>(c + kQuantizedPanel * 2 + 16 * v);
        even[v] = _mm256_dpwssd_avx_epi32(even[v], _mm256_cvtepi8_epi16(_mm_loadu_si128(p0)), w0);
        odd[v] = _mm256_dpwssd_avx_epi32(odd[v], _mm256_cvtepi8_epi16(_mm_loadu_si128(p1)), w1);
      }
    }
    if (h < pairs) {
      const __m256i w0 = _mm256_set1_epi32(code_pair(g, h));
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (int v = 0; v < 8; ++v)
        even[v] = _mm256_dpwssd_avx_epi32(
            even[v], _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * v))), w0);
    }
    float* o = out + r * out_stride;
    alignas(32) std::int32_t dots[kQuantizedPanel];
    for (int v = 0; v < 8; ++v) {
      const __m256i sum = _mm256_add_epi32(even[v], odd[v]);
      if (width == kQuantizedPanel)
        _mm256_storeu_ps(o + 8 * v, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), _mm256_loadu_ps(scales + 8 * v)));
      else
        _mm256_store_si256(reinterpret_cast<__m256i*>(dots + 8 * v), sum);
    }
    if (width < kQuantizedPanel)
      for (index_t j = 0; j < width; ++j) o[j] = static_cast<float>(dots[j]) * scales[j];
  }
}

// AVX-512 VNNI: the same with 16 items per register (32 codes sign-extended from 32 bytes).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void panel_scores_avx512vnni(
    const std::int16_t* __restrict qcodes, index_t g_stride, index_t rows, const std::int8_t* __restrict panel,
    index_t pairs, const float* __restrict scales, index_t width, float* __restrict out, index_t out_stride) {
  const __mmask16 full = 0xFFFF;
  for (index_t r = 0; r < rows; ++r) {
    const std::int16_t* g = qcodes + r * g_stride;
    __m512i even[4], odd[4];
    for (int v = 0; v < 4; ++v) even[v] = odd[v] = _mm512_setzero_si512();
    index_t h = 0;
    for (; h + 2 <= pairs; h += 2) {
      const __m512i w0 = _mm512_set1_epi32(code_pair(g, h)), w1 = _mm512_set1_epi32(code_pair(g, h + 1));
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (int v = 0; v < 4; ++v) {
        const __m256i* p0 = reinterpret_cast<const __m256i*>(c + 32 * v);
        const __m256i* p1 = reinterpret_cast<const __m256i*>(c + kQuantizedPanel * 2 + 32 * v);
        even[v] = _mm512_dpwssd_epi32(even[v], _mm512_cvtepi8_epi16(_mm256_loadu_si256(p0)), w0);
        odd[v] = _mm512_dpwssd_epi32(odd[v], _mm512_cvtepi8_epi16(_mm256_loadu_si256(p1)), w1);
      }
    }
    if (h < pairs) {
      const __m512i w0 = _mm512_set1_epi32(code_pair(g, h));
      const std::int8_t* c = panel + h * kQuantizedPanel * 2;
      for (int v = 0; v < 4; ++v)
        even[v] = _mm512_dpwssd_epi32(
            even[v], _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32 * v))), w0);
    }
    float* o = out + r * out_stride;
    for (int v = 0; v < 4; ++v) {  // masked loads and stores past a partial panel's last item
      const index_t left = width - 16 * v;
      const __mmask16 mask = left >= 16 ? full : (left <= 0 ? 0 : static_cast<__mmask16>((1u << left) - 1));
      const __m512 s = _mm512_maskz_loadu_ps(mask, scales + 16 * v);
      const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(even[v], odd[v])), s);
      _mm512_mask_storeu_ps(o + 16 * v, mask, x);
    }
  }
}
#endif

// The clones this build has and this CPU runs, best first (the names tests and `simd` take).
inline std::vector<std::string> quantized_levels() {
  std::vector<std::string> levels;
#ifdef TR_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) levels.push_back("avx512vnni");
  if (__builtin_cpu_supports("avxvnni")) levels.push_back("avxvnni");
  if (__builtin_cpu_supports("avx2")) levels.push_back("avx2");
#endif
  levels.push_back("baseline");
  return levels;
}

// The clone for `level` ("" for the best this CPU runs); an unknown or unsupported level throws.
inline PanelScoresFn pick_panel_scores(const std::string& level) {
  static const std::vector<std::string> here = quantized_levels();
  const std::string chosen = level.empty() ? here.front() : level;
  TR_CHECK(std::find(here.begin(), here.end(), chosen) != here.end(),
           "simd: " + chosen + " is not supported by this CPU or build");
#ifdef TR_X86_DISPATCH
  if (chosen == "avx512vnni") return &panel_scores_avx512vnni;
  if (chosen == "avxvnni") return &panel_scores_avxvnni;
  if (chosen == "avx2") return &panel_scores_avx2;
#endif
  return &panel_scores_baseline;
}

// Approximate scores of rows [r0, r0 + rows) and items [c0, c0 + cols) into tile (rows * cols);
// c0 is a multiple of the panel width. Panel by panel, so each panel's codes stay in L1 while
// every row of the block reads them.
inline void quantized_tile(PanelScoresFn scores_fn, const std::int16_t* __restrict qcodes, index_t pairs,
                           const std::int8_t* __restrict codes, const float* __restrict scales, index_t r0,
                           index_t rows, index_t c0, index_t cols, float* __restrict tile) {
  for (index_t j0 = 0; j0 < cols; j0 += kQuantizedPanel) {
    const std::int8_t* panel = codes + (c0 + j0) / kQuantizedPanel * pairs * kQuantizedPanel * 2;
    scores_fn(qcodes + r0 * pairs * 2, pairs * 2, rows, panel, pairs, scales + c0 + j0,
              std::min(kQuantizedPanel, cols - j0), tile + j0, cols);
  }
}

}  // namespace detail

// The int16 codes of float32 queries (turborec/selection/__init__.py's quantize_queries, bit for
// bit): per row, g_f = rint(x_f * (top / max_f |x_f|)) in float64 (an all-zero row: 0), with
// top = min(16383, (2^31 - 1) / (127 * 2 * pairs)), so that |g| * 127 * 2 * pairs fits int32.
// @param queries  n * d
// @param qcodes   n * 2 * ceil(d / 2), written (an odd d's last column 0)
inline void quantize_query_codes(const float* __restrict queries, index_t n, index_t d,
                                 std::int16_t* __restrict qcodes) {
  const index_t pairs = (d + 1) / 2;
  const std::int64_t top = std::min<std::int64_t>(16383, ((std::int64_t(1) << 31) - 1) / (127 * 2 * pairs));
  for (index_t r = 0; r < n; ++r) {
    const float* x = queries + r * d;
    std::int16_t* g = qcodes + r * 2 * pairs;
    double peak = 0.0;
    bool finite = true;
    for (index_t f = 0; f < d; ++f) {
      finite &= std::isfinite(x[f]);
      peak = std::max(peak, std::fabs(static_cast<double>(x[f])));
    }
    // A NaN would slip past the max, and its code would be undefined: refuse it (the Python
    // layer's message), as a diverged model's users are.
    if (!finite) throw std::invalid_argument("queries: contains NaN or inf");
    const double scale = static_cast<double>(top) / (peak > 0.0 ? peak : 1.0);
    for (index_t f = 0; f < d; ++f) g[f] = static_cast<std::int16_t>(std::nearbyint(static_cast<double>(x[f]) * scale));
    for (index_t f = d; f < 2 * pairs; ++f) g[f] = 0;
  }
}

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
// @param simd          the clone of the approximate scoring ("" for the CPU's best; detail::quantized_levels())
template <class I>
void topk_dot_quantized(const float* __restrict queries, const std::int16_t* __restrict qcodes, index_t n,
                        const std::int8_t* __restrict codes, const float* __restrict scales,
                        const float* __restrict items, index_t m, index_t d, index_t k, index_t n_candidates,
                        CsrView<I> exclude, const TilePlan& plan, int n_threads, id_t* __restrict ids,
                        float* __restrict values, const std::string& simd = "") {
  TR_CHECK(k >= 1 && k <= n_candidates && n_candidates <= m, "topk_dot_quantized: need 1 <= k <= n_candidates <= m");
  TR_CHECK(plan.block_items % kQuantizedPanel == 0,
           "topk_dot_quantized: block_items must be a multiple of the panel width");
  const index_t pairs = (d + 1) / 2;
  const detail::PanelScoresFn scores_fn = detail::pick_panel_scores(simd);
  const auto score_tile = [=](index_t r0, index_t rows, index_t c0, index_t cols, float* tile) {
    detail::quantized_tile(scores_fn, qcodes, pairs, codes, scales, r0, rows, c0, cols, tile);
  };
  std::vector<id_t> candidate_ids(n * n_candidates);
  std::vector<float> approximate(n * n_candidates);
  tiled_topk<float>(n, m, n_candidates, exclude, plan, n_threads, score_tile, candidate_ids.data(),
                    approximate.data());
  // The exact re-rank: n_candidates dot products per query (one user's 40 x 64: on the calling
  // thread, waking the team costs more).
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(queries, n, items, d, k, n_candidates, candidate_ids, ids, values, errors) \
    if (n * n_candidates * d >= (index_t(1) << 16))
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
