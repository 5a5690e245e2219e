// matmul and linear over the backend GEMM. Backward products use the GEMM's transpose flags
// instead of materialising transposed copies.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

namespace {

// C = op(A) op(B) for 2-D or 3-D operands; a 2-D operand is shared across the other's batch.
// Result [batch, m, n] when either side is 3-D, else [m, n]. Not recorded: forward and backward
// helpers only. `accumulate_into`, when given, holds C's initial value and receives the result.
Tensor product(const Tensor& a, bool ta, const Tensor& b, bool tb, Tensor accumulate_into = Tensor()) {
  check_same_device_and_dtype(a, b, "matmul");
  check_floating(a, "matmul");
  const bool a3 = a.dim() == 3, b3 = b.dim() == 3;
  const int64_t a_rows = a.size(-2), a_cols = a.size(-1), b_rows = b.size(-2), b_cols = b.size(-1);
  GemmShape s;
  s.trans_a = ta;
  s.trans_b = tb;
  s.m = ta ? a_cols : a_rows;
  s.k = ta ? a_rows : a_cols;
  s.n = tb ? b_rows : b_cols;
  const int64_t k_b = tb ? b_cols : b_rows;
  SPARSECAP_CHECK(s.k == k_b, "matmul: inner dimensions differ: ", shape_str(a.shape()), (ta ? "^T" : ""), " x ",
                  shape_str(b.shape()), (tb ? "^T" : ""));
  const int64_t batch_a = a3 ? a.size(0) : 1, batch_b = b3 ? b.size(0) : 1;
  SPARSECAP_CHECK(!(a3 && b3) || batch_a == batch_b, "matmul: batch sizes differ: ", shape_str(a.shape()), " x ",
                  shape_str(b.shape()));
  s.batch = std::max(batch_a, batch_b);
  s.a_batch_stride = a3 ? a_rows * a_cols : 0;
  s.b_batch_stride = b3 ? b_rows * b_cols : 0;
  s.c_batch_stride = s.m * s.n;
  const Shape out_shape = (a3 || b3) ? Shape{s.batch, s.m, s.n} : Shape{s.m, s.n};
  Tensor out = accumulate_into;
  if (out.defined()) {
    check_shape(out, out_shape, "matmul accumulator");
    s.beta = 1.0;
  } else {
    out = Tensor::empty(out_shape, a.dtype(), a.device());
  }
  if (s.k == 0 && !accumulate_into.defined()) {
    out.zero_();
    return out;
  }
  backend_of(a).gemm(s, a, b, out);
  return out;
}

// op(A) op(B) as the gradient of a backward's input `input`: added into the running sum autograd
// offers for it (GEMM with beta = 1; returns undefined, the gradient is already in place) when
// the shapes agree, else a new tensor. A weight used at every step of an unrolled decoder then
// costs one GEMM per step and no separate add.
Tensor gradient_product(size_t input, const Tensor& a, bool ta, const Tensor& b, bool tb) {
  const Tensor running = gradient_accumulator(input);
  if (running.defined() && a.dim() == 2 && b.dim() == 2 &&
      running.shape() == Shape{ta ? a.size(1) : a.size(0), tb ? b.size(0) : b.size(1)} &&
      running.dtype() == a.dtype() && running.device() == a.device()) {
    product(a, ta, b, tb, running);
    return Tensor();
  }
  return product(a, ta, b, tb);
}

Shape with_last(const Shape& prefix_of, int64_t drop, std::initializer_list<int64_t> tail) {
  Shape out(prefix_of.begin(), prefix_of.end() - drop);
  out.insert(out.end(), tail);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  SPARSECAP_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul of a scalar: ", shape_str(a_in.shape()), " x ",
                  shape_str(b_in.shape()));
  const Tensor a = a_in.dim() == 1 ? a_in.detach().reshape({1, a_in.size(0)}) : a_in.detach();
  const Tensor b = b_in.dim() == 1 ? b_in.detach().reshape({b_in.size(0), 1}) : b_in.detach();
  const int64_t k = a.size(-1), n = b.size(-1);
  SPARSECAP_CHECK(b.size(-2) == k, "matmul: ", shape_str(a_in.shape()), " x ", shape_str(b_in.shape()),
                  ": inner dimensions differ");
  Tensor out;
  Shape out_shape;
  if (b.dim() == 2) {  // [.., m, k] x [k, n]: one GEMM over all leading rows
    out = product(a.reshape({-1, k}), false, b, false);
    out_shape = with_last(a.shape(), 1, {n});
  } else if (a.dim() == 2) {  // [m, k] x [.., k, n]: the left side shared by the batch
    out = product(a, false, b.reshape({-1, k, n}), false);
    out_shape = with_last(b.shape(), 2, {a.size(0), n});
  } else {
    SPARSECAP_CHECK(Shape(a.shape().begin(), a.shape().end() - 2) == Shape(b.shape().begin(), b.shape().end() - 2),
                    "matmul: batch dimensions of ", shape_str(a_in.shape()), " and ", shape_str(b_in.shape()),
                    " differ (broadcast batch dims are not supported)");
    out = product(a.reshape({-1, a.size(-2), k}), false, b.reshape({-1, k, n}), false);
    out_shape = with_last(a.shape(), 1, {n});
  }
  // Drop the dims a 1-D operand introduced.
  if (a_in.dim() == 1) out_shape.erase(out_shape.end() - 2);
  if (b_in.dim() == 1) out_shape.pop_back();
  out = out.reshape(out_shape);

