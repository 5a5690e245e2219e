// Supermask's fused gated weight on the CPU: one pass over W and G each way, both cores.
#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/cpu/philox_fill.h"

namespace sparsecap::cpu {

namespace {

// Sampled draws work chunk by chunk: the vectorised Philox fills the chunk's random bits (4 KiB,
// L1-resident next to the chunk's weights), then the single-source functors consume them, so the
// keep bits stay those of kernels::gate_keep and of the CUDA kernels.
constexpr int64_t kChunk = 1024;

// An output this large cannot stay cached for the GEMM that reads it next, so the sampled passes
// stage each chunk in L1 and write it out with non-temporal stores: that skips the read for
// ownership of every destination line (the forward's memory traffic per weight drops from 16 to
// 12 bytes, the backward's from 28 to 20). 32 MiB is one Zen 3-5 CCD's L3; a fixed size, since
// sysconf reports the whole socket's L3 inside a VM (320 MiB on the machine this was tuned on).
constexpr size_t kStreamingBytes = size_t{32} << 20;

bool streams_output(int64_t n) { return static_cast<size_t>(n) * sizeof(float) >= kStreamingBytes; }

// dst[0, n) = src[0, n), with non-temporal stores where x86-64 has them.
void stream_copy(float* dst, const float* src, int64_t n) {
#if defined(__x86_64__)
  int64_t i = 0;
  for (; i < n && reinterpret_cast<uintptr_t>(dst + i) % 16 != 0; ++i) dst[i] = src[i];
  for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
  _mm_sfence();  // streaming stores are weakly ordered: complete them before the pass ends
#else
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
#endif
}

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
  const bool streaming = streams_output(n);
  for_each_drawn_chunk(n, draw, [&](int64_t begin, int64_t count, const uint32_t* bits) {
    if (!streaming) return gated_forward_chunk(w + begin, g + begin, y + begin, bits, count);
    alignas(64) float staged[kChunk];
    gated_forward_chunk(w + begin, g + begin, staged, bits, count);
    stream_copy(y + begin, staged, count);
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
  const bool streaming = streams_output(n);
  for_each_drawn_chunk(n, draw, [&](int64_t begin, int64_t count, const uint32_t* bits) {
    if (!streaming) return gated_backward_chunk(dy + begin, w + begin, g + begin, dw + begin, dg + begin, bits, count);
    alignas(64) float staged_dw[kChunk], staged_dg[kChunk];
    gated_backward_chunk(dy + begin, w + begin, g + begin, staged_dw, staged_dg, bits, count);
    stream_copy(dw + begin, staged_dw, count);
    stream_copy(dg + begin, staged_dg, count);
  });
}

}  // namespace sparsecap::cpu
