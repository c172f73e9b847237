// Shared pieces of every kernel: index types, argument checks, and the rule that no
// exception escapes an OpenMP parallel region (captured, then rethrown after the join).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace turborec {

using index_t = std::int64_t;  // sizes and loop counters
using id_t = std::int32_t;     // item / user ids handed back to users

// The most threads a kernel is asked for: far above any machine; OpenMP crashes the process
// when it cannot create the threads asked for (100000 did). turborec/_threads.py refuses the same.
inline constexpr int kMaxThreads = 4096;

// User errors become std::invalid_argument, which pybind11 maps to ValueError.
#define TR_CHECK(cond, msg)                                   \
  do {                                                        \
    if (!(cond)) throw std::invalid_argument(std::string(msg)); \
  } while (0)

// A row-compressed sparse matrix seen through its two index arrays (values unused here).
// A null indptr means "no matrix": every row is empty.
template <class I>
struct CsrView {
  const I* indptr = nullptr;   // n_rows + 1
  const I* indices = nullptr;  // indptr[n_rows]

  bool empty() const { return indptr == nullptr; }
  index_t row_begin(index_t r) const { return empty() ? 0 : static_cast<index_t>(indptr[r]); }
  index_t row_end(index_t r) const { return empty() ? 0 : static_cast<index_t>(indptr[r + 1]); }
};

// Runs bodies inside a parallel region and keeps the first exception any of them threw;
// rethrow() after the region re-raises it on the calling thread.
class ExceptionCapture {
 public:
  template <class F>
  void run(F&& body) noexcept {
    try {
      body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  // Cheap to poll from every iteration: lets the other threads skip their remaining work.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::mutex mutex_;
  std::atomic<bool> failed_{false};
};

inline bool have_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace turborec
