// One epoch of Bayesian Personalized Ranking (Rendle et al., UAI 2009) by stochastic gradient
// ascent on ln sigmoid(x_ui - x_uj), sampled as implicit 0.7's CPU BPR samples it:
//
//   for each of nnz samples:
//     a stored interaction (u, i) uniformly among the nnz stored entries        (draw 2s + 1)
//     a negative item j: the item of another uniformly drawn stored entry       (draw 2s + 2)
//       (so j follows item popularity, as in implicit; j may equal i)
//     if verify and u liked j (binary search in u's sorted row): skipped, no update
//     z = 1 / (1 + exp(x_u . (y_i - y_j)))          (the gradient's weight, sigmoid(-x_uij))
//     for every factor f < F:  t = x_uf
//       x_uf += lr (z (y_if - y_jf) - reg x_uf)
//       y_if += lr (z t - reg y_if)
//       y_jf += lr (-z t - reg y_jf)
//     y_iF += lr (z - reg y_iF);  y_jF += lr (-z - reg y_jF)      (item bias; x_uF is fixed)
//
// The last of the F + 1 columns is the item bias; its user side x_uF is never updated (the model
// stores 1 there). A sample counts as correct when z < 1/2 (the pair was already ranked right),
// as implicit's progress bar counts. Draws are counter-based (rng.hpp): sample s uses outputs
// 2s + 1 and 2s + 2 of splitmix64(seed), whatever thread runs it.
//
// Arithmetic, in T except z: the dot product accumulates in 8 lanes (element f into lane f % 8,
// in order of f), summed lane 0 to 7 in order; z = T(1 / (1 + exp(double(score)))). The numba
// and NumPy mirrors do the same operations in the same order, so with one thread the three agree
// bit for bit (no FMA contraction: the extension is built with -ffp-contract=off, and the
// AVX2 / AVX-512 clones below round exactly as the baseline).
//
// How the kernel runs (none of it changes a result; docs/bpr.md has the measurements):
// - The steps are compiled three times (baseline SSE2, AVX2, AVX-512: bpr_steps_*), as GCC
//   vector types of the clone's width, and the CPU's best is picked at run time.
// - Samples run in groups of kBprGroup: when the group's samples are all kept (not skipped) and
//   touch disjoint rows (distinct users, and distinct items among all 2 kBprGroup of the group),
//   their updates commute, so their dot products, exps and updates run side by side (their
//   dependency chains overlap) and give the sequential order's bits; otherwise each half of the
//   group runs as a pair side by side when it is disjoint, else one sample after the other.
// - verify: first the negative's bit in the user's one-hash Bloom filter (LikedFilter, 16 bits per
//   liked item, built once per bpr_epochs call): one cache line, where the user's row is ~5 on
//   compare_bpr.py's data. Only when the bit is set (the negatives the user liked and ~6% of the
//   others) is the row read, prefetched on that condition: a row of at most kBprScan ids compared
//   whole, in vectors, without mispredicted branches, a longer one binary searched. The filter has
//   no false negatives, so it changes no result. It lives in huge pages (HugeBlock): in 4 KiB
//   pages it gained nothing, its page translations costing what its lines saved.
// - A fit's epochs run in one bpr_epochs call: the binding checks the CSR once and the filter is
//   built once, not per epoch.
//
// Threads (Hogwild, as implicit): the samples are cut into chunks of kBprChunk consecutive
// samples, handed to the threads as they come free (a thread the OS delays, on a shared machine,
// does not hold the epoch's end back), and threads update the shared factor rows without locks. Two threads touching one
// row at once may lose one of the two updates to an element or read a row half updated; each
// element is an aligned float, so no value is ever torn, and SGD tolerates the noise (Niu et al.,
// NIPS 2011). With one thread the epoch is sequential and reproducible bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "common.hpp"
#include "rng.hpp"
#include "simd.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define TR_BPR_INLINE __attribute__((always_inline)) inline
#define TR_BPR_LAMBDA __attribute__((always_inline))
#else
#define TR_BPR_INLINE inline
#define TR_BPR_LAMBDA
#endif

