// Python bindings of topk.hpp (the selection family). Callers preallocate the outputs (int32 ids,
// values of the scores' dtype), pass CSR exclusions as (indptr, indices) or (None, None), and
// the blocking plan that turborec/selection/__init__.py computes.
#include <turborec/topk.hpp>
#include <turborec/topk_quantized.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

template <class T>
T* outputs_of_shape(py::array& out_ids, py::array& out_values, py::ssize_t n, py::ssize_t k, id_t** ids) {
  *ids = output<id_t>(out_ids, "out_ids", 2);
  T* values = output<T>(out_values, "out_values", 2);
  expect(out_ids.shape(0) == n && out_ids.shape(1) == k && out_values.shape(0) == n && out_values.shape(1) == k,
         "out_ids/out_values: expected shape (n, k) = (" + std::to_string(n) + ", " + std::to_string(k) + ")");
  return values;
}

template <class T>
void topk_typed(const py::array& scores, const py::object& ex_indptr, const py::object& ex_indices, py::ssize_t k,
                bool largest, py::ssize_t chunk, py::ssize_t capacity, int n_threads, py::array& out_ids,
                py::array& out_values) {
  const T* s = input<T>(scores, "scores", 2);
  const py::ssize_t n = scores.shape(0), m = scores.shape(1);
  expect_int32_ids(m, "scores");
  expect_plan_size(chunk, "chunk");
  expect_plan_size(capacity, "capacity");
  id_t* ids = nullptr;
  T* values = outputs_of_shape<T>(out_ids, out_values, n, k, &ids);
  with_csr(ex_indptr, ex_indices, n, m, "exclude", [&](auto exclude) {
    py::gil_scoped_release release;
    topk_rows<T>(s, n, m, k, exclude, largest, chunk, capacity, n_threads, ids, values);
  });
}

void topk(const py::array& scores, const py::object& ex_indptr, const py::object& ex_indices, py::ssize_t k,
          bool largest, py::ssize_t chunk, py::ssize_t capacity, int n_threads, py::array& out_ids,
          py::array& out_values) {
  expect_n_threads(n_threads);
  if (has_dtype<double>(scores))
    topk_typed<double>(scores, ex_indptr, ex_indices, k, largest, chunk, capacity, n_threads, out_ids, out_values);
  else
    topk_typed<float>(scores, ex_indptr, ex_indices, k, largest, chunk, capacity, n_threads, out_ids, out_values);
}

template <class T>
void topk_dot_typed(const py::array& queries, const py::array& items, const py::object& ex_indptr,
                    const py::object& ex_indices, const py::object& query_scale, const py::object& item_scale,
                    py::ssize_t k, py::ssize_t block_rows, py::ssize_t block_items, py::ssize_t capacity,
                    py::ssize_t segments, int n_threads, py::array& out_ids, py::array& out_values) {
  const T* q = input<T>(queries, "queries", 2);
  const T* x = input<T>(items, "items", 2);
  const py::ssize_t n = queries.shape(0), m = items.shape(0), d = queries.shape(1);
  expect(items.shape(1) == d, "items: expected the same number of columns as queries");
  expect_int32_ids(m, "items");
  expect_plan_size(block_rows, "block_rows");
  expect_plan_size(block_items, "block_items");
  expect_plan_size(capacity, "capacity");
  expect_plan_size(segments, "segments");
  id_t* ids = nullptr;
  T* values = outputs_of_shape<T>(out_ids, out_values, n, k, &ids);
  expect(query_scale.is_none() == item_scale.is_none(), "query_scale/item_scale: give both or neither");
  const T* qs = nullptr;
  const T* xs = nullptr;
  if (!query_scale.is_none()) {
    auto qa = array_argument(query_scale, "query_scale"), xa = array_argument(item_scale, "item_scale");
    qs = input<T>(qa, "query_scale", 1);
    xs = input<T>(xa, "item_scale", 1);
    expect(qa.shape(0) == n && xa.shape(0) == m, "query_scale/item_scale: expected one entry per query / item");
  }
  with_csr(ex_indptr, ex_indices, n, m, "exclude", [&](auto exclude) {
    py::gil_scoped_release release;
    topk_dot<T>(q, n, x, m, d, k, exclude, qs, xs, TilePlan{block_rows, block_items, capacity, segments}, n_threads,
                ids, values);
  });
}

void topk_dot_any(const py::array& queries, const py::array& items, const py::object& ex_indptr,
                  const py::object& ex_indices, const py::object& query_scale, const py::object& item_scale,
                  py::ssize_t k, py::ssize_t block_rows, py::ssize_t block_items, py::ssize_t capacity,
                  py::ssize_t segments, int n_threads, py::array& out_ids, py::array& out_values) {
  expect_n_threads(n_threads);
  if (has_dtype<double>(queries))
    topk_dot_typed<double>(queries, items, ex_indptr, ex_indices, query_scale, item_scale, k, block_rows,
                           block_items, capacity, segments, n_threads, out_ids, out_values);
  else
    topk_dot_typed<float>(queries, items, ex_indptr, ex_indices, query_scale, item_scale, k, block_rows,
                          block_items, capacity, segments, n_threads, out_ids, out_values);
}

