// Stochastic gradient descent epochs of explicit-rating matrix factorisation: Surprise 1.1's SVD
// (Funk / Koren 2009, eq. 5) and SVD++ (Koren 2008, section 4), with Surprise's update order.
//
// SVD predicts  r_ui ~ mu + b_u + b_i + q_i . p_u  and visits the ratings in the given order:
//   e    = r - (mu + b_u + b_i + q_i . p_u)          (dot summed in 32 lanes: kDotLanes)
//   b_u += lr_bu (e - reg_bu b_u);   b_i += lr_bi (e - reg_bi b_i)         (when biased)
//   p_uf += lr_pu (e q_if - reg_pu p_uf);   q_if += lr_qi (e p_uf - reg_qi q_if)  (old p_uf, q_if)
// the factor updates computed as  p_uf = (1 - lr_pu reg_pu) p_uf + (lr_pu e) q_if  (three
// operations, not five). Surprise's updates in Surprise's order, rounded otherwise than its
// Cython loops (float64 predictions agree to ~1e-13): ~4.6x faster than its arithmetic.
// Unbiased: mu = 0 and the biases stay untouched.
//
// SVD++ adds the implicit term  s_u = sum_{j in N(u)} y_j / sqrt(|N(u)|)  to p_u in the dot
// product and in q_i's gradient, and after each rating moves every y_j of N(u):
//   y_jf += lr_yj (e q_if / sqrt(|N(u)|) - reg_yj y_jf)                     (old q_if)
// Surprise recomputes s_u from y before every rating (exact mode here). Because every y_j of
// N(u) receives the same affine map  y <- a y + c  (a = 1 - lr_yj reg_yj, c = lr_yj e q_i /
// sqrt|N(u)|), a run of consecutive ratings of one user can instead compute s_u once, carry
// it forward as  s_u <- a s_u + |N(u)| c / sqrt|N(u)|,  and apply the composed map
// y <- A y + B to each y_j once at the end of the run: O(|N(u)| f) per run instead of per
// rating, and algebraically the same numbers (they differ from the exact mode by rounding).
// A run whose N(u) lists an item twice takes the exact path (the per-rating map is then a^m y
// + ..., not one affine map shared by all entries).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

#include "common.hpp"
#include "simd.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define TR_SGD_INLINE __attribute__((always_inline)) inline
#define TR_SGD_LAMBDA __attribute__((always_inline))
#else
#define TR_SGD_INLINE inline
#define TR_SGD_LAMBDA
#endif

namespace turborec {

// Learning rates and regularisations, Surprise's names.
struct SgdRates {
  double lr_bu, lr_bi, lr_pu, lr_qi, lr_yj;
  double reg_bu, reg_bi, reg_pu, reg_qi, reg_yj;
};

// Partial sums of SVD's dot product: lane l sums the products f = l, l + 32, ... in
// order, then the lanes combine by halving: s[l] += s[l + w] for w = 16, 8, 4, 2, 1. 32
// independent chains instead of one (four AVX2 or two AVX-512 accumulators, so the adds'
// latency no longer bounds the loop), vectorised without reassociating anything, so every
// backend (sgd/_numba.py, sgd/_numpy.py) rounds alike.
inline constexpr index_t kDotLanes = 32;

// Integer vectors as wide as SimdVec<T, Bytes> (simd.hpp), for shuffle indices.
template <class T, std::size_t Bytes>
using SimdIndex = SimdVec<std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>, Bytes>;

// The lanes' halving within one vector: lanes [0, N/2) plus lanes [N/2, N), down to one lane.
template <class T, std::size_t Bytes>
TR_SGD_INLINE T sum_by_halving(const typename SimdVec<T, Bytes>::V& v) {
  if constexpr (Bytes == sizeof(T)) {
    return v[0];
  } else {
    typename SimdVec<T, Bytes / 2>::V low, high;
    std::memcpy(&low, &v, Bytes / 2);
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + Bytes / 2, Bytes / 2);
    return sum_by_halving<T, Bytes / 2>(low + high);
  }
}

// dot_lanes on native vectors, for k a multiple of the vector width (PaddedRows): the 32 lanes
// are kDotLanes / width vectors, combined by the same halving (first across the vectors, then
// within the last one), so every width gives the same bits.
template <class T, std::size_t Bytes>
TR_SGD_INLINE T dot_lanes_simd(const T* __restrict q, const T* __restrict p, index_t k) {
  using V = typename SimdVec<T, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(T), count = kDotLanes / width;
  static_assert(count >= 1 && count * width == kDotLanes, "vectors must tile the dot product's lanes");
  V s[count] = {};
  for (index_t v = 0; v < k / width; ++v) {
    V a, b;
    std::memcpy(&a, q + v * width, Bytes);
    std::memcpy(&b, p + v * width, Bytes);
    s[v % count] += a * b;
  }
#pragma GCC unroll 16
  for (index_t n = count; n > 1; n /= 2)
#pragma GCC unroll 16
    for (index_t c = 0; c < n / 2; ++c) s[c] += s[c + n / 2];
  return sum_by_halving<T, Bytes>(s[0]);
}

