// Python bindings of sgd.hpp. Each epoch reads the model (bu, bi, pu, qi[, yj]) and writes the
// updated model into the outputs; the caller's arrays are never modified.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <turborec/sgd.hpp>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

SgdRates as_rates(const py::tuple& rates) {
  expect(rates.size() == 10, "rates: expected 10 numbers (lr_bu, lr_bi, lr_pu, lr_qi, lr_yj, reg_bu, ...)");
  double v[10];
  for (int a = 0; a < 10; ++a) v[a] = rates[a].cast<double>();
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
}

// users and items: 1-D int64 arrays of one length, indices in [0, n_users) and [0, n_items).
void check_indices(const py::array& users, const py::array& items, py::ssize_t n_users, py::ssize_t n_items) {
  const std::int64_t* u = input<std::int64_t>(users, "users", 1);
  const std::int64_t* i = input<std::int64_t>(items, "items", 1);
  const py::ssize_t n = users.shape(0);
  expect(items.shape(0) == n, "users, items: expected one length");
  for (py::ssize_t r = 0; r < n; ++r) {
    if (u[r] < 0 || u[r] >= n_users) expect(false, "users: index out of range [0, " + std::to_string(n_users) + ")");
    if (i[r] < 0 || i[r] >= n_items) expect(false, "items: index out of range [0, " + std::to_string(n_items) + ")");
  }
}

// The ratings' arrays, checked: one length, indices in range. Returns n_ratings.
template <class T>
py::ssize_t check_ratings(const py::array& users, const py::array& items, const py::array& ratings,
                          py::ssize_t n_users, py::ssize_t n_items) {
  check_indices(users, items, n_users, n_items);
  input<T>(ratings, "ratings", 1);
  expect(ratings.shape(0) == users.shape(0), "users, items, ratings: expected one length");
  return users.shape(0);
}

// Copies a model array into its output after checking both have the expected shape.
template <class T>
T* copy_into(const py::array& in, py::array& out, const char* in_name, const char* out_name, py::ssize_t rows,
             py::ssize_t cols) {
  const py::ssize_t ndim = cols < 0 ? 1 : 2;
  const T* src = input<T>(in, in_name, ndim);
  T* dst = output<T>(out, out_name, ndim);
  const bool ok_in = in.shape(0) == rows && (ndim == 1 || in.shape(1) == cols);
  const bool ok_out = out.shape(0) == rows && (ndim == 1 || out.shape(1) == cols);
  expect(ok_in, std::string(in_name) + ": unexpected shape " + shape_str(in));
  expect(ok_out, std::string(out_name) + ": unexpected shape " + shape_str(out));
  const py::ssize_t count = rows * (ndim == 1 ? 1 : cols);  // zero factors: nothing to copy
  if (count > 0) std::memcpy(dst, src, sizeof(T) * count);
  return dst;
}

// Block offsets of svd_epoch: n_blocks * n_blocks + 1 entries, from 0, never decreasing, to n.
void check_bounds(const py::array& bounds, py::ssize_t n_blocks, py::ssize_t n) {
  expect(n_blocks >= 1 && n_blocks <= 65536, "n_blocks: expected 1 to 65536, got " + std::to_string(n_blocks));
  const std::int64_t* b = input<std::int64_t>(bounds, "bounds", 1);
  expect(bounds.shape(0) == n_blocks * n_blocks + 1, "bounds: expected n_blocks**2 + 1 entries");
  expect(b[0] == 0 && b[n_blocks * n_blocks] == n, "bounds: expected to run from 0 to the number of ratings");
  for (py::ssize_t a = 0; a < n_blocks * n_blocks; ++a)
    if (b[a] > b[a + 1]) expect(false, "bounds: must never decrease");
}

