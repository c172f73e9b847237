// Python binding of similarity.hpp and corated.hpp. The caller passes A and B^T (or the ratings
// and their transpose) as CSR arrays (one index dtype for both), preallocates the padded
// (row_end - row_begin, k) outputs, and turborec/similarity/_padded.py turns them into a CSR.
#include <turborec/corated.hpp>
#include <turborec/similarity.hpp>

#include <algorithm>
#include <limits>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

// Duplicates would make the int32 co-occurrence counts unbounded: indices must strictly increase
// (with_csr has already checked that they never decrease).
template <class I>
void expect_no_duplicates(CsrView<I> csr, py::ssize_t n_rows, const std::string& name) {
  for (py::ssize_t r = 0; r < n_rows; ++r)
    for (I e = csr.indptr[r] + 1; e < csr.indptr[r + 1]; ++e)
      if (csr.indices[e - 1] == csr.indices[e])
        expect(false, name + ".indices: duplicate entry in a row (sum them first)");
}

// kCounts needs every value to be 1, kSums every product positive (no underflow to 0): a wrong
// claim would be a silently wrong answer.
template <class T>
void expect_accumulate_fits(int accumulate, const T* ad, py::ssize_t a_nnz, const T* bd, py::ssize_t b_nnz) {
  if (accumulate == kCounts) {
    for (py::ssize_t e = 0; e < a_nnz; ++e)
      if (ad[e] != T(1)) expect(false, "accumulate: counts only, but a_data holds a value other than 1");
    for (py::ssize_t e = 0; e < b_nnz; ++e)
      if (bd[e] != T(1)) expect(false, "accumulate: counts only, but bt_data holds a value other than 1");
  } else if (accumulate == kSums) {
    T a_min = std::numeric_limits<T>::infinity(), b_min = a_min;
    for (py::ssize_t e = 0; e < a_nnz; ++e) a_min = std::min(a_min, ad[e]);
    for (py::ssize_t e = 0; e < b_nnz; ++e) b_min = std::min(b_min, bd[e]);
    expect(a_min > 0 && b_min > 0 && !(a_min * b_min < std::numeric_limits<T>::min()),
           "accumulate: sums only, but a product of a_data and bt_data may not be positive");
  }
}

template <class T>
const T* optional_input(const py::object& a, const char* name, py::ssize_t length) {
  if (a.is_none()) return nullptr;
  auto arr = array_argument(a, name);
  const T* p = input<T>(arr, name, 1);
  expect(arr.shape(0) == length, std::string(name) + ": expected length " + std::to_string(length) + ", got " +
                                     std::to_string(arr.shape(0)));
  return p;
}

void sparse_dot_topk_any(const py::array& a_indptr, const py::array& a_indices, const py::array& a_data,
                         py::ssize_t n, const py::array& bt_indptr, const py::array& bt_indices,
                         const py::array& bt_data, py::ssize_t d, py::ssize_t m, py::ssize_t row_begin,
                         py::ssize_t row_end, py::ssize_t k, int combine, const py::object& row_weight,
                         const py::object& col_weight, double shrinkage, double min_score,
                         py::ssize_t min_support, bool exclude_self,
                         int accumulate, py::ssize_t capacity, int n_threads, py::array& out_ids,
                         py::array& out_values) {
  expect_n_threads(n_threads);
  expect(n >= 0 && d >= 0 && m >= 0, "n, d, m: expected non-negative sizes");
  expect_int32_ids(m, "m");
  expect(0 <= row_begin && row_begin <= row_end && row_end <= n,
         "row_begin/row_end: expected 0 <= row_begin <= row_end <= n = " + std::to_string(n));
  expect(k >= 1 && k <= m, "k: expected 1 to m = " + std::to_string(m) + ", got " + std::to_string(k));
  expect_plan_size(capacity, "capacity");
  expect(capacity > k, "capacity: expected more than k");
  expect(combine == kScale || combine == kJaccard, "combine: expected 0 (scale) or 1 (jaccard)");
  expect(accumulate == kSumsAndCounts || accumulate == kCounts || accumulate == kSums,
         "accumulate: expected 0 (sums and counts), 1 (counts) or 2 (sums)");
  expect(accumulate != kSums || (combine == kScale && shrinkage == 0),
         "accumulate: sums only (2) cannot serve jaccard or shrinkage, which need the counts");
  expect(shrinkage >= 0, "shrinkage: expected a number >= 0");
  expect(!(min_score != min_score), "min_score: expected a number, got NaN");
  expect(min_support >= 0, "min_support: expected an int >= 0");
  expect(accumulate != kSums || min_support <= 1, "accumulate: sums only (2) cannot serve min_support > 1");
  expect(!exclude_self || m == n, "exclude_self: needs as many columns as rows (m == n)");
  // The value type is a_data's (float64, else float32: a wrong dtype is then named by input<T>).
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* ad = input<T>(a_data, "a_data", 1);
    const T* bd = input<T>(bt_data, "bt_data", 1);
    const T* rw = optional_input<T>(row_weight, "row_weight", n);
    const T* cw = optional_input<T>(col_weight, "col_weight", m);
    expect((rw == nullptr) == (cw == nullptr), "row_weight/col_weight: give both or neither");
    expect(combine == kScale || rw != nullptr, "row_weight/col_weight: jaccard needs both");
    id_t* ids = output<id_t>(out_ids, "out_ids", 2);
    T* values = output<T>(out_values, "out_values", 2);
    const py::ssize_t rows = row_end - row_begin;
    expect(out_ids.shape(0) == rows && out_ids.shape(1) == k && out_values.shape(0) == rows && out_values.shape(1) == k,
           "out_ids/out_values: expected shape (row_end - row_begin, k) = (" + std::to_string(rows) + ", " +
               std::to_string(k) + ")");
    with_csr(a_indptr, a_indices, n, d, "a", [&](auto a) {
      using IA = std::remove_const_t<std::remove_pointer_t<decltype(a.indptr)>>;
      expect(a_data.shape(0) >= static_cast<py::ssize_t>(a.indptr[n]), "a_data: fewer values than stored entries");
      expect_no_duplicates(a, n, "a");
      with_csr(bt_indptr, bt_indices, d, m, "bt", [&](auto bt) {
        using IB = std::remove_const_t<std::remove_pointer_t<decltype(bt.indptr)>>;
        if constexpr (!std::is_same_v<IA, IB>) {
          expect(false, "bt.indptr: expected the index dtype of a.indptr");
        } else {
          expect(bt_data.shape(0) >= static_cast<py::ssize_t>(bt.indptr[d]),
                 "bt_data: fewer values than stored entries");
          expect_no_duplicates(bt, d, "bt");
          expect_accumulate_fits<T>(accumulate, ad, static_cast<py::ssize_t>(a.indptr[n]), bd,
                                    static_cast<py::ssize_t>(bt.indptr[d]));
          py::gil_scoped_release release;
          sparse_dot_topk<T>(a, ad, n, bt, bd, d, m, row_begin, row_end, k, combine, rw, cw, static_cast<T>(shrinkage),
                             static_cast<T>(min_score), static_cast<std::int64_t>(min_support), exclude_self,
                             accumulate, capacity, n_threads, ids, values);
        }
      });
    });
  };
  if (has_dtype<double>(a_data))
    run(double{});
  else
    run(float{});
}