// The shuffle of two vectors (x, y) that takes, for each of 2 * per groups of `size` lanes (`per`
// groups in x, then `per` in y), the group's low half (high: its high half): sums_by_halving's.
template <class T, std::size_t Bytes>
TR_SGD_INLINE void halving_lanes(index_t size, index_t per, bool high,
                                 typename SimdIndex<T, Bytes>::V& from) {
  using Int = std::remove_reference_t<decltype(from[0])>;
  constexpr index_t width = Bytes / sizeof(T);
  const index_t half = size / 2;
  for (index_t lane = 0; lane < width; ++lane) {
    const index_t group = lane / half, l = lane % half;
    from[lane] = Int(group < 2 * per ? (group / per) * width + (group % per) * size + l + (high ? half : 0) : 0);
  }
}

// sum_by_halving of four vectors at once, the same adds (so the same bits): pairs of vectors
// share one vector for each level of halving while it is wide enough (a's and b's halves side by
// side, then a's, b's, c's and d's quarters), then that one vector halves its four groups of
// lanes in place. Lane g of the result is vector g's sum. GCC's shuffles; other compilers, and
// vectors of fewer than four lanes, halve each vector alone.
template <class T, std::size_t Bytes>
TR_SGD_INLINE void sums_by_halving(const typename SimdVec<T, Bytes>::V (&x)[4], T (&sums)[4]) {
  using V = typename SimdVec<T, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(T);
#if defined(__GNUC__) && !defined(__clang__)
  if constexpr (width >= 4) {
    using I = typename SimdIndex<T, Bytes>::V;
    using Int = std::remove_reference_t<decltype(I{}[0])>;
    I low, high;
    halving_lanes<T, Bytes>(width, 1, false, low);
    halving_lanes<T, Bytes>(width, 1, true, high);
    const V ab = __builtin_shuffle(x[0], x[1], low) + __builtin_shuffle(x[0], x[1], high);
    const V cd = __builtin_shuffle(x[2], x[3], low) + __builtin_shuffle(x[2], x[3], high);
    halving_lanes<T, Bytes>(width / 2, 2, false, low);
    halving_lanes<T, Bytes>(width / 2, 2, true, high);
    V v = __builtin_shuffle(ab, cd, low) + __builtin_shuffle(ab, cd, high);
    for (index_t size = width / 4; size > 1; size /= 2) {  // four groups of `size` lanes in v
      I lo = {}, hi = {};
      for (index_t lane = 0; lane < 4 * (size / 2); ++lane) {
        const index_t group = lane / (size / 2), l = lane % (size / 2);
        lo[lane] = Int(group * size + l);
        hi[lane] = Int(group * size + l + size / 2);
      }
      v = __builtin_shuffle(v, lo) + __builtin_shuffle(v, hi);
    }
    for (index_t g = 0; g < 4; ++g) sums[g] = v[g];
    return;
  }
#endif
  for (index_t g = 0; g < 4; ++g) sums[g] = sum_by_halving<T, Bytes>(x[g]);
}

// Ratings r .. r + kGroup - 1 of an SGD pass may run side by side when they name kGroup distinct
// users and kGroup distinct items: no step then reads a row (or bias) another writes, so the
// steps commute and the side-by-side run gives the sequential pass's bits, while their chains
// of dependent arithmetic (above all the dot products' sums) overlap. One step at a time is
// bound by that chain's latency, not by the arithmetic.
inline constexpr index_t kGroup = 4;

TR_SGD_INLINE bool group_is_disjoint(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                                     index_t r) {
  bool disjoint = true;
  for (index_t a = 1; a < kGroup; ++a)
    for (index_t b = 0; b < a; ++b) disjoint &= (users[r + a] != users[r + b]) & (items[r + a] != items[r + b]);
  return disjoint;
}

// dot_lanes_simd of kGroup pairs of rows at once, for k a multiple of the vector width (the
// grid's padded rows): the pairs' lane sums interleaved (kGroup * kDotLanes / width chains),
// then halved together (sums_by_halving). The same adds in the same order: the same bits.
template <class T, std::size_t Bytes>
TR_SGD_INLINE void dots_lanes_simd(const T* const (&q)[kGroup], const T* const (&p)[kGroup], index_t k,
                                   T (&dots)[kGroup]) {
  using V = typename SimdVec<T, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(T), count = kDotLanes / width;
  static_assert(kGroup == 4, "sums_by_halving combines four sums");
  V s[kGroup][count] = {};
  const index_t n_vectors = k / width;
  for (index_t v = 0; v < n_vectors; v += count)
#pragma GCC unroll 16
    for (index_t c = 0; c < count; ++c) {
      if (v + c == n_vectors) break;
#pragma GCC unroll 4
      for (index_t g = 0; g < kGroup; ++g) {
        V a, b;
        std::memcpy(&a, q[g] + (v + c) * width, Bytes);
        std::memcpy(&b, p[g] + (v + c) * width, Bytes);
        s[g][c] += a * b;
      }
    }
  V sums[kGroup];
#pragma GCC unroll 4
  for (index_t g = 0; g < kGroup; ++g) {
#pragma GCC unroll 16
    for (index_t n = count; n > 1; n /= 2)
#pragma GCC unroll 16
      for (index_t c = 0; c < n / 2; ++c) s[g][c] += s[g][c + n / 2];
    sums[g] = s[g][0];
  }
  sums_by_halving<T, Bytes>(sums, dots);
}