namespace turborec {

namespace detail {

inline constexpr index_t kBprPrefetch = 4;  // the prefetch distance, in samples (4 to 6 best of 2 to 12)
inline constexpr index_t kBprLanes = 8;     // partial sums of the dot product (bpr/__init__.py LANES)
inline constexpr index_t kBprGroup = 4;     // samples side by side when their rows are disjoint
inline constexpr index_t kBprScan = 256;  // rows of at most this many liked items are scanned whole
inline constexpr index_t kBprChunk = index_t{1} << 14;  // samples a thread takes at a time (Hogwild)

// A row's lines for writing (the update), any address's line for reading (simd.hpp's prefetch_span).
template <class T>
TR_BPR_INLINE void prefetch_row(const T* row, index_t n_cols) {
  prefetch_span<true>(row, n_cols * static_cast<index_t>(sizeof(T)));
}

TR_BPR_INLINE void prefetch_read(const void* p) { __builtin_prefetch(p, 0); }

// Whether the sorted ids [begin, end) hold `id`: a short row (at most kBprScan ids: 98% of the
// samples of compare_bpr.py's synthetic-medium) is compared whole, a vector of ids at a time, without a branch to mispredict; a longer one
// is binary searched.
template <class I, std::size_t Bytes>
TR_BPR_INLINE bool contains(const I* begin, const I* end, I id) {
  const index_t n = end - begin;
  if (n > kBprScan) return std::binary_search(begin, end, id);
  using VI = typename SimdVec<I, Bytes>::V;
  constexpr index_t width = Bytes / sizeof(I);
  VI found = {};
  index_t l = 0;
  for (; l + width <= n; l += width) {
    VI v;
    std::memcpy(&v, begin + l, Bytes);
    found |= v == id;
  }
  bool any = false;
  for (index_t w = 0; w < width; ++w) any |= found[w] != 0;
  for (; l < n; ++l) any |= begin[l] == id;
  return any;
}

// A block of memory aligned to 2 MiB and (Linux) advised into huge pages before it is touched: the
// epoch's random row accesses then miss the TLB far less.
template <class T>
class HugeBlock {
 public:
  explicit HugeBlock(index_t n) {
    constexpr std::size_t align = std::size_t{2} << 20;
    const std::size_t bytes = (static_cast<std::size_t>(std::max<index_t>(n, 1)) * sizeof(T) + align - 1) / align * align;
    data_ = static_cast<T*>(std::aligned_alloc(align, bytes));
    if (data_ == nullptr) throw std::bad_alloc();
#ifdef __linux__
    madvise(data_, bytes, MADV_HUGEPAGE);
#endif
  }
  HugeBlock(const HugeBlock&) = delete;
  HugeBlock& operator=(const HugeBlock&) = delete;
  ~HugeBlock() { std::free(data_); }
  T* data() const { return data_; }