// qcodes: the queries' int16 codes, or None to compute them here (quantize_query_codes, the same bits).
void topk_dot_quantized_any(const py::array& queries, const py::object& qcodes, const py::array& codes,
                            const py::array& scales, const py::array& items, const py::object& ex_indptr,
                            const py::object& ex_indices,
                            py::ssize_t k, py::ssize_t n_candidates, py::ssize_t block_rows, py::ssize_t block_items,
                            py::ssize_t capacity, py::ssize_t segments, int n_threads, py::array& out_ids,
                            py::array& out_values, const std::string& simd) {
  expect_n_threads(n_threads);
  const float* q = input<float>(queries, "queries", 2);
  const std::int8_t* c = input<std::int8_t>(codes, "codes", 4);
  const float* s = input<float>(scales, "scales", 1);
  const float* x = input<float>(items, "items", 2);
  const py::ssize_t n = queries.shape(0), m = items.shape(0), d = items.shape(1);
  const py::ssize_t panel = kQuantizedPanel, pairs = (d + 1) / 2;
  expect(queries.shape(1) == d, "items: expected the same number of columns as queries");
  std::vector<std::int16_t> computed;
  const std::int16_t* g = nullptr;
  if (qcodes.is_none()) {
    computed.resize(static_cast<std::size_t>(n * 2 * pairs));
    quantize_query_codes(q, n, d, computed.data());
    g = computed.data();
  } else {
    const auto given = array_argument(qcodes, "qcodes");
    g = input<std::int16_t>(given, "qcodes", 2);
    expect(given.shape(0) == n && given.shape(1) == 2 * pairs,
           "qcodes: expected shape (n, 2 * ceil(d / 2)) for queries of shape (n, d)");
  }
  const auto levels = detail::quantized_levels();
  expect(simd.empty() || std::find(levels.begin(), levels.end(), simd) != levels.end(),
         "simd: " + simd + " is not supported by this CPU or build");
  expect(codes.shape(0) == (m + panel - 1) / panel && codes.shape(1) == pairs && codes.shape(2) == panel &&
             codes.shape(3) == 2,
         "codes: expected shape (ceil(m / " + std::to_string(panel) + "), ceil(d / 2), " + std::to_string(panel) +
             ", 2) for items of shape (m, d)");
  expect(scales.shape(0) == m, "scales: expected one entry per item");
  expect_int32_ids(m, "items");
  expect(k >= 1 && k <= n_candidates && n_candidates <= m, "n_candidates: expected k <= n_candidates <= m");
  expect_plan_size(block_rows, "block_rows");
  expect_plan_size(block_items, "block_items");
  expect_plan_size(capacity, "capacity");
  expect_plan_size(segments, "segments");
  expect(block_items % panel == 0, "block_items: expected a multiple of " + std::to_string(panel));
  expect(capacity > n_candidates, "capacity: expected more than n_candidates");
  id_t* ids = nullptr;
  float* values = outputs_of_shape<float>(out_ids, out_values, n, k, &ids);
  with_csr(ex_indptr, ex_indices, n, m, "exclude", [&](auto exclude) {
    py::gil_scoped_release release;
    topk_dot_quantized(q, g, n, c, s, x, m, d, k, n_candidates, exclude,
                       TilePlan{block_rows, block_items, capacity, segments}, n_threads, ids, values, simd);
  });
}

}  // namespace

void bind_topk(py::module_& m) {
  m.def("topk", &topk, py::arg("scores").noconvert(), py::arg("exclude_indptr"), py::arg("exclude_indices"),
        py::arg("k"), py::arg("largest").noconvert(), py::arg("chunk"), py::arg("capacity"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(),
        "Row-wise top-k of a dense (n, m) matrix into out_ids / out_values (n, k). See topk.hpp.");
  m.def("topk_dot", &topk_dot_any, py::arg("queries").noconvert(), py::arg("items").noconvert(),
        py::arg("exclude_indptr"), py::arg("exclude_indices"), py::arg("query_scale"), py::arg("item_scale"),
        py::arg("k"), py::arg("block_rows"), py::arg("block_items"), py::arg("capacity"), py::arg("segments"),
        py::arg("n_threads"), py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(),
        "Top-k of queries @ items.T, tile by tile, into out_ids / out_values (n, k). See topk.hpp.");
  m.def("topk_dot_quantized", &topk_dot_quantized_any, py::arg("queries").noconvert(), py::arg("qcodes"),
        py::arg("codes").noconvert(),
        py::arg("scales").noconvert(), py::arg("items").noconvert(), py::arg("exclude_indptr"),
        py::arg("exclude_indices"), py::arg("k"), py::arg("n_candidates"), py::arg("block_rows"),
        py::arg("block_items"), py::arg("capacity"), py::arg("segments"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(), py::arg("simd") = "",
        "Top-k of queries @ items.T over an int8 table, re-ranked exactly. See topk_quantized.hpp. qcodes: the "
        "queries' int16 codes, or None to compute them in C++; simd: '' (the CPU's best) or one of "
        "quantized_simd_levels().");
  m.def("quantized_simd_levels", &detail::quantized_levels,
        "The clones of topk_dot_quantized's approximate scoring this CPU runs, best first.");
  m.def(
      "quantize_queries",
      [](const py::array& queries, py::array& out) {
        const float* q = input<float>(queries, "queries", 2);
        std::int16_t* g = output<std::int16_t>(out, "out", 2);
        expect(out.shape(0) == queries.shape(0) && out.shape(1) == 2 * ((queries.shape(1) + 1) / 2),
               "out: expected shape (n, 2 * ceil(d / 2)) for queries of shape (n, d)");
        py::gil_scoped_release release;
        quantize_query_codes(q, queries.shape(0), queries.shape(1), g);
      },
      py::arg("queries").noconvert(), py::arg("out").noconvert(),
      "The int16 codes of float32 queries into out (selection's quantize_queries, in C++).");
  m.attr("QUANTIZED_PANEL") = kQuantizedPanel;
}

}  // namespace turborec::bind
