// The one SIMD hot spot of selection: finding the next score above a threshold. Built for
// several x86-64 levels and picked at load time by the CPU (GCC target_clones / ifunc), so one
// binary runs on any x86-64 and uses AVX2 / AVX-512 where the CPU has them.
#pragma once

#include "common.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TR_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define TR_SIMD_CLONE_LIST "avx512f,avx2,default"
#else
#define TR_SIMD_CLONES
#define TR_SIMD_CLONE_LIST "default"
#endif

namespace turborec {
namespace detail {

// Blocks of 16 compare as one vector and reduce to a single "any" flag, so the common case
// (nothing in the block beats the threshold) costs a few instructions per 16 scores.
template <class T>
inline index_t next_greater_impl(const T* v, index_t n, index_t j, T threshold) {
  for (; j + 16 <= n; j += 16) {
    int any = 0;
    for (int t = 0; t < 16; ++t) any |= (v[j + t] > threshold);
    if (any) break;
  }
  for (; j < n; ++j)
    if (v[j] > threshold) return j;
  return n;
}

}  // namespace detail

// First index j >= start with v[j] > threshold, or n. NaN never compares greater.
[[maybe_unused]] TR_SIMD_CLONES static index_t next_greater(const float* v, index_t n, index_t start,
                                           float threshold) {
  return detail::next_greater_impl(v, n, start, threshold);
}
[[maybe_unused]] TR_SIMD_CLONES static index_t next_greater(const double* v, index_t n, index_t start,
                                           double threshold) {
  return detail::next_greater_impl(v, n, start, threshold);
}

// The clone the loader picks on this CPU (mirrors the ifunc resolver's order).
inline const char* simd_level() {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
#endif
  return "default";
}

}  // namespace turborec