// Rating r + kPrefetchDistance's two rows are asked for (to be written) while rating r runs: on
// data beyond the caches (10M ratings, 64 factors) an epoch ran 33% faster on 2 threads; in the
// L2 cache (MovieLens 100K) it changes little (-3%). The distance covers a memory latency of
// ~30 steps of ~10 ns.
inline constexpr index_t kPrefetchDistance = 32;

template <class T>
TR_SGD_INLINE void prefetch_rows(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                                 index_t r, index_t end, index_t k, const T* pu, const T* qi) {
  if (r >= end) return;
  prefetch_span<true>(pu + users[r] * k, k * static_cast<index_t>(sizeof(T)));
  prefetch_span<true>(qi + items[r] * k, k * static_cast<index_t>(sizeof(T)));
}

// SVD's steps over ratings [begin, end) on padded rows of exactly NV vectors: each rating's two
// rows are loaded into registers once, serve the dot product and the update, and are stored
// once. The arithmetic of svd_steps' groups (dots_lanes_simd's sums, the rewritten update), one
// rating after another: the same bits. The CPU overlaps consecutive ratings by itself; loading
// and storing each row once is what makes this faster than the groups of kGroup (-20% of the
// step on the MovieLens 100K grid at 100 float32 factors).
template <class T, std::size_t Bytes, index_t NV>
TR_SGD_INLINE void svd_steps_in_registers(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                                          const T* __restrict ratings, index_t begin, index_t end, T mu, bool biased,
                                          const SgdRates& rates, T* __restrict bu, T* __restrict bi,
                                          T* __restrict pu, T* __restrict qi) {
  using V = typename SimdVec<T, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(T), count = kDotLanes / width, k = NV * width;
  const T lr_bu = T(rates.lr_bu), lr_bi = T(rates.lr_bi), lr_pu = T(rates.lr_pu), lr_qi = T(rates.lr_qi);
  const T reg_bu = T(rates.reg_bu), reg_bi = T(rates.reg_bi);
  const T keep_p = T(1) - lr_pu * T(rates.reg_pu), keep_q = T(1) - lr_qi * T(rates.reg_qi);
  for (index_t r = begin; r < end; ++r) {
    prefetch_rows(users, items, r + kPrefetchDistance, end, k, pu, qi);
    const index_t u = users[r], i = items[r];
    T* __restrict p_row = pu + u * k;
    T* __restrict q_row = qi + i * k;
    V p[NV], q[NV], s[count] = {};
#pragma GCC unroll 16
    for (index_t c = 0; c < NV; ++c) {
      std::memcpy(&p[c], p_row + c * width, Bytes);
      std::memcpy(&q[c], q_row + c * width, Bytes);
      s[c % count] += q[c] * p[c];
    }
#pragma GCC unroll 16
    for (index_t n = count; n > 1; n /= 2)
#pragma GCC unroll 16
      for (index_t c = 0; c < n / 2; ++c) s[c] += s[c + n / 2];
    const T err = ratings[r] - (mu + bu[u] + bi[i] + sum_by_halving<T, Bytes>(s[0]));
    if (biased) {
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);
    }
    const T step_p = lr_pu * err, step_q = lr_qi * err;
#pragma GCC unroll 16
    for (index_t c = 0; c < NV; ++c) {
      const V p_new = keep_p * p[c] + step_p * q[c];
      const V q_new = keep_q * q[c] + step_q * p[c];
      std::memcpy(p_row + c * width, &p_new, Bytes);
      std::memcpy(q_row + c * width, &q_new, Bytes);
    }
  }
}

// Rows of at most this many vectors take svd_steps_in_registers. Two rows of 7 AVX-512 vectors
// (100 float32 factors) fit the registers; longer rows spill some, and still gain over loading
// each row twice (per update, 14.3 against 17.7 ns at 100 factors, 25.5 against 29.5 at 200;
// AVX2 at 100: 20.4 against 25.8).
inline constexpr index_t kMaxRegisterVectors = 16;

// svd_steps_in_registers for rows of nv vectors, 1 <= nv <= kMaxRegisterVectors.
template <class T, std::size_t Bytes, index_t NV = 1, class... Args>
TR_SGD_INLINE void svd_steps_in_registers_for(index_t nv, Args... args) {
  if constexpr (NV < kMaxRegisterVectors)
    if (nv != NV) return svd_steps_in_registers_for<T, Bytes, NV + 1>(nv, args...);
  svd_steps_in_registers<T, Bytes, NV>(args...);
}

