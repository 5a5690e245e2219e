#include "engine/optim/clip.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::optim {

void clip_grad_value(const std::vector<nn::ParameterPtr>& parameters, double clip_value) {
  SPARSECAP_CHECK(clip_value >= 0.0, "clip_grad_value with negative bound ", clip_value);
  NoGradGuard no_grad;
  for (const auto& parameter : parameters) {
    Tensor grad = parameter->grad();
    if (grad.defined()) grad.copy_(clamp(grad, -clip_value, clip_value));
  }
}

double clip_grad_norm(const std::vector<nn::ParameterPtr>& parameters, double max_norm) {
  SPARSECAP_CHECK(max_norm > 0.0, "clip_grad_norm needs a positive maximum norm, got ", max_norm);
  NoGradGuard no_grad;
  // Squared norms summed on the device, one host read at the end.
  Tensor total_squared;
  for (const auto& parameter : parameters) {
    const Tensor grad = parameter->grad();
    if (!grad.defined()) continue;
    const Tensor squared = sum(mul(grad, grad)).to(DType::F64);
    total_squared = total_squared.defined() ? add(total_squared, squared.to(total_squared.device())) : squared;
  }
  if (!total_squared.defined()) return 0.0;
  const double total = std::sqrt(total_squared.item());
  if (!std::isfinite(total)) return total;
  const double scale = max_norm / (total + 1e-6);
  if (scale < 1.0) {
    for (const auto& parameter : parameters) {
      Tensor grad = parameter->grad();
      if (grad.defined()) grad.copy_(mul_scalar(grad, scale));
    }
  }
  return total;
}

}  // namespace sparsecap::optim
