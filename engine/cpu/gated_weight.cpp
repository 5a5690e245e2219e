// Supermask's fused gated weight on the CPU: one pass over W and G each way, both cores.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"

namespace sparsecap::cpu {

namespace {

SPARSECAP_VECTOR_CLONES void gated_forward_loop(const float* w, const float* g, float* y, int64_t n,
                                                const kernels::GateDraw& draw) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::gated_weight_forward(w[i], g[i], draw, static_cast<uint64_t>(i));
}

SPARSECAP_VECTOR_CLONES void gated_backward_loop(const float* dy, const float* w, const float* g, float* dw, float* dg,
                                                 int64_t n, const kernels::GateDraw& draw) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    kernels::gated_weight_backward(dy[i], w[i], g[i], draw, static_cast<uint64_t>(i), dw[i], dg[i]);
}

}  // namespace

void CpuBackend::gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const kernels::GateDraw& draw) {
  gated_forward_loop(weight.data<float>(), gate.data<float>(), out.data<float>(), weight.numel(), draw);
}

void CpuBackend::gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                       Tensor& grad_weight, Tensor& grad_gate, const kernels::GateDraw& draw) {
  gated_backward_loop(grad_out.data<float>(), weight.data<float>(), gate.data<float>(), grad_weight.data<float>(),
                      grad_gate.data<float>(), weight.numel(), draw);
}

}  // namespace sparsecap::cpu
