// Python bindings of bpr.hpp.
#include <turborec/bpr.hpp>

#include <string>
#include <type_traits>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

template <class T, class I>
void run_epoch(CsrView<I> likes, const py::array& rows, py::ssize_t n_users, py::array& user_factors,
               py::array& item_factors, double learning_rate, double regularization, std::uint64_t seed, bool verify,
               int n_threads, std::int64_t* counts, const std::string& simd) {
  const py::ssize_t nnz = static_cast<py::ssize_t>(likes.indptr[n_users]);
  const I* r = input<I>(rows, "rows", 1);
  expect(rows.shape(0) == nnz, "rows: expected one entry per stored interaction (" + std::to_string(nnz) +
                                   "), got " + std::to_string(rows.shape(0)));
  for (py::ssize_t u = 0; u < n_users; ++u)
    for (I k = likes.indptr[u]; k < likes.indptr[u + 1]; ++k)
      if (r[k] != static_cast<I>(u)) expect(false, "rows: entry " + std::to_string(k) + " is not the row holding it");
  expect(nnz <= (py::ssize_t{1} << 32), "user_items: at most 2**32 stored interactions, got " + std::to_string(nnz));
  T* x = output<T>(user_factors, "user_factors", 2);
  T* y = output<T>(item_factors, "item_factors", 2);
  py::gil_scoped_release release;
  bpr_epoch(likes, r, static_cast<index_t>(nnz), x, y, static_cast<index_t>(user_factors.shape(1)),
            static_cast<T>(learning_rate), static_cast<T>(regularization), seed, verify, n_threads, counts, simd);
}

void bpr_epoch_any(const py::array& indptr, const py::array& indices, const py::array& rows,
                   py::array& user_factors, py::array& item_factors, double learning_rate, double regularization,
                   std::uint64_t seed, bool verify, int n_threads, py::array& counts, const std::string& simd) {
  expect_n_threads(n_threads);
  {  // "" (the CPU's best) or a level this CPU runs: every level gives the same bits
    const std::string here = simd_level();
    const bool supported = simd.empty() || simd == "sse2" || simd == "scalar" || simd == here ||
                           (simd == "avx2" && here == "avx512f");
    expect(supported, "simd: " + simd + " is not supported by this CPU (" + here + ")");
  }
  const bool single = has_dtype<float>(user_factors);
  if (!single && !has_dtype<double>(user_factors))
    throw py::type_error("user_factors: expected dtype float32 or float64, got " +
                         std::string(py::str(user_factors.dtype())));
  if (single) {
    output<float>(user_factors, "user_factors", 2);
    output<float>(item_factors, "item_factors", 2);
  } else {
    output<double>(user_factors, "user_factors", 2);
    output<double>(item_factors, "item_factors", 2);
  }
  const py::ssize_t n_users = user_factors.shape(0), n_items = item_factors.shape(0);
  expect(user_factors.shape(1) >= 1, "user_factors: expected at least one column (the item bias's)");
  expect(item_factors.shape(1) == user_factors.shape(1),
         "item_factors: expected " + std::to_string(user_factors.shape(1)) + " columns like user_factors, got shape " +
             shape_str(item_factors));
  {  // the kernel updates the two as distinct memory
    const char* a = static_cast<const char*>(user_factors.data());
    const char* b = static_cast<const char*>(item_factors.data());
    const bool apart = user_factors.nbytes() == 0 || item_factors.nbytes() == 0 || a + user_factors.nbytes() <= b ||
                       b + item_factors.nbytes() <= a;
    expect(apart, "item_factors: must not share memory with user_factors");
  }
  std::int64_t* c = output<std::int64_t>(counts, "counts", 1);
  expect(counts.shape(0) == 2, "counts: expected shape (2,), got " + shape_str(counts));
  with_csr(indptr, indices, n_users, n_items, "user_items", [&](auto likes) {
    using I = std::remove_const_t<std::remove_pointer_t<decltype(likes.indptr)>>;
    if (single)
      run_epoch<float, I>(likes, rows, n_users, user_factors, item_factors, learning_rate, regularization, seed,
                          verify, n_threads, c, simd);
    else
      run_epoch<double, I>(likes, rows, n_users, user_factors, item_factors, learning_rate, regularization, seed,
                           verify, n_threads, c, simd);
  });
}

}  // namespace

void bind_bpr(py::module_& m) {
  m.def("bpr_epoch", &bpr_epoch_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("rows").noconvert(), py::arg("user_factors").noconvert(), py::arg("item_factors").noconvert(),
        py::arg("learning_rate"), py::arg("regularization"), py::arg("seed"), py::arg("verify"),
        py::arg("n_threads"), py::arg("counts").noconvert(), py::arg("simd") = "",
        "One BPR epoch (turborec/bpr.hpp), updating the factors in place; counts = (correct, skipped). simd: "
        "the instruction-set clone to run (tests; '' = the CPU's best).");
}

}  // namespace turborec::bind
