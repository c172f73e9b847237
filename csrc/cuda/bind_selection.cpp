// The selection family's CUDA binding section: device arrays in (checked through
// device_array.hpp), launches of selection.cu on the caller's stream, nothing synchronised
// except the small host copy of an exclusion indptr that is checked before the kernel reads it.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "device_array.hpp"
#include "selection.cuh"

namespace turborec::cuda {
namespace {

cudaStream_t as_stream(std::uintptr_t address) { return reinterpret_cast<cudaStream_t>(address); }

std::size_t value_bytes(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "float64") return 8;
  throw std::invalid_argument("dtype: expected 'float32' or 'float64', got '" + dtype + "'");
}

// The exclusion CSR (indptr: rows + 1 entries, absolute offsets into indices, its length
// checked by the caller) is copied to the host and checked (non-decreasing, within indices) so
// the kernel never reads past the indices. Column ids need no check: ids outside the tile are
// ignored.
template <class I>
void check_exclusion(const DeviceView<const I>& indptr, const DeviceView<const I>& indices, cudaStream_t stream) {
  std::vector<I> host(static_cast<std::size_t>(indptr.dim(0)));
  TR_CUDA_CHECK(cudaMemcpyAsync(host.data(), indptr.data(), indptr.bytes(), cudaMemcpyDeviceToHost, stream));
  TR_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (std::size_t r = 1; r < host.size(); ++r)
    if (host[r] < host[r - 1]) expect(false, "exclude_indptr: must never decrease");
  expect(host.front() >= 0 && static_cast<index_t>(host.back()) <= indices.dim(0),
         "exclude_indptr: offsets must lie within exclude_indices");
}

template <class T>
void topk_typed(const py::object& scores, const py::object& ex_indptr, const py::object& ex_indices, index_t k,
                index_t col_base, bool largest, const py::object& scratch, std::uintptr_t stream,
                const py::object& ids, const py::object& values) {
  auto run = [&](auto index_tag) {
    using I = decltype(index_tag);
    // Every argument's interface and the shapes that relate them first, without the GPU ...
    auto s = device_input<T>(scores, "scores", 2);
    const index_t n = s.dim(0), m = s.dim(1);
    auto out_ids = device_output<id_t>(ids, "ids", 2);
    auto out_values = device_output<T>(values, "values", 2);
    expect(out_ids.shape == std::vector<index_t>{n, k} && out_values.shape == out_ids.shape,
           "ids/values: expected shape (n, k) = (" + std::to_string(n) + ", " + std::to_string(k) + ")");
    expect(k >= 1 && k <= m, "k: expected 1 <= k <= m = " + std::to_string(m) + ", got " + std::to_string(k));
    expect(col_base >= 0 && col_base + m <= std::numeric_limits<id_t>::max(),
           "col_base: expected col_base >= 0 and col_base + m to fit int32 ids, got " + std::to_string(col_base));
    auto work = device_optional_output<std::uint8_t>(scratch, "scratch", 1);
    auto indptr = device_optional<I>(ex_indptr, "exclude_indptr", 1);
    auto indices = device_optional<I>(ex_indices, "exclude_indices", 1);
    expect(ex_indptr.is_none() == ex_indices.is_none(), "exclude_indptr/exclude_indices: give both or neither");
    expect(indptr.absent() || indptr.dim(0) == n + 1, "exclude_indptr: expected " + std::to_string(n + 1) +
                                                          " entries (rows + 1), got " +
                                                          std::to_string(indptr.absent() ? 0 : indptr.dim(0)));
    expect(disjoint(out_ids, s) && disjoint(out_values, s) && disjoint(out_ids, out_values),
           "ids/values: must not overlap scores or each other");
    expect(disjoint(work, s) && disjoint(work, out_ids) && disjoint(work, out_values),
           "scratch: must not overlap scores, ids or values");
    // ... then where the memory lives.
    check_on_current_device(s, out_ids, out_values, work, indptr, indices);
    if (!indptr.absent()) check_exclusion(indptr, indices, as_stream(stream));
    py::gil_scoped_release release;
    topk_rows<T, I>(s.data(), n, m, k, indptr.data(), indices.data(), col_base, largest, out_ids.data(),
                    out_values.data(), work.data(), work.bytes(), as_stream(stream));
  };
  if (!ex_indptr.is_none() && typestr(ex_indptr, "exclude_indptr") == typestr_of<std::int64_t>())
    return run(std::int64_t{});
  return run(std::int32_t{});
}

void topk(const py::object& scores, const py::object& ex_indptr, const py::object& ex_indices, index_t k,
          index_t col_base, bool largest, const py::object& scratch, std::uintptr_t stream, const py::object& ids,
          const py::object& values) {
  if (typestr(scores, "scores") == typestr_of<double>())
    topk_typed<double>(scores, ex_indptr, ex_indices, k, col_base, largest, scratch, stream, ids, values);
  else
    topk_typed<float>(scores, ex_indptr, ex_indices, k, col_base, largest, scratch, stream, ids, values);
}

template <class T>
void merge_typed(const py::object& a_ids, const py::object& a_values, const py::object& b_ids,
                 const py::object& b_values, bool largest, std::uintptr_t stream, const py::object& ids,
                 const py::object& values) {
  auto ai = device_input<id_t>(a_ids, "a_ids", 2);
  auto av = device_input<T>(a_values, "a_values", 2);
  auto bi = device_input<id_t>(b_ids, "b_ids", 2);
  auto bv = device_input<T>(b_values, "b_values", 2);
  auto oi = device_output<id_t>(ids, "ids", 2);
  auto ov = device_output<T>(values, "values", 2);
  const index_t n = ai.dim(0), out_len = oi.dim(1);
  expect(av.shape == ai.shape && bv.shape == bi.shape && ov.shape == oi.shape && bi.dim(0) == n && oi.dim(0) == n,
         "merge_topk: expected a_ids/a_values (n, a_len), b_ids/b_values (n, b_len), ids/values (n, out_len)");
  expect(out_len >= 1 && out_len <= ai.dim(1) + bi.dim(1), "ids: expected 1 <= out_len <= a_len + b_len");
  expect(disjoint(oi, ai) && disjoint(oi, bi) && disjoint(ov, av) && disjoint(ov, bv),
         "ids/values: must not overlap the runs being merged");
  check_on_current_device(ai, av, bi, bv, oi, ov);
  py::gil_scoped_release release;
  merge_topk<T>(ai.data(), av.data(), ai.dim(1), bi.data(), bv.data(), bi.dim(1), n, out_len, largest, oi.data(),
                ov.data(), as_stream(stream));
}

void merge(const py::object& a_ids, const py::object& a_values, const py::object& b_ids, const py::object& b_values,
           bool largest, std::uintptr_t stream, const py::object& ids, const py::object& values) {
  if (typestr(a_values, "a_values") == typestr_of<double>())
    merge_typed<double>(a_ids, a_values, b_ids, b_values, largest, stream, ids, values);
  else
    merge_typed<float>(a_ids, a_values, b_ids, b_values, largest, stream, ids, values);
}

}  // namespace

