// Stochastic gradient descent epochs of explicit-rating matrix factorisation: Surprise 1.1's SVD
// (Funk / Koren 2009, eq. 5) and SVD++ (Koren 2008, section 4), with Surprise's update order.
//
// SVD predicts  r_ui ~ mu + b_u + b_i + q_i . p_u  and visits the ratings in the given order:
//   e    = r - (mu + b_u + b_i + q_i . p_u)          (dot summed over f = 0, 1, ... in order)
//   b_u += lr_bu (e - reg_bu b_u);   b_i += lr_bi (e - reg_bi b_i)         (when biased)
//   p_uf += lr_pu (e q_if - reg_pu p_uf);   q_if += lr_qi (e p_uf - reg_qi q_if)  (old p_uf, q_if)
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
#include <cmath>
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

// Partial sums of the grid mode's dot product: lane l sums the products f = l, l + 32, ... in
// order, then the lanes combine by halving: s[l] += s[l + w] for w = 16, 8, 4, 2, 1. 32
// independent chains instead of one (four AVX2 or two AVX-512 accumulators, so the adds'
// latency no longer bounds the loop): the compiler vectorises them without reassociating
// anything, so every backend (sgd/_numba.py, sgd/_numpy.py) rounds alike.
inline constexpr index_t kDotLanes = 32;

// s[l] += s[l + W] for l < W, then the same for W / 2, ..., 1: each step a constant-length loop
// the compiler turns into vector adds (a loop over W itself would go through memory).
template <index_t W, class T>
TR_SGD_INLINE void halve(T* __restrict s) {
  for (index_t l = 0; l < W; ++l) s[l] += s[l + W];
  if constexpr (W > 1) halve<W / 2>(s);
}

template <class T>
TR_SGD_INLINE T dot_lanes(const T* __restrict q, const T* __restrict p, index_t k) {
  T s[kDotLanes] = {};
  index_t f = 0;
  for (; f + kDotLanes <= k; f += kDotLanes)
    for (index_t l = 0; l < kDotLanes; ++l) s[l] += q[f + l] * p[f + l];
  for (index_t l = 0; f + l < k; ++l) s[l] += q[f + l] * p[f + l];
  halve<kDotLanes / 2>(s);
  return s[0];
}

// SVD's SGD steps over ratings [begin, end), in order; the dot product one running sum from 0
// (Surprise's arithmetic) or, with lanes, dot_lanes. Always inlined, so that the AVX2 clone
// below vectorises the factor updates 4 (8) wide; AVX2 without FMA changes no rounding (and
// no sum is reassociated), so both clones give the same bits.
// @param users, items  n_ratings, indices in [0, n_users) and [0, n_items)
// @param ratings       n_ratings
// @param bu, bi        n_users, n_items: biases, read and written (untouched when !biased)
// @param pu, qi        n_users * k, n_items * k: factors, read and written
template <class T>
TR_SGD_INLINE void svd_steps(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
                             const T* __restrict ratings, index_t begin, index_t end, index_t k, T global_mean,
                             bool biased, bool lanes, const SgdRates& rates, T* __restrict bu, T* __restrict bi,
                             T* __restrict pu, T* __restrict qi) {
  const T mu = biased ? global_mean : T(0);
  const T lr_bu = T(rates.lr_bu), lr_bi = T(rates.lr_bi), lr_pu = T(rates.lr_pu), lr_qi = T(rates.lr_qi);
  const T reg_bu = T(rates.reg_bu), reg_bi = T(rates.reg_bi), reg_pu = T(rates.reg_pu), reg_qi = T(rates.reg_qi);
  for (index_t r = begin; r < end; ++r) {
    const index_t u = users[r], i = items[r];
    T* __restrict p = pu + u * k;
    T* __restrict q = qi + i * k;
    T dot = 0;
    if (lanes) {
      dot = dot_lanes(q, p, k);
    } else {
      for (index_t f = 0; f < k; ++f) dot += q[f] * p[f];
    }
    const T err = ratings[r] - (mu + bu[u] + bi[i] + dot);
    if (biased) {
      bu[u] += lr_bu * (err - reg_bu * bu[u]);
      bi[i] += lr_bi * (err - reg_bi * bi[i]);
    }
    for (index_t f = 0; f < k; ++f) {
      const T puf = p[f], qif = q[f];
      p[f] += lr_pu * (err * qif - reg_pu * puf);
      q[f] += lr_qi * (err * puf - reg_qi * qif);
    }
  }
}