 private:
  T* data_ = nullptr;
};

// A one-hash Bloom filter of each user's liked items (Bloom, CACM 1970): user u's row of n liked
// items owns the kFilterBits * n bits starting at bit kFilterBits * indptr[u], and item j sets bit
// filter_bit(j) among them. Verifying a negative reads that one bit, in one cache line: clear, the
// user did not like it (no need to read the row, several lines of it); set, the row says (the
// negatives the user liked, and about 1 in kFilterBits of the others). Changes no result.
inline constexpr index_t kFilterBits = 16;
static_assert(kFilterBits % 8 == 0, "a row's bits must be whole bytes of its own");

// The bit of `item` in the filter of the row [begin, end): Fibonacci hashing to 32 bits, mapped to
// [0, kFilterBits * (end - begin)) by a multiply and shift.
TR_BPR_INLINE std::uint64_t filter_bit(index_t begin, index_t end, std::int64_t item) {
  const std::uint64_t hash = (static_cast<std::uint64_t>(item) * 0x9E3779B97F4A7C15ULL) >> 32;
  const auto n_bits = static_cast<std::uint64_t>(kFilterBits * (end - begin));
  return static_cast<std::uint64_t>(kFilterBits * begin) + ((hash * n_bits) >> 32);
}
TR_BPR_INLINE index_t filter_byte(index_t begin, index_t end, std::int64_t item) {
  return static_cast<index_t>(filter_bit(begin, end, item) >> 3);
}

// The filter's bits for `likes` (n_rows rows, nnz entries), built on n_threads (rows own disjoint bytes).
class LikedFilter {
 public:
  template <class I>
  LikedFilter(CsrView<I> likes, index_t n_rows, index_t nnz, int n_threads)
      : bits_(kFilterBits * nnz / 8 + 1) {
    std::uint8_t* bits = bits_.data();
    std::memset(bits, 0, static_cast<std::size_t>(kFilterBits * nnz / 8 + 1));
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) shared(likes, n_rows, bits)
    for (index_t u = 0; u < n_rows; ++u) {
      const index_t begin = likes.row_begin(u), end = likes.row_end(u);
      for (index_t k = begin; k < end; ++k) {
        const std::uint64_t bit = filter_bit(begin, end, likes.indices[k]);
        bits[bit >> 3] |= static_cast<std::uint8_t>(1u << (bit & 7));
      }
    }
  }
  const std::uint8_t* data() const { return bits_.data(); }

