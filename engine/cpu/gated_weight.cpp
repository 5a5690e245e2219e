// Supermask's fused gated weight on the CPU: one pass over W and G each way, both cores.
#include "engine/cpu/cpu_backend.h"

namespace sparsecap::cpu {

void CpuBackend::gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const kernels::GateDraw& draw) {
  const float* w = weight.data<float>();
  const float* g = gate.data<float>();
  float* y = out.data<float>();
  const int64_t n = weight.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::gated_weight_forward(w[i], g[i], draw, static_cast<uint64_t>(i));
}

void CpuBackend::gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                       Tensor& grad_weight, Tensor& grad_gate, const kernels::GateDraw& draw) {
  const float* dy = grad_out.data<float>();
  const float* w = weight.data<float>();
  const float* g = gate.data<float>();
  float* dw = grad_weight.data<float>();
  float* dg = grad_gate.data<float>();
  const int64_t n = weight.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    kernels::gated_weight_backward(dy[i], w[i], g[i], draw, static_cast<uint64_t>(i), dw[i], dg[i]);
}

}  // namespace sparsecap::cpu