template <class T>
void mf_epoch_t(bool nmf, const py::array& users, const py::array& items, const py::array& ratings,
                const py::array* bounds, py::ssize_t n_blocks, const py::array& bu, const py::array& bi,
                const py::array& pu, const py::array& qi, double global_mean, bool biased, const SgdRates& rates,
                py::ssize_t n_epochs, int n_threads, py::array& out_bu, py::array& out_bi, py::array& out_pu,
                py::array& out_qi, const std::string& simd = "") {
  expect(pu.ndim() == 2 && qi.ndim() == 2, "pu, qi: expected 2-D arrays");
  const py::ssize_t n_users = pu.shape(0), n_items = qi.shape(0), k = pu.shape(1);
  expect(qi.shape(1) == k, "qi: expected as many factors as pu");
  const py::ssize_t n = check_ratings<T>(users, items, ratings, n_users, n_items);
  if (bounds) check_bounds(*bounds, n_blocks, n);
  T* b_u = copy_into<T>(bu, out_bu, "bu", "out_bu", n_users, -1);
  T* b_i = copy_into<T>(bi, out_bi, "bi", "out_bi", n_items, -1);
  T* p = copy_into<T>(pu, out_pu, "pu", "out_pu", n_users, k);
  T* q = copy_into<T>(qi, out_qi, "qi", "out_qi", n_items, k);
  const auto* u = static_cast<const std::int64_t*>(users.data());
  const auto* i = static_cast<const std::int64_t*>(items.data());
  const T* r = static_cast<const T*>(ratings.data());
  const auto* offsets = bounds ? static_cast<const std::int64_t*>(bounds->data()) : nullptr;
  if (bounds) {  // a grid: every user in one user range b, every item in one item range (b + s) % G
    std::vector<py::ssize_t> user_range(n_users, -1), item_range(n_items, -1);
    for (py::ssize_t s = 0; s < n_blocks; ++s)
      for (py::ssize_t b = 0; b < n_blocks; ++b)
        for (std::int64_t e = offsets[s * n_blocks + b]; e < offsets[s * n_blocks + b + 1]; ++e) {
          py::ssize_t& user = user_range[u[e]];
          py::ssize_t& item = item_range[i[e]];
          if (user < 0) user = b;
          if (item < 0) item = (b + s) % n_blocks;
          if (user != b || item != (b + s) % n_blocks)
            expect(false, "bounds: rating " + std::to_string(e) + " is not in its block (its user or item is in "
                          "another block's range too)");
        }
  }
  py::gil_scoped_release release;
  if (nmf)
    nmf_epoch<T>(u, i, r, n, n_users, n_items, k, static_cast<T>(global_mean), biased, rates, b_u, b_i, p, q);
  else
    svd_epoch<T>(u, i, r, offsets, n_blocks, n_users, n_items, k, static_cast<T>(global_mean), biased, rates, n_epochs,
                 n_threads, b_u, b_i, p, q, simd.empty() ? std::string(simd_level()) : simd);
}

void svd_epoch_any(const py::array& users, const py::array& items, const py::array& ratings, const py::array& bounds,
                   const py::array& bu, const py::array& bi, const py::array& pu, const py::array& qi,
                   double global_mean, bool biased, const py::tuple& rates, py::ssize_t n_blocks,
                   py::ssize_t n_epochs, int n_threads,
                   py::array& out_bu, py::array& out_bi, py::array& out_pu, py::array& out_qi,
                   const std::string& simd) {
  expect_n_threads(n_threads);
  expect(n_epochs >= 1, "n_epochs: expected >= 1, got " + std::to_string(n_epochs));
  expect_simd_level(simd);
  const SgdRates checked = as_rates(rates);
  if (has_dtype<float>(pu))
    return mf_epoch_t<float>(false, users, items, ratings, &bounds, n_blocks, bu, bi, pu, qi, global_mean, biased,
                             checked, n_epochs, n_threads, out_bu, out_bi, out_pu, out_qi, simd);
  mf_epoch_t<double>(false, users, items, ratings, &bounds, n_blocks, bu, bi, pu, qi, global_mean, biased, checked,
                     n_epochs, n_threads, out_bu, out_bi, out_pu, out_qi, simd);
}

