// turborec._native: the C++/OpenMP kernels. One bind_<area>() per kernel header.
#include <turborec/common.hpp>
#include <turborec/simd.hpp>

#include "arrays.hpp"

namespace turborec::bind {
void bind_topk(py::module_& m);
void bind_metrics(py::module_& m);
}

namespace {

pybind11::dict build_info() {
  namespace py = pybind11;
  py::dict info;
#if defined(__clang__)
  info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = std::string("gcc ") + __VERSION__;
#else
  info["compiler"] = "unknown";
#endif
  info["openmp"] = turborec::have_openmp();
#ifdef _OPENMP
  info["openmp_version"] = _OPENMP;
#else
  info["openmp_version"] = py::none();
#endif
  info["simd_compiled"] = TR_SIMD_COMPILED;
  info["simd_selected"] = turborec::simd_level();
  return info;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "turborec C++/OpenMP kernels";
  m.def("build_info", &build_info, "Compiler, OpenMP and SIMD facts of this build.");
  m.def("max_threads", &turborec::max_threads, "omp_get_max_threads(), or 1 without OpenMP.");
  turborec::bind::bind_topk(m);
  turborec::bind::bind_metrics(m);
}
