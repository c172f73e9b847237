// turborec._cuda: the CUDA kernels, bound with pybind11.
//
// Launchers take raw device pointers as Python ints (CuPy's `a.data.ptr`), sizes, dtype names
// and a stream pointer (`cupy.cuda.get_current_stream().ptr`); the Python adapter
// (turborec/backends/cuda.py) validated the arrays and owns every allocation. Launches are
// asynchronous on that stream. Importing this module needs no driver and no device: nothing
// touches the GPU until a function is called, and device_count() reports 0 instead of failing.
#include <pybind11/pybind11.h>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "cuda_check.cuh"
#include "topk.cuh"

#ifndef TR_CUDA_ARCHS
#define TR_CUDA_ARCHS "unknown"
#endif

namespace py = pybind11;

namespace turborec::cuda {
namespace {

template <class T>
T* device_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

cudaStream_t as_stream(std::uintptr_t address) { return reinterpret_cast<cudaStream_t>(address); }

std::string version_string(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// cudaGetDeviceCount, with any failure (no driver, a driver older than this runtime, no
// device) reported as 0 devices and the reason.
std::pair<int, std::string> query_devices() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky, but leave nothing behind for the next check
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver == 0)
      return {0, "no CUDA driver found (libcuda.so not loadable)"};
    return {0, std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err) +
                   (driver > 0 ? " (driver supports CUDA " + version_string(driver) + ")" : "")};
  }
  if (count <= 0) return {0, "no CUDA device found"};
  return {count, ""};
}

int device_count() noexcept {
  try {
    return query_devices().first;
  } catch (...) {
    return 0;
  }
}

py::dict build_info() {
  py::dict info;
  info["cuda_version"] = version_string(CUDART_VERSION);  // runtime compiled against (static)
  info["nvcc"] = nvcc_version();
  info["archs"] = std::string(TR_CUDA_ARCHS);
#if defined(__GNUC__) && !defined(__clang__)
  info["host_compiler"] = std::string("gcc ") + __VERSION__;
#elif defined(__clang__)
  info["host_compiler"] = std::string("clang ") + __clang_version__;
#endif
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  info["driver_version"] = driver > 0 ? py::object(py::str(version_string(driver))) : py::none();
  const auto [count, reason] = query_devices();
  info["device_count"] = count;
  info["device_error"] = reason.empty() ? py::object(py::none()) : py::object(py::str(reason));
  info["max_k_one_pass"] = kMaxPassK;
  return info;
}

std::size_t value_bytes(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "float64") return 8;
  throw std::invalid_argument("dtype: expected 'float32' or 'float64', got '" + dtype + "'");
}

template <class T>
void topk_typed(std::uintptr_t scores, index_t n, index_t m, index_t k, std::uintptr_t indptr,
                std::uintptr_t indices, const std::string& index_dtype, index_t col_base,
                bool largest, std::uintptr_t ids, std::uintptr_t values, std::uintptr_t scratch,
                std::size_t scratch_bytes, std::uintptr_t stream) {
  auto run = [&](auto index_tag) {
    using I = decltype(index_tag);
    topk_rows<T, I>(device_ptr<const T>(scores), n, m, k, device_ptr<const I>(indptr),
                    device_ptr<const I>(indices), col_base, largest, device_ptr<id_t>(ids),
                    device_ptr<T>(values), device_ptr<void>(scratch), scratch_bytes,
                    as_stream(stream));
  };
  if (indptr == 0 || index_dtype == "int32") return run(std::int32_t{});
  if (index_dtype == "int64") return run(std::int64_t{});
  throw std::invalid_argument("index_dtype: expected 'int32' or 'int64', got '" + index_dtype +
                              "'");
}

