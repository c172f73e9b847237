// Co-rated similarities: Surprise 1.1's measures (turborec/similarity/_corated.py has the
// formulas), as the dense n x n float64 matrix (corated_similarity) or as each row's top k
// (corated_topk, never the dense matrix). Both share the accumulation of a row's pair sums
// (detail::accumulate_corated) and the per-pair formula (corated_score), so they cannot drift.
//
// For each row x, the columns it rated (row x of r) and, for each, the rows that rated it (that
// row of rt, the transpose) give, per pair (x, c), over the columns both rated: the count, the
// sum of products (of squared differences for kMsd), the sums of squares of x's and c's
// ratings, and (kPearson) the sums of their ratings. A pair is supported when its count is at
// least max(1, min_support); a supported pair whose denominator is not positive scores 0. Each
// row's sums run in the order of its stored columns, whatever the thread, so results never
// depend on n_threads, and the two kernels give every supported pair the same double.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "common.hpp"
#include "topk.hpp"

namespace turborec {

enum CoratedMeasure : int { kCoratedCosine = 0, kMsd = 1, kPearson = 2, kPearsonBaseline = 3 };

struct CoratedSums {
  std::int64_t freq = 0;
  double prods = 0, sqi = 0, sqj = 0, si = 0, sj = 0;
};

inline bool corated_supported(std::int64_t freq, std::int64_t min_support) {
  return freq > 0 && freq >= min_support;
}

// The similarity of a supported pair (freq >= 1):
//   kCoratedCosine    prods / sqrt(sqi sqj)
//   kMsd              1 / (prods / freq + 1)
//   kPearson          (freq prods - si sj) / sqrt((freq sqi - si^2) (freq sqj - sj^2))
//   kPearsonBaseline  the cosine (of residuals) times (freq - 1) / (freq - 1 + shrinkage)
// 0 where the denominator is not positive; every other measure is multiplied by
// freq / (freq + shrinkage) when shrinkage > 0 (Surprise does not shrink them: its callers pass 0).
inline double corated_score(const CoratedSums& s, int measure, double shrinkage) {
  const double common = static_cast<double>(s.freq);
  double sim = 0.0;
  if (measure == kMsd) {
    sim = 1.0 / (s.prods / common + 1.0);
  } else if (measure == kPearson) {
    const double denominator = (common * s.sqi - s.si * s.si) * (common * s.sqj - s.sj * s.sj);
    if (denominator > 0) sim = (common * s.prods - s.si * s.sj) / std::sqrt(denominator);
  } else {
    const double denominator = s.sqi * s.sqj;
    if (denominator > 0) {
      sim = s.prods / std::sqrt(denominator);
      if (measure == kPearsonBaseline) return sim * ((common - 1.0) / (common - 1.0 + shrinkage));
    }
  }
  if (shrinkage > 0 && measure != kPearsonBaseline) sim *= common / (common + shrinkage);
  return sim;
}

namespace detail {

// Adds row x's pairs into acc (n slots, all zero on entry for the columns not yet touched) and
// lists each column c in `seen` when first touched; returns how many were listed.
template <class I>
inline index_t accumulate_corated(CsrView<I> r, const double* __restrict values, CsrView<I> rt,
                                  const double* __restrict t_values, int measure, index_t x,
                                  CoratedSums* __restrict acc, id_t* __restrict seen) {
  index_t n_seen = 0;
  for (index_t e = r.row_begin(x), e_end = r.row_end(x); e < e_end; ++e) {
    const double ri = values[e];
    const index_t j = static_cast<index_t>(r.indices[e]);
    for (index_t f = rt.row_begin(j), f_end = rt.row_end(j); f < f_end; ++f) {
      const index_t c = static_cast<index_t>(rt.indices[f]);
      CoratedSums& s = acc[c];
      const double rj = t_values[f];
      if (s.freq == 0) seen[n_seen++] = static_cast<id_t>(c);
      s.freq += 1;
      if (measure == kMsd) {
        s.prods += (ri - rj) * (ri - rj);
      } else {
        s.prods += ri * rj;
        s.sqi += ri * ri;
        s.sqj += rj * rj;
        if (measure == kPearson) {
          s.si += ri;
          s.sj += rj;
        }
      }
    }
  }
  return n_seen;
}

inline void check_corated_args(int measure, std::int64_t min_support, double shrinkage, const char* what) {
  TR_CHECK(measure >= kCoratedCosine && measure <= kPearsonBaseline, std::string(what) + ": unknown measure");
  TR_CHECK(min_support >= 0, std::string(what) + ": min_support must be >= 0");
  TR_CHECK(shrinkage >= 0, std::string(what) + ": shrinkage must be >= 0");
}

}  // namespace detail

// Dense: 1 on the diagonal, corated_score for supported pairs, 0 elsewhere. Memory beyond the
// output: n accumulators and n touched ids per thread.
// @param r            n rows over m columns: the rated pairs, indices sorted within rows
// @param values       r's nnz ratings (residuals for kPearsonBaseline)
// @param rt           the transpose of r: m rows over n columns
// @param t_values     rt's nnz values, those of r transposed
// @param min_support  >= 0 (the effective one: the caller applies pearson_baseline's max(2, .))
// @param shrinkage    >= 0 (see corated_score)
// @param out          n * n, written
template <class I>
void corated_similarity(CsrView<I> r, const double* __restrict values, index_t n, CsrView<I> rt,
                        const double* __restrict t_values, int measure, std::int64_t min_support, double shrinkage,
                        int n_threads, double* __restrict out) {
  detail::check_corated_args(measure, min_support, shrinkage, "corated_similarity");
  check_ids_fit(n, "corated_similarity");
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(r, values, n, rt, t_values, measure, min_support, shrinkage, out, errors)
  {
    std::vector<CoratedSums> sums;
    std::vector<id_t> touched;
    errors.run([&] {
      sums.assign(n, CoratedSums{});
      touched.resize(n);
    });
#pragma omp for schedule(dynamic, 16)
    for (index_t x = 0; x < n; ++x) {
      if (errors.failed()) continue;
      errors.run([&] {
        CoratedSums* __restrict acc = sums.data();
        detail::accumulate_corated(r, values, rt, t_values, measure, x, acc, touched.data());
        double* __restrict row = out + x * n;
        for (index_t c = 0; c < n; ++c) {
          row[c] = c == x                                    ? 1.0
                   : corated_supported(acc[c].freq, min_support) ? corated_score(acc[c], measure, shrinkage)
                                                               : 0.0;
          acc[c] = CoratedSums{};
        }
      });
    }
  }
  errors.rethrow();
}

// Each row's top k other rows by corated_score, among the supported pairs: the row's pairs are
// accumulated as above, only the columns touched are scored (cast to T) and offered to the
// row's running top-k (RowTopK::offer), never the dense matrix. Memory beyond inputs and
// outputs: per thread, n accumulators, n touched ids and one candidate buffer.
// @param r, values, rt, t_values, measure, min_support, shrinkage  as corated_similarity's
// @param row_begin    first row to compute (rows [row_begin, row_end) are written)
// @param k            1 <= k <= n
// @param min_score    scores (in T) below it are dropped (-inf: none); NaN scores too
// @param capacity     candidates buffered per row (> k)
// @param ids          (row_end - row_begin) * k, written: best first (ties to the lower id), -1 past the row's
//                     entries; never the row itself
// @param scores       (row_end - row_begin) * k, written: -inf past the row's entries
template <class T, class I>
void corated_topk(CsrView<I> r, const double* __restrict values, index_t n, CsrView<I> rt,
                  const double* __restrict t_values, int measure, std::int64_t min_support, double shrinkage,
                  index_t row_begin, index_t row_end, index_t k, T min_score, index_t capacity, int n_threads,
                  id_t* __restrict ids, T* __restrict scores) {
  detail::check_corated_args(measure, min_support, shrinkage, "corated_topk");
  TR_CHECK(k >= 1 && k <= n, "corated_topk: k must be in [1, n]");
  TR_CHECK(capacity > k, "corated_topk: need capacity > k");
  TR_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= n, "corated_topk: rows out of range");
  check_ids_fit(n, "corated_topk");
  ExceptionCapture errors;
#pragma omp parallel num_threads(n_threads) default(none)                                                  \
    shared(r, values, n, rt, t_values, measure, min_support, shrinkage, row_begin, row_end, k, min_score, \
               capacity, ids, scores, errors)
  {
    std::vector<CoratedSums> sums;
    std::vector<id_t> touched;
    std::vector<Candidate<T>> buffer;
    errors.run([&] {
      sums.assign(n, CoratedSums{});
      touched.resize(n);
      buffer.resize(capacity);
    });
#pragma omp for schedule(dynamic, 4)
    for (index_t x = row_begin; x < row_end; ++x) {
      if (errors.failed()) continue;
      errors.run([&] {
        CoratedSums* __restrict acc = sums.data();
        const id_t* seen = touched.data();
        const index_t n_seen = detail::accumulate_corated(r, values, rt, t_values, measure, x, acc, touched.data());
        RowTopK<T> top(buffer.data(), k, capacity);
        for (index_t t = 0; t < n_seen; ++t) {
          const id_t c = seen[t];
          const CoratedSums s = acc[c];
          acc[c] = CoratedSums{};
          if (c == x || !corated_supported(s.freq, min_support)) continue;
          const T score = static_cast<T>(corated_score(s, measure, shrinkage));
          if (!(score >= min_score)) continue;
          top.offer(score, c);
        }
        top.write(ids + (x - row_begin) * k, scores + (x - row_begin) * k, T(1));
      });
    }
  }
  errors.rethrow();
}

}  // namespace turborec