void nmf_epoch_any(const py::array& users, const py::array& items, const py::array& ratings, const py::array& bu,
                   const py::array& bi, const py::array& pu, const py::array& qi, double global_mean, bool biased,
                   const py::tuple& rates, int n_threads, py::array& out_bu, py::array& out_bi, py::array& out_pu,
                   py::array& out_qi) {
  expect_n_threads(n_threads);
  const SgdRates checked = as_rates(rates);
  if (has_dtype<float>(pu))
    return mf_epoch_t<float>(true, users, items, ratings, nullptr, 1, bu, bi, pu, qi, global_mean, biased, checked, 1,
                             n_threads, out_bu, out_bi, out_pu, out_qi);
  mf_epoch_t<double>(true, users, items, ratings, nullptr, 1, bu, bi, pu, qi, global_mean, biased, checked, 1,
                     n_threads, out_bu, out_bi, out_pu, out_qi);
}

// N(u) lists: indptr of n_users + 1 entries from 0, never decreasing, within indices; indices in
// [0, n_items). Order within a row is free (it is the order of the implicit sum).
CsrView<std::int64_t> check_implicit(const py::array& indptr, const py::array& indices, py::ssize_t n_users,
                                     py::ssize_t n_items) {
  const std::int64_t* ip = input<std::int64_t>(indptr, "implicit.indptr", 1);
  const std::int64_t* ii = input<std::int64_t>(indices, "implicit.indices", 1);
  expect(indptr.shape(0) == n_users + 1, "implicit.indptr: expected length n_users + 1 = " +
                                             std::to_string(n_users + 1) + ", got " + shape_str(indptr));
  expect(ip[0] == 0, "implicit.indptr: must start at 0");
  for (py::ssize_t r = 0; r < n_users; ++r)
    if (ip[r] > ip[r + 1]) expect(false, "implicit.indptr: must never decrease");
  expect(ip[n_users] <= indices.shape(0), "implicit.indptr: last entry exceeds the indices");
  for (std::int64_t e = 0; e < ip[n_users]; ++e)
    if (ii[e] < 0 || ii[e] >= n_items)
      expect(false, "implicit.indices: " + std::to_string(ii[e]) + " out of range [0, " + std::to_string(n_items) + ")");
  return {ip, ii};
}

template <class T>
void svdpp_epoch_t(const py::array& users, const py::array& items, const py::array& ratings,
                   const py::array& nu_indptr, const py::array& nu_indices, const py::array& bu, const py::array& bi,
                   const py::array& pu, const py::array& qi, const py::array& yj, double global_mean,
                   const SgdRates& rates, bool exact, py::array& out_bu, py::array& out_bi, py::array& out_pu,
                   py::array& out_qi, py::array& out_yj) {
  expect(pu.ndim() == 2 && qi.ndim() == 2, "pu, qi: expected 2-D arrays");
  const py::ssize_t n_users = pu.shape(0), n_items = qi.shape(0), k = pu.shape(1);
  expect(qi.shape(1) == k, "qi: expected as many factors as pu");
  const py::ssize_t n = check_ratings<T>(users, items, ratings, n_users, n_items);
  const CsrView<std::int64_t> implicit = check_implicit(nu_indptr, nu_indices, n_users, n_items);
  T* b_u = copy_into<T>(bu, out_bu, "bu", "out_bu", n_users, -1);
  T* b_i = copy_into<T>(bi, out_bi, "bi", "out_bi", n_items, -1);
  T* p = copy_into<T>(pu, out_pu, "pu", "out_pu", n_users, k);
  T* q = copy_into<T>(qi, out_qi, "qi", "out_qi", n_items, k);
  T* y = copy_into<T>(yj, out_yj, "yj", "out_yj", n_items, k);
  const auto* u = static_cast<const std::int64_t*>(users.data());
  const auto* i = static_cast<const std::int64_t*>(items.data());
  const T* r = static_cast<const T*>(ratings.data());
  py::gil_scoped_release release;
  svdpp_epoch<T>(u, i, r, n, implicit, n_items, k, static_cast<T>(global_mean), rates, exact, b_u, b_i, p, q, y);
}

