#pragma once
// Supermask gating, fused: W' = W ⊙ keep with keep ~ Bern(σ(G)) while training (a Philox draw) or
// keep = [G > 0] (= Round(σ(G)), round(0.5) = 0) at evaluation. The backward uses straight-through
// estimators: the draw and the rounding pass the gradient unchanged, the sigmoid's derivative is
// kept. The keep bit is recomputed from the counters in the backward, so nothing is stored.
#include <cstdint>

#include "engine/kernels/elementwise.h"
#include "engine/kernels/hd.h"
#include "engine/kernels/philox.h"

namespace sparsecap::kernels {

// Which draw a gated weight uses: element i takes Philox counter (seed, stream, offset + i).
struct GateDraw {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t offset = 0;
  bool sample = true;  // false: the deterministic (maximum-likelihood) mask G > 0
};

HD float gate_keep(float gate, const GateDraw& draw, uint64_t i) {
  if (!draw.sample) return gate > 0.0f ? 1.0f : 0.0f;
  const float p = Sigmoid<float>{}(gate, ScalarParams{});
  return philox_uniform(draw.seed, draw.stream, draw.offset + i) < p ? 1.0f : 0.0f;
}

HD float gated_weight_forward(float weight, float gate, const GateDraw& draw, uint64_t i) {
  return weight * gate_keep(gate, draw, i);
}

// dW = dW' ⊙ keep, dG = dW' ⊙ W ⊙ σ'(G).
HD void gated_weight_backward(float grad_out, float weight, float gate, const GateDraw& draw, uint64_t i,
                              float& grad_weight, float& grad_gate) {
  const float keep = gate_keep(gate, draw, i);
  const float s = Sigmoid<float>{}(gate, ScalarParams{});
  grad_weight = grad_out * keep;
  grad_gate = grad_out * weight * s * (1.0f - s);
}

}  // namespace sparsecap::kernels