void bind_selection(py::module_& m) {
  m.attr("MAX_K_ONE_PASS") = kMaxPassK;
  m.def("topk", &topk, py::arg("scores"), py::arg("exclude_indptr"), py::arg("exclude_indices"), py::arg("k"),
        py::arg("col_base"), py::arg("largest").noconvert(), py::arg("scratch"), py::arg("stream"), py::arg("ids"),
        py::arg("values"),
        "Row-wise top-k of a C-contiguous (n, m) device matrix into (n, k) int32 ids and values; the\n"
        "exclusion CSR (or None, None) holds global ids col_base + column. See selection.cuh.");
  m.def(
      "topk_scratch_bytes",
      [](index_t n, index_t m, index_t k, const std::string& dtype, std::size_t budget) {
        expect(n >= 0 && m >= 1 && k >= 1 && k <= m, "topk_scratch_bytes: need n >= 0 and 1 <= k <= m");
        return topk_scratch_bytes(n, m, k, value_bytes(dtype), budget);
      },
      py::arg("n"), py::arg("m"), py::arg("k"), py::arg("dtype"), py::arg("budget"),
      "Scratch bytes topk needs (0: none), capped near `budget` but at least one row's need.");
  m.def("merge_topk", &merge, py::arg("a_ids"), py::arg("a_values"), py::arg("b_ids"), py::arg("b_values"),
        py::arg("largest").noconvert(), py::arg("stream"), py::arg("ids"), py::arg("values"),
        "Merge two row-wise sorted top lists (n, a_len) and (n, b_len) into the best (n, out_len).");
}

}  // namespace turborec::cuda
