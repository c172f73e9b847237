// A checked view of a device array through its __cuda_array_interface__ (CuPy, PyTorch, Numba
// and JAX arrays all have one): every CUDA launcher takes Python array objects and reads them
// through here, so a wrong dtype, shape, layout, a read-only output or memory of another device
// is a Python error naming the argument before any kernel runs, never a launch on a bad pointer.
//
// Two steps, so argument errors read the same with or without a GPU:
// 1. device_input / device_output / device_optional read one argument's interface and touch no
//    GPU: a dict with typestr, shape (non-negative ints whose byte size fits), C-contiguous
//    strides, a (pointer, read_only) data pair, no mask. The launcher checks every argument and
//    the shapes that relate them this way first;
// 2. check_on_current_device(views...) then asks the runtime where each non-empty array lives
//    (device or managed memory of the current device). data() refuses to hand out the pointer
//    of a non-empty view that has not been through step 2.
//
// Host-side plain C++ (built by the host compiler with the module's other .cpp files).
#pragma once

#include <pybind11/pybind11.h>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <turborec/common.hpp>

namespace turborec::cuda {

namespace py = pybind11;

template <class T>
class DeviceView {
 public:
  std::vector<index_t> shape;
  std::string name;  // the argument, for error messages

  index_t dim(std::size_t i) const { return shape.at(i); }
  index_t size() const {
    if (!present_) return 0;
    index_t s = 1;
    for (index_t d : shape) s *= d;  // checked not to overflow when the view was made
    return s;
  }
  std::size_t bytes() const { return static_cast<std::size_t>(size()) * sizeof(T); }
  bool absent() const { return !present_; }

  // The device pointer: null for an absent optional array; an error (a bug in the launcher,
  // not the caller's) for a non-empty array whose device was not checked.
  T* data() const {
    if (size() > 0 && present_ && !on_device_)
      throw std::logic_error(name + ": device pointer used before check_on_current_device");
    return ptr_;
  }
  // The address, for comparisons only (disjointness); never dereferenced.
  std::uintptr_t address() const { return reinterpret_cast<std::uintptr_t>(ptr_); }

 private:
  T* ptr_ = nullptr;
  bool present_ = false;
  bool on_device_ = false;

  template <class U>
  friend DeviceView<U> make_view(const py::object&, const std::string&, std::size_t, bool);
  template <class... V>
  friend void check_on_current_device(V&...);
};

// The __cuda_array_interface__ typestr of T on a little-endian machine.
template <class T>
constexpr const char* typestr_of();
template <> constexpr const char* typestr_of<float>() { return "<f4"; }
template <> constexpr const char* typestr_of<double>() { return "<f8"; }
template <> constexpr const char* typestr_of<std::int32_t>() { return "<i4"; }
template <> constexpr const char* typestr_of<std::int64_t>() { return "<i8"; }
template <> constexpr const char* typestr_of<std::uint8_t>() { return "|u1"; }

namespace detail {

inline std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

inline py::dict interface_of(const py::object& a, const std::string& name) {
  if (!py::hasattr(a, "__cuda_array_interface__"))
    throw py::type_error(name + ": expected a device array (with __cuda_array_interface__), got " + type_name(a));
  py::object iface = a.attr("__cuda_array_interface__");
  if (!py::isinstance<py::dict>(iface))
    throw py::type_error(name + ": __cuda_array_interface__ must be a dict, got " + type_name(iface));
  return py::reinterpret_borrow<py::dict>(iface);
}

inline py::object entry(const py::dict& iface, const char* key, const std::string& name) {
  if (!iface.contains(key))
    throw py::type_error(name + ": __cuda_array_interface__ has no '" + key + "' entry");
  return iface[key];
}

// A Python integer (anything with __index__, bools refused) as a C++ integer of type I, else a
// TypeError / ValueError naming the argument and the entry.
template <class I>
I integer(py::handle h, const std::string& name, const char* what) {
  if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    throw py::type_error(name + ": __cuda_array_interface__ " + what + " must be an int, got " + type_name(h));
  const auto value = py::reinterpret_steal<py::int_>(PyNumber_Index(h.ptr()));
  if (!value) throw py::error_already_set();
  if constexpr (std::is_signed_v<I>) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow == 0 && v >= std::numeric_limits<I>::min() && v <= std::numeric_limits<I>::max())
      return static_cast<I>(v);
  } else {
    const unsigned long long v = PyLong_AsUnsignedLongLong(value.ptr());
    if (!PyErr_Occurred() && v <= std::numeric_limits<I>::max()) return static_cast<I>(v);
    PyErr_Clear();
  }
  throw py::value_error(name + ": __cuda_array_interface__ " + what + " out of range: " +
                        std::string(py::str(value)));
}

inline py::tuple tuple_entry(const py::object& v, const std::string& name, const char* what) {
  if (!py::isinstance<py::tuple>(v))
    throw py::type_error(name + ": __cuda_array_interface__ " + what + " must be a tuple, got " + type_name(v));
  return py::reinterpret_borrow<py::tuple>(v);
}