// SVD's SGD steps over ratings [begin, end), in order, on padded rows (k a multiple of the vector
// width: PaddedRows): rows of up to kMaxRegisterVectors vectors take svd_steps_in_registers;
// longer ones run groups of kGroup disjoint ratings side by side (group_is_disjoint, dots_lanes_simd:
// the same bits). Vectors of Bytes; always inlined, so that each clone below compiles it for its
// instruction set. No FMA, no reassociated sum: every clone gives the same bits.
// @param users, items  n_ratings, indices in [0, n_users) and [0, n_items)
// @param ratings       n_ratings
// @param k             the rows' stride, a multiple of Bytes / sizeof(T)
// @param bu, bi        n_users, n_items: biases, read and written (untouched when !biased)
// @param pu, qi        n_users * k, n_items * k: factors, read and written
template <class T, std::size_t Bytes>
TR_SGD_INLINE void svd_steps(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                             const T* __restrict ratings, index_t begin, index_t end, index_t k, T global_mean,
                             bool biased, const SgdRates& rates, T* __restrict bu, T* __restrict bi,
                             T* __restrict pu, T* __restrict qi) {
  using V = typename SimdVec<T, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(T);
  const T mu = biased ? global_mean : T(0);
  if (k > 0 && k / width <= kMaxRegisterVectors)  // k = 0 (biases only): the loops below run empty
    return svd_steps_in_registers_for<T, Bytes>(k / width, users, items, ratings, begin, end, mu, biased, rates, bu,
                                                bi, pu, qi);
  const T lr_bu = T(rates.lr_bu), lr_bi = T(rates.lr_bi), lr_pu = T(rates.lr_pu), lr_qi = T(rates.lr_qi);
  const T reg_bu = T(rates.reg_bu), reg_bi = T(rates.reg_bi);
  const T keep_p = T(1) - lr_pu * T(rates.reg_pu), keep_q = T(1) - lr_qi * T(rates.reg_qi);
  auto finish = [&](index_t r, T dot_product) TR_SGD_LAMBDA {  // the rest of rating r's step
    const index_t u = users[r], i = items[r];
    T* __restrict p = pu + u * k;
    T* __restrict q = qi + i * k;
    const T err = ratings[r] - (mu + bu[u] + bi[i] + dot_product);
    if (biased) {
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);
    }
    const T step_p = lr_pu * err, step_q = lr_qi * err;
    for (index_t f = 0; f < k; f += width) {
      V pf, qf;
      std::memcpy(&pf, p + f, Bytes);
      std::memcpy(&qf, q + f, Bytes);
      const V p_new = keep_p * pf + step_p * qf;
      const V q_new = keep_q * qf + step_q * pf;
      std::memcpy(p + f, &p_new, Bytes);
      std::memcpy(q + f, &q_new, Bytes);
    }
  };
  auto dot = [&](index_t r) TR_SGD_LAMBDA { return dot_lanes_simd<T, Bytes>(qi + items[r] * k, pu + users[r] * k, k); };
  index_t r = begin;
  for (; r + kGroup <= end; r += kGroup) {
    for (index_t g = 0; g < kGroup; ++g) prefetch_rows(users, items, r + g + kPrefetchDistance, end, k, pu, qi);
    if (!group_is_disjoint(users, items, r)) {
      for (index_t g = 0; g < kGroup; ++g) finish(r + g, dot(r + g));
      continue;
    }
    T dots[kGroup];
    const T* p[kGroup];
    const T* q[kGroup];
    for (index_t g = 0; g < kGroup; ++g) p[g] = pu + users[r + g] * k, q[g] = qi + items[r + g] * k;
    dots_lanes_simd<T, Bytes>(q, p, k, dots);
#pragma GCC unroll 8
    for (index_t g = 0; g < kGroup; ++g) finish(r + g, dots[g]);
  }
  for (; r < end; ++r) finish(r, dot(r));
}

template <class T>
void svd_steps_baseline(const std::int64_t* users, const std::int64_t* items, const T* ratings, index_t begin,
                        index_t end, index_t k, T global_mean, bool biased, const SgdRates& rates,
                        T* bu, T* bi, T* pu, T* qi) {
  svd_steps<T, 16>(users, items, ratings, begin, end, k, global_mean, biased, rates, bu, bi, pu, qi);
}

#ifdef TR_X86_DISPATCH
template <class T>
__attribute__((target("avx2"))) void svd_steps_avx2(const std::int64_t* users, const std::int64_t* items,
                                                    const T* ratings, index_t begin, index_t end, index_t k,
                                                    T global_mean, bool biased, const SgdRates& rates, T* bu,
                                                    T* bi, T* pu, T* qi) {
  svd_steps<T, 32>(users, items, ratings, begin, end, k, global_mean, biased, rates, bu, bi, pu, qi);
}

