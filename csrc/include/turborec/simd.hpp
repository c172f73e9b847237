// The one SIMD hot spot of selection: finding the next score above a threshold. It has an
// AVX-512, an AVX2 and a baseline (SSE2 on x86-64, scalar elsewhere) version; the best one the
// CPU supports is picked once at run time, so one binary runs on any x86-64.
#pragma once

#include <string>

#include "common.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TR_X86_DISPATCH 1
#include <immintrin.h>
#define TR_SIMD_COMPILED "avx512f,avx2,sse2"
#else
#define TR_SIMD_COMPILED "scalar"
#endif

namespace turborec {
namespace detail {

// Blocks of 16 scores compare as vectors and reduce to one mask, so the common case (nothing in
// the block beats the threshold) costs a few instructions per 16 scores. The comparisons are
// ordered (_CMP_GT_OQ), like the scalar `>`: NaN never compares greater.
template <class T>
inline index_t next_greater_tail(const T* v, index_t n, index_t j, T threshold) {
  for (; j < n; ++j)
    if (v[j] > threshold) return j;
  return n;
}

template <class T>
using NextGreaterFn = index_t (*)(const T*, index_t, index_t, T);

#ifdef TR_X86_DISPATCH
inline index_t next_greater_sse2(const float* v, index_t n, index_t j, float threshold) {
  const __m128 t = _mm_set1_ps(threshold);
  for (; j + 16 <= n; j += 16) {
    const __m128 a = _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(v + j), t), _mm_cmpgt_ps(_mm_loadu_ps(v + j + 4), t));
    const __m128 b = _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(v + j + 8), t), _mm_cmpgt_ps(_mm_loadu_ps(v + j + 12), t));
    if (_mm_movemask_ps(_mm_or_ps(a, b))) break;
  }
  return next_greater_tail(v, n, j, threshold);
}
inline index_t next_greater_sse2(const double* v, index_t n, index_t j, double threshold) {
  const __m128d t = _mm_set1_pd(threshold);
  for (; j + 8 <= n; j += 8) {
    const __m128d a = _mm_or_pd(_mm_cmpgt_pd(_mm_loadu_pd(v + j), t), _mm_cmpgt_pd(_mm_loadu_pd(v + j + 2), t));
    const __m128d b = _mm_or_pd(_mm_cmpgt_pd(_mm_loadu_pd(v + j + 4), t), _mm_cmpgt_pd(_mm_loadu_pd(v + j + 6), t));
    if (_mm_movemask_pd(_mm_or_pd(a, b))) break;
  }
  return next_greater_tail(v, n, j, threshold);
}

__attribute__((target("avx2"))) inline index_t next_greater_avx2(const float* v, index_t n, index_t j,
                                                                 float threshold) {
  const __m256 t = _mm256_set1_ps(threshold);
  for (; j + 16 <= n; j += 16) {
    const __m256 a = _mm256_cmp_ps(_mm256_loadu_ps(v + j), t, _CMP_GT_OQ);
    const __m256 b = _mm256_cmp_ps(_mm256_loadu_ps(v + j + 8), t, _CMP_GT_OQ);
    if (_mm256_movemask_ps(_mm256_or_ps(a, b))) break;
  }
  return next_greater_tail(v, n, j, threshold);
}
__attribute__((target("avx2"))) inline index_t next_greater_avx2(const double* v, index_t n, index_t j,
                                                                 double threshold) {
  const __m256d t = _mm256_set1_pd(threshold);
  for (; j + 8 <= n; j += 8) {
    const __m256d a = _mm256_cmp_pd(_mm256_loadu_pd(v + j), t, _CMP_GT_OQ);
    const __m256d b = _mm256_cmp_pd(_mm256_loadu_pd(v + j + 4), t, _CMP_GT_OQ);
    if (_mm256_movemask_pd(_mm256_or_pd(a, b))) break;
  }
  return next_greater_tail(v, n, j, threshold);
}

__attribute__((target("avx512f"))) inline index_t next_greater_avx512(const float* v, index_t n, index_t j,
                                                                     float threshold) {
  const __m512 t = _mm512_set1_ps(threshold);
  for (; j + 32 <= n; j += 32) {
    const __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps(v + j), t, _CMP_GT_OQ);
    const __mmask16 b = _mm512_cmp_ps_mask(_mm512_loadu_ps(v + j + 16), t, _CMP_GT_OQ);
    if (a | b) break;
  }
  return next_greater_tail(v, n, j, threshold);
}
__attribute__((target("avx512f"))) inline index_t next_greater_avx512(const double* v, index_t n, index_t j,
                                                                     double threshold) {
  const __m512d t = _mm512_set1_pd(threshold);
  for (; j + 16 <= n; j += 16) {
    const __mmask8 a = _mm512_cmp_pd_mask(_mm512_loadu_pd(v + j), t, _CMP_GT_OQ);
    const __mmask8 b = _mm512_cmp_pd_mask(_mm512_loadu_pd(v + j + 8), t, _CMP_GT_OQ);
    if (a | b) break;
  }
  return next_greater_tail(v, n, j, threshold);
}
#endif

}  // namespace detail

// The instruction set the dispatch below picks on this CPU.
inline const char* simd_level() {
#ifdef TR_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "sse2";
#else
  return "scalar";
#endif
}

// The version for `level` ("avx512f", "avx2", "sse2", "scalar"; the CPU must support it).
template <class T>
detail::NextGreaterFn<T> pick_next_greater(const std::string& level = simd_level()) {
  if (level == "scalar") return &detail::next_greater_tail<T>;
#ifdef TR_X86_DISPATCH
  if (level == "avx512f") return [](const T* v, index_t n, index_t j, T t) { return detail::next_greater_avx512(v, n, j, t); };
  if (level == "avx2") return [](const T* v, index_t n, index_t j, T t) { return detail::next_greater_avx2(v, n, j, t); };
  if (level == "sse2") return [](const T* v, index_t n, index_t j, T t) { return detail::next_greater_sse2(v, n, j, t); };
#endif
  throw std::invalid_argument("simd level " + level + " is not compiled in");
}

// First index j >= start with v[j] > threshold, or n. NaN never compares greater.
template <class T>
inline index_t next_greater(const T* v, index_t n, index_t start, T threshold) {
  static const detail::NextGreaterFn<T> best = pick_next_greater<T>();
  return best(v, n, start, threshold);
}

// Bytes of T as one GCC/Clang vector (Bytes: 16 SSE2 or NEON, 32 AVX2, 64 AVX-512): element-wise
// arithmetic that rounds as the scalar code does (no FMA under -ffp-contract=off), kept in
// registers at the clone's native width or less (a wider vector, or an array the compiler cannot
// take apart, goes through memory: a store-to-load round trip). The kernels' clones (sgd.hpp,
// bpr.hpp) are written on it.
template <class T, std::size_t Bytes>
struct SimdVec {
  typedef T V __attribute__((vector_size(Bytes)));
};

// Prefetches every 64-byte line of [start, start + bytes) (the last byte too: an unaligned span's
// last line), for reading or (Write) for writing. Always inlined: GCC finds a function of
// prefetches alone free of side effects and drops its calls before inlining them (lost every
// prefetch of bpr.hpp's clones once: an epoch 2.7x as long).
template <bool Write = false>
__attribute__((always_inline)) inline void prefetch_span(const void* start, index_t bytes) {
  const char* p = static_cast<const char*>(start);
  for (index_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, Write);
  if (bytes > 0) __builtin_prefetch(p + bytes - 1, Write);
}

}  // namespace turborec