inline std::string shape_str(const std::vector<index_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace detail

// The typestr of a device array ("<f4", ...), for dtype dispatch.
inline std::string typestr(const py::object& a, const std::string& name) {
  const auto type = detail::entry(detail::interface_of(a, name), "typestr", name);
  if (!py::isinstance<py::str>(type))
    throw py::type_error(name + ": __cuda_array_interface__ typestr must be a str, got " + detail::type_name(type));
  return type.cast<std::string>();
}

// Step 1: the interface of `a`, checked without touching the GPU.
template <class T>
DeviceView<T> make_view(const py::object& a, const std::string& name, std::size_t ndim, bool writable) {
  using Element = std::remove_const_t<T>;
  const py::dict iface = detail::interface_of(a, name);
  const std::string type = typestr(a, name);
  if (type != typestr_of<Element>())
    throw py::type_error(name + ": expected typestr " + typestr_of<Element>() + ", got " + type);
  DeviceView<T> out;
  out.name = name;
  const auto shape = detail::tuple_entry(detail::entry(iface, "shape", name), name, "shape");
  for (const auto& d : shape) out.shape.push_back(detail::integer<index_t>(d, name, "shape entry"));
  if (out.shape.size() != ndim)
    throw py::value_error(name + ": expected a " + std::to_string(ndim) + "-D array, got shape " +
                          detail::shape_str(out.shape));
  // Non-negative, and the byte size fits (then size(), bytes() and every offset do too).
  index_t elements = 1;
  constexpr index_t max_elements = std::numeric_limits<index_t>::max() / static_cast<index_t>(sizeof(Element));
  for (index_t d : out.shape) {
    if (d < 0) throw py::value_error(name + ": negative dimension in shape " + detail::shape_str(out.shape));
    if (d > 0 && elements > max_elements / d)
      throw py::value_error(name + ": shape " + detail::shape_str(out.shape) + " is too large");
    elements *= d;
  }
  // C-contiguous: no strides entry (or None), or exactly the row-major strides.
  if (iface.contains("strides") && !iface["strides"].is_none()) {
    const auto strides = detail::tuple_entry(iface["strides"], name, "strides");
    if (strides.size() != ndim)
      throw py::value_error(name + ": __cuda_array_interface__ strides has " + std::to_string(strides.size()) +
                            " entries for a " + std::to_string(ndim) + "-D array");
    index_t expected = sizeof(Element);
    for (std::size_t i = ndim; i-- > 0;) {
      if (out.shape[i] > 1 && detail::integer<index_t>(strides[i], name, "strides entry") != expected)
        throw py::value_error(name + ": expected a C-contiguous array");
      expected *= out.shape[i];
    }
  }
  if (iface.contains("mask") && !iface["mask"].is_none())
    throw py::value_error(name + ": masked device arrays are not supported");
  const auto data = detail::tuple_entry(detail::entry(iface, "data", name), name, "data");
  if (data.size() != 2)
    throw py::value_error(name + ": __cuda_array_interface__ data must be (pointer, read_only)");
  const auto ptr = detail::integer<std::uintptr_t>(data[0], name, "data pointer");
  const int read_only = PyObject_IsTrue(data[1].ptr());
  if (read_only < 0) throw py::error_already_set();
  if (writable && read_only) throw py::value_error(name + ": array is read-only");
  if (elements > 0 && ptr == 0) throw py::value_error(name + ": null data pointer");
  out.ptr_ = reinterpret_cast<T*>(ptr);
  out.present_ = true;
  return out;
}

template <class T>
DeviceView<const T> device_input(const py::object& a, const std::string& name, std::size_t ndim) {
  return make_view<const T>(a, name, ndim, false);
}

template <class T>
DeviceView<T> device_output(const py::object& a, const std::string& name, std::size_t ndim) {
  return make_view<T>(a, name, ndim, true);
}

// An optional input: None gives an absent view (no shape, null pointer).
template <class T>
DeviceView<const T> device_optional(const py::object& a, const std::string& name, std::size_t ndim) {
  return a.is_none() ? DeviceView<const T>{} : device_input<T>(a, name, ndim);
}

// An optional output (scratch): None gives an absent view.
template <class T>
DeviceView<T> device_optional_output(const py::object& a, const std::string& name, std::size_t ndim) {
  return a.is_none() ? DeviceView<T>{} : device_output<T>(a, name, ndim);
}

namespace detail {

// The device that owns `ptr`, or an error naming the array when it is not device memory.
inline int device_of(std::uintptr_t ptr, const std::string& name) {
  cudaPointerAttributes attributes{};
  const cudaError_t err = cudaPointerGetAttributes(&attributes, reinterpret_cast<const void*>(ptr));
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::invalid_argument(name + ": cannot query the pointer (" + cudaGetErrorString(err) + ")");
  }
  if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)
    throw std::invalid_argument(name + ": expected device memory, got a host pointer");
  return attributes.device;
}

}  // namespace detail

// Step 2, after every argument passed step 1: each present, non-empty view is device (or
// managed) memory of the current device. Without a usable device this is a ValueError naming
// the first such argument; nothing is launched.
template <class... V>
void check_on_current_device(V&... views) {
  const std::string* first = nullptr;
  ((first = first ? first : (views.present_ && views.size() > 0 ? &views.name : nullptr)), ...);
  if (first == nullptr) return;
  int current = 0;
  const cudaError_t err = cudaGetDevice(&current);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::invalid_argument(*first + ": cannot check that the array is in device memory: no usable CUDA device (" +
                                cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ")");
  }
  auto check = [current](auto& v) {
    if (!v.present_ || v.size() == 0) return;
    const int owner = detail::device_of(v.address(), v.name);
    if (owner != current)
      throw std::invalid_argument(v.name + ": array is on device " + std::to_string(owner) +
                                  ", the call runs on device " + std::to_string(current));
    v.on_device_ = true;
  };
  (check(views), ...);
}

inline void expect(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// Two device buffers share no byte.
template <class A, class B>
bool disjoint(const DeviceView<A>& a, const DeviceView<B>& b) {
  const auto a0 = a.address(), b0 = b.address();
  return a.size() == 0 || b.size() == 0 || a0 + a.bytes() <= b0 || b0 + b.bytes() <= a0;
}

}  // namespace turborec::cuda
