// TR_CUDA_CHECK: turn a failed CUDA runtime call into std::runtime_error (RuntimeError in
// Python) that names the call, the error and the place. Never abort(): a failed launch in a
// library must reach the caller, not end the interpreter.
//
// Host-side only and plain C++, so module.cpp (built by the host compiler) can use it too.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace turborec::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file,
                                          int line) {
  throw std::runtime_error(std::string("CUDA error ") + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ") in " + expr + " at " + file + ":" +
                           std::to_string(line));
}

}  // namespace turborec::cuda

#define TR_CUDA_CHECK(expr)                                                      \
  do {                                                                           \
    const cudaError_t tr_cuda_err_ = (expr);                                     \
    if (tr_cuda_err_ != cudaSuccess)                                             \
      ::turborec::cuda::throw_cuda_error(tr_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)
