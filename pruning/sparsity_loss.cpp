#include "pruning/sparsity_loss.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

GateCount count_kept_gates(const std::vector<Tensor>& gates) {
  GateCount count;
  NoGradGuard no_grad;
  for (const Tensor& gate : gates) {
    count.kept += static_cast<int64_t>(std::llround(sum(greater_than(gate, 0.0)).item()));
    count.total += gate.numel();
  }
  return count;
}

Tensor sparsity_loss(const std::vector<Tensor>& gates, double target) {
  SPARSECAP_CHECK(!gates.empty(), "sparsity_loss needs at least one gate tensor");
  SPARSECAP_CHECK(target >= 0.0 && target < 1.0, "sparsity target ", target, " outside [0, 1)");
  // Everything stays on the gates' device, so a training step on a GPU does not wait for the
  // count. Each tensor's count is exact in float32 (a tensor holds fewer than 2^24 gates); their
  // sum is rounded to float32, 4 gates in 52 million at the papers' model sizes.
  Tensor loss;
  Tensor coefficient;  // −sign(s − t) / N
  int64_t total = 0;
  {
    NoGradGuard no_grad;
    std::vector<Tensor> kept_per_tensor;
    for (const Tensor& gate : gates) {
      kept_per_tensor.push_back(sum(greater_than(gate, 0.0)).reshape({1}));
      total += gate.numel();
    }
    const Tensor kept = sum(concat(kept_per_tensor, 0));
    const double n = static_cast<double>(total);
    const Tensor excess = affine(kept, -1.0 / n, 1.0 - target);  // s − t with s = 1 − kept / N
    loss = abs(excess);
    // d|t − s|/ds = sign(s − t); ds/dG = −σ'(G)/N through the straight-through rounding.
    const Tensor sign = sub(greater_than(excess, 0.0), greater_than(neg(excess), 0.0));
    coefficient = mul_scalar(sign, -1.0 / n).reshape({1});
  }
  std::vector<Tensor> saved;
  for (const Tensor& gate : gates) saved.push_back(gate.detach());
  record(loss, "sparsity_loss", gates, [saved, coefficient](const Tensor& grad, const NeedsGrad& needs) {
    const Tensor scale = mul(coefficient, grad.reshape({1}));
    std::vector<Tensor> grads(saved.size());
    for (size_t i = 0; i < saved.size(); ++i) {
      if (!needs[i]) continue;
      const Tensor s = sigmoid(saved[i]);
      grads[i] = mul(mul(s, affine(s, -1.0, 1.0)), scale);  // scale · σ(G)(1 − σ(G))
    }
    return grads;
  });
  return loss;
}

double annealing_rate(int64_t step, int64_t total_steps) {
  SPARSECAP_CHECK(total_steps > 0, "annealing over ", total_steps, " steps");
  const double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(total_steps));
  return 1.0 - 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

double default_sparsity_weight(double target, double base) {
  SPARSECAP_CHECK(target >= 0.0 && target < 1.0, "sparsity target ", target, " outside [0, 1)");
  return std::max(5.0, base / (1.0 - target));
}

}  // namespace sparsecap::pruning