template <class T>
__attribute__((target("avx512f"))) void svd_steps_avx512(const std::int64_t* users, const std::int64_t* items,
                                                        const T* ratings, index_t begin, index_t end, index_t k,
                                                        T global_mean, bool biased, const SgdRates& rates,
                                                        T* bu, T* bi, T* pu, T* qi) {
  svd_steps<T, 64>(users, items, ratings, begin, end, k, global_mean, biased, rates, bu, bi, pu, qi);
}
#endif

template <class T>
using SvdStepsFn = void (*)(const std::int64_t*, const std::int64_t*, const T*, index_t, index_t, index_t, T, bool,
                            const SgdRates&, T*, T*, T*, T*);

// The clone of svd_steps for `level` (the CPU must run it; every clone gives the same bits).
template <class T>
SvdStepsFn<T> pick_svd_steps(const std::string& level) {
#ifdef TR_X86_DISPATCH
  if (level == "avx512f") return &svd_steps_avx512<T>;
  if (level == "avx2") return &svd_steps_avx2<T>;
#endif
  return &svd_steps_baseline<T>;
}

// Runs body() compiled for AVX2 when the CPU has it, else for the baseline: body must be an
// always-inline lambda over always-inline code, so that it is compiled in the caller's context.
#ifdef TR_X86_DISPATCH
template <class Body>
__attribute__((target("avx2"))) void run_avx2(const Body& body) {
  body();
}
#endif

template <class Body>
void run_best_simd(const Body& body) {
#ifdef TR_X86_DISPATCH
  const std::string level = simd_level();
  if (level == "avx2" || level == "avx512f") return run_avx2(body);
#endif
  body();
}

// Factor rows copied into zero-padded rows of whole 64-byte lines, 64-byte aligned: every vector
// load of the grid's steps is then one aligned line (unaligned 400-byte rows, 100 floats, cost
// ~25% in split loads) and no factor tail is special. The padding stays +0 under the SGD update
// and adds +0 to every sum, so the steps give the unpadded rows' bits.
template <class T>
class PaddedRows {
 public:
  PaddedRows(const T* rows, index_t n, index_t k)
      : n_(n), k_(k), stride_((k + kLine - 1) / kLine * kLine), data_(allocate(n * stride_)) {
    for (index_t r = 0; r < n_; ++r) {
      std::copy(rows + r * k_, rows + (r + 1) * k_, data_.get() + r * stride_);
      std::fill(data_.get() + r * stride_ + k_, data_.get() + (r + 1) * stride_, T(0));
    }
  }
  void copy_to(T* rows) const {
    for (index_t r = 0; r < n_; ++r) std::copy(data_.get() + r * stride_, data_.get() + r * stride_ + k_, rows + r * k_);
  }
  T* data() { return data_.get(); }
  index_t stride() const { return stride_; }

