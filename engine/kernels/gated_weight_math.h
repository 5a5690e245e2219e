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

// The keep bit from the element's 32 random bits (ignored for the deterministic mask).
HD float gate_keep_from_bits(float gate, uint32_t bits, bool sample) {
  if (!sample) return gate > 0.0f ? 1.0f : 0.0f;
  const float p = Sigmoid<float>{}(gate, ScalarParams{});
  return bits_to_uniform(bits) < p ? 1.0f : 0.0f;
}

HD float gate_keep(float gate, const GateDraw& draw, uint64_t i) {
  return gate_keep_from_bits(gate, draw.sample ? philox_bits(draw.seed, draw.stream, draw.offset + i) : 0u,
                             draw.sample);
}

HD float gated_weight_forward_bits(float weight, float gate, uint32_t bits, bool sample) {
  return weight * gate_keep_from_bits(gate, bits, sample);
}

HD float gated_weight_forward(float weight, float gate, const GateDraw& draw, uint64_t i) {
  return weight * gate_keep(gate, draw, i);
}

// dW = dW' ⊙ keep, dG = dW' ⊙ W ⊙ σ'(G).
HD void gated_weight_backward_bits(float grad_out, float weight, float gate, uint32_t bits, bool sample,
                                   float& grad_weight, float& grad_gate) {
  const float keep = gate_keep_from_bits(gate, bits, sample);
  const float s = Sigmoid<float>{}(gate, ScalarParams{});
  grad_weight = grad_out * keep;
  grad_gate = grad_out * weight * s * (1.0f - s);
}

HD void gated_weight_backward(float grad_out, float weight, float gate, const GateDraw& draw, uint64_t i,
                              float& grad_weight, float& grad_gate) {
  gated_weight_backward_bits(grad_out, weight, gate,
                             draw.sample ? philox_bits(draw.seed, draw.stream, draw.offset + i) : 0u, draw.sample,
                             grad_weight, grad_gate);
}

}  // namespace sparsecap::kernels
