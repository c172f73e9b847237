// Python bindings of bpr.hpp.
#include <turborec/bpr.hpp>

#include <string>
#include <type_traits>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

template <class T, class I>
void run_epochs(CsrView<I> likes, const py::array& rows, py::ssize_t n_users, py::array& user_factors,
                py::array& item_factors, double learning_rate, double regularization, const std::uint64_t* seeds,
                py::ssize_t n_epochs, bool verify, int n_threads, std::int64_t* counts, const std::string& simd,
                bool filter, const py::object& on_epoch) {
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
  // Between epochs, with the GIL: a pending Ctrl-C ends the run (KeyboardInterrupt), then on_epoch.
  const std::function<void(index_t)> after_epoch = [&](index_t e) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!on_epoch.is_none()) on_epoch(e, counts[2 * e], counts[2 * e + 1]);
  };
  py::gil_scoped_release release;
  bpr_epochs(likes, r, static_cast<index_t>(nnz), static_cast<index_t>(n_users), x, y,
             static_cast<index_t>(user_factors.shape(1)), static_cast<T>(learning_rate), static_cast<T>(regularization),
             seeds, static_cast<index_t>(n_epochs), verify, n_threads, counts, simd, filter, after_epoch);
}

void bpr_epochs_any(const py::array& indptr, const py::array& indices, const py::array& rows,
                    py::array& user_factors, py::array& item_factors, const py::array& seeds, double learning_rate,
                    double regularization, bool verify, const py::object& on_epoch, int n_threads,
                    py::array& counts, const std::string& simd, bool filter) {
  expect_n_threads(n_threads);
  if (!on_epoch.is_none() && !PyCallable_Check(on_epoch.ptr()))
    throw py::type_error("on_epoch: expected a callable or None");
  expect_simd_level(simd);
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
  const std::uint64_t* e = input<std::uint64_t>(seeds, "seeds", 1);
  const py::ssize_t n_epochs = seeds.shape(0);
  std::int64_t* c = output<std::int64_t>(counts, "counts", 2);
  expect(counts.shape(0) == n_epochs && counts.shape(1) == 2,
         "counts: expected shape (" + std::to_string(n_epochs) + ", 2) (one row per seed), got " + shape_str(counts));
  with_csr(indptr, indices, n_users, n_items, "user_items", [&](auto likes) {
    using I = std::remove_const_t<std::remove_pointer_t<decltype(likes.indptr)>>;
    if (single)
      run_epochs<float, I>(likes, rows, n_users, user_factors, item_factors, learning_rate, regularization, e,
                           n_epochs, verify, n_threads, c, simd, filter, on_epoch);
    else
      run_epochs<double, I>(likes, rows, n_users, user_factors, item_factors, learning_rate, regularization, e,
                            n_epochs, verify, n_threads, c, simd, filter, on_epoch);
  });
}

}  // namespace

void bind_bpr(py::module_& m) {
  m.def("bpr_epochs", &bpr_epochs_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("rows").noconvert(), py::arg("user_factors").noconvert(), py::arg("item_factors").noconvert(),
        py::arg("seeds").noconvert(), py::arg("learning_rate"), py::arg("regularization"), py::arg("verify"),
        py::arg("on_epoch"), py::arg("n_threads"), py::arg("counts").noconvert(), py::arg("simd") = "", py::arg("filter") = true,
        "BPR epochs, one per seed (turborec/bpr.hpp's bpr_epochs), updating the factors in place; counts[e] = "
        "(correct, skipped) of epoch e, and on_epoch(e, correct, skipped) is called after it (None: not). simd: the instruction-set clone to run, filter: verify through the "
        "liked-items filter (tests; every choice gives the same bits).");
}

}  // namespace turborec::bind
