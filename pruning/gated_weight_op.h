#pragma once
// The fused gated-weight op of Supermask Pruning: W' = W ⊙ Bern(σ(G)) (training) or W ⊙ [G > 0]
// (evaluation) in one pass, straight-through backward in one pass. Arithmetic:
// engine/kernels/gated_weight_math.h; loops: Backend::gated_weight.
#include "engine/kernels/gated_weight_math.h"
#include "engine/tensor.h"

namespace sparsecap::pruning {

// Differentiable in `weight` and `gate` (float32, same shape, same device).
Tensor gated_weight(const Tensor& weight, const Tensor& gate, const kernels::GateDraw& draw);

// Number of Philox counters one draw of a tensor with `numel` elements consumes: whole blocks,
// so consecutive draws of the same tensor never share a counter.
uint64_t gate_draw_span(int64_t numel);

}  // namespace sparsecap::pruning