 private:
  static constexpr index_t kLine = 64 / sizeof(T);
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  static std::unique_ptr<T, Free> allocate(index_t n) {
    void* p = std::aligned_alloc(64, std::max<index_t>(n, kLine) * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return std::unique_ptr<T, Free>(static_cast<T*>(p));
  }
  index_t n_, k_, stride_;
  std::unique_ptr<T, Free> data_;
};

// Waits until `counter` reaches `target`: spins a little, then yields the core, so that a thread
// waiting on a descheduled one (a loaded machine) does not burn the time that one needs.
inline void wait_for(const std::atomic<index_t>& counter, index_t target) {
  for (int spin = 0; counter.load(std::memory_order_acquire) < target; ++spin)
    if (spin >= 64) std::this_thread::yield();
}

// sgd.block_order's grid order. Rating r is in block (s, b): b = user_range[users[r]], s =
// (item_range[items[r]] - b) mod G; the ratings are listed block by block (s major), each block
// in the given order (a stable counting sort) or, with chunk >= 1, in turns: the block's
// ratings fall into groups (maximal stretches whose users share users[r] / chunk), a group into
// runs (maximal stretches of one user), and each group lists the first rating of every run (in
// the runs' order), then every run's second, and so on. With each user's ratings together,
// consecutive ratings then name different users (the CPU overlaps their steps) and a group's
// user rows stay in the L1 cache while it runs.
// @param user_range, item_range  every user's and item's range, in [0, G)
// @param order   n: the ratings' indices in the grid's order (written)
// @param bounds  G * G + 1: block (s, b) is order[bounds[s * G + b] .. bounds[s * G + b + 1]] (written)
inline void block_order(const std::int64_t* __restrict users, const std::int64_t* __restrict items, index_t n,
                        const std::int64_t* __restrict user_range, const std::int64_t* __restrict item_range,
                        index_t G, index_t chunk, int n_threads, std::int64_t* __restrict order,
                        std::int64_t* __restrict bounds) {
  std::vector<std::uint32_t> block(n);  // G <= 65536: G * G - 1 fits 32 bits
  std::fill(bounds, bounds + G * G + 1, 0);
  for (index_t r = 0; r < n; ++r) {
    const index_t b = user_range[users[r]], s = (item_range[items[r]] - b + G) % G;
    block[r] = static_cast<std::uint32_t>(s * G + b);
    ++bounds[s * G + b + 1];
  }
  for (index_t c = 0; c < G * G; ++c) bounds[c + 1] += bounds[c];
  std::vector<std::int64_t> sorted(chunk >= 1 ? n : 0);
  std::int64_t* by_block = chunk >= 1 ? sorted.data() : order;
  std::vector<std::int64_t> next(bounds, bounds + G * G);
  for (index_t r = 0; r < n; ++r) by_block[next[block[r]]++] = r;
  if (chunk < 1) return;
  ExceptionCapture capture;  // a run list that cannot grow (bad_alloc) leaves the region, then raises
#pragma omp parallel num_threads(n_threads) default(none) shared(users, G, chunk, order, bounds, by_block, capture)
  {
    std::vector<index_t> run_start, run_length;  // a group's runs still holding ratings
#pragma omp for schedule(dynamic, 1)
    for (index_t c = 0; c < G * G; ++c) capture.run([&] {
      index_t out = bounds[c];
      for (index_t group = bounds[c]; group < bounds[c + 1];) {
        const index_t user_chunk = users[by_block[group]] / chunk;
        index_t end = group;
        run_start.clear();
        run_length.clear();
        for (; end < bounds[c + 1] && users[by_block[end]] / chunk == user_chunk; ++end)
          if (end == group || users[by_block[end]] != users[by_block[end - 1]]) {
            run_start.push_back(end);
            run_length.push_back(1);
          } else {
            ++run_length.back();
          }
        for (index_t turn = 0; !run_start.empty(); ++turn) {
          std::size_t kept = 0;
          for (std::size_t j = 0; j < run_start.size(); ++j) {
            order[out++] = by_block[run_start[j] + turn];
            if (run_length[j] > turn + 1) run_start[kept] = run_start[j], run_length[kept++] = run_length[j];
          }
          run_start.resize(kept);
          run_length.resize(kept);
        }
        group = end;
      }
    });
  }
  capture.rethrow();
}

// n_epochs SVD epochs, each over a G x G grid of rating blocks (FPSGD, Chin et al. 2015, with a
// fixed schedule); the same as n_epochs calls of one epoch. The caller ordered the ratings block
// by block: block (s, b), stored at bounds[s * G + b] .. bounds[s * G + b + 1], holds the ratings
// of the users of range b and the items of range (b + s) % G, in their given order (every user in
// one of G ranges, every item in one: sgd.block_order's, checked by the binding). G = 1 is the
// sequential pass in the given order. The steps run on PaddedRows (copied in and out once per call).
//
// The schedule: sub-epoch s = 0 .. G-1 of each epoch runs block (s, b) for every b. Thread
// j % n_threads owns range j of the larger side and runs the blocks on it in order, so those rows
// stay in its cache and need no wait. Owning user range b (more users than items): item range
// (b + s) % G was last touched by block (s - 1, b + 1) (of the previous epoch when s = 0), so
// block (s, b) starts once done[b + 1] (an acquire/release counter of the sub-epochs user range
// b + 1 has finished) says so. Owning item ranges: user range b was last touched by block
// (s - 1, b), so it waits for done[b]. Every block then reads its rows as the blocks before it in
// this fixed order left them, whichever thread ran what and when: the result is the same for
// every thread count, without a barrier per sub-epoch.
// @param bounds    G * G + 1 non-decreasing offsets from 0 to n_ratings
// @param n_epochs  >= 1
// @param simd      the clone of svd_steps to run (pick_svd_steps), by default the CPU's best
template <class T>
void svd_epoch(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
               const T* __restrict ratings, const std::int64_t* __restrict bounds, index_t n_blocks,
               index_t n_users, index_t n_items, index_t k, T global_mean, bool biased, const SgdRates& rates,
               index_t n_epochs, int n_threads, T* __restrict bu, T* __restrict bi, T* __restrict pu,
               T* __restrict qi, const std::string& simd = simd_level()) {
  const SvdStepsFn<T> steps = pick_svd_steps<T>(simd);
  PaddedRows<T> p_rows(pu, n_users, k), q_rows(qi, n_items, k);
  T* p = p_rows.data();
  T* q = q_rows.data();
  const index_t stride = p_rows.stride(), G = n_blocks;
  const bool own_items = n_items > n_users;  // a thread keeps the larger side's ranges in its cache
  std::unique_ptr<std::atomic<index_t>[]> done(new std::atomic<index_t>[G]);
  for (index_t b = 0; b < G; ++b) done[b].store(0, std::memory_order_relaxed);
#pragma omp parallel num_threads(static_cast<int>(std::min<index_t>(n_threads, G))) default(none) \
    shared(users, items, ratings, bounds, G, n_epochs, stride, global_mean, biased, rates, bu, bi, p, q, steps, done, \
           own_items)
  {
#ifdef _OPENMP
    const index_t thread = omp_get_thread_num(), team = omp_get_num_threads();
#else
    const index_t thread = 0, team = 1;
#endif
    for (index_t e = 0; e < n_epochs; ++e)
      for (index_t s = 0; s < G; ++s)
        for (index_t owned = thread; owned < G; owned += team) {
          const index_t b = own_items ? (owned - s + G) % G : owned;  // block (s, b): item range (b + s) % G
          const index_t sub_epoch = e * G + s;  // sub-epochs before this one, over all epochs
          wait_for(done[own_items ? b : (b + 1) % G], sub_epoch);
          steps(users, items, ratings, bounds[s * G + b], bounds[s * G + b + 1], stride, global_mean, biased, rates,
                bu, bi, p, q);
          done[b].store(sub_epoch + 1, std::memory_order_release);
        }
  }
  p_rows.copy_to(pu);
  q_rows.copy_to(qi);
}

// One SVD++ epoch, sequential.
// @param users, items, ratings  as in svd_epoch
// @param implicit     n_users rows: N(u), the items whose y_j make user u's implicit term
//                     (indices in [0, n_items), in the order the sum runs; repeats allowed)
// @param bu, bi, pu, qi  as in svd_epoch (always biased, as Surprise's SVDpp)
// @param yj           n_items * k: implicit item factors, read and written
// @param exact        recompute the implicit term before every rating (Surprise's arithmetic)
template <class T>
TR_SGD_INLINE void svdpp_pass(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                              const T* __restrict ratings, index_t n_ratings, CsrView<std::int64_t> implicit,
                              index_t n_items, index_t k, T global_mean, const SgdRates& rates, bool exact,
                              T* __restrict bu, T* __restrict bi, T* __restrict pu, T* __restrict qi,
                              T* __restrict yj) {
  const T lr_bu = T(rates.lr_bu), lr_bi = T(rates.lr_bi), lr_pu = T(rates.lr_pu), lr_qi = T(rates.lr_qi),
          lr_yj = T(rates.lr_yj);
  const T reg_bu = T(rates.reg_bu), reg_bi = T(rates.reg_bi), reg_pu = T(rates.reg_pu), reg_qi = T(rates.reg_qi),
          reg_yj = T(rates.reg_yj);
  const T decay = T(1) - lr_yj * reg_yj;
  std::vector<T> s(k), shift(k), eqs(k);
  std::vector<index_t> seen(exact ? 0 : n_items, -1);  // run that last listed each item
  index_t r = 0;
  while (r < n_ratings) {
    const index_t u = users[r];
    index_t end = r + 1;
    while (end < n_ratings && users[end] == u) ++end;
    const std::int64_t* nu = implicit.indices + implicit.row_begin(u);
    const index_t n_nu = implicit.row_end(u) - implicit.row_begin(u);
    const T sqrt_nu = std::sqrt(static_cast<T>(n_nu));
    bool fast = !exact;
    for (index_t a = 0; fast && a < n_nu; ++a) {
      if (seen[nu[a]] == r) fast = false;
      seen[nu[a]] = r;
    }
    T* __restrict p = pu + u * k;
    T scale = 1;  // fast mode: every y_j of N(u) is  scale * stored + shift
    std::fill(shift.begin(), shift.end(), T(0));
    for (index_t run_start = r; r < end; ++r) {
      const index_t i = items[r];
      T* __restrict q = qi + i * k;
      if (!fast || r == run_start) {  // s_u = sum_j y_j / sqrt|N(u)|, term by term as Surprise
        std::fill(s.begin(), s.end(), T(0));
        for (index_t a = 0; a < n_nu; ++a) {
          const T* y = yj + nu[a] * k;
          for (index_t f = 0; f < k; ++f) s[f] += y[f] / sqrt_nu;
        }
      }
      T dot = 0;
      for (index_t f = 0; f < k; ++f) dot += q[f] * (p[f] + s[f]);
      const T err = ratings[r] - (global_mean + bu[u] + bi[i] + dot);
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);
      for (index_t f = 0; f < k; ++f) {
        const T puf = p[f], qif = q[f];
        p[f] += lr_pu * (err * qif - reg_pu * puf);
        q[f] += lr_qi * (err * (puf + s[f]) - reg_qi * qif);
        eqs[f] = err * qif / sqrt_nu;
      }
      if (n_nu == 0) continue;  // no implicit term (never so for a user's own ratings)
      if (fast) {
        const T n = static_cast<T>(n_nu);
        scale *= decay;
        for (index_t f = 0; f < k; ++f) {
          const T c = lr_yj * eqs[f];
          shift[f] = decay * shift[f] + c;
          s[f] = decay * s[f] + n * c / sqrt_nu;
        }
      } else {
        for (index_t a = 0; a < n_nu; ++a) {
          T* y = yj + nu[a] * k;
          for (index_t f = 0; f < k; ++f) y[f] += lr_yj * (eqs[f] - reg_yj * y[f]);
        }
      }
    }
    if (fast)
      for (index_t a = 0; a < n_nu; ++a) {
        T* y = yj + nu[a] * k;
        for (index_t f = 0; f < k; ++f) y[f] = scale * y[f] + shift[f];
      }
  }
}