 private:
  HugeBlock<std::uint8_t> bits_;
};

// What the steps read: the likes, the draws, the factors and the update's constants.
template <class T, class I>
struct BprProblem {
  CsrView<I> likes;
  const I* rows;
  index_t nnz;
  T *x, *y;        // user and item rows
  index_t stride;  // n_cols: F + 1
  T lr, reg;
  std::uint64_t seed;
  bool verify;
  const std::uint8_t* filter;  // LikedFilter's bits, or nullptr: every negative is looked up in its row
};

// Sample s's three rows and whether it is kept.
struct BprSample {
  index_t u, i, j;
  bool kept;
};

// The samples [lo, hi) of one block, in order; adds to correct and skipped. Vectors of Bytes;
// always inlined, so that each clone below compiles it for its instruction set.
template <class T, class I, std::size_t Bytes>
TR_BPR_INLINE void bpr_steps(const BprProblem<T, I>& problem, index_t lo, index_t hi, std::int64_t& correct_out,
                             std::int64_t& skipped_out) {
  const BprProblem<T, I> p = problem;  // a local copy and local counts: stores through T* or to the
  std::int64_t correct = 0, skipped = 0;  // counts cannot alias them, so nothing is reloaded
  // The dot product's 8 lanes are `count` vectors of `dot_width` (at most 8) values.
  constexpr index_t width = Bytes / sizeof(T);
  constexpr index_t dot_bytes = std::min<index_t>(Bytes, kBprLanes * sizeof(T));
  constexpr index_t dot_width = dot_bytes / sizeof(T), count = kBprLanes / dot_width;
  using V = typename SimdVec<T, Bytes>::V;
  using D = typename SimdVec<T, dot_bytes>::V;
  static_assert(count * dot_width == kBprLanes, "vectors must tile the lanes");
  const I* indices = p.likes.indices;
  const index_t stride = p.stride;
  const auto n = static_cast<std::uint64_t>(p.nnz);
  constexpr index_t Dist = kBprPrefetch;
  auto liked_at = [&](index_t s) TR_BPR_LAMBDA { return static_cast<index_t>(below(splitmix64(p.seed, 2 * s + 1), n)); };
  auto other_at = [&](index_t s) TR_BPR_LAMBDA { return static_cast<index_t>(below(splitmix64(p.seed, 2 * s + 2), n)); };
  // u's liked items, whole when the row is scanned whole, else the binary search's first probe.
  auto prefetch_liked = [&](index_t u) TR_BPR_LAMBDA {
    const index_t begin = p.likes.row_begin(u), end = p.likes.row_end(u);
    if (end - begin <= kBprScan)
      prefetch_span(indices + begin, (end - begin) * static_cast<index_t>(sizeof(I)));
    else
      prefetch_read(indices + (begin + end) / 2);
  };
  // False: u did not like `item` (its bit in u's filter is clear); true: u may have (no filter, or
  // the bit is set), and u's row says.
  auto maybe_liked = [&](index_t u, I item) TR_BPR_LAMBDA {
    if (p.filter == nullptr) return true;
    const index_t begin = p.likes.row_begin(u), end = p.likes.row_end(u);
    const std::uint64_t bit = filter_bit(begin, end, item);
    return ((p.filter[bit >> 3] >> (bit & 7)) & 1) != 0;
  };
  // Staged prefetch (the draws are recomputed, cheaper than a queue): the index entries of the
  // sample 3 Dist ahead; the factor rows and the user's row bounds 2 Dist ahead; Dist ahead, the
  // negative's bit in the user's filter (without a filter: the user's row, as below); Dist / 2
  // ahead, the user's row when the bit is set (whole when scanned whole, else the binary search's
  // first probe).
  auto prefetch = [&](index_t s) TR_BPR_LAMBDA {
    if (s + 3 * Dist < hi) {
      const index_t k = liked_at(s + 3 * Dist);
      prefetch_read(p.rows + k);
      prefetch_read(indices + k);
      prefetch_read(indices + other_at(s + 3 * Dist));
    }
    if (s + 2 * Dist < hi) {
      const index_t k = liked_at(s + 2 * Dist);
      const index_t u = p.rows[k], i = indices[k], j = indices[other_at(s + 2 * Dist)];
      prefetch_row(p.x + u * stride, stride);
      prefetch_row(p.y + i * stride, stride);
      prefetch_row(p.y + j * stride, stride);
      if (p.verify) prefetch_read(p.likes.indptr + u);
    }
    if (p.verify && s + Dist < hi) {
      const index_t k = liked_at(s + Dist);
      const index_t u = p.rows[k];
      const index_t begin = p.likes.row_begin(u), end = p.likes.row_end(u);
      if (p.filter != nullptr)
        prefetch_read(p.filter + filter_byte(begin, end, indices[other_at(s + Dist)]));
      else
        prefetch_liked(u);
    }
    if (p.verify && p.filter != nullptr && s + Dist / 2 < hi) {
      const index_t k = liked_at(s + Dist / 2);
      const index_t u = p.rows[k];
      if (maybe_liked(u, indices[other_at(s + Dist / 2)])) prefetch_liked(u);
    }
  };
  auto draw = [&](index_t s) TR_BPR_LAMBDA {
    const index_t k = liked_at(s);
    const index_t u = p.rows[k];
    const I negative = indices[other_at(s)];
    const bool liked = p.verify && maybe_liked(u, negative) &&
                       contains<I, Bytes>(indices + p.likes.row_begin(u), indices + p.likes.row_end(u), negative);
    return BprSample{u, static_cast<index_t>(indices[k]), static_cast<index_t>(negative), !liked};
  };
  // x_u . (y_i - y_j): lane l of the 8 sums the products f = l, l + 8, ... in order (the padding
  // adds +0); the lanes summed 0 to 7.
  auto score = [&](const BprSample& a) TR_BPR_LAMBDA {
    const T* x = p.x + a.u * stride;
    const T* yi = p.y + a.i * stride;
    const T* yj = p.y + a.j * stride;
    D lanes[count] = {};
    index_t f = 0;
    for (; f + kBprLanes <= stride; f += kBprLanes) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
      for (index_t c = 0; c < count; ++c) {
        D xv, iv, jv;
        std::memcpy(&xv, x + f + c * dot_width, dot_bytes);
        std::memcpy(&iv, yi + f + c * dot_width, dot_bytes);
        std::memcpy(&jv, yj + f + c * dot_width, dot_bytes);
        lanes[c] += xv * (iv - jv);
      }
    }
    T sums[kBprLanes];  // the tail (F + 1) % 8 columns, lanes 0 .. in order
    std::memcpy(sums, lanes, sizeof(sums));
    for (index_t l = 0; f < stride; ++f, ++l) sums[l] += x[f] * (yi[f] - yj[f]);
    T sum = sums[0];
    for (index_t l = 1; l < kBprLanes; ++l) sum += sums[l];
    return sum;
  };
  auto weight = [&](T s) TR_BPR_LAMBDA {
    const T z = static_cast<T>(1.0 / (1.0 + std::exp(static_cast<double>(s))));
    correct += z < T(0.5);
    return z;
  };
  // The update of sample a with weight z. Distinct items: x, y_i and y_j are three rows and each
  // column's three new values come from the old ones. The same item (possible without
  // verification): the second item update reads what the first wrote.
  auto update = [&](const BprSample& a, T z) TR_BPR_LAMBDA {
    T* __restrict x = p.x + a.u * stride;
    const T lr = p.lr, reg = p.reg;
    const index_t last = stride - 1;
    index_t f = 0;
    if (a.i != a.j) {
      T* __restrict yi = p.y + a.i * stride;
      T* __restrict yj = p.y + a.j * stride;
      for (; f + width <= last; f += width) {
        V xv, iv, jv;
        std::memcpy(&xv, x + f, Bytes);
        std::memcpy(&iv, yi + f, Bytes);
        std::memcpy(&jv, yj + f, Bytes);
        const V x_new = xv + lr * (z * (iv - jv) - reg * xv);
        const V i_new = iv + lr * (z * xv - reg * iv);
        const V j_new = jv + lr * ((-z) * xv - reg * jv);
        std::memcpy(x + f, &x_new, Bytes);
        std::memcpy(yi + f, &i_new, Bytes);
        std::memcpy(yj + f, &j_new, Bytes);
      }
      for (; f < last; ++f) {
        const T t = x[f];
        x[f] += lr * (z * (yi[f] - yj[f]) - reg * x[f]);
        yi[f] += lr * (z * t - reg * yi[f]);
        yj[f] += lr * ((-z) * t - reg * yj[f]);
      }
      yi[last] += lr * (z - reg * yi[last]);
      yj[last] += lr * ((-z) - reg * yj[last]);
    } else {
      T* __restrict y = p.y + a.i * stride;
      for (; f + width <= last; f += width) {
        V xv, yv;
        std::memcpy(&xv, x + f, Bytes);
        std::memcpy(&yv, y + f, Bytes);
        const V x_new = xv + lr * (z * (yv - yv) - reg * xv);
        const V once = yv + lr * (z * xv - reg * yv);
        const V twice = once + lr * ((-z) * xv - reg * once);
        std::memcpy(x + f, &x_new, Bytes);
        std::memcpy(y + f, &twice, Bytes);
      }
      for (; f < last; ++f) {
        const T t = x[f];
        x[f] += lr * (z * (y[f] - y[f]) - reg * x[f]);
        y[f] += lr * (z * t - reg * y[f]);
        y[f] += lr * ((-z) * t - reg * y[f]);
      }
      y[last] += lr * (z - reg * y[last]);
      y[last] += lr * ((-z) - reg * y[last]);
    }
  };
  auto one = [&](const BprSample& a) TR_BPR_LAMBDA {
    if (!a.kept) {
      ++skipped;
      return;
    }
    update(a, weight(score(a)));
  };
  // Samples a[0 .. n) may run side by side when all are kept, each has two items, and their
  // users and their 2 n items are distinct.
  auto disjoint = [&](const BprSample* a, index_t n) TR_BPR_LAMBDA {
    bool apart = true;
    for (index_t g = 0; g < n; ++g) apart &= a[g].kept & (a[g].i != a[g].j);
    for (index_t g = 1; g < n; ++g)
      for (index_t h = 0; h < g; ++h)
        apart &= (a[g].u != a[h].u) & (a[g].i != a[h].i) & (a[g].i != a[h].j) & (a[g].j != a[h].i) &
                 (a[g].j != a[h].j);
    return apart;
  };
  auto side_by_side = [&](const BprSample* a, auto n_samples) TR_BPR_LAMBDA {
    constexpr index_t n = decltype(n_samples)::value;
    T scores[n], z[n];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
    for (index_t g = 0; g < n; ++g) scores[g] = score(a[g]);
    for (index_t g = 0; g < n; ++g) z[g] = weight(scores[g]);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
    for (index_t g = 0; g < n; ++g) update(a[g], z[g]);
  };
  // A group of kBprGroup side by side; else its halves as pairs; else one by one (order kept).
  constexpr index_t G = kBprGroup;
  index_t s = lo;
  for (; s + G <= hi; s += G) {
    BprSample group[G];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
    for (index_t g = 0; g < G; ++g) {
      prefetch(s + g);
      group[g] = draw(s + g);
    }
    if (disjoint(group, G)) {
      side_by_side(group, std::integral_constant<index_t, G>());
      continue;
    }
    for (index_t h = 0; h < G; h += 2) {
      if (disjoint(group + h, 2)) {
        side_by_side(group + h, std::integral_constant<index_t, 2>());
      } else {
        one(group[h]);
        one(group[h + 1]);
      }
    }
  }
  for (; s < hi; ++s) {
    prefetch(s);
    one(draw(s));
  }
  correct_out += correct;
  skipped_out += skipped;
}

