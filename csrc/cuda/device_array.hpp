// A checked view of a device array through its __cuda_array_interface__ (CuPy, PyTorch, Numba
// and JAX arrays all have one): every CUDA launcher takes Python array objects and reads them
// through here, so a wrong dtype, shape, layout, a read-only output or memory of another device
// is a Python error naming the argument before any kernel runs, never a launch on a bad pointer.
//
// Host-side plain C++ (built by the host compiler with the module's other .cpp files).
#pragma once

#include <pybind11/pybind11.h>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <turborec/common.hpp>

namespace turborec::cuda {

namespace py = pybind11;

template <class T>
struct DeviceView {
  T* data = nullptr;  // null for an absent optional array (and possibly for an empty one)
  std::vector<index_t> shape;

  index_t dim(std::size_t i) const { return shape.at(i); }
  index_t size() const {
    index_t s = 1;
    for (index_t d : shape) s *= d;
    return s;
  }
  std::size_t bytes() const { return static_cast<std::size_t>(size()) * sizeof(T); }
};

// The __cuda_array_interface__ typestr of T on a little-endian machine.
template <class T>
constexpr const char* typestr_of();
template <> constexpr const char* typestr_of<float>() { return "<f4"; }
template <> constexpr const char* typestr_of<double>() { return "<f8"; }
template <> constexpr const char* typestr_of<std::int32_t>() { return "<i4"; }
template <> constexpr const char* typestr_of<std::int64_t>() { return "<i8"; }
template <> constexpr const char* typestr_of<std::uint8_t>() { return "|u1"; }

inline py::dict interface_of(const py::object& a, const std::string& name) {
  if (!py::hasattr(a, "__cuda_array_interface__"))
    throw py::type_error(name + ": expected a device array (with __cuda_array_interface__), got " +
                         std::string(py::str(py::type::of(a).attr("__name__"))));
  return a.attr("__cuda_array_interface__").cast<py::dict>();
}

// The typestr of a device array ("<f4", ...), for dtype dispatch.
inline std::string typestr(const py::object& a, const std::string& name) {
  return interface_of(a, name)["typestr"].cast<std::string>();
}

namespace detail {

inline std::string shape_str(const std::vector<index_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

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

template <class T>
DeviceView<T> view(const py::object& a, const std::string& name, std::size_t ndim, bool writable) {
  const py::dict iface = interface_of(a, name);
  const auto type = iface["typestr"].cast<std::string>();
  if (type != typestr_of<std::remove_const_t<T>>())
    throw py::type_error(name + ": expected typestr " + typestr_of<std::remove_const_t<T>>() + ", got " + type);
  DeviceView<T> out;
  for (const auto& d : iface["shape"].cast<py::tuple>()) out.shape.push_back(d.cast<index_t>());
  if (out.shape.size() != ndim)
    throw std::invalid_argument(name + ": expected a " + std::to_string(ndim) + "-D array, got shape " +
                                shape_str(out.shape));
  // C-contiguous: no strides entry (or None), or exactly the row-major strides.
  if (iface.contains("strides") && !iface["strides"].is_none()) {
    const auto strides = iface["strides"].cast<py::tuple>();
    index_t expected = sizeof(T);
    for (std::size_t i = ndim; i-- > 0;) {
      if (out.shape[i] > 1 && strides[i].cast<index_t>() != expected)
        throw std::invalid_argument(name + ": expected a C-contiguous array");
      expected *= out.shape[i];
    }
  }
  const auto data = iface["data"].cast<py::tuple>();
  const auto ptr = data[0].cast<std::uintptr_t>();
  if (writable && data[1].cast<bool>()) throw std::invalid_argument(name + ": array is read-only");
  if (out.size() > 0) {
    int current = 0;
    TR_CHECK(cudaGetDevice(&current) == cudaSuccess, name + ": no current CUDA device");
    const int owner = device_of(ptr, name);
    if (owner != current)
      throw std::invalid_argument(name + ": array is on device " + std::to_string(owner) +
                                  ", the call runs on device " + std::to_string(current));
  }
  out.data = reinterpret_cast<T*>(ptr);
  return out;
}

}  // namespace detail

template <class T>
DeviceView<const T> device_input(const py::object& a, const std::string& name, std::size_t ndim) {
  return detail::view<const T>(a, name, ndim, false);
}

template <class T>
DeviceView<T> device_output(const py::object& a, const std::string& name, std::size_t ndim) {
  return detail::view<T>(a, name, ndim, true);
}

// An optional input: None gives an empty view with a null pointer.
template <class T>
DeviceView<const T> device_optional(const py::object& a, const std::string& name, std::size_t ndim) {
  return a.is_none() ? DeviceView<const T>{} : device_input<T>(a, name, ndim);
}

inline void expect(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// Two device buffers share no byte.
template <class A, class B>
bool disjoint(const DeviceView<A>& a, const DeviceView<B>& b) {
  const auto a0 = reinterpret_cast<std::uintptr_t>(a.data), b0 = reinterpret_cast<std::uintptr_t>(b.data);
  return a.size() == 0 || b.size() == 0 || a0 + a.bytes() <= b0 || b0 + b.bytes() <= a0;
}

}  // namespace turborec::cuda