// One epoch of Surprise's NMF (Luo et al. 2014): multiplicative updates that keep the factors
// non-negative. Over the ratings in order: est = mu + b_u + b_i + q_i . p_u, e = r - est, the
// biases move as in SVD (when biased), and every user and item accumulates
//   num_u += q_i r,  den_u += q_i est,  num_i += p_u r,  den_i += p_u est   (per factor, in order);
// then every user with ratings:  p_uf *= num_uf / (den_uf + |R(u)| reg_pu p_uf)  where p_uf != 0,
// then every item likewise with reg_qi. Unbiased: mu = 0, biases untouched (but in est).
// @param users, items, ratings, bu, bi, pu, qi  as in svd_epoch
template <class T>
void nmf_epoch(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
               const T* __restrict ratings, index_t n_ratings, index_t n_users, index_t n_items, index_t k,
               T global_mean, bool biased, const SgdRates& rates, T* __restrict bu, T* __restrict bi,
               T* __restrict pu, T* __restrict qi) {
  const T mu = biased ? global_mean : T(0);
  const T lr_bu = T(rates.lr_bu), lr_bi = T(rates.lr_bi), reg_bu = T(rates.reg_bu), reg_bi = T(rates.reg_bi);
  const T reg_pu = T(rates.reg_pu), reg_qi = T(rates.reg_qi);
  std::vector<T> user_num(n_users * k), user_den(n_users * k), item_num(n_items * k), item_den(n_items * k);
  std::vector<index_t> user_count(n_users), item_count(n_items);
  for (index_t r = 0; r < n_ratings; ++r) {
    const index_t u = users[r], i = items[r];
    const T* __restrict p = pu + u * k;
    const T* __restrict q = qi + i * k;
    T dot = 0;
    for (index_t f = 0; f < k; ++f) dot += q[f] * p[f];
    const T est = mu + bu[u] + bi[i] + dot;
    const T err = ratings[r] - est;
    if (biased) {
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);
    }
    for (index_t f = 0; f < k; ++f) {
      user_num[u * k + f] += q[f] * ratings[r];
      user_den[u * k + f] += q[f] * est;
      item_num[i * k + f] += p[f] * ratings[r];
      item_den[i * k + f] += p[f] * est;
    }
    ++user_count[u];
    ++item_count[i];
  }
  auto update = [k](T* factors, const std::vector<T>& num, std::vector<T>& den, const std::vector<index_t>& count,
                    index_t n, T reg) {
    for (index_t row = 0; row < n; ++row) {
      if (count[row] == 0) continue;  // never visited (Surprise knows no such user or item)
      for (index_t f = 0; f < k; ++f) {
        T& x = factors[row * k + f];
        if (x != T(0)) {
          den[row * k + f] += static_cast<T>(count[row]) * reg * x;
          x *= num[row * k + f] / den[row * k + f];
        }
      }
    }
  };
  update(pu, user_num, user_den, user_count, n_users, reg_pu);
  update(qi, item_num, item_den, item_count, n_items, reg_qi);
}

