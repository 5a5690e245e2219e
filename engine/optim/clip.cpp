#include "engine/optim/clip.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/kernels/elementwise.h"
#include "engine/ops.h"

namespace sparsecap::optim {

void clip_grad_value(const std::vector<nn::ParameterPtr>& parameters, double clip_value) {
  SPARSECAP_CHECK(clip_value >= 0.0, "clip_grad_value with negative bound ", clip_value);
  // Clamped in place, every gradient of a device together: one launch on a GPU instead of a clamp
  // and a copy per parameter.
  std::map<std::string, std::vector<Tensor>> by_device;
  for (const auto& parameter : parameters) {
    const Tensor grad = parameter->grad();
    if (grad.defined()) by_device[grad.device().str()].push_back(grad);
  }
  for (const auto& [device, grads] : by_device)
    backend_for(grads.front().device()).unary_in_place_many(kernels::UnaryOp::Clamp, grads, {-clip_value, clip_value});
}

namespace {
void check_max_norm(double max_norm) {
  SPARSECAP_CHECK(max_norm > 0.0, "clip_grad_norm needs a positive maximum norm, got ", max_norm);
}
}  // namespace

double clip_grad_norm(const std::vector<nn::ParameterPtr>& parameters, double max_norm) {
  check_max_norm(max_norm);
  NoGradGuard no_grad;
  // Each gradient's squared norm on its device (cast to float64, which the CUDA backend stores and
  // copies but does not add), all read in one copy and added in double on the host.
  std::vector<Tensor> squared;
  for (const auto& parameter : parameters) {
    const Tensor grad = parameter->grad();
    if (grad.defined()) squared.push_back(sum(mul(grad, grad)).to(DType::F64).reshape({1}));
  }
  if (squared.empty()) return 0.0;
  double total_squared = 0;
  for (const double part : concat(squared, 0).to_vector<double>()) total_squared += part;
  const double total = std::sqrt(total_squared);
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

Tensor clip_grad_norm_on_device(const std::vector<nn::ParameterPtr>& parameters, double max_norm) {
  check_max_norm(max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> squared;
  for (const auto& parameter : parameters) {
    const Tensor grad = parameter->grad();
    if (grad.defined()) squared.push_back(sum(mul(grad, grad)).reshape({1}));
  }
  if (squared.empty()) return Tensor();
  const Tensor total = sqrt(sum(concat(squared, 0)));
  // Always multiplied, by 1 under the limit: choosing would mean reading the norm.
  const Tensor scale =
      clamp(mul_scalar(pow(add_scalar(total, 1e-6), -1.0), max_norm), 0.0, 1.0);
  for (const auto& parameter : parameters) {
    Tensor grad = parameter->grad();
    if (grad.defined()) grad.copy_(mul(grad, scale));
  }
  return total;
}

}  // namespace sparsecap::optim