void expect_corated_args(int measure, py::ssize_t min_support, double shrinkage) {
  expect(measure >= kCoratedCosine && measure <= kPearsonBaseline,
         "measure: expected 0 (corated_cosine), 1 (msd), 2 (pearson) or 3 (pearson_baseline)");
  expect(min_support >= 0, "min_support: expected an int >= 0");
  expect(shrinkage >= 0 && shrinkage <= std::numeric_limits<double>::max(), "shrinkage: expected a finite number >= 0");
}

// Checks the ratings r (n x m), their transpose r_t and their float64 values, then calls
// body(r, values, rt, t_values) with the GIL released.
template <class Body>
void with_ratings(const py::array& indptr, const py::array& indices, const py::array& values, py::ssize_t n,
                  py::ssize_t m, const py::array& t_indptr, const py::array& t_indices, const py::array& t_values,
                  Body body) {
  expect(n >= 0 && m >= 0, "n, m: expected non-negative sizes");
  const double* rv = input<double>(values, "values", 1);
  const double* tv = input<double>(t_values, "t_values", 1);
  with_csr(indptr, indices, n, m, "r", [&](auto r) {
    using IR = std::remove_const_t<std::remove_pointer_t<decltype(r.indptr)>>;
    expect(values.shape(0) >= static_cast<py::ssize_t>(r.indptr[n]), "values: fewer values than stored entries");
    with_csr(t_indptr, t_indices, m, n, "r_t", [&](auto rt) {
      using IT = std::remove_const_t<std::remove_pointer_t<decltype(rt.indptr)>>;
      if constexpr (!std::is_same_v<IR, IT>) {
        expect(false, "r_t.indptr: expected the index dtype of r.indptr");
      } else {
        expect(t_values.shape(0) >= static_cast<py::ssize_t>(rt.indptr[m]),
               "t_values: fewer values than stored entries");
        py::gil_scoped_release release;
        body(r, rv, rt, tv);
      }
    });
  });
}

void corated_similarity_any(const py::array& indptr, const py::array& indices, const py::array& values, py::ssize_t n,
                            py::ssize_t m, const py::array& t_indptr, const py::array& t_indices,
                            const py::array& t_values, int measure, py::ssize_t min_support, double shrinkage,
                            int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  expect(n >= 0 && m >= 0, "n, m: expected non-negative sizes");
  expect_corated_args(measure, min_support, shrinkage);
  double* o = output<double>(out, "out", 2);
  expect(out.shape(0) == n && out.shape(1) == n, "out: expected shape (n, n) = (" + std::to_string(n) + ", " +
                                                     std::to_string(n) + "), got " + shape_str(out));
  with_ratings(indptr, indices, values, n, m, t_indptr, t_indices, t_values, [&](auto r, auto rv, auto rt, auto tv) {
    corated_similarity(r, rv, n, rt, tv, measure, static_cast<std::int64_t>(min_support), shrinkage, n_threads, o);
  });
}

