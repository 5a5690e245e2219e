// Batch norm in training mode (NCHW float32) on the CPU at the shapes of the demo's encoder while
// it is pre-trained: MobileNet-V1 x0.5 at 64x64 px, batch 32 (stem stride 2, then
// mobilenet_v1_stride8_blocks; each depthwise and pointwise convolution is followed by one). For
// each shape, on 1 and 2 threads, forward (batch statistics, running statistics updated) and
// backward (input, scale and shift gradients):
//   engine   Backend::batch_norm / batch_norm_backward (engine/cpu/image.cpp);
//   onednn   oneDNN's batch_normalization primitive with scale and shift, on the same plain NCHW
//            memory (what the engine's tensors are), forward_training and backward.
// Ratios against oneDNN are printed at the end of the same run, from each benchmark's fastest
// repetition (3 unless --benchmark_repetitions says otherwise).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/ratio_reporter.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace sparsecap::bench {
namespace {

struct NormCase {
  int64_t channels, size;
  int layers;  // how many of the demo encoder's batch norms have this shape
  const char* where;
};

constexpr int64_t kBatch = 32;
constexpr double kEps = 1e-5;

std::vector<NormCase> norm_cases() {
  return {{16, 32, 2, "stem, dw 0"},         {32, 32, 1, "pw 0"},           {32, 16, 1, "dw 1"},
          {64, 16, 3, "pw 1, dw 2, pw 2"},   {64, 8, 1, "dw 3"},            {128, 8, 4, "pw 3, dw 4, pw 4, dw 5"},
          {256, 8, 3, "pw 5, dw 6, pw 6"}};
}

std::string case_tag(const NormCase& c) {
  return "N32_C" + std::to_string(c.channels) + "_" + std::to_string(c.size) + "x" + std::to_string(c.size);
}

const char* const kOps[] = {"forward", "backward"};
const char* const kWho[] = {"engine", "onednn"};

std::string bench_name(const std::string& op, const std::string& who, const NormCase& c, int threads) {
  return "batch_norm_" + op + "/" + who + "/" + case_tag(c) + "/threads:" + std::to_string(threads);
}

// ---- the engine ----

void run_engine(benchmark::State& state, const std::string& op, const NormCase& c) {
  const int64_t spatial = c.size * c.size;
  Generator generator(7);
  const Tensor x = randn({kBatch, c.channels, c.size, c.size}, generator);
  const Tensor dy = randn({kBatch, c.channels, c.size, c.size}, generator);
  const Tensor gamma = randn({c.channels}, generator), beta = randn({c.channels}, generator);
  Tensor running_mean = zeros({c.channels}), running_var = ones({c.channels});
  Tensor y = Tensor::empty({kBatch, c.channels, c.size, c.size}), dx = Tensor::empty(y.shape());
  Tensor mean = Tensor::empty({c.channels}), invstd = Tensor::empty({c.channels});
  Tensor dgamma = Tensor::empty({c.channels}), dbeta = Tensor::empty({c.channels});
  Backend& cpu = backend_for(Device::cpu());
  // The backward reads the forward's statistics.
  cpu.batch_norm(x, gamma, beta, running_mean, running_var, y, mean, invstd, kBatch, c.channels, spatial, true, 0.1,
                 kEps);
  for (auto _ : state) {
    if (op == "forward")
      cpu.batch_norm(x, gamma, beta, running_mean, running_var, y, mean, invstd, kBatch, c.channels, spatial, true,
                     0.1, kEps);
    else
      cpu.batch_norm_backward(x, gamma, mean, invstd, dy, dx, dgamma, dbeta, kBatch, c.channels, spatial);
    benchmark::ClobberMemory();
  }
}

// ---- oneDNN ----

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

void run_onednn(benchmark::State& state, const std::string& op, const NormCase& c) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::desc data({kBatch, c.channels, c.size, c.size}, dt::f32, tag::nchw);
  const dnnl::memory::desc channel_vector({c.channels}, dt::f32, tag::x);
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;

  Generator generator(7);
  Tensor x = randn({kBatch, c.channels, c.size, c.size}, generator);
  Tensor dy = randn({kBatch, c.channels, c.size, c.size}, generator);
  Tensor gamma = randn({c.channels}, generator), beta = randn({c.channels}, generator);
  dnnl::stream stream(dnnl_engine());
  auto wrap = [](const dnnl::memory::desc& desc, Tensor& tensor) {
    return dnnl::memory(desc, dnnl_engine(), tensor.data<float>());
  };

