// turborec._native: the C++/OpenMP kernels. One bind_<family>() per kernel header, and the
// BLAS/LAPACK registry every family shares.
#include <turborec/common.hpp>
#include <turborec/simd.hpp>

#include "arrays.hpp"

namespace turborec::bind {
void bind_blas(py::module_& m);
void bind_topk(py::module_& m);
void bind_metrics(py::module_& m);
void bind_similarity(py::module_& m);
void bind_sgd(py::module_& m);
void bind_bpr(py::module_& m);
void bind_lmf(py::module_& m);
void bind_als(py::module_& m);
void bind_attention(py::module_& m);
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

// For tests: next_greater of one compiled SIMD level, so every level this CPU runs is checked.
template <class T>
turborec::index_t next_greater_at(const pybind11::array& values, turborec::index_t start, T threshold,
                                  const std::string& level) {
  namespace bind = turborec::bind;
  const T* v = bind::input<T>(values, "values", 1);
  const std::string here = turborec::simd_level();
  const bool supported = level == "scalar" || level == "sse2" || level == here || (level == "avx2" && here == "avx512f");
  bind::expect(supported, "level: " + level + " is not supported by this CPU (" + here + ")");
  bind::expect(start >= 0 && start <= values.shape(0), "start: out of range");
  return turborec::pick_next_greater<T>(level)(v, values.shape(0), start, threshold);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "turborec C++/OpenMP kernels";
  m.def("build_info", &build_info, "Compiler, OpenMP and SIMD facts of this build.");
  m.def("max_threads", &turborec::max_threads, "omp_get_max_threads(), or 1 without OpenMP.");
  m.attr("MAX_THREADS") = turborec::kMaxThreads;
  m.def("_next_greater_f32", &next_greater_at<float>, "Test hook: first index >= start above threshold.");
  m.def("_next_greater_f64", &next_greater_at<double>, "Test hook: first index >= start above threshold.");
  turborec::bind::bind_blas(m);  // first: registers scipy's BLAS/LAPACK for every family
  turborec::bind::bind_topk(m);
  turborec::bind::bind_metrics(m);
  turborec::bind::bind_similarity(m);
  turborec::bind::bind_sgd(m);
  turborec::bind::bind_bpr(m);
  turborec::bind::bind_lmf(m);
  turborec::bind::bind_als(m);
  turborec::bind::bind_attention(m);
}
