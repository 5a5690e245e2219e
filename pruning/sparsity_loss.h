#pragma once
// Supermask's annealed sparsity loss. With s = 1 − Σ Round(σ(G)) / N over the gates of all
// prunable weights together (Round(σ(G)) = [G > 0]), the loss is L_s = |s_target − s|, weighted by
// λ·α(t) with α rising from 0 to 1 along a half cosine over the run. The rounding passes the
// gradient straight through, so ∂L_s/∂G = sign(s − s_target) · (−σ'(G) / N).
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sparsecap::pruning {

struct GateCount {
  int64_t kept = 0;   // gates with G > 0
  int64_t total = 0;  // all gates
  double sparsity() const { return total ? 1.0 - static_cast<double>(kept) / static_cast<double>(total) : 0.0; }
};

// Counted on the gates' device (a reduction), one number read back per tensor.
GateCount count_kept_gates(const std::vector<Tensor>& gates);

// L_s = |target − s|, differentiable in every gate through the straight-through estimator.
Tensor sparsity_loss(const std::vector<Tensor>& gates, double target);

// α(t) = 1 − ½(1 + cos(π·min(1, t/T))): 0 at the start, 1 from step T on.
double annealing_rate(int64_t step, int64_t total_steps);

// The reference's default weight: max(5, base / (1 − target)); base 0.5 for Up-Down and the
// Soft-Attention default of the issue, 1.5 for the others in the reference code.
double default_sparsity_weight(double target, double base = 0.5);

}  // namespace sparsecap::pruning
