// Neural-network ops over rows: softmax family, fused cross-entropy, dropout and layer norm.
#include <optional>

#include "engine/ops/op_helpers.h"
#include "engine/rng.h"

namespace sparsecap {

using namespace ops_detail;

namespace {

Tensor softmax_op(const Tensor& x, const Tensor& mask, bool log_output, const char* name) {
  check_floating(x, name);
  SPARSECAP_CHECK(x.dim() >= 1, name, " of a scalar");
  const int64_t cols = x.size(-1), rows = x.numel() / std::max<int64_t>(cols, 1);
  if (mask.defined()) {
    check_same_device_and_dtype(x, mask, name);
    const int64_t mask_rows = mask.numel() / std::max<int64_t>(cols, 1);
    SPARSECAP_CHECK(mask.size(-1) == cols && mask_rows > 0 && rows % mask_rows == 0, name, ": mask ",
                    shape_str(mask.shape()), " does not fit input ", shape_str(x.shape()));
  }
  Tensor out = empty_like(x);
  backend_of(x).softmax(x, mask, out, rows, cols, log_output);
  if (any_requires_grad({x})) {
    record(out, name, {x}, [y = out.detach(), rows, cols, log_output](const Tensor& g, const NeedsGrad&) {
      Tensor dx = empty_like(g);
      backend_for(g.device()).softmax_backward(y, g, dx, rows, cols, log_output);
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_op(x, Tensor(), false, "softmax"); }
Tensor log_softmax(const Tensor& x) { return softmax_op(x, Tensor(), true, "log_softmax"); }
Tensor masked_softmax(const Tensor& x, const Tensor& mask) {
  SPARSECAP_CHECK(mask.defined(), "masked_softmax needs a mask");
  return softmax_op(x, mask.detach(), false, "masked_softmax");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets_in, int64_t ignore_index) {
  check_floating(logits, "cross_entropy");
  SPARSECAP_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got ", shape_str(logits.shape()));
  SPARSECAP_CHECK(targets_in.dtype() == DType::I64, "cross_entropy: targets must be int64, got ",
                  dtype_name(targets_in.dtype()));
  check_shape(targets_in, {logits.size(0)}, "cross_entropy targets");
  SPARSECAP_CHECK(targets_in.device() == logits.device() || targets_in.device().is_cpu(),
                  "cross_entropy: targets on ", targets_in.device().str(), ", logits on ", logits.device().str());
  const int64_t rows = logits.size(0), cols = logits.size(1);
  // Mean over counted (non-ignored) targets; counted on the host once (targets are small). Host
  // targets for a GPU's logits are checked there too, so nothing here waits for the device.
  int64_t counted = 0;
  for (int64_t t : targets_in.to_vector<int64_t>()) counted += t != ignore_index;
  const bool from_host = targets_in.device() != logits.device();
  const Tensor targets = from_host ? index_checked_on_host(targets_in, logits.device(), cols, ignore_index,
                                                           "cross_entropy target")
                                   : targets_in;
  Tensor losses = Tensor::empty({rows}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({rows}, logits.dtype(), logits.device());
  {
    std::optional<IndicesCheckedOnHost> checked;
    if (from_host) checked.emplace();
    backend_of(logits).cross_entropy(logits, targets, losses, lse, rows, cols, ignore_index);
  }
  const double scale = counted ? 1.0 / static_cast<double>(counted) : 0.0;
  Tensor out;
  {
    NoGradGuard no_grad;
    out = mul_scalar(sum(losses), scale);
  }
  if (any_requires_grad({logits})) {
    record(out, "cross_entropy", {logits}, [x = logits.detach(), targets, lse, rows, cols, ignore_index, scale](
                                               const Tensor& g, const NeedsGrad&) {
      Tensor dx = empty_like(x);
      if (x.device().is_cpu()) {
        backend_for(x.device()).cross_entropy_backward(x, targets, lse, dx, rows, cols, ignore_index, scale * g.item());
        return std::vector<Tensor>{dx};
      }
      // On a GPU reading g would wait for it: scale by it on the device instead.
      backend_for(x.device()).cross_entropy_backward(x, targets, lse, dx, rows, cols, ignore_index, scale);
      return std::vector<Tensor>{mul(dx, g.reshape({1, 1}))};
    });
  }
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
  SPARSECAP_CHECK(p >= 0.0 && p < 1.0, "dropout probability ", p, " outside [0, 1)");
  if (!training || p == 0.0) return x;
  // keep ~ Bernoulli(1 - p), scaled by 1 / (1 - p) so the expectation is unchanged.
  const Tensor keep = mul_scalar(bernoulli(x.shape(), 1.0 - p, generator, x.dtype(), x.device()), 1.0 / (1.0 - p));
  return mul(x, keep);
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_floating(x, "layer_norm");
  const int64_t cols = x.size(-1), rows = x.numel() / std::max<int64_t>(cols, 1);
  check_shape(gamma, {cols}, "layer_norm gamma");
  check_shape(beta, {cols}, "layer_norm beta");
  Tensor out = empty_like(x);
  Tensor mean_t = Tensor::empty({rows}, x.dtype(), x.device()), rstd = Tensor::empty({rows}, x.dtype(), x.device());
  backend_of(x).layer_norm(x, gamma, beta, out, mean_t, rstd, rows, cols, eps);
  if (any_requires_grad({x, gamma, beta})) {
    record(out, "layer_norm", {x, gamma, beta}, [xs = x.detach(), gs = gamma.detach(), mean_t, rstd, rows, cols](
                                                    const Tensor& g, const NeedsGrad&) {
      Tensor dx = empty_like(xs), dgamma = empty_like(gs), dbeta = empty_like(gs);
      backend_for(xs.device()).layer_norm_backward(xs, gs, mean_t, rstd, g, dx, dgamma, dbeta, rows, cols);
      return std::vector<Tensor>{dx, dgamma, dbeta};
    });
  }
  return out;
}

Tensor reference_layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_floating(x, "reference_layer_norm");
  const int64_t last = x.dim() - 1, cols = x.size(last);
  SPARSECAP_CHECK(cols >= 2, "reference_layer_norm: the unbiased std needs at least 2 features, got ",
                  shape_str(x.shape()));
  check_shape(gamma, {cols}, "reference_layer_norm gamma");
  check_shape(beta, {cols}, "reference_layer_norm beta");
  Tensor out, xhat, ratio, inverse;
  {
    NoGradGuard no_grad;
    const Tensor xs = x.detach();
    const Tensor centered = sub(xs, mean(xs, last, true));
    const Tensor std = sqrt(mul_scalar(sum(mul(centered, centered), last, true), 1.0 / static_cast<double>(cols - 1)));
    inverse = pow(add_scalar(std, eps), -1.0);
    xhat = mul(centered, inverse);
    // (x - mean) / std, 0 on a constant row (where x - mean is 0 too): bounded by sqrt(cols - 1).
    ratio = div(centered, add(std, affine(greater_than(std, 0.0), -1.0, 1.0)));
    out = add(mul(xhat, gamma.detach()), beta.detach());
  }
  if (any_requires_grad({x, gamma, beta})) {
    record(out, "reference_layer_norm", {x, gamma, beta},
           [xhat, ratio, inverse, gs = gamma.detach(), last, cols](const Tensor& g, const NeedsGrad& needs) {
             Tensor dx, dgamma, dbeta;
             if (needs[0]) {
               // h = dL/dxhat; with s = std + eps, dx = (h - mean(h) - sum(h xhat) (x - mean) / ((n - 1) std)) / s.
               const Tensor h = mul(g, gs);
               const Tensor projection =
                   mul(mul_scalar(sum(mul(h, xhat), last, true), 1.0 / static_cast<double>(cols - 1)), ratio);
               dx = mul(sub(sub(h, mean(h, last, true)), projection), inverse);
             }
             if (needs[1]) dgamma = sum(mul(g, xhat).reshape({-1, cols}), 0);
             if (needs[2]) dbeta = sum(g.reshape({-1, cols}), 0);
             return std::vector<Tensor>{dx, dgamma, dbeta};
           });
  }
  return out;
}

}  // namespace sparsecap
