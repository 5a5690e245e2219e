// Reductions (sum, mean, max, argmax) and the broadcast/sum-to-shape pair that gradients of
// broadcasting ops need.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

namespace {

Shape reduced_shape(const Shape& shape, int64_t dim, bool keepdim) {
  Shape out = shape;
  if (keepdim)
    out[static_cast<size_t>(dim)] = 1;
  else
    out.erase(out.begin() + dim);
  return out;
}

Tensor sum_forward(const Tensor& x, int64_t dim, const Shape& out_shape) {
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor no_argmax;
  backend_of(x).reduce(ReduceOp::Sum, x, out, no_argmax, outer_size(x.shape(), dim), x.shape()[static_cast<size_t>(dim)],
                       inner_size(x.shape(), dim));
  return out;
}

}  // namespace

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  SPARSECAP_CHECK(broadcast_shapes(x.shape(), shape) == shape, "cannot broadcast ", shape_str(x.shape()), " to ",
                  shape_str(shape));
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  // out = 0 * out + x, broadcast by the binary loop (zeros are cheap; no dedicated primitive).
  Tensor zero = zeros({}, x.dtype(), x.device());
  backend_of(x).binary(kernels::BinaryOp::Add, x, zero, out, {});
  record(out, "broadcast_to", {x}, [source = x.shape()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{sum_to_shape(g, source)};
  });
  return out;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  SPARSECAP_CHECK(lead >= 0, "sum_to_shape: ", shape_str(x.shape()), " has fewer dims than ", shape_str(shape));
  Tensor out = x;
  // Leading extra dims: sum them away at once by flattening.
  if (lead > 0) {
    out = out.reshape({outer_size(x.shape(), lead - 1) * x.shape()[static_cast<size_t>(lead - 1)], -1});
    out = sum(out, 0).reshape(Shape(x.shape().begin() + lead, x.shape().end()));
  }
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && out.shape()[i] != 1) out = sum(out, static_cast<int64_t>(i), true);
  check_shape(out, shape, "sum_to_shape result");
  return out;
}

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  check_floating(x, "sum");
  dim = wrap_dim(dim, x.dim());
  Tensor out = sum_forward(x, dim, reduced_shape(x.shape(), dim, keepdim));
  record(out, "sum", {x}, [source = x.shape(), dim](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{broadcast_to(g.reshape(reduced_shape(source, dim, true)), source)};
  });
  return out;
}

Tensor sum(const Tensor& x) {
  check_floating(x, "sum");
  Tensor out = sum_forward(x.detach().reshape({x.numel()}), 0, {});
  record(out, "sum_all", {x}, [source = x.shape()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{broadcast_to(g, source)};
  });
  return out;
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  dim = wrap_dim(dim, x.dim());
  const int64_t n = x.shape()[static_cast<size_t>(dim)];
  return mul_scalar(sum(x, dim, keepdim), n ? 1.0 / static_cast<double>(n) : 0.0);
}

Tensor mean(const Tensor& x) { return mul_scalar(sum(x), x.numel() ? 1.0 / static_cast<double>(x.numel()) : 0.0); }

namespace {

// Max along `dim` with its argmax; the gradient goes to the recorded (first maximal) position.
std::pair<Tensor, Tensor> max_forward(const Tensor& x, int64_t dim, const Shape& out_shape) {
  check_floating(x, "max");
  SPARSECAP_CHECK(x.shape()[static_cast<size_t>(dim)] > 0, "max over an empty dimension of ", shape_str(x.shape()));
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor index = Tensor::empty(out_shape, DType::I64, x.device());
  backend_of(x).reduce(ReduceOp::Max, x, out, index, outer_size(x.shape(), dim), x.shape()[static_cast<size_t>(dim)],
                       inner_size(x.shape(), dim));
  return {out, index};
}

// Scatter g into zeros of `source` shape at the argmax positions along `dim`.
Tensor max_backward(const Tensor& g, const Tensor& index, const Shape& source, int64_t dim) {
  // Move `dim` last so the scatter is along columns: [outer, n, inner] -> [outer, inner, n].
  const int64_t outer = outer_size(source, dim), n = source[static_cast<size_t>(dim)], inner = inner_size(source, dim);
  Tensor grad_t = zeros({outer * inner, n}, g.dtype(), g.device());
  backend_for(g.device()).scatter_add_columns(g.reshape({outer * inner, 1}), index.reshape({outer * inner, 1}), grad_t,
                                              outer * inner, n, 1);
  return transpose(grad_t.reshape({outer, inner, n}), 1, 2).reshape(source);
}

}  // namespace

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  dim = wrap_dim(dim, x.dim());
  auto [out, index] = max_forward(x, dim, reduced_shape(x.shape(), dim, keepdim));
  record(out, "max", {x}, [index = index, source = x.shape(), dim](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{max_backward(g, index, source, dim)};
  });
  return out;
}

Tensor max(const Tensor& x) { return max(x.reshape({x.numel()}), 0, false); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  dim = wrap_dim(dim, x.dim());
  return max_forward(x.detach(), dim, reduced_shape(x.shape(), dim, keepdim)).second;
}

}  // namespace sparsecap
