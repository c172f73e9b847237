// turborec._cuda: the CUDA kernels, bound with pybind11, one bind_<family>() per family.
//
// Launchers take device arrays (anything with __cuda_array_interface__, read through the checked
// view of device_array.hpp) and a stream pointer (`cupy.cuda.get_current_stream().ptr`); the
// family's _cuda.py owns every allocation. Launches are asynchronous on that stream. Importing
// this module needs no driver and no device: nothing touches the GPU until a function is
// called, and device_count() reports 0 instead of failing.
#include <pybind11/pybind11.h>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "cuda_check.cuh"
#include "selection.cuh"  // kMaxPassK, nvcc_version

#ifndef TR_CUDA_ARCHS
#define TR_CUDA_ARCHS "unknown"
#endif

namespace py = pybind11;

namespace turborec::cuda {
void bind_selection(py::module_& m);

namespace {

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

}  // namespace
}  // namespace turborec::cuda

PYBIND11_MODULE(_cuda, m) {
  using namespace turborec::cuda;
  m.doc() = "turborec CUDA kernels (device arrays in, asynchronous launches on a stream)";
  m.def("device_count", &device_count,
        "Number of usable CUDA devices; 0 (never an error) without a driver or a device.");
  m.def(
      "device_error", [] { return query_devices().second; },
      "Why device_count() is 0 ('' when devices were found).");
  m.def("build_info", &build_info,
        "CUDA version compiled against, nvcc, archs (TR_CUDA_ARCHS), driver and devices.");
  bind_selection(m);
}
