// The BLAS/LAPACK registry's binding: fills blas.hpp's registry from scipy's capsules when
// turborec._native is imported, and small checked hooks (_gemm_abt, _syrk_ata, _gemv, _potrf,
// _posv) that run each wrapper on NumPy arrays, so tests compare every routine with NumPy.
#include <turborec/blas.hpp>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

template <class Fn>
Fn capsule_function(const py::dict& capi, const char* name) {
  if (!capi.contains(name)) throw py::import_error(std::string("scipy does not export ") + name);
  PyObject* obj = py::object(capi[name]).ptr();
  if (!PyCapsule_CheckExact(obj)) throw py::type_error(std::string(name) + ": expected a capsule");
  void* ptr = PyCapsule_GetPointer(obj, PyCapsule_GetName(obj));
  if (ptr == nullptr) throw py::error_already_set();
  return reinterpret_cast<Fn>(ptr);
}

template <class T>
void register_precision(const py::dict& blas_capi, const py::dict& lapack_capi, char p) {
  auto name = [p](const char* routine) { return std::string(1, p) + routine; };
  Blas<T>& registry = blas_registry<T>();
  registry.gemm = capsule_function<GemmFn<T>>(blas_capi, name("gemm").c_str());
  registry.syrk = capsule_function<SyrkFn<T>>(blas_capi, name("syrk").c_str());
  registry.gemv = capsule_function<GemvFn<T>>(blas_capi, name("gemv").c_str());
  registry.potrf = capsule_function<PotrfFn<T>>(lapack_capi, name("potrf").c_str());
  registry.posv = capsule_function<PosvFn<T>>(lapack_capi, name("posv").c_str());
}

template <class T>
py::array_t<T> matrix(index_t rows, index_t cols) {
  return py::array_t<T>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
}

// Test hooks: fresh outputs, inputs checked like every binding's.
template <class T>
py::array_t<T> gemm_abt_hook(const py::array& a, const py::array& b) {
  const T* pa = input<T>(a, "a", 2);
  const T* pb = input<T>(b, "b", 2);
  expect(a.shape(1) == b.shape(1), "b: expected as many columns as a");
  auto c = matrix<T>(a.shape(0), b.shape(0));
  gemm_abt<T>(pa, a.shape(0), pb, b.shape(0), a.shape(1), c.mutable_data());
  return c;
}

template <class T>
py::array_t<T> syrk_hook(const py::array& a) {
  const T* pa = input<T>(a, "a", 2);
  auto c = matrix<T>(a.shape(1), a.shape(1));
  syrk_ata<T>(pa, a.shape(0), a.shape(1), T(1), T(0), c.mutable_data());
  return c;
}

template <class T>
py::array_t<T> gemv_hook(const py::array& a, const py::array& x) {
  const T* pa = input<T>(a, "a", 2);
  const T* px = input<T>(x, "x", 1);
  expect(x.shape(0) == a.shape(1), "x: expected one entry per column of a");
  py::array_t<T> y(a.shape(0));
  gemv<T>(pa, a.shape(0), a.shape(1), px, T(1), T(0), y.mutable_data());
  return y;
}

template <class T>
py::tuple potrf_hook(const py::array& a) {
  const T* pa = input<T>(a, "a", 2);
  expect(a.shape(0) == a.shape(1), "a: expected a square matrix");
  auto l = matrix<T>(a.shape(0), a.shape(0));
  std::copy(pa, pa + a.size(), l.mutable_data());
  const int info = potrf<T>(l.mutable_data(), a.shape(0));
  return py::make_tuple(l, info);
}

template <class T>
py::tuple posv_hook(const py::array& a, const py::array& b) {
  const T* pa = input<T>(a, "a", 2);
  const T* pb = input<T>(b, "b", 2);
  expect(a.shape(0) == a.shape(1) && b.shape(1) == a.shape(0), "a, b: expected a (d, d) and b (nrhs, d)");
  auto factor = matrix<T>(a.shape(0), a.shape(0));
  auto x = matrix<T>(b.shape(0), b.shape(1));
  std::copy(pa, pa + a.size(), factor.mutable_data());
  std::copy(pb, pb + b.size(), x.mutable_data());
  const int info = posv<T>(factor.mutable_data(), a.shape(0), x.mutable_data(), b.shape(0));
  return py::make_tuple(x, info);
}

template <class T>
void def_hooks(py::module_& m, const std::string& suffix) {
  m.def(("_gemm_abt" + suffix).c_str(), &gemm_abt_hook<T>, py::arg("a").noconvert(), py::arg("b").noconvert(),
        "Test hook: a @ b.T through the registry.");
  m.def(("_syrk_ata" + suffix).c_str(), &syrk_hook<T>, py::arg("a").noconvert(), "Test hook: a.T @ a.");
  m.def(("_gemv" + suffix).c_str(), &gemv_hook<T>, py::arg("a").noconvert(), py::arg("x").noconvert(),
        "Test hook: a @ x.");
  m.def(("_potrf" + suffix).c_str(), &potrf_hook<T>, py::arg("a").noconvert(),
        "Test hook: (L in the lower triangle, info) of the Cholesky factor of a.");
  m.def(("_posv" + suffix).c_str(), &posv_hook<T>, py::arg("a").noconvert(), py::arg("b").noconvert(),
        "Test hook: (X, info) with a @ X.T = b.T, each row of b one right-hand side.");
}

}  // namespace

void bind_blas(py::module_& m) {
  const py::dict blas_capi = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
  const py::dict lapack_capi = py::module_::import("scipy.linalg.cython_lapack").attr("__pyx_capi__");
  register_precision<float>(blas_capi, lapack_capi, 's');
  register_precision<double>(blas_capi, lapack_capi, 'd');
  def_hooks<float>(m, "_f32");
  def_hooks<double>(m, "_f64");
}

}  // namespace turborec::bind
