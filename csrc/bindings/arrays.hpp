// Argument checks shared by the binding files. The Python layer has already validated and
// coerced; these checks are the last line that keeps a wrong array from reaching a kernel
// (no silent forcecast: a copy made here would swallow an in-place update).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <limits>
#include <stdexcept>
#include <string>

#include <turborec/common.hpp>
#include <turborec/simd.hpp>

namespace turborec::bind {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// An optional argument (a py::object that is not None) as the caller's own NumPy array: never a
// converted copy, whose buffer would die with this function's local handle while the kernel reads
// it (and which would swallow an in-place update).
inline py::array array_argument(const py::object& a, const char* name) {
  if (!py::isinstance<py::array>(a))
    throw py::type_error(std::string(name) + ": expected a NumPy array, got " +
                         std::string(py::str(py::type::of(a).attr("__name__"))));
  return py::reinterpret_borrow<py::array>(a);
}

// Equivalent dtypes, not the identical descriptor object: arrays that went through pickle carry
// a fresh descriptor for the same type.
template <class T>
bool has_dtype(const py::array& a) {
  return py::isinstance<py::array_t<T>>(a);
}

template <class T>
void check_array(const py::array& a, const char* name, py::ssize_t ndim) {
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(ndim) +
                                "-D array, got shape " + shape_str(a));
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(name) + ": expected a C-contiguous array");
}

template <class T>
const T* input(const py::array& a, const char* name, py::ssize_t ndim) {
  check_array<T>(a, name, ndim);
  return static_cast<const T*>(a.data());
}

template <class T>
T* output(py::array& a, const char* name, py::ssize_t ndim) {
  check_array<T>(a, name, ndim);
  if (!a.writeable()) throw std::invalid_argument(std::string(name) + ": array is read-only");
  return static_cast<T*>(a.mutable_data());
}

inline void expect(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// A kernel's instruction-set clone named by the caller: "" (the CPU's best) or a level this CPU
// runs. The kernels that take one give the same bits on every level (tests run them all).
inline void expect_simd_level(const std::string& simd) {
  const std::string here = simd_level();
  const bool supported = simd.empty() || simd == "sse2" || simd == "scalar" || simd == here ||
                         (simd == "avx2" && here == "avx512f");
  expect(supported, "simd: " + simd + " is not supported by this CPU (" + here + ")");
}

// A thread count the kernels can run: [1, kMaxThreads] (issue 7: 100000 crashed OpenMP).
inline void expect_n_threads(int n_threads) {
  expect(n_threads >= 1 && n_threads <= kMaxThreads,
         "n_threads: expected 1 to " + std::to_string(kMaxThreads) + ", got " + std::to_string(n_threads));
}

// A blocking-plan size (chunk, capacity, block rows / items): positive, and small enough that
// the products the kernels form from it (buffer sizes, block counts) cannot overflow (issue 7).
inline void expect_plan_size(py::ssize_t value, const char* name) {
  if (value < 1 || value > std::numeric_limits<std::int32_t>::max())
    expect(false, std::string(name) + ": expected 1 to 2**31 - 1, got " + std::to_string(value));
}

// Ids handed back to Python are int32: a dimension whose ids would not fit is an error.
inline void expect_int32_ids(py::ssize_t extent, const std::string& name) {
  expect(extent <= static_cast<py::ssize_t>(std::numeric_limits<id_t>::max()) + 1,
         name + ": " + std::to_string(extent) + " ids do not fit int32");
}

// Calls body(CsrView<I>) with I matching the index dtype (int32 or int64) of a CSR matrix given
// as (indptr, indices), after checking its structure; (None, None) gives an empty view.
// The check reads nothing out of bounds: a first pass over indptr alone (length n_rows + 1,
// starts at 0, never decreases, ends within indices), then one over the indices it delimits
// (sorted within each row; in [0, n_cols) unless n_cols is negative).
template <class F>
void with_csr(const py::object& indptr, const py::object& indices, py::ssize_t n_rows, py::ssize_t n_cols,
              const std::string& name, F&& body) {
  if (indptr.is_none() != indices.is_none()) expect(false, name + ": give indptr and indices, or neither");
  if (indptr.is_none()) return body(CsrView<std::int32_t>{});
  auto p = indptr.cast<py::array>(), i = indices.cast<py::array>();
  auto run = [&](auto tag) {
    using I = decltype(tag);
    const I* ip = input<I>(p, (name + ".indptr").c_str(), 1);
    const I* ii = input<I>(i, (name + ".indices").c_str(), 1);
    expect(p.shape(0) == n_rows + 1, name + ".indptr: expected length n_rows + 1 = " + std::to_string(n_rows + 1) +
                                         ", got " + std::to_string(p.shape(0)));
    expect(ip[0] == 0, name + ".indptr: must start at 0");
    for (py::ssize_t r = 0; r < n_rows; ++r)  // messages built only on failure: this is hot
      if (ip[r] > ip[r + 1]) expect(false, name + ".indptr: must never decrease");
    expect(static_cast<py::ssize_t>(ip[n_rows]) <= i.shape(0), name + ".indptr: last entry exceeds nnz");
    for (py::ssize_t r = 0; r < n_rows; ++r)
      for (I e = ip[r]; e < ip[r + 1]; ++e) {
        if (e > ip[r] && ii[e - 1] > ii[e]) expect(false, name + ".indices: must be sorted within each row");
        if (ii[e] < 0 || (n_cols >= 0 && static_cast<py::ssize_t>(ii[e]) >= n_cols))
          expect(false, name + ".indices: " + std::to_string(ii[e]) + " out of range [0, " +
                            (n_cols >= 0 ? std::to_string(n_cols) : std::string("...")) + ")");
      }
    return body(CsrView<I>{ip, ii});
  };
  if (has_dtype<std::int64_t>(p)) return run(std::int64_t{});
  return run(std::int32_t{});
}

}  // namespace turborec::bind