  const dnnl::batch_normalization_forward::desc forward_desc(dnnl::prop_kind::forward_training, data,
                                                             static_cast<float>(kEps), flags);
  const dnnl::batch_normalization_forward::primitive_desc forward_pd(forward_desc, dnnl_engine());
  std::unordered_map<int, dnnl::memory> forward_args = {
      {DNNL_ARG_SRC, wrap(data, x)},
      {DNNL_ARG_DST, dnnl::memory(data, dnnl_engine())},
      {DNNL_ARG_SCALE, wrap(channel_vector, gamma)},
      {DNNL_ARG_SHIFT, wrap(channel_vector, beta)},
      {DNNL_ARG_MEAN, dnnl::memory(forward_pd.mean_desc(), dnnl_engine())},
      {DNNL_ARG_VARIANCE, dnnl::memory(forward_pd.variance_desc(), dnnl_engine())}};
  const dnnl::batch_normalization_forward forward(forward_pd);
  forward.execute(stream, forward_args);  // the backward reads these statistics
  stream.wait();

  dnnl::primitive primitive = forward;
  std::unordered_map<int, dnnl::memory> args = forward_args;
  std::string implementation = forward_pd.impl_info_str();
  if (op == "backward") {
    const dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, data, data,
                                                        static_cast<float>(kEps), flags);
    const dnnl::batch_normalization_backward::primitive_desc pd(desc, dnnl_engine(), forward_pd);
    args = {{DNNL_ARG_SRC, forward_args[DNNL_ARG_SRC]},
            {DNNL_ARG_DIFF_DST, wrap(data, dy)},
            {DNNL_ARG_SCALE, forward_args[DNNL_ARG_SCALE]},
            {DNNL_ARG_SHIFT, forward_args[DNNL_ARG_SHIFT]},
            {DNNL_ARG_MEAN, forward_args[DNNL_ARG_MEAN]},
            {DNNL_ARG_VARIANCE, forward_args[DNNL_ARG_VARIANCE]},
            {DNNL_ARG_DIFF_SRC, dnnl::memory(data, dnnl_engine())},
            {DNNL_ARG_DIFF_SCALE, dnnl::memory(channel_vector, dnnl_engine())},
            {DNNL_ARG_DIFF_SHIFT, dnnl::memory(channel_vector, dnnl_engine())}};
    primitive = dnnl::batch_normalization_backward(pd);
    implementation = pd.impl_info_str();
  }
  for (auto _ : state) {
    primitive.execute(stream, args);
    stream.wait();
  }
  state.SetLabel(implementation);
}

void add_task(const std::string& op, const std::string& who, const NormCase& c, int threads) {
  benchmark::RegisterBenchmark(bench_name(op, who, c, threads).c_str(), [op, who, c, threads](benchmark::State& state) {
    omp_set_num_threads(threads);
    if (who == "engine")
      run_engine(state, op, c);
    else
      run_onednn(state, op, c);
    state.counters["elements/s"] = benchmark::Counter(static_cast<double>(kBatch * c.channels * c.size * c.size),
                                                      benchmark::Counter::kIsIterationInvariantRate,
                                                      benchmark::Counter::kIs1000);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap::bench;
  // Three repetitions unless told otherwise; the ratios use each benchmark's fastest (the machine
  // this runs on is often shared).
  initialize_with_repetitions(argc, argv);
  std::printf("machine: %s, %d hardware threads; batch norm, training mode, NCHW float32, batch %lld\n",
              sparsecap::cpu::cpu_model().c_str(), omp_get_num_procs(), static_cast<long long>(kBatch));
  const std::vector<int> thread_counts = {1, 2};
  for (const NormCase& c : norm_cases())
    for (int threads : thread_counts)
      for (const char* op : kOps)
        for (const char* who : kWho) add_task(op, who, c, threads);
  FastestRepetitionReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  for (int threads : thread_counts) {
    std::printf("\nBatch norm at batch 32, %d thread(s): oneDNN time / engine time (>1: the engine is faster)\n",
                threads);
    for (const NormCase& c : norm_cases())
      for (const char* op : kOps)
        reporter.print_speedup(case_tag(c) + " (" + c.where + ") " + op, bench_name(op, "engine", c, threads),
                               bench_name(op, "onednn", c, threads));
    // The demo encoder's 15 batch norms in all.
    for (const char* who : kWho) {
      double forward = 0, backward = 0;
      bool complete = true;
      for (const NormCase& c : norm_cases()) {
        const double f = reporter.seconds(bench_name("forward", who, c, threads));
        const double b = reporter.seconds(bench_name("backward", who, c, threads));
        if (f <= 0 || b <= 0) complete = false;
        forward += c.layers * f;
        backward += c.layers * b;
      }
      if (complete)
        std::printf("  demo encoder, 15 batch norms, %-8s forward %8.0f us, backward %8.0f us\n", who, forward * 1e6,
                    backward * 1e6);
    }
  }
  benchmark::Shutdown();
  return 0;
}