template <class T>
void svd_steps_baseline(const std::int64_t* users, const std::int64_t* items, const T* ratings, index_t begin,
                        index_t end, index_t k, T global_mean, bool biased, bool lanes, const SgdRates& rates,
                        T* bu, T* bi, T* pu, T* qi) {
  svd_steps(users, items, ratings, begin, end, k, global_mean, biased, lanes, rates, bu, bi, pu, qi);
}

#ifdef TR_X86_DISPATCH
template <class T>
__attribute__((target("avx2"))) void svd_steps_avx2(const std::int64_t* users, const std::int64_t* items,
                                                    const T* ratings, index_t begin, index_t end, index_t k,
                                                    T global_mean, bool biased, bool lanes, const SgdRates& rates,
                                                    T* bu, T* bi, T* pu, T* qi) {
  svd_steps(users, items, ratings, begin, end, k, global_mean, biased, lanes, rates, bu, bi, pu, qi);
}
#endif

#ifdef TR_X86_DISPATCH
// AVX-512 (16 floats, 8 doubles a vector): the extension is built with -ffp-contract=off, so no
// multiply-add is fused here either and this clone gives the same bits as the others.
template <class T>
__attribute__((target("avx512f"))) void svd_steps_avx512(const std::int64_t* users, const std::int64_t* items,
                                                        const T* ratings, index_t begin, index_t end, index_t k,
                                                        T global_mean, bool biased, bool lanes,
                                                        const SgdRates& rates, T* bu, T* bi, T* pu, T* qi) {
  svd_steps(users, items, ratings, begin, end, k, global_mean, biased, lanes, rates, bu, bi, pu, qi);
}
#endif

template <class T>
using SvdStepsFn = void (*)(const std::int64_t*, const std::int64_t*, const T*, index_t, index_t, index_t, T, bool,
                            bool, const SgdRates&, T*, T*, T*, T*);

// The clone of svd_steps for this CPU (picked once per call; both give the same bits).
template <class T>
SvdStepsFn<T> pick_svd_steps() {
#ifdef TR_X86_DISPATCH
  const std::string level = simd_level();
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

// One SVD epoch over a G x G grid of rating blocks (FPSGD, Chin et al. 2015, with a fixed
// schedule). The caller ordered the ratings block by block: block (s, b), stored at
// bounds[s * G + b] .. bounds[s * G + b + 1], holds the ratings of users u with
// u * G / n_users == b and items i with i * G / n_items == (b + s) % G, in their given order. Sub-epoch s = 0 .. G-1 runs its G
// blocks in parallel: they share no user and no item, so each block's sequential steps read and
// write rows no other block touches, and the result is the same for every thread count.
// G = 1 is the plain sequential pass in the given order with Surprise's arithmetic; G > 1 (not
// Surprise's order anyway) sums its dot products by dot_lanes, which vectorise.
// @param bounds  G * G + 1 non-decreasing offsets from 0 to n_ratings
template <class T>
void svd_epoch(const std::int64_t* __restrict users, const std::int64_t* __restrict items,
               const T* __restrict ratings, const std::int64_t* __restrict bounds, index_t n_blocks, index_t k,
               T global_mean, bool biased, const SgdRates& rates, int n_threads, T* __restrict bu,
               T* __restrict bi, T* __restrict pu, T* __restrict qi) {
  const SvdStepsFn<T> steps = pick_svd_steps<T>();
  if (n_blocks == 1) return steps(users, items, ratings, bounds[0], bounds[1], k, global_mean, biased, false, rates,
                                  bu, bi, pu, qi);
  for (index_t s = 0; s < n_blocks; ++s) {
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1) default(none) \
    shared(users, items, ratings, bounds, n_blocks, k, global_mean, biased, rates, bu, bi, pu, qi, s, steps)
    for (index_t b = 0; b < n_blocks; ++b)
      steps(users, items, ratings, bounds[s * n_blocks + b], bounds[s * n_blocks + b + 1], k, global_mean,
                biased, true, rates, bu, bi, pu, qi);
  }
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