  if (any_requires_grad({a_in, b_in})) {
    record(out, "matmul", {a_in, b_in}, [a, b, sa = a_in.shape(), sb = b_in.shape()](const Tensor& g_in,
                                                                                   const NeedsGrad& needs) {
      const int64_t k = a.size(-1), n = b.size(-1);
      Tensor ga, gb;
      if (b.dim() == 2) {
        const Tensor a2 = a.reshape({-1, k}), g2 = g_in.reshape({-1, n});
        if (needs[0]) ga = product(g2, false, b, true);
        if (needs[1]) gb = gradient_product(1, a2, true, g2, false);
      } else if (a.dim() == 2) {
        const Tensor b3 = b.reshape({-1, k, n}), g3 = g_in.reshape({-1, a.size(0), n});
        if (needs[0]) ga = sum(product(g3, false, b3, true), 0);
        if (needs[1]) gb = product(a, true, g3, false);
      } else {
        const Tensor a3 = a.reshape({-1, a.size(-2), k}), b3 = b.reshape({-1, k, n});
        const Tensor g3 = g_in.reshape({-1, a.size(-2), n});
        if (needs[0]) ga = product(g3, false, b3, true);
        if (needs[1]) gb = product(a3, true, g3, false);
      }
      return std::vector<Tensor>{ga.defined() ? ga.reshape(sa) : ga, gb.defined() ? gb.reshape(sb) : gb};
    });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  SPARSECAP_CHECK(weight.dim() == 2, "linear: weight must be [out, in], got ", shape_str(weight.shape()));
  SPARSECAP_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", shape_str(x.shape()),
                  " does not match weight ", shape_str(weight.shape()));
  const int64_t in = weight.size(1), out_features = weight.size(0);
  const Tensor x2 = x.detach().reshape({-1, in});
  Tensor initial;
  if (bias.defined()) {
    check_shape(bias, {out_features}, "linear bias");
    initial = broadcast_to(bias.detach(), {x2.size(0), out_features});
  }
  Tensor out = product(x2, false, weight.detach(), true, initial).reshape(with_last(x.shape(), 1, {out_features}));
  if (any_requires_grad({x, weight, bias})) {
    record(out, "linear", {x, weight, bias}, [x2, w = weight.detach(), sx = x.shape()](const Tensor& g_in,
                                                                                     const NeedsGrad& needs) {
      const Tensor g = g_in.reshape({-1, w.size(0)});
      return std::vector<Tensor>{needs[0] ? product(g, false, w, false).reshape(sx) : Tensor(),
                                 needs[1] ? gradient_product(1, g, true, x2, false) : Tensor(),
                                 needs[2] ? sum(g, 0) : Tensor()};
    });
  }
  return out;
}

}  // namespace sparsecap
