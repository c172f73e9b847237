// Python bindings of metrics.hpp.
#include <turborec/metrics.hpp>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

void ranking_metrics_any(const py::array& recs, const py::array& rel_indptr, const py::array& rel_indices,
                         const py::object& n_negatives, const py::array& cutoffs, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  const std::int32_t* r = input<std::int32_t>(recs, "recs", 2);
  const py::ssize_t n = recs.shape(0), width = recs.shape(1);
  const std::int64_t* cuts = input<std::int64_t>(cutoffs, "cutoffs", 1);
  double* o = output<double>(out, "out", 3);
  expect(out.shape(0) == n && out.shape(1) == cutoffs.shape(0) && out.shape(2) == kNumMetrics,
         "out: expected shape (n_users, n_cutoffs, " + std::to_string(kNumMetrics) + ")");
  const std::int64_t* neg = nullptr;
  if (!n_negatives.is_none()) {
    auto a = array_argument(n_negatives, "n_negatives");
    neg = input<std::int64_t>(a, "n_negatives", 1);
    expect(a.shape(0) == n, "n_negatives: expected one entry per user");
  }
  with_csr(rel_indptr, rel_indices, n, -1, "relevant", [&](auto relevant) {
    py::gil_scoped_release release;
    ranking_metrics(r, n, width, relevant, neg, cuts, cutoffs.shape(0), n_threads, o);
  });
}

}  // namespace

void bind_metrics(py::module_& m) {
  py::tuple names(static_cast<py::size_t>(kNumMetrics));
  for (int i = 0; i < kNumMetrics; ++i) names[i] = kMetricNames[i];
  m.attr("METRICS") = names;
  m.def("ranking_metrics", &ranking_metrics_any, py::arg("recs").noconvert(), py::arg("relevant_indptr").noconvert(),
        py::arg("relevant_indices").noconvert(), py::arg("n_negatives"), py::arg("cutoffs").noconvert(),
        py::arg("n_threads"), py::arg("out").noconvert());
}

}  // namespace turborec::bind