template <class T, class I>
void bpr_steps_baseline(const BprProblem<T, I>& p, index_t lo, index_t hi, std::int64_t& correct,
                        std::int64_t& skipped) {
  bpr_steps<T, I, 16>(p, lo, hi, correct, skipped);
}

#ifdef TR_X86_DISPATCH
template <class T, class I>
__attribute__((target("avx2"))) void bpr_steps_avx2(const BprProblem<T, I>& p, index_t lo, index_t hi,
                                                    std::int64_t& correct, std::int64_t& skipped) {
  bpr_steps<T, I, 32>(p, lo, hi, correct, skipped);
}

template <class T, class I>
__attribute__((target("avx512f"))) void bpr_steps_avx512(const BprProblem<T, I>& p, index_t lo, index_t hi,
                                                        std::int64_t& correct, std::int64_t& skipped) {
  bpr_steps<T, I, 64>(p, lo, hi, correct, skipped);
}
#endif

template <class T, class I>
using BprStepsFn = void (*)(const BprProblem<T, I>&, index_t, index_t, std::int64_t&, std::int64_t&);

// The clone of bpr_steps for `level` (simd_level()'s names; the CPU must support it). Every clone
// gives the same bits.
template <class T, class I>
BprStepsFn<T, I> pick_bpr_steps(const std::string& level) {
#ifdef TR_X86_DISPATCH
  if (level == "avx512f") return &bpr_steps_avx512<T, I>;
  if (level == "avx2") return &bpr_steps_avx2<T, I>;
#endif
  (void)level;
  return &bpr_steps_baseline<T, I>;
}

}  // namespace detail

