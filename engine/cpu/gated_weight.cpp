// Supermask's fused gated weight on the CPU: one pass over W and G each way, both cores.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"

namespace sparsecap::cpu {

namespace {

// One Philox block gives the random bits of four consecutive weights, so the loops walk blocks
// of four (draws start at a block boundary: GateDraw offsets are multiples of 4) and a tail.
SPARSECAP_VECTOR_CLONES void gated_forward_loop(const float* w, const float* g, float* y, int64_t n,
                                                const kernels::GateDraw& draw) {
  if (!draw.sample || draw.offset % 4 != 0) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) y[i] = kernels::gated_weight_forward(w[i], g[i], draw, static_cast<uint64_t>(i));
    return;
  }
  const int64_t blocks = n / 4;
  // Locals: loads through `draw` inside the loop would block vectorisation (possible aliasing).
  const uint64_t seed = draw.seed, stream = draw.stream, first_block = draw.offset / 4;
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const kernels::Philox4x32 bits = kernels::philox_block(seed, stream, first_block + static_cast<uint64_t>(b));
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * b + lane;
      y[i] = kernels::gated_weight_forward_bits(w[i], g[i], bits.v[lane], true);
    }
  }
  for (int64_t i = 4 * blocks; i < n; ++i) y[i] = kernels::gated_weight_forward(w[i], g[i], draw, static_cast<uint64_t>(i));
}

SPARSECAP_VECTOR_CLONES void gated_backward_loop(const float* dy, const float* w, const float* g, float* dw, float* dg,
                                                 int64_t n, const kernels::GateDraw& draw) {
  if (!draw.sample || draw.offset % 4 != 0) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i)
      kernels::gated_weight_backward(dy[i], w[i], g[i], draw, static_cast<uint64_t>(i), dw[i], dg[i]);
    return;
  }
  const int64_t blocks = n / 4;
  // Locals: loads through `draw` inside the loop would block vectorisation (possible aliasing).
  const uint64_t seed = draw.seed, stream = draw.stream, first_block = draw.offset / 4;
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const kernels::Philox4x32 bits = kernels::philox_block(seed, stream, first_block + static_cast<uint64_t>(b));
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * b + lane;
      float grad_weight, grad_gate;  // locals, not references into dw/dg: keeps the loop vectorisable
      kernels::gated_weight_backward_bits(dy[i], w[i], g[i], bits.v[lane], true, grad_weight, grad_gate);
      dw[i] = grad_weight;
      dg[i] = grad_gate;
    }
  }
  for (int64_t i = 4 * blocks; i < n; ++i)
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