void py_topk(std::uintptr_t scores, index_t n, index_t m, index_t k, const std::string& dtype,
             std::uintptr_t indptr, std::uintptr_t indices, const std::string& index_dtype,
             index_t col_base, bool largest, std::uintptr_t ids, std::uintptr_t values,
             std::uintptr_t scratch, std::size_t scratch_bytes, std::uintptr_t stream) {
  if (value_bytes(dtype) == 8)
    topk_typed<double>(scores, n, m, k, indptr, indices, index_dtype, col_base, largest, ids,
                       values, scratch, scratch_bytes, stream);
  else
    topk_typed<float>(scores, n, m, k, indptr, indices, index_dtype, col_base, largest, ids,
                      values, scratch, scratch_bytes, stream);
}

std::size_t py_topk_scratch_bytes(index_t n, index_t m, index_t k, const std::string& dtype,
                                  std::size_t budget) {
  return topk_scratch_bytes(n, m, k, value_bytes(dtype), budget);
}

void py_merge_topk(std::uintptr_t a_ids, std::uintptr_t a_values, index_t a_len,
                   std::uintptr_t b_ids, std::uintptr_t b_values, index_t b_len, index_t n,
                   index_t out_len, const std::string& dtype, bool largest,
                   std::uintptr_t out_ids, std::uintptr_t out_values, std::uintptr_t stream) {
  auto run = [&](auto value_tag) {
    using T = decltype(value_tag);
    merge_topk<T>(device_ptr<const id_t>(a_ids), device_ptr<const T>(a_values), a_len,
                  device_ptr<const id_t>(b_ids), device_ptr<const T>(b_values), b_len, n,
                  out_len, largest, device_ptr<id_t>(out_ids), device_ptr<T>(out_values),
                  as_stream(stream));
  };
  if (value_bytes(dtype) == 8)
    run(double{});
  else
    run(float{});
}

}  // namespace
}  // namespace turborec::cuda

PYBIND11_MODULE(_cuda, m) {
  using namespace turborec::cuda;
  m.doc() = "turborec CUDA kernels (device pointers in, asynchronous launches on a stream)";
  m.attr("MAX_K_ONE_PASS") = kMaxPassK;
  m.def("device_count", &device_count,
        "Number of usable CUDA devices; 0 (never an error) without a driver or a device.");
  m.def(
      "device_error", [] { return query_devices().second; },
      "Why device_count() is 0 ('' when devices were found).");
  m.def("build_info", &build_info,
        "CUDA version compiled against, nvcc, archs (TR_CUDA_ARCHS), driver and devices.");
  m.def("topk", &py_topk, py::call_guard<py::gil_scoped_release>(), py::arg("scores"),
        py::arg("n"), py::arg("m"), py::arg("k"), py::arg("dtype"), py::arg("indptr"),
        py::arg("indices"), py::arg("index_dtype"), py::arg("col_base"), py::arg("largest"),
        py::arg("ids"), py::arg("values"), py::arg("scratch"), py::arg("scratch_bytes"),
        py::arg("stream"),
        "Row-wise top-k of a C-contiguous (n, m) device matrix into (n, k) int32 ids and values;\n"
        "indptr/indices (0 for none) exclude global ids col_base + column. See topk.cuh.");
  m.def("topk_scratch_bytes", &py_topk_scratch_bytes, py::arg("n"), py::arg("m"), py::arg("k"),
        py::arg("dtype"), py::arg("budget"),
        "Scratch bytes topk needs (0: none), capped near `budget` but at least one row's need.");
  m.def("merge_topk", &py_merge_topk, py::call_guard<py::gil_scoped_release>(),
        py::arg("a_ids"), py::arg("a_values"), py::arg("a_len"), py::arg("b_ids"),
        py::arg("b_values"), py::arg("b_len"), py::arg("n"), py::arg("out_len"), py::arg("dtype"),
        py::arg("largest"), py::arg("out_ids"), py::arg("out_values"), py::arg("stream"),
        "Merge two row-wise sorted top lists (n, a_len) and (n, b_len) into (n, out_len).");
}
