// Supermask's fused gated weight against the unfused chain of engine ops and against memcpy
// bandwidth, on the CPU (all cores) and, when a CUDA device is present, on the GPU (fused kernel
// vs device-to-device copy; timed to completion with a synchronize), for 1M..64M weights. Bytes
// moved per weight: forward reads W and G and writes W' (12 B); backward reads dW', W, G and writes
// dW, dG (20 B). memcpy moves 8 B per float (read + write). One run: the ratios are printed at its
// end, one line per size.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/ratio_reporter.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "pruning/gated_weight_op.h"

namespace sparsecap::bench {
namespace {

const std::vector<int64_t> kSizes = {1 << 20, 1 << 22, 1 << 24, 1 << 26};

std::string name_of(const char* who, int64_t n) { return std::string(who) + "/n" + std::to_string(n); }

struct Buffers {
  Tensor weight, gate, grad_out, out, grad_weight, grad_gate;
  explicit Buffers(int64_t n, Device device = Device::cpu()) {
    Generator generator(1);
    weight = randn({n}, generator).to(device);
    gate = mul_scalar(randn({n}, generator), 3.0).to(device);
    grad_out = randn({n}, generator).to(device);
    out = zeros({n}, DType::F32, device);
    grad_weight = zeros({n}, DType::F32, device);
    grad_gate = zeros({n}, DType::F32, device);
  }
};

constexpr kernels::GateDraw kDraw{7, 3, 0, true};

// The GPU twins: fused forward and backward against a device-to-device copy of n floats.
void register_gpu() {
  const Device gpu = Device::cuda(0);
  for (int64_t n : kSizes) {
    benchmark::RegisterBenchmark(name_of("gpu_copy", n).c_str(), [n, gpu](benchmark::State& state) {
      Buffers b(n, gpu);
      Backend& backend = backend_for(gpu);
      for (auto _ : state) {
        backend.copy_within(b.out.raw_data(), b.weight.raw_data(), static_cast<size_t>(n) * 4);
        backend.synchronize();
      }
      state.SetBytesProcessed(state.iterations() * n * 8);
    })->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(name_of("gpu_fused_forward", n).c_str(), [n, gpu](benchmark::State& state) {
      Buffers b(n, gpu);
      Backend& backend = backend_for(gpu);
      for (auto _ : state) {
        backend.gated_weight(b.weight, b.gate, b.out, kDraw);
        backend.synchronize();
      }
      state.SetBytesProcessed(state.iterations() * n * 12);
    })->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(name_of("gpu_fused_backward", n).c_str(), [n, gpu](benchmark::State& state) {
      Buffers b(n, gpu);
      Backend& backend = backend_for(gpu);
      for (auto _ : state) {
        backend.gated_weight_backward(b.grad_out, b.weight, b.gate, b.grad_weight, b.grad_gate, kDraw);
        backend.synchronize();
      }
      state.SetBytesProcessed(state.iterations() * n * 20);
    })->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
}

void register_all() {
  for (int64_t n : kSizes) {
    benchmark::RegisterBenchmark(name_of("memcpy", n).c_str(), [n](benchmark::State& state) {
      Buffers b(n);
      for (auto _ : state) std::memcpy(b.out.raw_data(), b.weight.raw_data(), static_cast<size_t>(n) * 4);
      state.SetBytesProcessed(state.iterations() * n * 8);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(name_of("fused_forward", n).c_str(), [n](benchmark::State& state) {
      Buffers b(n);
      for (auto _ : state) backend_for(Device::cpu()).gated_weight(b.weight, b.gate, b.out, kDraw);
      state.SetBytesProcessed(state.iterations() * n * 12);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(name_of("unfused_forward", n).c_str(), [n](benchmark::State& state) {
      Buffers b(n);
      NoGradGuard no_grad;
      for (auto _ : state) {
        Generator counters(kDraw.seed, kDraw.stream);
        const Tensor keep = greater_than(sub(sigmoid(b.gate), rand({n}, counters)), 0.0);
        benchmark::DoNotOptimize(mul(b.weight, keep).raw_data());
      }
      state.SetBytesProcessed(state.iterations() * n * 12);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(name_of("fused_backward", n).c_str(), [n](benchmark::State& state) {
      Buffers b(n);
      for (auto _ : state)
        backend_for(Device::cpu()).gated_weight_backward(b.grad_out, b.weight, b.gate, b.grad_weight, b.grad_gate,
                                                         kDraw);
      state.SetBytesProcessed(state.iterations() * n * 20);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(name_of("unfused_backward", n).c_str(), [n](benchmark::State& state) {
      Buffers b(n);
      NoGradGuard no_grad;
      for (auto _ : state) {
        // The mask has to be kept (or redrawn) by an unfused implementation: redraw it here.
        Generator counters(kDraw.seed, kDraw.stream);
        const Tensor s = sigmoid(b.gate);
        const Tensor keep = greater_than(sub(s, rand({n}, counters)), 0.0);
        benchmark::DoNotOptimize(mul(b.grad_out, keep).raw_data());
        benchmark::DoNotOptimize(mul(mul(b.grad_out, b.weight), mul(s, affine(s, -1.0, 1.0))).raw_data());
      }
      state.SetBytesProcessed(state.iterations() * n * 20);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

// One line per size: fused vs unfused (time ratio) and the fused pass's bandwidth as a share of
// memcpy's, each counting the bytes it must move. Sizes whose memcpy working set (source and
// destination) exceeds the last-level cache are marked: only there is memcpy DRAM bandwidth.
void print_cpu_summary(const RatioReporter& reporter) {
  int64_t last_level_cache = 0;
  for (const auto& cache : benchmark::CPUInfo::Get().caches)
    last_level_cache = std::max<int64_t>(last_level_cache, cache.size);
  std::printf("\nCPU, %d OpenMP threads for the fused and unfused ops, std::memcpy on one thread; float32 weights.\n",
              omp_get_max_threads());
  std::printf("Bytes counted per weight: forward 12 (reads W, G, writes W'), backward 20 (reads dW', W, G, writes dW, "
              "dG), memcpy 8.\n");
  std::printf("%-10s %-9s | %-18s %-18s | %-26s %-26s\n", "n", "memory", "fwd fused/unfused", "bwd fused/unfused",
              "fwd fused, % of memcpy", "bwd fused, % of memcpy");
  for (int64_t n : kSizes) {
    const double memcpy_seconds = reporter.seconds(name_of("memcpy", n));
    if (memcpy_seconds <= 0) continue;
    const double memcpy_rate = 8.0 * static_cast<double>(n) / memcpy_seconds;
    auto speedup = [&](const char* fused, const char* unfused) {
      const double f = reporter.seconds(name_of(fused, n)), u = reporter.seconds(name_of(unfused, n));
      return f > 0 && u > 0 ? u / f : 0.0;
    };
    auto share = [&](const char* fused, double bytes) {
      const double seconds = reporter.seconds(name_of(fused, n));
      const double rate = seconds > 0 ? bytes * static_cast<double>(n) / seconds : 0.0;
      char text[64];
      std::snprintf(text, sizeof text, "%5.1f%% (%.1f / %.1f GB/s)", 100.0 * rate / memcpy_rate, rate / 1e9,
                    memcpy_rate / 1e9);
      return std::string(text);
    };
    std::printf("%-10lld %-9s | %16.2fx  %16.2fx  | %-26s %-26s\n", static_cast<long long>(n),
                8 * n > last_level_cache ? "DRAM" : "cache", speedup("fused_forward", "unfused_forward"),
                speedup("fused_backward", "unfused_backward"), share("fused_forward", 12.0).c_str(),
                share("fused_backward", 20.0).c_str());
  }
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap::bench;
  benchmark::Initialize(&argc, argv);
  std::printf("machine: %s, %d OpenMP threads\n", sparsecap::cpu::cpu_model().c_str(), omp_get_max_threads());
  register_all();
  const bool gpu = sparsecap::cuda::built_with_cuda() && !sparsecap::cuda::devices().empty();
  if (gpu)
    register_gpu();
  else
    std::printf("GPU part skipped: %s\n", sparsecap::cuda::built_with_cuda() ? "no CUDA device found"
                                                                             : "built without CUDA");
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_cpu_summary(reporter);
  if (gpu) {
    std::printf("\nGPU: fused gated weight as a share of device copy bandwidth:\n");
    for (int64_t n : kSizes) {
      const double copy_seconds = reporter.seconds(name_of("gpu_copy", n));
      for (auto [who, bytes] : {std::pair{"gpu_fused_forward", 12.0}, std::pair{"gpu_fused_backward", 20.0}}) {
        const double seconds = reporter.seconds(name_of(who, n));
        if (seconds <= 0 || copy_seconds <= 0) continue;
        std::printf("  %-20s n=%-10lld %6.1f%% of copy bandwidth\n", who, static_cast<long long>(n),
                    100.0 * (bytes * static_cast<double>(n) / seconds) / (8.0 * static_cast<double>(n) / copy_seconds));
      }
    }
  }
  benchmark::Shutdown();
  return 0;
}
