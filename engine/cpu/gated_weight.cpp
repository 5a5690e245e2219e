// Supermask's fused gated weight on the CPU: one pass over W and G each way, both cores.
#include <algorithm>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/philox_fill.h"

namespace sparsecap::cpu {

namespace {

// Sampled draws work chunk by chunk: the vectorised Philox fills the chunk's random bits (4 KiB,
// L1-resident next to the chunk's weights), then the single-source functors consume them, so the
// keep bits stay those of kernels::gate_keep and of the CUDA kernels.
constexpr int64_t kChunk = 1024;

template <typename ChunkFn>
void for_each_drawn_chunk(int64_t n, const kernels::GateDraw& draw, ChunkFn&& chunk_fn) {
  const PhiloxPath path = philox_best_path();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    alignas(64) uint32_t bits[kChunk];
    const int64_t begin = chunk * kChunk, count = std::min(kChunk, n - begin);
    philox_fill(path, draw.seed, draw.stream, draw.offset + static_cast<uint64_t>(begin), count, bits);
    chunk_fn(begin, count, bits);
  }
}

SPARSECAP_VECTOR_CLONES void gated_forward_chunk(const float* w, const float* g, float* y, const uint32_t* bits,
                                                 int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::gated_weight_forward_bits(w[i], g[i], bits[i], true);
}

SPARSECAP_VECTOR_CLONES void gated_backward_chunk(const float* dy, const float* w, const float* g, float* dw, float* dg,
                                                  const uint32_t* bits, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float grad_weight, grad_gate;  // locals, not references into dw/dg: keeps the loop vectorisable
    kernels::gated_weight_backward_bits(dy[i], w[i], g[i], bits[i], true, grad_weight, grad_gate);
    dw[i] = grad_weight;
    dg[i] = grad_gate;
  }
}

// The deterministic mask (G > 0) draws nothing: one plain loop.
SPARSECAP_VECTOR_CLONES void mask_forward_loop(const float* w, const float* g, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::gated_weight_forward_bits(w[i], g[i], 0u, false);
}

SPARSECAP_VECTOR_CLONES void mask_backward_loop(const float* dy, const float* w, const float* g, float* dw, float* dg,
                                                int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    float grad_weight, grad_gate;
    kernels::gated_weight_backward_bits(dy[i], w[i], g[i], 0u, false, grad_weight, grad_gate);
    dw[i] = grad_weight;
    dg[i] = grad_gate;
  }
}

}  // namespace

void CpuBackend::gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const kernels::GateDraw& draw) {
  const float* w = weight.data<float>();
  const float* g = gate.data<float>();
  float* y = out.data<float>();
  const int64_t n = weight.numel();
  if (!draw.sample) return mask_forward_loop(w, g, y, n);
  for_each_drawn_chunk(n, draw, [&](int64_t begin, int64_t count, const uint32_t* bits) {
    gated_forward_chunk(w + begin, g + begin, y + begin, bits, count);
  });
}

void CpuBackend::gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                       Tensor& grad_weight, Tensor& grad_gate, const kernels::GateDraw& draw) {
  const float* dy = grad_out.data<float>();
  const float* w = weight.data<float>();
  const float* g = gate.data<float>();
  float* dw = grad_weight.data<float>();
  float* dg = grad_gate.data<float>();
  const int64_t n = weight.numel();
  if (!draw.sample) return mask_backward_loop(dy, w, g, dw, dg, n);
  for_each_drawn_chunk(n, draw, [&](int64_t begin, int64_t count, const uint32_t* bits) {
    gated_backward_chunk(dy + begin, w + begin, g + begin, dw + begin, dg + begin, bits, count);
  });
}

}  // namespace sparsecap::cpu
