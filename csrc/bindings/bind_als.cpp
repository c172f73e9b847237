// Python binding of als.hpp. turborec/als/__init__.py passes the confidences as a checked CSR
// (indices sorted within rows; stored entries used as they are, duplicates included, as implicit)
// with its values in the factors' dtype, and preallocates the outputs.
#include <turborec/als.hpp>

#include <cmath>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

// The shapes every ALS kernel shares: x (n_rows, d), y (n_cols, d), data (>= nnz) in one dtype.
template <class T>
void expect_factors(const py::array& x, const char* x_name, const py::array& y, py::ssize_t n_rows) {
  input<T>(x, x_name, 2);
  input<T>(y, "y", 2);
  expect(x.shape(0) == n_rows, std::string(x_name) + ": expected " + std::to_string(n_rows) +
                                   " rows (one per row of the confidences), got shape " + shape_str(x));
  expect(y.shape(1) == x.shape(1), "y: expected " + std::to_string(x.shape(1)) + " columns like " + x_name +
                                       ", got shape " + shape_str(y));
}

void expect_regularization(double regularization) {
  expect(std::isfinite(regularization) && regularization >= 0,
         "regularization: expected a finite number >= 0, got " + std::to_string(regularization));
}

void als_solve_any(const py::array& indptr, const py::array& indices, const py::array& data, const py::array& x0,
                   const py::array& y, double regularization, int solver, int cg_steps, int n_threads,
                   py::array& out) {
  expect_n_threads(n_threads);
  expect_regularization(regularization);
  expect(solver == kAlsCg || solver == kAlsCholesky, "solver: expected 0 (conjugate gradient) or 1 (Cholesky)");
  expect(cg_steps >= 0, "cg_steps: expected an int >= 0, got " + std::to_string(cg_steps));
  const py::ssize_t n_rows = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
  expect(n_rows >= 0, "indptr: expected a 1-D array of length n_rows + 1");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* values = input<T>(data, "data", 1);
    expect_factors<T>(x0, "x0", y, n_rows);
    T* o = output<T>(out, "out", 2);
    expect(out.shape(0) == x0.shape(0) && out.shape(1) == x0.shape(1),
           "out: expected shape " + shape_str(x0) + " like x0, got " + shape_str(out));
    with_csr(indptr, indices, n_rows, y.shape(0), "cui", [&](auto cui) {
      expect(data.shape(0) >= static_cast<py::ssize_t>(cui.indptr[n_rows]), "data: fewer values than stored entries");
      const T* xs = static_cast<const T*>(x0.data());
      const T* ys = static_cast<const T*>(y.data());
      py::gil_scoped_release release;
      als_solve<T>(cui, values, n_rows, ys, y.shape(0), x0.shape(1), xs, static_cast<T>(regularization), solver,
                   cg_steps, n_threads, o);
    });
  };
  if (has_dtype<double>(x0))
    run(double{});
  else
    run(float{});
}

void als_loss_any(const py::array& indptr, const py::array& indices, const py::array& data, const py::array& x,
                  const py::array& y, double regularization, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  expect_regularization(regularization);
  const py::ssize_t n_rows = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
  expect(n_rows >= 0, "indptr: expected a 1-D array of length n_rows + 1");
  double* o = output<double>(out, "out", 1);
  expect(out.shape(0) == 1, "out: expected shape (1,), got " + shape_str(out));
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* values = input<T>(data, "data", 1);
    expect_factors<T>(x, "x", y, n_rows);
    with_csr(indptr, indices, n_rows, y.shape(0), "cui", [&](auto cui) {
      expect(data.shape(0) >= static_cast<py::ssize_t>(cui.indptr[n_rows]), "data: fewer values than stored entries");
      const T* xs = static_cast<const T*>(x.data());
      const T* ys = static_cast<const T*>(y.data());
      py::gil_scoped_release release;
      o[0] = als_loss<T>(cui, values, n_rows, xs, ys, y.shape(0), x.shape(1), static_cast<T>(regularization),
                         n_threads);
    });
  };
  if (has_dtype<double>(x))
    run(double{});
  else
    run(float{});
}

void als_explicit_any(const py::array& indptr, const py::array& indices, const py::array& data, const py::array& y,
                      double regularization, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  expect_regularization(regularization);
  const py::ssize_t n_rows = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
  expect(n_rows >= 0, "indptr: expected a 1-D array of length n_rows + 1");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* values = input<T>(data, "data", 1);
    expect_factors<T>(out, "out", y, n_rows);
    T* o = output<T>(out, "out", 2);
    with_csr(indptr, indices, n_rows, y.shape(0), "ratings", [&](auto ratings) {
      expect(data.shape(0) >= static_cast<py::ssize_t>(ratings.indptr[n_rows]),
             "data: fewer values than stored entries");
      const T* ys = static_cast<const T*>(y.data());
      py::gil_scoped_release release;
      als_explicit_solve<T>(ratings, values, n_rows, ys, y.shape(1), static_cast<T>(regularization), n_threads, o);
    });
  };
  if (has_dtype<double>(y))
    run(double{});
  else
    run(float{});
}

}  // namespace

void bind_als(py::module_& m) {
  m.def("als_solve", &als_solve_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("x0").noconvert(), py::arg("y").noconvert(), py::arg("regularization"),
        py::arg("solver"), py::arg("cg_steps"), py::arg("n_threads"), py::arg("out").noconvert(),
        "ALS half-step: every row's factors (out) from the confidences (CSR), the other side's factors y and the "
        "current factors x0 (CG's start). See als.hpp.");
  m.def("als_loss", &als_loss_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("regularization"),
        py::arg("n_threads"), py::arg("out").noconvert(),
        "implicit's ALS training loss into out[0] (float64). See als.hpp.");
  m.def("als_explicit_solve", &als_explicit_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("y").noconvert(), py::arg("regularization"), py::arg("n_threads"),
        py::arg("out").noconvert(),
        "Explicit ALS-WR half-step: every row's factors (out) from the ratings (CSR) and the other side's factors y "
        "(weighted-lambda regularization). See als.hpp.");
  m.attr("ALS_SOLVERS") = py::make_tuple("cg", "cholesky");
}

}  // namespace turborec::bind