void svdpp_epoch_any(const py::array& users, const py::array& items, const py::array& ratings,
                     const py::array& nu_indptr, const py::array& nu_indices, const py::array& bu,
                     const py::array& bi, const py::array& pu, const py::array& qi, const py::array& yj,
                     double global_mean, const py::tuple& rates, bool exact, int n_threads, py::array& out_bu,
                     py::array& out_bi, py::array& out_pu, py::array& out_qi, py::array& out_yj) {
  expect_n_threads(n_threads);
  const SgdRates checked = as_rates(rates);
  if (has_dtype<float>(pu))
    return svdpp_epoch_t<float>(users, items, ratings, nu_indptr, nu_indices, bu, bi, pu, qi, yj, global_mean,
                                checked, exact, out_bu, out_bi, out_pu, out_qi, out_yj);
  svdpp_epoch_t<double>(users, items, ratings, nu_indptr, nu_indices, bu, bi, pu, qi, yj, global_mean, checked,
                        exact, out_bu, out_bi, out_pu, out_qi, out_yj);
}

template <class T>
void pair_dots_t(const py::array& a, const py::array& rows_a, const py::array& b, const py::array& rows_b,
                 int n_threads, py::array& out) {
  const T* x = input<T>(a, "a", 2);
  const T* y = input<T>(b, "b", 2);
  const std::int64_t* ra = input<std::int64_t>(rows_a, "rows_a", 1);
  const std::int64_t* rb = input<std::int64_t>(rows_b, "rows_b", 1);
  double* o = output<double>(out, "out", 1);
  const py::ssize_t n = rows_a.shape(0), k = a.shape(1);
  expect(b.shape(1) == k, "b: expected " + std::to_string(k) + " columns like a, got " + shape_str(b));
  expect(rows_b.shape(0) == n && out.shape(0) == n, "rows_a, rows_b, out: expected one length");
  for (py::ssize_t e = 0; e < n; ++e) {
    if (ra[e] < 0 || ra[e] >= a.shape(0)) expect(false, "rows_a: index out of range [0, " + std::to_string(a.shape(0)) + ")");
    if (rb[e] < 0 || rb[e] >= b.shape(0)) expect(false, "rows_b: index out of range [0, " + std::to_string(b.shape(0)) + ")");
  }
  py::gil_scoped_release release;
  pair_dots<T>(x, ra, y, rb, n, k, n_threads, o);
}

void pair_dots_any(const py::array& a, const py::array& rows_a, const py::array& b, const py::array& rows_b,
                   int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  if (has_dtype<float>(a)) return pair_dots_t<float>(a, rows_a, b, rows_b, n_threads, out);
  pair_dots_t<double>(a, rows_a, b, rows_b, n_threads, out);
}

// Every entry of `ranges` (a 1-D int64 array) in [0, n_blocks).
const std::int64_t* range_input(const py::array& ranges, const char* name, py::ssize_t n_blocks) {
  const std::int64_t* r = input<std::int64_t>(ranges, name, 1);
  for (py::ssize_t a = 0; a < ranges.shape(0); ++a)
    if (r[a] < 0 || r[a] >= n_blocks) expect(false, std::string(name) + ": expected ranges in [0, n_blocks)");
  return r;
}

