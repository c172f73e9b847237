// Python bindings of attention.hpp: every array checked (dtype, ndim, C order, shapes against
// each other, outputs writeable, lengths in range) before the GIL is released and a kernel runs.
#include <turborec/attention.hpp>

#include "arrays.hpp"

namespace turborec::bind {
namespace {

template <class T>
void gelu_typed(const py::array& x, int n_threads, py::array& out) {
  const T* px = input<T>(x, "x", 2);
  T* po = output<T>(out, "out", 2);
  expect(out.shape(0) == x.shape(0) && out.shape(1) == x.shape(1), "out: expected the shape of x " + shape_str(x));
  py::gil_scoped_release release;
  gelu(px, static_cast<index_t>(x.size()), n_threads, po);
}

void gelu_any(const py::array& x, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  if (has_dtype<double>(x)) return gelu_typed<double>(x, n_threads, out);
  gelu_typed<float>(x, n_threads, out);
}

template <class T>
void linear_typed(const py::array& x, const py::array& w, const py::object& b, int act, py::ssize_t block_rows,
                  int n_threads, py::array& out) {
  const T* px = input<T>(x, "x", 2);
  const T* pw = input<T>(w, "weight", 2);
  expect(w.shape(1) == x.shape(1), "weight: expected " + std::to_string(x.shape(1)) + " columns like x, got shape " +
                                       shape_str(w));
  const T* pb = nullptr;
  if (!b.is_none()) {
    auto bias = array_argument(b, "bias");
    pb = input<T>(bias, "bias", 1);
    expect(bias.shape(0) == w.shape(0), "bias: expected length " + std::to_string(w.shape(0)));
  }
  T* po = output<T>(out, "out", 2);
  expect(out.shape(0) == x.shape(0) && out.shape(1) == w.shape(0), "out: expected shape (rows of x, rows of weight)");
  expect(act >= 0 && act <= 2, "activation: expected 0 (none), 1 (gelu) or 2 (relu)");
  py::gil_scoped_release release;
  linear(px, x.shape(0), x.shape(1), pw, w.shape(0), pb, static_cast<Activation>(act), block_rows, n_threads, po);
}

void linear_any(const py::array& x, const py::array& w, const py::object& b, int act, py::ssize_t block_rows,
                int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  expect_plan_size(block_rows, "block_rows");
  if (has_dtype<double>(x)) return linear_typed<double>(x, w, b, act, block_rows, n_threads, out);
  linear_typed<float>(x, w, b, act, block_rows, n_threads, out);
}

template <class T>
void layer_norm_typed(const py::array& x, const py::object& residual, const py::array& weight, const py::array& bias,
                      double eps, int n_threads, py::array& out) {
  const T* px = input<T>(x, "x", 2);
  const T* pr = nullptr;
  if (!residual.is_none()) {
    auto r = array_argument(residual, "residual");
    pr = input<T>(r, "residual", 2);
    expect(r.shape(0) == x.shape(0) && r.shape(1) == x.shape(1), "residual: expected the shape of x " + shape_str(x));
  }
  const T* pw = input<T>(weight, "weight", 1);
  const T* pb = input<T>(bias, "bias", 1);
  expect(weight.shape(0) == x.shape(1) && bias.shape(0) == x.shape(1),
         "weight, bias: expected length " + std::to_string(x.shape(1)) + " (columns of x)");
  T* po = output<T>(out, "out", 2);
  expect(out.shape(0) == x.shape(0) && out.shape(1) == x.shape(1), "out: expected the shape of x " + shape_str(x));
  expect(eps >= 0 && std::isfinite(eps), "eps: expected a finite value >= 0");
  py::gil_scoped_release release;
  layer_norm(px, pr, x.shape(0), x.shape(1), pw, pb, eps, n_threads, po);
}

void layer_norm_any(const py::array& x, const py::object& residual, const py::array& weight, const py::array& bias,
                    double eps, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  if (has_dtype<double>(x)) return layer_norm_typed<double>(x, residual, weight, bias, eps, n_threads, out);
  layer_norm_typed<float>(x, residual, weight, bias, eps, n_threads, out);
}

template <class T>
void attention_typed(const py::array& q, const py::array& k, const py::array& v, const py::array& lengths,
                     py::ssize_t n_heads, bool causal, bool last_only, int n_threads, py::array& out) {
  const T* pq = input<T>(q, "q", 3);
  const T* pk = input<T>(k, "k", 3);
  const T* pv = input<T>(v, "v", 3);
  const std::int32_t* pl = input<std::int32_t>(lengths, "lengths", 1);
  T* po = output<T>(out, "out", 3);
  const py::ssize_t n = k.shape(0), L = k.shape(1), D = k.shape(2);
  expect(v.shape(0) == n && v.shape(1) == L && v.shape(2) == D, "v: expected the shape of k " + shape_str(k));
  const py::ssize_t lq = last_only ? 1 : L;
  expect(q.shape(0) == n && q.shape(1) == lq && q.shape(2) == D,
         "q: expected shape (" + std::to_string(n) + ", " + std::to_string(lq) + ", " + std::to_string(D) + "), got " +
             shape_str(q));
  expect(out.shape(0) == n && out.shape(1) == lq && out.shape(2) == D, "out: expected the shape of q");
  expect(lengths.shape(0) == n, "lengths: expected one entry per sequence");
  expect(n_heads >= 1 && D % n_heads == 0, "n_heads: expected a divisor of the hidden size " + std::to_string(D));
  for (py::ssize_t b = 0; b < n; ++b)
    if (pl[b] < 1 || pl[b] > L) expect(false, "lengths: " + std::to_string(pl[b]) + " out of range [1, " +
                                                  std::to_string(L) + "]");
  py::gil_scoped_release release;
  masked_attention(pq, pk, pv, pl, n, L, D, n_heads, causal, last_only, n_threads, po);
}

void attention_any(const py::array& q, const py::array& k, const py::array& v, const py::array& lengths,
                   py::ssize_t n_heads, bool causal, bool last_only, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  if (has_dtype<double>(q)) return attention_typed<double>(q, k, v, lengths, n_heads, causal, last_only, n_threads, out);
  attention_typed<float>(q, k, v, lengths, n_heads, causal, last_only, n_threads, out);
}

// A block's arrays in EncoderBlock's order (qkv, qkv_bias, out, out_bias, ln1 weight, ln1 bias,
// ff1, ff1_bias, ff2, ff2_bias, ln2 weight, ln2 bias), each checked for dtype, C order and shape.
template <class T>
EncoderBlock<T> encoder_block(const py::handle& item, py::ssize_t index, py::ssize_t D, py::ssize_t inner) {
  const std::string name = "blocks[" + std::to_string(index) + "]";
  expect(py::isinstance<py::tuple>(item) && py::len(item) == 12,
         name + ": expected a tuple of 12 arrays (qkv, qkv_bias, out, out_bias, ln1 weight, ln1 bias, ff1, "
                "ff1_bias, ff2, ff2_bias, ln2 weight, ln2 bias)");
  const auto parts = py::reinterpret_borrow<py::tuple>(item);
  const py::ssize_t shapes[12][2] = {{3 * D, D}, {3 * D, -1}, {D, D},     {D, -1}, {D, -1},     {D, -1},
                                     {inner, D}, {inner, -1}, {D, inner}, {D, -1}, {D, -1},     {D, -1}};
  const T* pointers[12];
  for (int j = 0; j < 12; ++j) {
    const std::string part = name + "[" + std::to_string(j) + "]";
    expect(py::isinstance<py::array>(parts[j]), part + ": expected a NumPy array");
    const auto a = py::reinterpret_borrow<py::array>(parts[j]);
    const py::ssize_t ndim = shapes[j][1] < 0 ? 1 : 2;
    pointers[j] = input<T>(a, part.c_str(), ndim);
    expect(a.shape(0) == shapes[j][0] && (ndim == 1 || a.shape(1) == shapes[j][1]),
           part + ": expected shape (" + std::to_string(shapes[j][0]) +
               (ndim == 1 ? ",)" : ", " + std::to_string(shapes[j][1]) + ")") + ", got " + shape_str(a));
  }
  return {pointers[0], pointers[1], pointers[2], pointers[3], pointers[4],  pointers[5],
          pointers[6], pointers[7], pointers[8], pointers[9], pointers[10], pointers[11]};
}

// encoder_forward's inputs, every array checked (dtype, C order, shapes against each other, ids
// and lengths in range, each block's twelve arrays).
template <class T>
struct ForwardInputs {
  const std::int32_t* ids;
  const std::int32_t* lengths;
  const T* items;
  const T* positions;
  const T* ln_weight;
  const T* ln_bias;
  py::ssize_t n, width, D, item_rows, inner;
  std::vector<EncoderBlock<T>> blocks;
};

template <class T>
ForwardInputs<T> forward_inputs(const py::array& ids, const py::array& lengths, const py::array& items,
                                const py::array& positions, const py::sequence& blocks, const py::array& ln_weight,
                                const py::array& ln_bias, py::ssize_t n_heads, double eps, int act) {
  ForwardInputs<T> f;
  f.ids = input<std::int32_t>(ids, "ids", 2);
  f.items = input<T>(items, "items", 2);
  f.positions = input<T>(positions, "positions", 2);
  f.n = ids.shape(0), f.width = ids.shape(1), f.D = items.shape(1), f.item_rows = items.shape(0);
  const py::ssize_t n = f.n, width = f.width, D = f.D;
  expect(D >= 1, "items: expected at least one column (the hidden size), got shape " + shape_str(items));
  expect(positions.shape(1) == D && positions.shape(0) >= width,
         "positions: expected at least " + std::to_string(width) + " rows (the width of ids) of " + std::to_string(D) +
             " columns, got shape " + shape_str(positions));
  for (py::ssize_t r = 0; r < n * width; ++r)
    if (f.ids[r] < 0 || f.ids[r] >= f.item_rows)
      expect(false, "ids: " + std::to_string(f.ids[r]) + " out of range [0, " + std::to_string(f.item_rows) + ")");
  f.lengths = input<std::int32_t>(lengths, "lengths", 1);
  expect(lengths.shape(0) == n, "lengths: expected one entry per sequence");
  for (py::ssize_t b = 0; b < n; ++b)
    if (f.lengths[b] < 1 || f.lengths[b] > width)
      expect(false, "lengths: " + std::to_string(f.lengths[b]) + " out of range [1, " + std::to_string(width) + "]");
  expect(py::len(blocks) >= 1, "blocks: expected at least one block");
  f.inner = -1;  // read from the first block's ff1, checked in every block
  {
    const auto first = blocks[0];
    if (py::isinstance<py::tuple>(first) && py::len(first) == 12 && py::isinstance<py::array>(first[py::int_(6)]))
      f.inner = py::reinterpret_borrow<py::array>(first[py::int_(6)]).shape(0);
  }
  for (py::ssize_t i = 0; i < static_cast<py::ssize_t>(py::len(blocks)); ++i)
    f.blocks.push_back(encoder_block<T>(blocks[i], i, D, f.inner));
  f.ln_weight = input<T>(ln_weight, "embedding_ln_weight", 1);
  f.ln_bias = input<T>(ln_bias, "embedding_ln_bias", 1);
  expect(ln_weight.shape(0) == D && ln_bias.shape(0) == D,
         "embedding_ln_weight, embedding_ln_bias: expected length " + std::to_string(D));
  expect(n_heads >= 1 && D % n_heads == 0, "n_heads: expected a divisor of the hidden size " + std::to_string(D));
  expect(eps >= 0 && std::isfinite(eps), "eps: expected a finite value >= 0");
  expect(act >= 0 && act <= 2, "activation: expected 0 (none), 1 (gelu) or 2 (relu)");
  return f;
}

template <class T>
void encoder_forward_typed(const py::array& ids, const py::array& lengths, const py::array& items,
                           const py::array& positions, const py::sequence& blocks, const py::array& ln_weight,
                           const py::array& ln_bias, py::ssize_t n_heads, bool causal, double eps, int act,
                           py::ssize_t block_rows, int n_threads, py::array& out) {
  const ForwardInputs<T> f = forward_inputs<T>(ids, lengths, items, positions, blocks, ln_weight, ln_bias, n_heads,
                                               eps, act);
  T* po = output<T>(out, "out", 2);
  expect(out.shape(0) == f.n && out.shape(1) == f.D, "out: expected shape (" + std::to_string(f.n) + ", " +
                                                         std::to_string(f.D) + "), got " + shape_str(out));
  py::gil_scoped_release release;
  encoder_forward(f.ids, f.lengths, f.n, f.width, f.items, f.item_rows, f.positions, f.D, f.inner, f.blocks.data(),
                  static_cast<index_t>(f.blocks.size()), f.ln_weight, f.ln_bias, n_heads, causal, eps,
                  static_cast<Activation>(act), block_rows, n_threads, po);
}

void encoder_forward_any(const py::array& ids, const py::array& lengths, const py::array& items,
                         const py::array& positions, const py::sequence& blocks, const py::array& ln_weight,
                         const py::array& ln_bias, py::ssize_t n_heads, bool causal, double eps, int act,
                         py::ssize_t block_rows, int n_threads, py::array& out) {
  expect_n_threads(n_threads);
  expect_plan_size(block_rows, "block_rows");
  if (has_dtype<double>(items))
    return encoder_forward_typed<double>(ids, lengths, items, positions, blocks, ln_weight, ln_bias, n_heads, causal,
                                         eps, act, block_rows, n_threads, out);
  encoder_forward_typed<float>(ids, lengths, items, positions, blocks, ln_weight, ln_bias, n_heads, causal, eps, act,
                               block_rows, n_threads, out);
}

// encoder_topk (float32): the forward's checks, then the seen items' CSR (complete: indptr from 0,
// monotone, ending at the items given; every item in [0, m)), the scored table and its int8 codes
// when given, k, the plan and the outputs.
void encoder_topk_any(const py::array& ids, const py::array& lengths, const py::array& seen_indptr,
                      const py::array& seen, bool exclude_seen, const py::array& items, const py::array& positions,
                      const py::sequence& blocks, const py::array& ln_weight, const py::array& ln_bias,
                      py::ssize_t n_heads, bool causal, double eps, int act, py::ssize_t block_rows,
                      const py::array& scored, const py::object& codes, const py::object& scales, py::ssize_t k,
                      py::ssize_t n_candidates, py::ssize_t tile_rows, py::ssize_t tile_items, py::ssize_t capacity,
                      py::ssize_t segments, int n_threads, py::array& out_ids, py::array& out_values) {
  expect_n_threads(n_threads);
  expect_plan_size(block_rows, "block_rows");
  const ForwardInputs<float> f = forward_inputs<float>(ids, lengths, items, positions, blocks, ln_weight, ln_bias,
                                                       n_heads, eps, act);
  const float* x = input<float>(scored, "scored", 2);
  const py::ssize_t n = f.n, m = scored.shape(0), D = f.D;
  expect(scored.shape(1) == D && m >= 1,
         "scored: expected shape (m >= 1, " + std::to_string(D) + "), got " + shape_str(scored));
  expect_int32_ids(m, "scored");
  const std::int64_t* pi = input<std::int64_t>(seen_indptr, "seen_indptr", 1);
  const std::int64_t* ps = input<std::int64_t>(seen, "seen", 1);
  expect(seen_indptr.shape(0) == n + 1 && pi[0] == 0, "seen_indptr: expected n + 1 entries starting at 0");
  for (py::ssize_t b = 0; b < n; ++b)
    expect(pi[b + 1] >= pi[b], "seen_indptr: expected non-decreasing entries");
  expect(pi[n] == seen.shape(0), "seen_indptr: expected to end at the length of seen");
  for (py::ssize_t i = 0; i < seen.shape(0); ++i)
    if (ps[i] < 0 || ps[i] >= m) expect(false, "seen: item " + std::to_string(ps[i]) + " out of range [0, " +
                                                   std::to_string(m) + ")");
  expect(codes.is_none() == scales.is_none(), "codes/scales: give both or neither");
  const std::int8_t* pc = nullptr;
  const float* pscales = nullptr;
  if (!codes.is_none()) {
    const auto c = array_argument(codes, "codes"), sc = array_argument(scales, "scales");
    pc = input<std::int8_t>(c, "codes", 4);
    pscales = input<float>(sc, "scales", 1);
    const py::ssize_t panel = kQuantizedPanel;
    expect(c.shape(0) == (m + panel - 1) / panel && c.shape(1) == (D + 1) / 2 && c.shape(2) == panel &&
               c.shape(3) == 2,
           "codes: expected shape (ceil(m / " + std::to_string(panel) + "), ceil(d / 2), " + std::to_string(panel) +
               ", 2) for scored of shape (m, d)");
    expect(sc.shape(0) == m, "scales: expected one entry per scored item");
    expect(tile_items % panel == 0, "block_items: expected a multiple of " + std::to_string(panel));
  } else {
    n_candidates = k;
  }
  expect(k >= 1 && k <= n_candidates && n_candidates <= m, "n_candidates: expected 1 <= k <= n_candidates <= m");
  expect_plan_size(tile_rows, "block_rows");
  expect_plan_size(tile_items, "block_items");
  expect_plan_size(capacity, "capacity");
  expect_plan_size(segments, "segments");
  expect(capacity > n_candidates, "capacity: expected more than n_candidates (k without codes)");
  id_t* po = output<id_t>(out_ids, "out_ids", 2);
  float* pv = output<float>(out_values, "out_values", 2);
  expect(out_ids.shape(0) == n && out_ids.shape(1) == k && out_values.shape(0) == n && out_values.shape(1) == k,
         "out_ids/out_values: expected shape (n, k) = (" + std::to_string(n) + ", " + std::to_string(k) + ")");
  py::gil_scoped_release release;
  encoder_topk(f.ids, f.lengths, n, f.width, f.items, f.item_rows, f.positions, D, f.inner, f.blocks.data(),
               static_cast<index_t>(f.blocks.size()), f.ln_weight, f.ln_bias, n_heads, causal, eps,
               static_cast<Activation>(act), block_rows, pi, ps, exclude_seen, x, m, pc, pscales, k, n_candidates,
               TilePlan{tile_rows, tile_items, capacity, segments}, n_threads, po, pv);
}

// For tests: key_scores of one clone ("baseline", "avx2", "avx512f": those this CPU runs), so that
// every clone is checked, not only the one the CPU picks.
void key_scores_clone(const py::array& q, const py::array& kt, py::ssize_t count, float root, const std::string& level,
                      py::array& out) {
  const float* pq = input<float>(q, "q", 1);
  const float* pk = input<float>(kt, "kt", 2);
  float* po = output<float>(out, "out", 1);
  const py::ssize_t hs = q.shape(0), ld = kt.shape(1);
  expect(kt.shape(0) == hs && ld % detail::kKeyBlock == 0 && count >= 0 && count <= ld && out.shape(0) >= count,
         "kt: expected shape (len(q), a multiple of 16 >= count), out at least count entries");
  const std::string here = simd_level();
  const bool runs = level == "baseline" || level == here || (level == "avx2" && here == "avx512f");
  expect(runs, "level: " + level + " is not supported by this CPU (" + here + ")");
#ifdef TR_X86_DISPATCH
  if (level == "avx512f") return detail::key_scores_avx512(pq, pk, hs, ld, count, root, po);
  if (level == "avx2") return detail::key_scores_avx2(pq, pk, hs, ld, count, root, po);
#endif
  detail::key_scores_baseline(pq, pk, hs, ld, count, root, po);
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("key_scores_clone", &key_scores_clone, py::arg("q").noconvert(), py::arg("kt").noconvert(), py::arg("count"),
        py::arg("root"), py::arg("level"), py::arg("out").noconvert(),
        "For tests: out[j] = (q . kt[:, j]) / root for j < count, summed in order, with one clone of key_scores.");
  m.def("gelu", &gelu_any, py::arg("x").noconvert(), py::arg("n_threads"), py::arg("out").noconvert());
  m.def("linear", &linear_any, py::arg("x").noconvert(), py::arg("weight").noconvert(), py::arg("bias"),
        py::arg("activation"), py::arg("block_rows"), py::arg("n_threads"), py::arg("out").noconvert());
  m.def("layer_norm", &layer_norm_any, py::arg("x").noconvert(), py::arg("residual"), py::arg("weight").noconvert(),
        py::arg("bias").noconvert(), py::arg("eps"), py::arg("n_threads"), py::arg("out").noconvert());
  m.def("masked_attention", &attention_any, py::arg("q").noconvert(), py::arg("k").noconvert(),
        py::arg("v").noconvert(), py::arg("lengths").noconvert(), py::arg("n_heads"), py::arg("causal"),
        py::arg("last_only"), py::arg("n_threads"), py::arg("out").noconvert());
  m.def("encoder_forward", &encoder_forward_any, py::arg("ids").noconvert(), py::arg("lengths").noconvert(),
        py::arg("items").noconvert(), py::arg("positions").noconvert(), py::arg("blocks"), py::arg("embedding_ln_weight").noconvert(), py::arg("embedding_ln_bias").noconvert(),
        py::arg("n_heads"), py::arg("causal"), py::arg("eps"), py::arg("activation"), py::arg("block_rows"),
        py::arg("n_threads"), py::arg("out").noconvert());
  m.def("encoder_topk", &encoder_topk_any, py::arg("ids").noconvert(), py::arg("lengths").noconvert(),
        py::arg("seen_indptr").noconvert(), py::arg("seen").noconvert(), py::arg("exclude_seen"),
        py::arg("items").noconvert(), py::arg("positions").noconvert(), py::arg("blocks"),
        py::arg("embedding_ln_weight").noconvert(), py::arg("embedding_ln_bias").noconvert(), py::arg("n_heads"),
        py::arg("causal"), py::arg("eps"), py::arg("activation"), py::arg("block_rows"),
        py::arg("scored").noconvert(), py::arg("codes"), py::arg("scales"), py::arg("k"), py::arg("n_candidates"),
        py::arg("tile_rows"), py::arg("tile_items"), py::arg("capacity"), py::arg("segments"), py::arg("n_threads"),
        py::arg("out_ids").noconvert(), py::arg("out_values").noconvert(),
        "encoder_forward, then the top-k items of each user (exact, or over the int8 table when codes are given), "
        "the padding id and the seen items excluded, into out_ids / out_values (n, k). See attention.hpp.");
}

}  // namespace turborec::bind