// The factorisation models' predicted dot products: out[e] = a[rows_a[e]] . b[rows_b[e]] for
// e < n, each factor converted to double, the products summed in four interleaved partial sums
// ((s0 + s1) + (s2 + s3)). Parallel over pairs (each pair one thread's: the same result for any
// thread count).
template <class T>
void pair_dots(const T* __restrict a, const std::int64_t* __restrict rows_a, const T* __restrict b,
               const std::int64_t* __restrict rows_b, index_t n, index_t k, int n_threads, double* __restrict out) {
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n * k >= (1 << 22))
  for (index_t e = 0; e < n; ++e) {
    const T* x = a + rows_a[e] * k;
    const T* y = b + rows_b[e] * k;
    double s[4] = {};
    index_t f = 0;
    for (; f + 4 <= k; f += 4)
      for (index_t c = 0; c < 4; ++c) s[c] += static_cast<double>(x[f + c]) * static_cast<double>(y[f + c]);
    for (; f < k; ++f) s[f % 4] += static_cast<double>(x[f]) * static_cast<double>(y[f]);
    out[e] = (s[0] + s[1]) + (s[2] + s[3]);
  }
}

// svdpp_pass run by the clone for this CPU (the same bits: see svd_steps; 12 -> 7.7 ms per
// ML-100K epoch at 20 factors on the dev machine). NMF's epoch, bound by its scattered sums,
// gained nothing from it.
template <class T>
void svdpp_epoch(const std::int64_t* users, const std::int64_t* items, const T* ratings, index_t n_ratings,
                 CsrView<std::int64_t> implicit, index_t n_items, index_t k, T global_mean, const SgdRates& rates,
                 bool exact, T* bu, T* bi, T* pu, T* qi, T* yj) {
  run_best_simd([&]() TR_SGD_LAMBDA {
    svdpp_pass(users, items, ratings, n_ratings, implicit, n_items, k, global_mean, rates, exact, bu, bi, pu, qi, yj);
  });
}

}  // namespace turborec
