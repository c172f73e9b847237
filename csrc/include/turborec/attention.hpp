// The kernels of self-attention inference (SASRec / BERT4Rec as RecBole defines them): dense
// projections x W^T + b through the BLAS registry, exact-erf GELU, LayerNorm of a residual sum,
// and masked multi-head attention over a batch of right-padded sequences.
//
// Attention, per sequence b (length len_b), head h (size hs = D / n_heads), query position i:
//   s_j = (q_i . k_j) / sqrt(hs) + m_ij,   m_ij = 0 if j < len_b and (not causal or j <= i)
//                                                 -10000 otherwise (RecBole's additive mask)
//   p = softmax(s) over every key position j in [0, L),   out_i = sum_j p_j v_j.
// RecBole divides by sqrt(head size) (MultiHeadAttention.sqrt_attention_head_size), and adds
// -10000 rather than -inf, so a masked key keeps the weight exp(-10000 - ...) = 0 in practice;
// the kernels do exactly that, so they agree with RecBole where a score is huge too.
// With last_only, each sequence has one query row, at position len_b - 1 (the only output
// next-item prediction needs from the final block).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "blas.hpp"
#include "common.hpp"
#include "simd.hpp"
#include "topk_quantized.hpp"

namespace turborec {

// Activations applied after a projection; the values are the Python layer's ACTIVATIONS order.
enum class Activation : int { none = 0, gelu = 1, relu = 2 };

// Below this many scalar operations a kernel runs on the calling thread: waking a team costs more
// than a one-user request's whole layer (and far more on a loaded machine). Results never depend
// on it.
inline constexpr index_t kAttentionParallelWork = index_t(1) << 16;

// x * 0.5 * (1 + erf(x / sqrt(2))). Once |z| >= 4 (float) or 6 (double), erf(z) rounds to +-1
// (erfc(4) < 2^-25, erfc(6) < 2^-54): the libm call, slowest out there, is skipped, same result.
template <class T>
inline T gelu_exact(T x) {
  const T z = x / std::sqrt(T(2));
  const T saturated = sizeof(T) == sizeof(float) ? T(4) : T(6);
  const T e = z >= saturated ? T(1) : (z <= -saturated ? T(-1) : std::erf(z));
  return x * T(0.5) * (T(1) + e);
}

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
#define TR_GELU_INLINE inline __attribute__((always_inline))
#else
#define TR_GELU_INLINE inline
#endif

// erf of a float without a libm call, branch-free so that a loop of it vectorises (libm's erff is
// one scalar call per value: most of a one-user forward pass). Within 2.5 ulp of erf (measured on
// 2e7 samples of [0, 4.2] against float64 erf; libm's erff is within 1), for a = |z|:
//   a < 0.875:  erf(a) = a P(a^2)                       (P: degree 5, rel. error 1e-8 in float64)
//   a < 4:      erf(a) = 1 - exp(-a^2) R(1 / (1 + a/2))  (R ~ erfcx: degree 8, rel. error 4e-10)
//   a >= 4:     erf(a) = 1 (rounded)
// least-squares fits on Chebyshev nodes; exp by 2^k exp(r), |r| <= ln2 / 2, a degree-7 Taylor
// polynomial, k rounded with the 1.5 * 2^23 trick (no rint call) and 2^k built from its bits.
// c ? x : y through the bits, so that the compiler neither branches nor sinks either side into a
// branch (a loop with control flow does not vectorise, and -ftrapping-math forbids undoing it).
TR_GELU_INLINE float pick(bool c, float x, float y) {
  std::int32_t xi, yi;
  std::memcpy(&xi, &x, sizeof xi);
  std::memcpy(&yi, &y, sizeof yi);
  const std::int32_t mask = -static_cast<std::int32_t>(c);
  const std::int32_t r = (xi & mask) | (yi & ~mask);
  float out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

// exp(y) for y in [-126 ln 2, 0], within 2 ulp: 2^k exp(r), k = round(y / ln 2) by the 1.5 * 2^23
// trick (no rint call), r = y - k ln 2 in two parts (Cody and Waite), exp(r) by its degree-7
// Taylor polynomial (|r| <= ln2 / 2: truncation error 6e-9), 2^k built from its bits.
TR_GELU_INLINE float exp_reduced(float y) {
  const float k = (y * 1.44269504f + 12582912.0f) - 12582912.0f;  // round(y / ln 2)
  const float r = (y - k * 0.693359375f) - k * -2.12194440e-4f;
  float q = 1.0f / 5040;
  q = q * r + 1.0f / 720;
  q = q * r + 1.0f / 120;
  q = q * r + 1.0f / 24;
  q = q * r + 1.0f / 6;
  q = q * r + 0.5f;
  q = q * r + 1.0f;
  q = q * r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return q * scale;
}

TR_GELU_INLINE float erf_float(float z) {
  const float a = std::fabs(z), s = a * a;
  float p = -0.000621842f;
  p = p * s + 0.005035106f;
  p = p * s - 0.02679344f;
  p = p * s + 0.1128251f;
  p = p * s - 0.37612554f;
  p = p * s + 1.1283791f;
  const float small = a * p;
  const float b = pick(a < 4.0f, a, 4.0f);  // the large branch is only used for a < 4
  const float gauss = exp_reduced(-(b * b));  // exp(-a^2)
  const float u = 1.0f / (1.0f + 0.5f * b);
  float c = 0.003868766f;
  c = c * u + 0.10432453f;
  c = c * u - 0.44597992f;
  c = c * u + 0.5393712f;
  c = c * u - 0.08963056f;
  c = c * u + 0.34263018f;
  c = c * u + 0.26087004f;
  c = c * u + 0.28475976f;
  c = c * u - 0.00014563474f;
  const float large = 1.0f - gauss * c;
  const float e = pick(a < 0.875f, small, pick(a < 4.0f, large, 1.0f));
  return pick(z < 0.0f, -e, e);
}

TR_GELU_INLINE void gelu_floats_body(float* x, index_t n) {
  for (index_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = v * 0.5f * (1.0f + erf_float(v / 1.41421356f));
  }
}

inline void gelu_floats_baseline(float* x, index_t n) { gelu_floats_body(x, n); }
#ifdef TR_X86_DISPATCH
__attribute__((target("avx2"))) inline void gelu_floats_avx2(float* x, index_t n) { gelu_floats_body(x, n); }
__attribute__((target("avx512f"))) inline void gelu_floats_avx512(float* x, index_t n) { gelu_floats_body(x, n); }
#endif

// s[i] = exp(s[i] - top) for s[i] <= top (a softmax's weights): exp_reduced, branch-free, so the
// loop vectorises; below -87 (exp < 1.7e-38, e.g. RecBole's -10000 mask) the weight is 0, where
// libm's expf gives a subnormal or 0 (an absolute difference under 1.7e-38).
TR_GELU_INLINE void exp_shifted_body(float* s, index_t n, float top) {
  for (index_t i = 0; i < n; ++i) {
    const float y = s[i] - top;
    const bool tiny = y < -87.0f;
    s[i] = pick(tiny, 0.0f, exp_reduced(pick(tiny, -87.0f, y)));
  }
}

inline void exp_shifted_baseline(float* s, index_t n, float top) { exp_shifted_body(s, n, top); }
#ifdef TR_X86_DISPATCH
__attribute__((target("avx2"))) inline void exp_shifted_avx2(float* s, index_t n, float top) {
  exp_shifted_body(s, n, top);
}
__attribute__((target("avx512f"))) inline void exp_shifted_avx512(float* s, index_t n, float top) {
  exp_shifted_body(s, n, top);
}
#endif

}  // namespace detail

// x[i] = GELU(x[i]) in place: float through detail::erf_float, vectorised (the clone for this CPU;
// all give the same bits), double through libm's erf.
inline void gelu_inplace(float* x, index_t n) {
#ifdef TR_X86_DISPATCH
  static const std::string level = simd_level();
  if (level == "avx512f") return detail::gelu_floats_avx512(x, n);
  if (level == "avx2") return detail::gelu_floats_avx2(x, n);
#endif
  detail::gelu_floats_baseline(x, n);
}
inline void gelu_inplace(double* x, index_t n) {
  for (index_t i = 0; i < n; ++i) x[i] = gelu_exact(x[i]);
}

// s[i] = exp(s[i] - top) in place, s[i] <= top: float through detail::exp_shifted_body (the clone
// for this CPU; all give the same bits), double through libm's exp.
inline void exp_shifted(float* s, index_t n, float top) {
#ifdef TR_X86_DISPATCH
  static const std::string level = simd_level();
  if (level == "avx512f") return detail::exp_shifted_avx512(s, n, top);
  if (level == "avx2") return detail::exp_shifted_avx2(s, n, top);
#endif
  detail::exp_shifted_baseline(s, n, top);
}
inline void exp_shifted(double* s, index_t n, double top) {
  for (index_t i = 0; i < n; ++i) s[i] = std::exp(s[i] - top);
}

namespace detail {

inline constexpr index_t kKeyBlock = 16;  // keys scored side by side (one AVX-512 register of floats)

// s[j] = (q . k_j) / root for j in [0, count): kt holds one head's keys transposed, hs rows of
// stride ld (a multiple of kKeyBlock, >= count). Each dot product is summed in order of c,
// ((0 + q_0 k_0j) + q_1 k_1j) + ..., one key per lane: the bits of the plain loop (dot_in_order),
// whatever the clone, the lane or count.
template <class T, std::size_t Bytes>
TR_GELU_INLINE void key_scores_body(const T* __restrict q, const T* __restrict kt, index_t hs, index_t ld,
                                    index_t count, T root, T* __restrict s) {
  using V = typename SimdVec<T, Bytes>::V;  // the clone's register width (GCC vectorised none of a plain loop)
  constexpr index_t lanes = Bytes / sizeof(T), nv = kKeyBlock / lanes;
  static_assert(nv * lanes == kKeyBlock, "a key block is whole registers");
  for (index_t j0 = 0; j0 < count; j0 += kKeyBlock) {
    V acc[nv] = {};  // +0 in every lane
    for (index_t c = 0; c < hs; ++c) {
      const T qc = q[c];  // a scalar operand of a vector operation is broadcast
      const T* kc = kt + c * ld + j0;
      for (index_t u = 0; u < nv; ++u) {
        V kv;
        std::memcpy(&kv, kc + u * lanes, Bytes);
        acc[u] += qc * kv;
      }
    }
    T sums[kKeyBlock];
    for (index_t u = 0; u < nv; ++u) std::memcpy(sums + u * lanes, &acc[u], Bytes);
    const index_t width = std::min(kKeyBlock, count - j0);
    for (index_t j = 0; j < width; ++j) s[j0 + j] = sums[j] / root;
  }
}

inline void key_scores_baseline(const float* q, const float* kt, index_t hs, index_t ld, index_t count, float root,
                                float* s) {
  key_scores_body<float, 16>(q, kt, hs, ld, count, root, s);
}
#ifdef TR_X86_DISPATCH
__attribute__((target("avx2"))) inline void key_scores_avx2(const float* q, const float* kt, index_t hs, index_t ld,
                                                            index_t count, float root, float* s) {
  key_scores_body<float, 32>(q, kt, hs, ld, count, root, s);
}
__attribute__((target("avx512f"))) inline void key_scores_avx512(const float* q, const float* kt, index_t hs,
                                                                 index_t ld, index_t count, float root, float* s) {
  key_scores_body<float, 64>(q, kt, hs, ld, count, root, s);
}
#endif

// The same sum for one key: q . k in order of c.
template <class T>
inline T dot_in_order(const T* __restrict q, const T* __restrict k, index_t hs) {
  T dot = 0;
  for (index_t c = 0; c < hs; ++c) dot += q[c] * k[c];
  return dot;
}

}  // namespace detail

// detail::key_scores_body: float through the clone for this CPU (all give the same bits), double as is.
inline void key_scores(const float* q, const float* kt, index_t hs, index_t ld, index_t count, float root, float* s) {
#ifdef TR_X86_DISPATCH
  static const std::string level = simd_level();
  if (level == "avx512f") return detail::key_scores_avx512(q, kt, hs, ld, count, root, s);
  if (level == "avx2") return detail::key_scores_avx2(q, kt, hs, ld, count, root, s);
#endif
  detail::key_scores_baseline(q, kt, hs, ld, count, root, s);
}
inline void key_scores(const double* q, const double* kt, index_t hs, index_t ld, index_t count, double root,
                       double* s) {
  detail::key_scores_body<double, 16>(q, kt, hs, ld, count, root, s);
}

// @param x    n (elements), read
// @param out  n, written (may alias x)
template <class T>
void gelu(const T* x, index_t n, int n_threads, T* out) {
  const index_t chunk = 4096;  // a fact of the problem: results never depend on the threads
  const index_t n_chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(n_threads) default(none) shared(x, n, out, n_chunks) schedule(static) \
    if (n >= kAttentionParallelWork / 16)
  for (index_t c = 0; c < n_chunks; ++c) {
    const index_t begin = c * chunk, end = std::min(n, begin + chunk);
    if (out != x) std::copy(x + begin, x + end, out + begin);
    gelu_inplace(out + begin, end - begin);
  }
}

// out = act(x W^T + b): rows of x are processed in blocks of block_rows (one BLAS call each, BLAS
// pinned to one thread by the caller), so results do not depend on the thread count.
// @param x       rows * d_in, row-major
// @param w       d_out * d_in, row-major (PyTorch's nn.Linear.weight layout)
// @param b       d_out, or null for no bias
// @param out     rows * d_out, written
template <class T>
void linear(const T* __restrict x, index_t rows, index_t d_in, const T* __restrict w, index_t d_out,
            const T* __restrict b, Activation act, index_t block_rows, int n_threads, T* __restrict out) {
  TR_CHECK(block_rows >= 1, "block_rows: expected >= 1");
  const index_t n_blocks = (rows + block_rows - 1) / block_rows;
  ExceptionCapture errors;
#pragma omp parallel for num_threads(n_threads) default(none) \
    shared(x, rows, d_in, w, d_out, b, act, block_rows, n_blocks, out, errors) schedule(dynamic, 1) if (n_blocks > 1)
  for (index_t blk = 0; blk < n_blocks; ++blk) {
    if (errors.failed()) continue;
    errors.run([&] {
      const index_t r0 = blk * block_rows, r1 = std::min(rows, r0 + block_rows);
      T* o = out + r0 * d_out;
      if (d_in == 0) {
        std::fill(o, o + (r1 - r0) * d_out, T(0));
      } else {
        gemm_abt(x + r0 * d_in, r1 - r0, w, d_out, d_in, o);
      }
      const index_t size = (r1 - r0) * d_out;
      if (b != nullptr)  // one loop per step, each simple enough to vectorise
        for (index_t r = 0; r < r1 - r0; ++r)
          for (index_t c = 0; c < d_out; ++c) o[r * d_out + c] += b[c];
      if (act == Activation::gelu)
        gelu_inplace(o, size);
      else if (act == Activation::relu)
        for (index_t i = 0; i < size; ++i) o[i] = o[i] > T(0) ? o[i] : T(0);
    });
  }
  errors.rethrow();
}

// sum_c (x[c] - shift) (or its squares) in double: four lanes added in a fixed order,
// ((l0 + l1) + (l2 + l3)) then the tail, so that four additions are in flight instead of one chain
// of d dependent ones (that latency was most of a LayerNorm's time on 64-wide rows).
template <class T>
double sum_lanes(const T* x, index_t d, double shift, bool squares) {
  double l0 = 0, l1 = 0, l2 = 0, l3 = 0;
  auto term = [&](index_t i) {
    const double v = x[i] - shift;
    return squares ? v * v : v;
  };
  index_t c = 0;
  for (; c + 4 <= d; c += 4) {
    l0 += term(c);
    l1 += term(c + 1);
    l2 += term(c + 2);
    l3 += term(c + 3);
  }
  double total = (l0 + l1) + (l2 + l3);
  for (; c < d; ++c) total += term(c);
  return total;
}

// out = LayerNorm(x + residual) per row: (s - mean) / sqrt(var + eps) * weight + bias, with the
// biased variance (PyTorch's nn.LayerNorm); mean and variance accumulated in double.
// @param x         rows * d
// @param residual  rows * d, or null
// @param weight    d;  @param bias  d
// @param out       rows * d, written
template <class T>
void layer_norm(const T* __restrict x, const T* __restrict residual, index_t rows, index_t d,
                const T* __restrict weight, const T* __restrict bias, double eps, int n_threads, T* __restrict out) {
#pragma omp parallel for num_threads(n_threads) default(none) \
    shared(x, residual, rows, d, weight, bias, eps, out) schedule(static) if (rows * d >= kAttentionParallelWork)
  for (index_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;
    const T* rr = residual ? residual + r * d : nullptr;
    T* o = out + r * d;
    for (index_t c = 0; c < d; ++c) o[c] = rr ? xr[c] + rr[c] : xr[c];  // the sum in T, as PyTorch adds
    const double mean = sum_lanes(o, d, 0.0, false) / static_cast<double>(d);
    const double var = sum_lanes(o, d, mean, true) / static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (index_t c = 0; c < d; ++c)
      o[c] = static_cast<T>((o[c] - mean) * inv) * weight[c] + bias[c];
  }
}

// Keys the mask hides are skipped where that changes no bit: a query at position pos sees the
// keys [0, vis), vis = min(len, pos + 1) when causal, else len; a hidden key's score is
// dot / sqrt(hs) - 10000, and when |q| max|k_hidden| (1 + hs 2^-20) / sqrt(hs) + 1000 < 10000 +
// max(visible scores) (Cauchy-Schwarz, with room for the rounding) every hidden score is below
// the largest visible one by more than 999, so the softmax gives it the weight 0 exactly
// (exp_shifted: 0 below -87; double: exp underflows to 0) and leaves the maximum, the sum and the
// output as they are. Otherwise (scores near 10000, never seen in practice) every key is scored.
// With several query rows the head's keys are transposed once, and 16 keys are scored side by
// side (key_scores), each dot product summed in order of c as for one query (dot_in_order), so
// one query's scores do not depend on the rows around it (the incremental step's bits).
// @param q        n * lq * D (lq = L, or 1 with last_only)
// @param k, v     n * L * D
// @param lengths  n, each in [1, L]
// @param out      n * lq * D, written
template <class T>
void masked_attention(const T* __restrict q, const T* __restrict k, const T* __restrict v,
                      const std::int32_t* __restrict lengths, index_t n, index_t L, index_t D, index_t n_heads,
                      bool causal, bool last_only, int n_threads, T* __restrict out) {
  TR_CHECK(n_heads >= 1 && D % n_heads == 0, "n_heads: must divide the hidden size");
  const index_t hs = D / n_heads, lq = last_only ? 1 : L;
  const index_t ld = (L + detail::kKeyBlock - 1) / detail::kKeyBlock * detail::kKeyBlock;
  const T root = std::sqrt(static_cast<T>(hs));
  const T masked = T(-10000);
  const double slack = 1.0 + static_cast<double>(hs) / (1 << 20);
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(q, k, v, lengths, n, L, D, n_heads, causal, last_only, hs, lq, ld, root, masked, slack, out, errors) \
    if (n * lq * L * D >= 16 * kAttentionParallelWork)
  {
    std::vector<T> scores, kt;
    std::vector<double> hidden_norm;  // hidden_norm[j]: max |k_i| over keys i >= j of the head
    errors.run([&] {
      scores.resize(static_cast<std::size_t>(L));
      if (lq > 1) {
        kt.resize(static_cast<std::size_t>(hs * ld));
        hidden_norm.resize(static_cast<std::size_t>(L + 1));
      }
    });
#pragma omp for schedule(static)
    for (index_t bh = 0; bh < n * n_heads; ++bh) {  // (sequence, head) pairs: one sequence's heads in parallel too
      if (errors.failed()) continue;
      errors.run([&] {
        const index_t b = bh / n_heads, h = bh % n_heads;
        const index_t len = lengths[b];
        TR_CHECK(len >= 1 && len <= L, "lengths: each must be in [1, L]");
        {
          const index_t off = h * hs;
          const T* kb = k + b * L * D + off;
          const T* vb = v + b * L * D + off;
          if (lq > 1) {  // the head's keys transposed, and the suffix maxima of their norms
            hidden_norm[L] = 0.0;
            for (index_t j = L - 1; j >= 0; --j) {
              double sq = 0.0;
              for (index_t c = 0; c < hs; ++c) {
                kt[c * ld + j] = kb[j * D + c];
                sq += static_cast<double>(kb[j * D + c]) * static_cast<double>(kb[j * D + c]);
              }
              hidden_norm[j] = std::max(hidden_norm[j + 1], std::sqrt(sq));
            }
          }
          for (index_t row = 0; row < lq; ++row) {
            const index_t pos = last_only ? len - 1 : row;  // the query's position in the sequence
            const index_t vis = causal ? std::min(len, pos + 1) : len;
            const T* qr = q + (b * lq + row) * D + off;
            T* o = out + (b * lq + row) * D + off;
            if (lq > 1)
              key_scores(qr, kt.data(), hs, ld, vis, root, scores.data());
            else
              for (index_t j = 0; j < vis; ++j) scores[j] = detail::dot_in_order(qr, kb + j * D, hs) / root;
            T top = -std::numeric_limits<T>::infinity();
            for (index_t j = 0; j < vis; ++j) top = std::max(top, scores[j]);
            index_t count = vis;
            if (vis < L) {
              bool negligible = false;
              if (lq > 1) {
                double qq = 0.0;
                for (index_t c = 0; c < hs; ++c) qq += static_cast<double>(qr[c]) * static_cast<double>(qr[c]);
                const double bound = std::sqrt(qq) * hidden_norm[vis] * slack / static_cast<double>(root);
                negligible = bound + 1000.0 < 10000.0 + static_cast<double>(top);
              }
              if (!negligible) {  // every key, the hidden ones with the mask added
                for (index_t j = vis; j < L; ++j) {
                  scores[j] = detail::dot_in_order(qr, kb + j * D, hs) / root + masked;
                  top = std::max(top, scores[j]);
                }
                count = L;
              }
            }
            exp_shifted(scores.data(), count, top);
            T total = 0;
            for (index_t j = 0; j < count; ++j) total += scores[j];
            for (index_t c = 0; c < hs; ++c) o[c] = T(0);
            for (index_t j = 0; j < count; ++j) {
              const T p = scores[j] / total;
              if (p == T(0)) continue;
              const T* vr = vb + j * D;
#pragma omp simd
              for (index_t c = 0; c < hs; ++c) o[c] += p * vr[c];
            }
          }
        }
      });
    }
  }
  errors.rethrow();
}


// One post-LN block of RecBole's TransformerEncoder, its weights as encoder_forward reads them
// (PyTorch's nn.Linear layout, every pointer D = hidden size, I = inner size).
template <class T>
struct EncoderBlock {
  const T* qkv;         // 3D * D: the query, key and value weights stacked
  const T* qkv_bias;    // 3D
  const T* out;         // D * D (multi_head_attention.dense)
  const T* out_bias;    // D
  const T* ln1_weight;  // D (multi_head_attention.LayerNorm)
  const T* ln1_bias;    // D
  const T* ff1;         // I * D (feed_forward.dense_1)
  const T* ff1_bias;    // I
  const T* ff2;         // D * I (feed_forward.dense_2)
  const T* ff2_bias;    // D
  const T* ln2_weight;  // D (feed_forward.LayerNorm)
  const T* ln2_bias;    // D
};

namespace detail {

// Scratch of one forward pass kept between the calls of a thread up to this size: no allocation,
// page fault or heap trim per request (a one-user request needs ~0.2 MB, RecBole's SASRec shape at
// batch 256 ~50 MB: allocated per call, glibc maps a block that large afresh, and its page faults
// cost a quarter of the pass). Larger passes allocate their own and free it. The memory stays with
// the thread until it exits.
inline constexpr std::size_t kKeptScratchBytes = std::size_t(64) << 20;

// `count` elements of scratch: this thread's kept buffer, or `own` for a pass too large to keep.
template <class T>
T* forward_scratch(std::size_t count, std::vector<T>& own) {
  if (count * sizeof(T) > kKeptScratchBytes) {
    own.resize(count);
    return own.data();
  }
  thread_local std::vector<T> kept;
  if (kept.size() < count) kept.resize(count);
  return kept.data();
}

// Columns [col, col + D) of each of the rows of a (rows, stride) matrix, packed to (rows, D).
template <class T>
void take_columns(const T* src, index_t rows, index_t stride, index_t col, index_t D, T* dst) {
  for (index_t r = 0; r < rows; ++r) std::copy(src + r * stride + col, src + r * stride + col + D, dst + r * D);
}

}  // namespace detail

// RecBole's encoder, the whole forward pass in one call (the embedding sum included): the same linear, layer_norm and
// masked_attention calls, in the same order, as the Python composition (_encoder.forward), so the
// same bits, without a return to Python between layers. Per block (post-LN):
//   a = LayerNorm(dense(attention(x)) + x);   x = LayerNorm(dense_2(act(dense_1(a))) + a)
// after x = LayerNorm(embedded input). The final block computes keys and values for every
// position and the rest for the last real one only (exact: no later block reads the others).
// @param ids        n * width, item ids in [0, item_rows) (right-padded; the padding id is a row too)
// @param lengths    n, each in [1, width]
// @param items      item_rows * D (item_embedding.weight);  @param positions  width * D at least
// @param blocks     n_blocks >= 1
// @param ln_weight, ln_bias  D, the embedding LayerNorm
// @param out        n * D, written: the last block's output at position lengths[b] - 1
template <class T>
void encoder_forward(const std::int32_t* __restrict ids, const std::int32_t* __restrict lengths, index_t n,
                     index_t width, const T* __restrict items, index_t item_rows, const T* __restrict positions,
                     index_t D, index_t inner, const EncoderBlock<T>* blocks, index_t n_blocks,
                     const T* __restrict ln_weight, const T* __restrict ln_bias, index_t n_heads, bool causal,
                     double eps, Activation act, index_t block_rows, int n_threads, T* __restrict out) {
  TR_CHECK(n_blocks >= 1, "blocks: expected at least one");
  const index_t rows = n * width;
  std::vector<T> own;  // the scratch of a pass too large to keep between calls
  T* next = detail::forward_scratch<T>(static_cast<std::size_t>(rows * (11 * D + inner) + n * D), own);
  const auto take = [&next](index_t count) { return std::exchange(next, next + count); };
  T *x = take(rows * D), *h = take(rows * D), *q = take(rows * D), *keys = take(rows * D), *values = take(rows * D),
    *mixed = take(rows * 3 * D), *context = take(rows * D), *attended = take(rows * D), *a = take(rows * D),
    *hidden = take(rows * inner), *last = take(n * D);
  for (index_t r = 0; r < rows; ++r) {  // item_embedding[ids] + position_embedding[0 .. width-1]
    TR_CHECK(ids[r] >= 0 && ids[r] < item_rows, "ids: each must be a row of the item table");
    const T* item = items + static_cast<index_t>(ids[r]) * D;
    const T* position = positions + (r % width) * D;
    for (index_t c = 0; c < D; ++c) x[r * D + c] = item[c] + position[c];
  }
  layer_norm(x, static_cast<const T*>(nullptr), rows, D, ln_weight, ln_bias, eps, n_threads, h);
  for (index_t i = 0; i < n_blocks; ++i) {
    const EncoderBlock<T>& p = blocks[i];
    const bool final_block = i == n_blocks - 1;
    index_t m = rows;     // the rows this block carries past attention
    const T* x_in = h;
    if (final_block) {  // keys and values of every position, the query of the last real one
      linear(h, rows, D, p.qkv + D * D, 2 * D, p.qkv_bias + D, Activation::none, block_rows, n_threads,
             mixed);
      detail::take_columns(mixed, rows, 2 * D, 0, D, keys);
      detail::take_columns(mixed, rows, 2 * D, D, D, values);
      for (index_t b = 0; b < n; ++b) {
        TR_CHECK(lengths[b] >= 1 && lengths[b] <= width, "lengths: each must be in [1, width]");
        const T* row = h + (b * width + lengths[b] - 1) * D;
        std::copy(row, row + D, last + b * D);
      }
      linear(last, n, D, p.qkv, D, p.qkv_bias, Activation::none, block_rows, n_threads, q);
      m = n;
      x_in = last;
    } else {
      linear(h, rows, D, p.qkv, 3 * D, p.qkv_bias, Activation::none, block_rows, n_threads, mixed);
      detail::take_columns(mixed, rows, 3 * D, 0, D, q);
      detail::take_columns(mixed, rows, 3 * D, D, D, keys);
      detail::take_columns(mixed, rows, 3 * D, 2 * D, D, values);
    }
    masked_attention(q, keys, values, lengths, n, width, D, n_heads, causal, final_block,
                     n_threads, context);
    linear(context, m, D, p.out, D, p.out_bias, Activation::none, block_rows, n_threads, attended);
    layer_norm(attended, x_in, m, D, p.ln1_weight, p.ln1_bias, eps, n_threads, a);
    linear(a, m, D, p.ff1, inner, p.ff1_bias, act, block_rows, n_threads, hidden);
    linear(hidden, m, inner, p.ff2, D, p.ff2_bias, Activation::none, block_rows, n_threads, attended);
    layer_norm(attended, a, m, D, p.ln2_weight, p.ln2_bias, eps, n_threads,
               final_block ? out : h);
  }
}


// The exclusion CSR of a batch for its recommendations: row b holds the padding id 0 and, with
// exclude_seen, every item of seen[seen_indptr[b] .. seen_indptr[b + 1]), sorted, once each
// (the model's _sequences.exclusion, the same arrays).
// @param seen_indptr  n + 1, monotone;  @param seen  seen_indptr[n] item ids, each >= 0
inline void seen_exclusion(const std::int64_t* seen_indptr, const std::int64_t* seen, index_t n, bool exclude_seen,
                           std::vector<std::int64_t>& indptr, std::vector<std::int64_t>& indices) {
  indptr.assign(1, 0);
  indices.clear();
  indices.reserve(static_cast<std::size_t>(n + (exclude_seen ? seen_indptr[n] : 0)));
  for (index_t b = 0; b < n; ++b) {
    const std::size_t begin = indices.size();
    indices.push_back(0);
    if (exclude_seen) indices.insert(indices.end(), seen + seen_indptr[b], seen + seen_indptr[b + 1]);
    std::sort(indices.begin() + begin, indices.end());
    indices.erase(std::unique(indices.begin() + begin, indices.end()), indices.end());
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
}

// RecBole SASRec's recommend in one call: encoder_forward (float32), then every item of the
// scored table dotted with each user representation and the best k kept, the padding id 0 and
// (with exclude_seen) the seen items excluded: exactly (topk_dot), or over the int8 table with
// its exact re-rank (topk_dot_quantized, the queries quantised here: quantize_query_codes).
// The same arithmetic as the forward pass, then the selection kernel, called one after the other.
// @param seen_indptr, seen  the items of each sequence, all of them (see seen_exclusion)
// @param scored     m * D: the items scored (item_embedding.weight's first m rows)
// @param codes, scales  the int8 table of `scored` (topk_quantized.hpp's layout), or both null: exact scores
// @param k          1 <= k <= n_candidates <= m (n_candidates: re-scored per user, the int8 table only)
// @param plan       the selection kernel's TilePlan
// @param ids, values  n * k, written
inline void encoder_topk(const std::int32_t* __restrict ids, const std::int32_t* __restrict lengths, index_t n,
                         index_t width, const float* __restrict items, index_t item_rows,
                         const float* __restrict positions, index_t D, index_t inner,
                         const EncoderBlock<float>* blocks, index_t n_blocks, const float* __restrict ln_weight,
                         const float* __restrict ln_bias, index_t n_heads, bool causal, double eps, Activation act,
                         index_t block_rows, const std::int64_t* seen_indptr, const std::int64_t* seen,
                         bool exclude_seen, const float* __restrict scored, index_t m, const std::int8_t* codes,
                         const float* scales, index_t k, index_t n_candidates, const TilePlan& plan, int n_threads,
                         id_t* __restrict out_ids, float* __restrict out_values) {
  std::vector<float> users(static_cast<std::size_t>(n * D));
  encoder_forward(ids, lengths, n, width, items, item_rows, positions, D, inner, blocks, n_blocks, ln_weight, ln_bias,
                  n_heads, causal, eps, act, block_rows, n_threads, users.data());
  std::vector<std::int64_t> ex_indptr, ex_indices;
  seen_exclusion(seen_indptr, seen, n, exclude_seen, ex_indptr, ex_indices);
  const CsrView<std::int64_t> exclude{ex_indptr.data(), ex_indices.data()};
  if (codes == nullptr) {
    topk_dot<float>(users.data(), n, scored, m, D, k, exclude, nullptr, nullptr, plan, n_threads, out_ids,
                    out_values);
    return;
  }
  std::vector<std::int16_t> qcodes(static_cast<std::size_t>(n * 2 * ((D + 1) / 2)));
  quantize_query_codes(users.data(), n, D, qcodes.data());
  topk_dot_quantized(users.data(), qcodes.data(), n, codes, scales, scored, m, D, k, n_candidates, exclude, plan,
                     n_threads, out_ids, out_values);
}

}  // namespace turborec
