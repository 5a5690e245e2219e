// Elementwise ops: forward through the backend's functor loops, backward beside each forward.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;
using kernels::BinaryOp;
using kernels::ScalarParams;
using kernels::UnaryOp;

namespace {

Tensor unary_forward(UnaryOp op, const Tensor& x, ScalarParams params = {}) {
  check_floating(x, "elementwise op");
  Tensor out = empty_like(x);
  backend_of(x).unary(op, x, out, params);
  return out;
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, ScalarParams params = {}) {
  check_same_device_and_dtype(a, b, "elementwise op");
  check_floating(a, "elementwise op");
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape()), a.dtype(), a.device());
  backend_of(a).binary(op, a, b, out, params);
  return out;
}

// dx from (dy, saved) through a gradient functor, e.g. SigmoidGrad(dy, y).
Tensor grad_through(BinaryOp op, const Tensor& dy, const Tensor& saved, ScalarParams params = {}) {
  return binary_forward(op, dy, saved, params);
}

// Records a unary op whose gradient functor needs the input (save_output = false) or the output.
Tensor unary_with_grad(const char* name, UnaryOp op, BinaryOp grad_op, const Tensor& x, bool save_output,
                       ScalarParams params = {}) {
  Tensor out = unary_forward(op, x, params);
  if (any_requires_grad({x})) {
    Tensor saved = save_output ? out.detach() : x.detach();
    record(out, name, {x}, [grad_op, saved, params](const Tensor& g, const NeedsGrad&) {
      return std::vector<Tensor>{grad_through(grad_op, g, saved, params)};
    });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Add, a, b);
  record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const NeedsGrad& needs) {
    return std::vector<Tensor>{needs[0] ? sum_to_shape(g, sa) : Tensor(), needs[1] ? sum_to_shape(g, sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Sub, a, b);
  record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, const NeedsGrad& needs) {
    return std::vector<Tensor>{needs[0] ? sum_to_shape(g, sa) : Tensor(),
                               needs[1] ? sum_to_shape(neg(g), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Mul, a, b);
  if (any_requires_grad({a, b})) {
    // Each side's gradient needs only the other side's value.
    Tensor saved_a = b.requires_grad() ? a.detach() : Tensor();
    Tensor saved_b = a.requires_grad() ? b.detach() : Tensor();
    record(out, "mul", {a, b}, [saved_a, saved_b, sa = a.shape(), sb = b.shape()](const Tensor& g,
                                                                                  const NeedsGrad& needs) {
      return std::vector<Tensor>{needs[0] ? sum_to_shape(mul(g, saved_b), sa) : Tensor(),
                                 needs[1] ? sum_to_shape(mul(g, saved_a), sb) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Div, a, b);
  if (any_requires_grad({a, b})) {
    Tensor saved_b = b.detach(), saved_out = b.requires_grad() ? out.detach() : Tensor();
    record(out, "div", {a, b}, [saved_b, saved_out, sa = a.shape(), sb = b.shape()](const Tensor& g,
                                                                                    const NeedsGrad& needs) {
      const Tensor ga = div(g, saved_b);
      // d(a/b)/db = -(a/b)/b
      return std::vector<Tensor>{needs[0] ? sum_to_shape(ga, sa) : Tensor(),
                                 needs[1] ? sum_to_shape(neg(mul(ga, saved_out)), sb) : Tensor()};
    });
  }
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Maximum, a, b);
  if (any_requires_grad({a, b})) {
    // The gradient goes to a where a >= b (ties to a), else to b.
    const Tensor a_wins = affine(greater_than(sub(b.detach(), a.detach()), 0.0), -1.0, 1.0);
    record(out, "maximum", {a, b}, [a_wins, sa = a.shape(), sb = b.shape()](const Tensor& g,
                                                                           const NeedsGrad& needs) {
      const Tensor to_a = mul(g, a_wins);
      return std::vector<Tensor>{needs[0] ? sum_to_shape(to_a, sa) : Tensor(),
                                 needs[1] ? sum_to_shape(sub(g, to_a), sb) : Tensor()};
    });
  }
  return out;
}

Tensor affine(const Tensor& x, double scale, double shift) {
  Tensor out = unary_forward(UnaryOp::Affine, x, {scale, shift});
  record(out, "affine", {x}, [scale](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{mul_scalar(g, scale)};
  });
  return out;
}
Tensor add_scalar(const Tensor& x, double value) { return affine(x, 1.0, value); }
Tensor mul_scalar(const Tensor& x, double value) { return affine(x, value, 0.0); }
Tensor neg(const Tensor& x) { return affine(x, -1.0, 0.0); }

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::Exp, x);
  if (any_requires_grad({x})) {
    Tensor saved = out.detach();
    record(out, "exp", {x}, [saved](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{mul(g, saved)}; });
  }
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward(UnaryOp::Log, x);
  if (any_requires_grad({x})) {
    Tensor saved = x.detach();
    record(out, "log", {x}, [saved](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{div(g, saved)}; });
  }
  return out;
}

Tensor sqrt(const Tensor& x) { return unary_with_grad("sqrt", UnaryOp::Sqrt, BinaryOp::SqrtGrad, x, true); }
Tensor abs(const Tensor& x) { return unary_with_grad("abs", UnaryOp::Abs, BinaryOp::AbsGrad, x, false); }
Tensor sigmoid(const Tensor& x) { return unary_with_grad("sigmoid", UnaryOp::Sigmoid, BinaryOp::SigmoidGrad, x, true); }
Tensor tanh(const Tensor& x) { return unary_with_grad("tanh", UnaryOp::Tanh, BinaryOp::TanhGrad, x, true); }
Tensor relu(const Tensor& x) { return unary_with_grad("relu", UnaryOp::Relu, BinaryOp::ReluGrad, x, false); }
Tensor pow(const Tensor& x, double exponent) {
  return unary_with_grad("pow", UnaryOp::Pow, BinaryOp::PowGrad, x, false, {exponent, 0.0});
}
Tensor clamp(const Tensor& x, double min_value, double max_value) {
  SPARSECAP_CHECK(min_value <= max_value, "clamp: min ", min_value, " > max ", max_value);
  return unary_with_grad("clamp", UnaryOp::Clamp, BinaryOp::ClampGrad, x, false, {min_value, max_value});
}

Tensor greater_than(const Tensor& x, double threshold) {
  return unary_forward(UnaryOp::Greater, x.detach(), {threshold, 0.0});
}

}  // namespace sparsecap
