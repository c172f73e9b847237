// Python bindings of lmf.hpp.
#include <turborec/lmf.hpp>

#include <string>
#include <type_traits>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

bool apart(const py::array& a, const py::array& b) {
  const char* p = static_cast<const char*>(a.data());
  const char* q = static_cast<const char*>(b.data());
  return a.nbytes() == 0 || b.nbytes() == 0 || p + a.nbytes() <= q || q + b.nbytes() <= p;
}

template <class T>
void run_update(const py::array& indptr, const py::array& indices, const py::array& data, const py::array& other,
                py::array& factors, py::array& deriv_sum_sq, double learning_rate, double regularization,
                py::ssize_t neg_prop, std::uint64_t seed, int n_threads, std::int64_t* drawn) {
  const T* y = input<T>(other, "other", 2);
  T* x = output<T>(factors, "factors", 2);
  T* g = output<T>(deriv_sum_sq, "deriv_sum_sq", 2);
  const py::ssize_t n_rows = factors.shape(0), n_other = other.shape(0), n_cols = factors.shape(1);
  expect(n_cols >= 1, "factors: expected at least one column");
  expect(other.shape(1) == n_cols, "other: expected " + std::to_string(n_cols) + " columns like factors, got shape " +
                                       shape_str(other));
  expect(deriv_sum_sq.shape(0) == n_rows && deriv_sum_sq.shape(1) == n_cols,
         "deriv_sum_sq: expected the shape of factors " + shape_str(factors) + ", got " + shape_str(deriv_sum_sq));
  expect(apart(factors, other) && apart(factors, deriv_sum_sq) && apart(other, deriv_sum_sq),
         "factors, other, deriv_sum_sq: must not share memory");
  expect(neg_prop >= 0 && neg_prop <= (py::ssize_t{1} << 31), "neg_prop: expected an int in [0, 2**31]");
  with_csr(indptr, indices, n_rows, n_other, "user_items", [&](auto likes) {
    const py::ssize_t nnz = likes.row_begin(n_rows);
    expect(nnz <= (py::ssize_t{1} << 32), "user_items: at most 2**32 stored interactions, got " + std::to_string(nnz));
    const T* c = input<T>(data, "data", 1);
    expect(data.shape(0) == nnz, "data: expected one value per stored interaction (" + std::to_string(nnz) +
                                     "), got " + std::to_string(data.shape(0)));
    for (py::ssize_t k = 0; k < nnz; ++k)
      if (!(std::isfinite(c[k]) && c[k] > 0))  // the message is built only on failure
        expect(false, "data: expected finite values > 0, got " + std::to_string(c[k]) + " at entry " +
                          std::to_string(k));
    py::gil_scoped_release release;
    lmf_update(likes, c, static_cast<index_t>(n_rows), y, x, g, static_cast<index_t>(n_cols),
               static_cast<T>(learning_rate), static_cast<T>(regularization), static_cast<index_t>(neg_prop), seed,
               n_threads, drawn);
  });
}

void lmf_update_any(const py::array& indptr, const py::array& indices, const py::array& data, const py::array& other,
                    py::array& factors, py::array& deriv_sum_sq, double learning_rate, double regularization,
                    py::ssize_t neg_prop, std::uint64_t seed, int n_threads, py::array& drawn) {
  expect_n_threads(n_threads);
  std::int64_t* d = output<std::int64_t>(drawn, "drawn", 1);
  expect(drawn.shape(0) == 1, "drawn: expected shape (1,), got " + shape_str(drawn));
  if (has_dtype<float>(factors))
    run_update<float>(indptr, indices, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop,
                      seed, n_threads, d);
  else if (has_dtype<double>(factors))
    run_update<double>(indptr, indices, data, other, factors, deriv_sum_sq, learning_rate, regularization, neg_prop,
                       seed, n_threads, d);
  else
    throw py::type_error("factors: expected dtype float32 or float64, got " + std::string(py::str(factors.dtype())));
}

}  // namespace

void bind_lmf(py::module_& m) {
  m.def("lmf_update", &lmf_update_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("other").noconvert(), py::arg("factors").noconvert(),
        py::arg("deriv_sum_sq").noconvert(), py::arg("learning_rate"), py::arg("regularization"),
        py::arg("neg_prop"), py::arg("seed"), py::arg("n_threads"), py::arg("drawn").noconvert(),
        "One LMF half-step (turborec/lmf.hpp), updating factors and deriv_sum_sq in place; drawn = negatives.");
}

}  // namespace turborec::bind
