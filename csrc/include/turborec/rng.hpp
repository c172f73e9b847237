// Counter-based random numbers: the splitmix64 sequence (Steele, Lea, Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), read at any position without stepping through
// the ones before. Output c (c >= 1) of the sequence seeded with `seed` is
//
//     splitmix64(seed, c) = mix64(seed + c * 0x9E3779B97F4A7C15)      (all mod 2^64)
//
// so a parallel loop gives each sample its own counters and the draws do not depend on how the
// samples are split among threads. The Python mirrors (turborec/bpr/_numba.py, _numpy.py) compute
// the same bits.
#pragma once

#include <cstdint>

namespace turborec {

inline constexpr std::uint64_t kSplitmixGamma = 0x9E3779B97F4A7C15ULL;

// splitmix64's output function (a bijection of the 64-bit words).
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline std::uint64_t splitmix64(std::uint64_t seed, std::uint64_t counter) {
  return mix64(seed + counter * kSplitmixGamma);
}

// A draw mapped to [0, n) by its high 32 bits, floor(hi32 * n / 2^32): n <= 2^32 (the caller
// checks), bias below n / 2^32.
inline std::uint64_t below(std::uint64_t draw, std::uint64_t n) { return ((draw >> 32) * n) >> 32; }

}  // namespace turborec
