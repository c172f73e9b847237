// Ranking metrics of recommendation lists against held-out relevant items, all users at once.
//
// Definitions (binary relevance; R = a user's relevant items, ranks start at 1; see
// docs/metrics.md for where other libraries differ):
//   precision@k = hits@k / k                 recall@k   = hits@k / |R|
//   ndcg@k      = sum_{hit at rank r <= k} 1/log2(r+1)  /  sum_{r=1}^{min(|R|,k)} 1/log2(r+1)
//   map@k       = sum_{hit at rank r <= k} (hits@r / r)  /  min(|R|, k)
//   mrr@k       = 1 / rank of the first hit within k (0 when none)
//   hit_rate@k  = 1 when any hit within k
//   auc@k       = probability that a random relevant item ranks above a random negative one,
//                 where the top-k list ranks first and every item past it ties (counts 1/2).
//                 Negatives: n_negatives[u] catalogue items neither relevant nor excluded.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.hpp"

namespace turborec {

// Column order of the output. turborec/metrics/__init__.py's RANKING_METRICS lists the same
// names; metrics/_native.py refuses to load when the two disagree.
enum Metric : int { kPrecision, kRecall, kNdcg, kMap, kMrr, kHitRate, kAuc, kNumMetrics };
inline constexpr const char* kMetricNames[kNumMetrics] = {"precision", "recall", "ndcg", "map",
                                                          "mrr",       "hit_rate", "auc"};

// Per-user metrics of ranked lists.
// @param recs         n * width item ids, best first; negative ids mark empty slots (no item)
// @param relevant     n rows of relevant item ids, sorted within each row
// @param n_negatives  n, or null (auc@k is then NaN): negatives per user for auc@k
// @param cutoffs      n_cutoffs ascending values in [1, width]
// @param out          n * n_cutoffs * kNumMetrics, written; all NaN for users with no relevant item
template <class I>
void ranking_metrics(const std::int32_t* __restrict recs, index_t n, index_t width, CsrView<I> relevant,
                     const std::int64_t* n_negatives, const std::int64_t* cutoffs, index_t n_cutoffs,
                     int n_threads, double* __restrict out) {
  TR_CHECK(n_cutoffs >= 1, "ranking_metrics: need at least one cutoff");
  for (index_t c = 0; c < n_cutoffs; ++c)
    TR_CHECK(cutoffs[c] >= 1 && cutoffs[c] <= width && (c == 0 || cutoffs[c] > cutoffs[c - 1]),
             "ranking_metrics: cutoffs must be increasing and within [1, width]");
  // Ideal DCG for j relevant items in the first j places: idcg[j] = sum_{r=1..j} 1/log2(r+1).
  std::vector<double> gain(width + 1, 0.0), idcg(width + 1, 0.0);
  for (index_t r = 1; r <= width; ++r) {
    gain[r] = 1.0 / std::log2(static_cast<double>(r) + 1.0);
    idcg[r] = idcg[r - 1] + gain[r];
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const index_t stride = n_cutoffs * kNumMetrics;
#pragma omp parallel for num_threads(n_threads) schedule(static) default(none) \
    shared(recs, n, width, relevant, n_negatives, cutoffs, n_cutoffs, out, gain, idcg, nan, stride)
  for (index_t u = 0; u < n; ++u) {
    double* row_out = out + u * stride;
    const I* first = relevant.indices + relevant.row_begin(u);
    const I* last = relevant.indices + relevant.row_end(u);
    const index_t n_relevant = static_cast<index_t>(last - first);
    if (n_relevant == 0) {
      std::fill(row_out, row_out + stride, nan);
      continue;
    }
    const double positives = static_cast<double>(n_relevant);
    const double negatives = n_negatives ? static_cast<double>(n_negatives[u]) : nan;
    const std::int32_t* list = recs + u * width;
    double hits = 0, dcg = 0, ap = 0, first_hit = 0, misses = 0, ordered_pairs = 0;
    index_t c = 0;
    for (index_t r = 1; r <= width && c < n_cutoffs; ++r) {
      const std::int32_t id = list[r - 1];
      if (id >= 0) {
        if (std::binary_search(first, last, static_cast<I>(id))) {
          hits += 1;
          dcg += gain[r];
          ap += hits / static_cast<double>(r);
          if (first_hit == 0) first_hit = static_cast<double>(r);
        } else {
          misses += 1;
          ordered_pairs += hits;  // every hit so far ranks above this negative
        }
      }
      if (r != cutoffs[c]) continue;
      const double k = static_cast<double>(r);
      const index_t ideal = std::min(n_relevant, r);
      double* m = row_out + c * kNumMetrics;
      m[kPrecision] = hits / k;
      m[kRecall] = hits / positives;
      m[kNdcg] = dcg / idcg[ideal];
      m[kMap] = ap / static_cast<double>(ideal);
      m[kMrr] = first_hit > 0 ? 1.0 / first_hit : 0.0;
      m[kHitRate] = hits > 0 ? 1.0 : 0.0;
      // Negatives past the list: beaten by every hit, tied (1/2) with every relevant item
      // past the list.
      const double unlisted = negatives - misses;
      m[kAuc] = negatives > 0
                    ? (ordered_pairs + unlisted * (hits + 0.5 * (positives - hits))) / (positives * negatives)
                    : nan;
      ++c;
    }
  }
}

}  // namespace turborec
