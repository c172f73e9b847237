// Python bindings of topk.hpp: callers preallocate the outputs (int32 ids, values of the
// scores' dtype) and pass CSR exclusions as (indptr, indices) or (None, None).
#include <turborec/topk.hpp>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

GemmFn<float> g_sgemm = nullptr;
GemmFn<double> g_dgemm = nullptr;

template <class T>
GemmFn<T> registered_gemm();
template <>
GemmFn<float> registered_gemm<float>() { return g_sgemm; }
template <>
GemmFn<double> registered_gemm<double>() { return g_dgemm; }

void* capsule_pointer(const py::object& capsule, const char* name) {
  PyObject* obj = capsule.ptr();
  if (!PyCapsule_CheckExact(obj)) throw py::type_error(std::string(name) + ": expected a capsule");
  void* ptr = PyCapsule_GetPointer(obj, PyCapsule_GetName(obj));
  if (ptr == nullptr) throw py::error_already_set();
  return ptr;
}

void set_blas(const py::object& sgemm, const py::object& dgemm) {
  g_sgemm = reinterpret_cast<GemmFn<float>>(capsule_pointer(sgemm, "sgemm"));
  g_dgemm = reinterpret_cast<GemmFn<double>>(capsule_pointer(dgemm, "dgemm"));
}

template <class T>
void topk_typed(const py::array& scores, py::ssize_t k, const py::object& ex_indptr,
                const py::object& ex_indices, bool largest, int n_threads, py::array& out_ids,
                py::array& out_values) {
  const T* s = input<T>(scores, "scores", 2);
  const py::ssize_t n = scores.shape(0), m = scores.shape(1);
  id_t* ids = output<id_t>(out_ids, "out_ids", 2);
  T* values = output<T>(out_values, "out_values", 2);
  expect(out_ids.shape(0) == n && out_ids.shape(1) == k && out_values.shape(0) == n &&
             out_values.shape(1) == k,
         "out_ids/out_values: expected shape (n, k)");
  with_csr(ex_indptr, ex_indices, n, "exclude", [&](auto exclude) {
    py::gil_scoped_release release;
    topk_rows<T>(s, n, m, k, exclude, largest, n_threads, ids, values);
  });
}

void topk(const py::array& scores, py::ssize_t k, const py::object& ex_indptr,
          const py::object& ex_indices, bool largest, int n_threads, py::array& out_ids,
          py::array& out_values) {
  expect(n_threads >= 1, "n_threads: expected >= 1");
  if (has_dtype<double>(scores))
    topk_typed<double>(scores, k, ex_indptr, ex_indices, largest, n_threads, out_ids, out_values);
  else
    topk_typed<float>(scores, k, ex_indptr, ex_indices, largest, n_threads, out_ids, out_values);
}

template <class T>
void topk_dot_typed(const py::array& queries, const py::array& items, py::ssize_t k,
                    const py::object& ex_indptr, const py::object& ex_indices,
                    const py::object& query_scale, const py::object& item_scale, int n_threads,
                    py::array& out_ids, py::array& out_values) {
  const T* q = input<T>(queries, "queries", 2);
  const T* x = input<T>(items, "items", 2);
  const py::ssize_t n = queries.shape(0), m = items.shape(0), d = queries.shape(1);
  expect(items.shape(1) == d, "items: expected the same number of columns as queries");
  id_t* ids = output<id_t>(out_ids, "out_ids", 2);
  T* values = output<T>(out_values, "out_values", 2);
  expect(out_ids.shape(0) == n && out_ids.shape(1) == k && out_values.shape(0) == n &&
             out_values.shape(1) == k,
         "out_ids/out_values: expected shape (n_queries, k)");
  const T* qs = nullptr;
  const T* xs = nullptr;
  if (!query_scale.is_none()) {
    auto qa = query_scale.cast<py::array>(), xa = item_scale.cast<py::array>();
    qs = input<T>(qa, "query_scale", 1);
    xs = input<T>(xa, "item_scale", 1);
    expect(qa.shape(0) == n && xa.shape(0) == m, "query_scale/item_scale: wrong length");
  }
  GemmFn<T> gemm = registered_gemm<T>();
  with_csr(ex_indptr, ex_indices, n, "exclude", [&](auto exclude) {
    py::gil_scoped_release release;
    topk_dot<T>(gemm, q, n, x, m, d, k, exclude, qs, xs, n_threads, ids, values);
  });
}

void topk_dot_any(const py::array& queries, const py::array& items, py::ssize_t k,
                  const py::object& ex_indptr, const py::object& ex_indices,
                  const py::object& query_scale, const py::object& item_scale, int n_threads,
                  py::array& out_ids, py::array& out_values) {
  expect(n_threads >= 1, "n_threads: expected >= 1");
  if (has_dtype<double>(queries))
    topk_dot_typed<double>(queries, items, k, ex_indptr, ex_indices, query_scale, item_scale,
                           n_threads, out_ids, out_values);
  else
    topk_dot_typed<float>(queries, items, k, ex_indptr, ex_indices, query_scale, item_scale,
                          n_threads, out_ids, out_values);
}

}  // namespace

void bind_topk(py::module_& m) {
  m.def("set_blas", &set_blas, py::arg("sgemm"), py::arg("dgemm"),
        "Register BLAS ?gemm from scipy.linalg.cython_blas.__pyx_capi__ capsules.");
  m.def("topk", &topk, py::arg("scores").noconvert(), py::arg("k"), py::arg("exclude_indptr"),
        py::arg("exclude_indices"), py::arg("largest"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert());
  m.def("topk_dot", &topk_dot_any, py::arg("queries").noconvert(), py::arg("items").noconvert(),
        py::arg("k"), py::arg("exclude_indptr"), py::arg("exclude_indices"),
        py::arg("query_scale"), py::arg("item_scale"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert());
}

}  // namespace turborec::bind