void block_order_any(const py::array& users, const py::array& items, const py::array& user_range,
                     const py::array& item_range, py::ssize_t n_blocks, py::ssize_t chunk, int n_threads,
                     py::array& order, py::array& bounds) {
  expect_n_threads(n_threads);
  expect(n_blocks >= 1 && n_blocks <= 65536, "n_blocks: expected 1 to 65536, got " + std::to_string(n_blocks));
  expect(chunk >= 0, "chunk: expected 0 (none) or a positive int, got " + std::to_string(chunk));
  const std::int64_t* ur = range_input(user_range, "user_range", n_blocks);
  const std::int64_t* ir = range_input(item_range, "item_range", n_blocks);
  check_indices(users, items, user_range.shape(0), item_range.shape(0));
  const py::ssize_t n = users.shape(0);
  const auto* u = static_cast<const std::int64_t*>(users.data());
  const auto* i = static_cast<const std::int64_t*>(items.data());
  std::int64_t* o = output<std::int64_t>(order, "order", 1);
  std::int64_t* b = output<std::int64_t>(bounds, "bounds", 1);
  expect(order.shape(0) == n, "order: expected one entry per rating");
  expect(bounds.shape(0) == n_blocks * n_blocks + 1, "bounds: expected n_blocks**2 + 1 entries");
  py::gil_scoped_release release;
  block_order(u, i, n, ur, ir, n_blocks, chunk, n_threads, o, b);
}

}  // namespace

void bind_sgd(py::module_& m) {
  m.def("svd_epoch", &svd_epoch_any, py::arg("users").noconvert(), py::arg("items").noconvert(),
        py::arg("ratings").noconvert(), py::arg("bounds").noconvert(), py::arg("bu").noconvert(),
        py::arg("bi").noconvert(), py::arg("pu").noconvert(), py::arg("qi").noconvert(), py::arg("global_mean"),
        py::arg("biased"), py::arg("rates"), py::arg("n_blocks"), py::arg("n_epochs"), py::arg("n_threads"),
        py::arg("out_bu").noconvert(), py::arg("out_bi").noconvert(), py::arg("out_pu").noconvert(),
        py::arg("out_qi").noconvert(), py::arg("simd") = "");
  m.def("nmf_epoch", &nmf_epoch_any, py::arg("users").noconvert(), py::arg("items").noconvert(),
        py::arg("ratings").noconvert(), py::arg("bu").noconvert(), py::arg("bi").noconvert(),
        py::arg("pu").noconvert(), py::arg("qi").noconvert(), py::arg("global_mean"), py::arg("biased"),
        py::arg("rates"), py::arg("n_threads"), py::arg("out_bu").noconvert(), py::arg("out_bi").noconvert(),
        py::arg("out_pu").noconvert(), py::arg("out_qi").noconvert());
  m.def("svdpp_epoch", &svdpp_epoch_any, py::arg("users").noconvert(), py::arg("items").noconvert(),
        py::arg("ratings").noconvert(), py::arg("implicit_indptr").noconvert(),
        py::arg("implicit_indices").noconvert(), py::arg("bu").noconvert(), py::arg("bi").noconvert(),
        py::arg("pu").noconvert(), py::arg("qi").noconvert(), py::arg("yj").noconvert(), py::arg("global_mean"),
        py::arg("rates"), py::arg("exact"), py::arg("n_threads"), py::arg("out_bu").noconvert(),
        py::arg("out_bi").noconvert(), py::arg("out_pu").noconvert(), py::arg("out_qi").noconvert(),
        py::arg("out_yj").noconvert());
  m.def("block_order", &block_order_any, py::arg("users").noconvert(), py::arg("items").noconvert(),
        py::arg("user_range").noconvert(), py::arg("item_range").noconvert(), py::arg("n_blocks"),
        py::arg("chunk"), py::arg("n_threads"), py::arg("order").noconvert(), py::arg("bounds").noconvert());
  m.def("pair_dots", &pair_dots_any, py::arg("a").noconvert(), py::arg("rows_a").noconvert(),
        py::arg("b").noconvert(), py::arg("rows_b").noconvert(), py::arg("n_threads"), py::arg("out").noconvert());
}

}  // namespace turborec::bind