namespace detail {

// One epoch of `problem` on n_threads; counts = (correct, skipped), written.
template <class T, class I>
void run_bpr_epoch(BprStepsFn<T, I> steps, const BprProblem<T, I>& problem, int n_threads,
                   std::int64_t* __restrict counts) {
  const index_t nnz = problem.nnz;
  std::int64_t correct = 0, skipped = 0;
  if (n_threads == 1) {
    steps(problem, 0, nnz, correct, skipped);
  } else {
    const index_t chunk = kBprChunk, n_chunks = (nnz + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) reduction(+ : correct, skipped) default(none) \
    shared(problem, steps, nnz, chunk, n_chunks)
    for (index_t c = 0; c < n_chunks; ++c)
      steps(problem, c * chunk, std::min(nnz, (c + 1) * chunk), correct, skipped);
  }
  counts[0] = correct;
  counts[1] = skipped;
}

}  // namespace detail

// Epochs of BPR, one after the other (a model's fit: the liked-items filter is built once for all).
//
// @param likes         n_users rows of liked item ids in [0, n_items), sorted within each row;
//                      nnz = indptr[n_users] entries, 1 <= nnz <= 2^32
// @param rows          nnz, rows[k] = the row (user) of entry k
// @param user_factors  n_users * n_cols, updated (column n_cols - 1 is read, never written)
// @param item_factors  n_items * n_cols, updated
// @param n_cols        factors + 1 (>= 1): the last column is the item bias
// @param seeds         n_epochs: the splitmix64 sequence of each epoch, in order
// @param verify        skip samples whose negative item the user liked
// @param n_threads     1: the samples in order; more: chunks of kBprChunk samples handed out to the
//                      threads as they come free (Hogwild: results vary from run to run)
// @param counts        n_epochs * 2, written: per epoch, the samples ranked right before their
//                      update and the samples skipped
// @param simd          the clone to run ("" for the CPU's best; else simd_level()'s names, which
//                      the CPU must support): all give the same bits
// @param filter        verify through LikedFilter (false: every negative looked up in its row);
//                      the same bits either way
// @param after_epoch   called with e after epoch e (outside any parallel region: may throw, which
//                      ends the run), or empty
template <class T, class I>
void bpr_epochs(CsrView<I> likes, const I* __restrict rows, index_t nnz, index_t n_users, T* user_factors,
                T* item_factors, index_t n_cols, T learning_rate, T regularization,
                const std::uint64_t* __restrict seeds, index_t n_epochs, bool verify, int n_threads,
                std::int64_t* __restrict counts, const std::string& simd = "", bool filter = true,
                const std::function<void(index_t)>& after_epoch = {}) {
  TR_CHECK(n_cols >= 1, "n_cols: expected >= 1");
  TR_CHECK(nnz >= 0 && nnz <= (index_t{1} << 32), "nnz: expected at most 2**32 stored entries");
  TR_CHECK(n_epochs >= 0, "n_epochs: expected >= 0");
  std::fill(counts, counts + 2 * n_epochs, std::int64_t{0});
  if (nnz == 0 || n_epochs == 0) return;
  const detail::BprStepsFn<T, I> steps = detail::pick_bpr_steps<T, I>(simd.empty() ? simd_level() : simd);
  std::unique_ptr<detail::LikedFilter> liked;
  if (verify && filter) {
    try {  // 2 bytes per interaction: where memory is short, verify from the rows alone (same result)
      liked = std::make_unique<detail::LikedFilter>(likes, n_users, nnz, n_threads);
    } catch (const std::bad_alloc&) {
      liked.reset();
    }
  }
  detail::BprProblem<T, I> problem{likes,          rows, nnz,  user_factors, item_factors,
                                   n_cols,         learning_rate, regularization, 0, verify,
                                   liked ? liked->data() : nullptr};
  for (index_t e = 0; e < n_epochs; ++e) {
    problem.seed = seeds[e];
    detail::run_bpr_epoch(steps, problem, n_threads, counts + 2 * e);
    if (after_epoch) after_epoch(e);
  }
}
}  // namespace turborec