void corated_topk_any(const py::array& indptr, const py::array& indices, const py::array& values, py::ssize_t n,
                      py::ssize_t m, const py::array& t_indptr, const py::array& t_indices, const py::array& t_values,
                      int measure, py::ssize_t min_support, double shrinkage, py::ssize_t row_begin,
                      py::ssize_t row_end, py::ssize_t k, double min_score, py::ssize_t capacity, int n_threads,
                      py::array& out_ids, py::array& out_values) {
  expect_n_threads(n_threads);
  expect(n >= 0 && m >= 0, "n, m: expected non-negative sizes");
  expect_int32_ids(n, "n");
  expect_corated_args(measure, min_support, shrinkage);
  expect(0 <= row_begin && row_begin <= row_end && row_end <= n,
         "row_begin/row_end: expected 0 <= row_begin <= row_end <= n = " + std::to_string(n));
  expect(k >= 1 && k <= n, "k: expected 1 to n = " + std::to_string(n) + ", got " + std::to_string(k));
  expect_plan_size(capacity, "capacity");
  expect(capacity > k, "capacity: expected more than k");
  expect(!(min_score != min_score), "min_score: expected a number, got NaN");
  // The score type is out_values' (float64, else float32: a wrong dtype is then named by output<T>).
  auto run = [&](auto tag) {
    using T = decltype(tag);
    id_t* ids = output<id_t>(out_ids, "out_ids", 2);
    T* scores = output<T>(out_values, "out_values", 2);
    const py::ssize_t rows = row_end - row_begin;
    expect(out_ids.shape(0) == rows && out_ids.shape(1) == k && out_values.shape(0) == rows && out_values.shape(1) == k,
           "out_ids/out_values: expected shape (row_end - row_begin, k) = (" + std::to_string(rows) + ", " +
               std::to_string(k) + ")");
    with_ratings(indptr, indices, values, n, m, t_indptr, t_indices, t_values, [&](auto r, auto rv, auto rt, auto tv) {
      corated_topk<T>(r, rv, n, rt, tv, measure, static_cast<std::int64_t>(min_support), shrinkage, row_begin,
                      row_end, k, static_cast<T>(min_score), capacity, n_threads, ids, scores);
    });
  };
  if (has_dtype<double>(out_values))
    run(double{});
  else
    run(float{});
}

}  // namespace

void bind_similarity(py::module_& m) {
  m.def("sparse_dot_topk", &sparse_dot_topk_any, py::arg("a_indptr").noconvert(), py::arg("a_indices").noconvert(),
        py::arg("a_data").noconvert(), py::arg("n"), py::arg("bt_indptr").noconvert(),
        py::arg("bt_indices").noconvert(), py::arg("bt_data").noconvert(), py::arg("d"), py::arg("m"),
        py::arg("row_begin"), py::arg("row_end"), py::arg("k"), py::arg("combine"), py::arg("row_weight"),
        py::arg("col_weight"), py::arg("shrinkage"), py::arg("min_score"), py::arg("min_support"),
        py::arg("exclude_self").noconvert(), py::arg("accumulate"), py::arg("capacity"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(),
        "Top-k of each row of A @ B.T for CSR A and B^T into padded out_ids / out_values. See similarity.hpp.");
  m.def("corated_similarity", &corated_similarity_any, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("values").noconvert(), py::arg("n"), py::arg("m"),
        py::arg("t_indptr").noconvert(), py::arg("t_indices").noconvert(), py::arg("t_values").noconvert(),
        py::arg("measure"), py::arg("min_support"), py::arg("shrinkage"), py::arg("n_threads"),
        py::arg("out").noconvert(),
        "Surprise's co-rated similarity matrix of the rows of CSR r (with its transpose r_t) into out (n x n, "
        "float64). See corated.hpp.");
  m.def("corated_topk", &corated_topk_any, py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("values").noconvert(), py::arg("n"), py::arg("m"), py::arg("t_indptr").noconvert(),
        py::arg("t_indices").noconvert(), py::arg("t_values").noconvert(), py::arg("measure"), py::arg("min_support"),
        py::arg("shrinkage"), py::arg("row_begin"), py::arg("row_end"), py::arg("k"), py::arg("min_score"),
        py::arg("capacity"), py::arg("n_threads"), py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(),
        "Each row's top-k other rows of CSR r (with its transpose r_t) by a co-rated measure, into padded out_ids / "
        "out_values (float32 or float64). See corated.hpp.");
  m.attr("SIMILARITY_CORATED") = py::make_tuple("corated_cosine", "msd", "pearson", "pearson_baseline");
  m.attr("SIMILARITY_COMBINE") = py::make_tuple("scale", "jaccard");
  m.attr("SIMILARITY_ACCUMULATE") = py::make_tuple("sums_and_counts", "counts", "sums");
}

}  // namespace turborec::bind
