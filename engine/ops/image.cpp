// NCHW image ops: batch norm, conv2d (groups for depthwise), pooling.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

namespace {
void check_nchw(const Tensor& x, const char* op) {
  check_floating(x, op);
  SPARSECAP_CHECK(x.dim() == 4, op, ": expected an NCHW tensor, got ", shape_str(x.shape()));
}

int64_t output_extent(int64_t in, int64_t kernel, int64_t stride, int64_t padding, const char* op) {
  const int64_t out = (in + 2 * padding - kernel) / stride + 1;
  SPARSECAP_CHECK(stride > 0 && out > 0, op, ": kernel ", kernel, " stride ", stride, " padding ", padding,
                  " leaves no output for input extent ", in);
  return out;
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum, double eps) {
  check_nchw(x, "batch_norm");
  const int64_t batch = x.size(0), channels = x.size(1), spatial = x.size(2) * x.size(3);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &running_mean, &running_var})
    check_shape(*t, {channels}, "batch_norm parameter");
  Tensor out = empty_like(x);
  Tensor mean_t = Tensor::empty({channels}, x.dtype(), x.device()), invstd = Tensor::empty({channels}, x.dtype(), x.device());
  backend_of(x).batch_norm(x, gamma, beta, running_mean, running_var, out, mean_t, invstd, batch, channels, spatial,
                           training, momentum, eps);
  if (any_requires_grad({x, gamma, beta})) {
    record(out, "batch_norm", {x, gamma, beta}, [xs = x.detach(), gs = gamma.detach(), mean_t, invstd, batch, channels,
                                                 spatial, training](const Tensor& g, const NeedsGrad&) {
      Tensor dx = empty_like(xs), dgamma = empty_like(gs), dbeta = empty_like(gs);
      backend_for(xs.device()).batch_norm_backward(xs, gs, mean_t, invstd, g, dx, dgamma, dbeta, batch, channels,
                                                   spatial);
      if (!training) {
        // Fixed statistics: x -> (x - mean) * invstd * gamma + beta is affine per channel.
        const Tensor scale = mul(gs, invstd).reshape({1, channels, 1, 1});
        dx = mul(g, scale);
      }
      return std::vector<Tensor>{dx, dgamma, dbeta};
    });
  }
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t groups) {
  check_nchw(x, "conv2d");
  check_same_device_and_dtype(x, weight, "conv2d");
  SPARSECAP_CHECK(weight.dim() == 4, "conv2d: weight must be [out, in / groups, kh, kw], got ",
                  shape_str(weight.shape()));
  Conv2dShape s;
  s.batch = x.size(0);
  s.in_channels = x.size(1);
  s.in_h = x.size(2);
  s.in_w = x.size(3);
  s.out_channels = weight.size(0);
  s.kernel_h = weight.size(2);
  s.kernel_w = weight.size(3);
  s.stride = stride;
  s.padding = padding;
  s.groups = groups;
  SPARSECAP_CHECK(groups > 0 && s.in_channels % groups == 0 && s.out_channels % groups == 0 &&
                      weight.size(1) == s.in_channels / groups,
                  "conv2d: input ", shape_str(x.shape()), " weight ", shape_str(weight.shape()), " groups ", groups,
                  " do not fit");
  s.out_h = output_extent(s.in_h, s.kernel_h, stride, padding, "conv2d");
  s.out_w = output_extent(s.in_w, s.kernel_w, stride, padding, "conv2d");
  Tensor out = Tensor::empty({s.batch, s.out_channels, s.out_h, s.out_w}, x.dtype(), x.device());
  backend_of(x).conv2d(x, weight, out, s);
  if (any_requires_grad({x, weight})) {
    record(out, "conv2d", {x, weight}, [xs = x.detach(), ws = weight.detach(), s](const Tensor& g,
                                                                                  const NeedsGrad& needs) {
      Tensor dx, dw;
      if (needs[0]) {
        dx = empty_like(xs);
        backend_for(xs.device()).conv2d_backward_input(g, ws, dx, s);
      }
      if (needs[1]) {
        dw = empty_like(ws);
        backend_for(xs.device()).conv2d_backward_weight(g, xs, dw, s);
      }
      return std::vector<Tensor>{dx, dw};
    });
  }
  if (!bias.defined()) return out;
  check_shape(bias, {s.out_channels}, "conv2d bias");
  return add(out, bias.reshape({1, s.out_channels, 1, 1}));
}

namespace {
Tensor pool(PoolKind kind, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, const char* name) {
  check_nchw(x, name);
  SPARSECAP_CHECK(padding * 2 <= kernel, name, ": padding ", padding, " larger than half the kernel ", kernel);
  Pool2dShape s;
  s.batch = x.size(0);
  s.channels = x.size(1);
  s.in_h = x.size(2);
  s.in_w = x.size(3);
  s.kernel = kernel;
  s.stride = stride;
  s.padding = padding;
  s.out_h = output_extent(s.in_h, kernel, stride, padding, name);
  s.out_w = output_extent(s.in_w, kernel, stride, padding, name);
  Tensor out = Tensor::empty({s.batch, s.channels, s.out_h, s.out_w}, x.dtype(), x.device());
  Tensor argmax = kind == PoolKind::Max ? Tensor::empty(out.shape(), DType::I64, x.device()) : Tensor();
  backend_of(x).pool2d(kind, x, out, argmax, s);  // may reset argmax (cuDNN needs none)
  // The backward gets x and y too: cuDNN's pooling backward needs both. Detached, so the closure
  // holds no reference to its own node through `out`.
  record(out, name, {x}, [kind, xs = x.detach(), ys = out.detach(), argmax, s](const Tensor& g, const NeedsGrad&) {
    Tensor dx = empty_like(xs);
    backend_for(g.device()).pool2d_backward(kind, xs, ys, g, argmax, dx, s);
    return std::vector<Tensor>{dx};
  });
  return out;
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool(PoolKind::Max, x, kernel, stride, padding, "max_pool2d");
}
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool(PoolKind::Average, x, kernel, stride, padding, "avg_pool2d");
}

Tensor global_avg_pool2d(const Tensor& x) {
  check_nchw(x, "global_avg_pool2d");
  return mean(x.reshape({x.size(0), x.size(1), x.size(2) * x.size(3)}), 2);
}

}  // namespace sparsecap
