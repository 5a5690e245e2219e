// Shape ops: transpose, concat, narrow, split, unsqueeze/squeeze, stack. Every tensor is
// contiguous, so only reshape and leading-dim narrowing are free; the rest copy through the
// backend's block copy and transpose primitives.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  dim0 = wrap_dim(dim0, x.dim());
  dim1 = wrap_dim(dim1, x.dim());
  if (dim0 == dim1) return x;
  if (dim0 > dim1) std::swap(dim0, dim1);
  const Shape& s = x.shape();
  Shape out_shape = s;
  std::swap(out_shape[static_cast<size_t>(dim0)], out_shape[static_cast<size_t>(dim1)]);
  int64_t middle = 1;
  for (int64_t i = dim0 + 1; i < dim1; ++i) middle *= s[static_cast<size_t>(i)];
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() > 0)
    backend_of(x).transpose(x, out, outer_size(s, dim0), s[static_cast<size_t>(dim0)], middle,
                            s[static_cast<size_t>(dim1)], inner_size(s, dim1));
  record(out, "transpose", {x}, [dim0, dim1](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{transpose(g, dim0, dim1)};
  });
  return out;
}

Tensor transpose(const Tensor& x) {
  SPARSECAP_CHECK(x.dim() >= 2, "transpose of the last two dims needs rank >= 2, got ", shape_str(x.shape()));
  return transpose(x, -2, -1);
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  SPARSECAP_CHECK(!tensors.empty(), "concat of no tensors");
  const Tensor& first = tensors.front();
  dim = wrap_dim(dim, first.dim());
  Shape out_shape = first.shape();
  int64_t total = 0;
  for (const Tensor& t : tensors) {
    check_same_device_and_dtype(first, t, "concat");
    Shape expected = first.shape();
    expected[static_cast<size_t>(dim)] = t.shape().size() == expected.size() ? t.shape()[static_cast<size_t>(dim)] : -1;
    SPARSECAP_CHECK(t.shape() == expected, "concat along dim ", dim, ": shapes ", shape_str(first.shape()), " and ",
                    shape_str(t.shape()), " differ elsewhere");
    total += t.shape()[static_cast<size_t>(dim)];
  }
  out_shape[static_cast<size_t>(dim)] = total;
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const int64_t outer = outer_size(out_shape, dim), inner = inner_size(out_shape, dim);
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    const int64_t length = t.shape()[static_cast<size_t>(dim)] * inner;
    if (length > 0 && outer > 0) backend_of(t).copy_blocks(t, out, outer, length, length, 0, total * inner, at);
    at += length;
    sizes.push_back(t.shape()[static_cast<size_t>(dim)]);
  }
  record(out, "concat", tensors, [sizes, dim](const Tensor& g, const NeedsGrad& needs) {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(needs[i] ? narrow(g, dim, start, sizes[i]) : Tensor());
      start += sizes[i];
    }
    return grads;
  });
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  dim = wrap_dim(dim, x.dim());
  const int64_t size = x.shape()[static_cast<size_t>(dim)];
  SPARSECAP_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow(dim ", dim, ", start ", start,
                  ", length ", length, ") out of range for ", shape_str(x.shape()));
  if (dim == 0) return x.narrow_rows(start, length);
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(dim)] = length;
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const int64_t outer = outer_size(x.shape(), dim), inner = inner_size(x.shape(), dim);
  if (length > 0 && outer > 0)
    backend_of(x).copy_blocks(x, out, outer, length * inner, size * inner, start * inner, length * inner, 0);
  record(out, "narrow", {x}, [source = x.shape(), dim, start, length, outer, inner](const Tensor& g,
                                                                                   const NeedsGrad&) {
    Tensor grad = zeros(source, g.dtype(), g.device());
    const int64_t size = source[static_cast<size_t>(dim)];
    if (length > 0 && outer > 0)
      backend_for(g.device()).copy_blocks(g, grad, outer, length * inner, length * inner, 0, size * inner,
                                          start * inner);
    return std::vector<Tensor>{grad};
  });
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  SPARSECAP_CHECK(size > 0, "split size must be positive, got ", size);
  dim = wrap_dim(dim, x.dim());
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < x.shape()[static_cast<size_t>(dim)]; start += size)
    parts.push_back(narrow(x, dim, start, std::min(size, x.shape()[static_cast<size_t>(dim)] - start)));
  return parts;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1);
  Shape s = x.shape();
  s.insert(s.begin() + dim, 1);
  return x.reshape(s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim());
  SPARSECAP_CHECK(x.shape()[static_cast<size_t>(dim)] == 1, "squeeze of dim ", dim, " of size ",
                  x.shape()[static_cast<size_t>(dim)], " in ", shape_str(x.shape()));
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  return x.reshape(s);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  SPARSECAP_CHECK(!tensors.empty(), "stack of no tensors");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(unsqueeze(t, dim < 0 ? dim + t.dim() + 1 : dim));
  return concat(expanded, dim < 0 ? dim + tensors.front().dim() + 1 : dim);
}

}  // namespace sparsecap
