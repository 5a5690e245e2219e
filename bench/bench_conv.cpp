// Depthwise 3x3 convolution (padding 1, groups = channels, NCHW float32) on the CPU at the shapes
// of the demo's encoder: MobileNet-V1 x0.5 at 64x64 px, batch 32 (models/mobilenet.cpp: stem
// stride 2, then mobilenet_v1_stride8_blocks; the last two shapes are the default blocks' extra
// stride-2 stage down to 4x4). For each shape, on 1 and 2 threads, forward, input gradient and
// weight gradient through Backend::conv2d / conv2d_backward_input / conv2d_backward_weight:
//   new       the specialised 3x3 path (engine/cpu/depthwise.cpp);
//   generic   the generic direct loops on the same shape (what every depthwise shape ran before);
//   onednn    oneDNN's convolution primitive with groups = channels, in the memory layout oneDNN
//             picks (format "any", blocked for its JIT depthwise kernels), data reordered into it
//             before timing: the primitive alone, its reorders not counted;
//   onednn_nchw  the same primitive on plain NCHW memory (what the engine's tensors are).
// Ratios against generic and oneDNN are printed at the end of the same run, from each benchmark's
// fastest repetition (3 unless --benchmark_repetitions says otherwise).
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
#include "engine/cpu/depthwise.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace sparsecap::bench {
namespace {

struct DwCase {
  int64_t channels, size, stride;
  int layers;        // how many of the demo encoder's layers have this shape (0: default blocks only)
  const char* where;
};

constexpr int64_t kBatch = 32;

std::vector<DwCase> dw_cases() {
  return {{16, 32, 1, 1, "block 0"},        {32, 32, 2, 1, "block 1"},
          {64, 16, 1, 1, "block 2"},        {64, 16, 2, 1, "block 3"},
          {128, 8, 1, 2, "blocks 4, 5"},    {256, 8, 1, 1, "block 6"},
          {128, 8, 2, 0, "default block 5"}, {256, 4, 1, 0, "default block 6"}};
}

Conv2dShape shape_of(const DwCase& c) {
  Conv2dShape s;
  s.batch = kBatch;
  s.in_channels = s.out_channels = s.groups = c.channels;
  s.in_h = s.in_w = c.size;
  s.out_h = s.out_w = (c.size - 1) / c.stride + 1;
  s.kernel_h = s.kernel_w = 3;
  s.stride = c.stride;
  s.padding = 1;
  return s;
}

std::string case_tag(const DwCase& c) {
  const int64_t out = (c.size - 1) / c.stride + 1;
  return "N32_C" + std::to_string(c.channels) + "_" + std::to_string(c.size) + "x" + std::to_string(c.size) + "_s" +
         std::to_string(c.stride) + "_out" + std::to_string(out) + "x" + std::to_string(out);
}

const char* const kOps[] = {"forward", "input_grad", "weight_grad"};
const char* const kWho[] = {"new", "generic", "onednn", "onednn_nchw"};

std::string bench_name(const std::string& op, const std::string& who, const DwCase& c, int threads) {
  return "depthwise_" + op + "/" + who + "/" + case_tag(c) + "/threads:" + std::to_string(threads);
}

// ---- the engine: new path or the generic loops ----

void run_engine(benchmark::State& state, const std::string& op, bool generic, const DwCase& c) {
  const Conv2dShape s = shape_of(c);
  Generator generator(7);
  const Tensor x = randn({kBatch, c.channels, s.in_h, s.in_w}, generator);
  const Tensor w = randn({c.channels, 1, 3, 3}, generator);
  const Tensor dy = randn({kBatch, c.channels, s.out_h, s.out_w}, generator);
  Tensor y = Tensor::empty({kBatch, c.channels, s.out_h, s.out_w});
  Tensor dx = Tensor::empty({kBatch, c.channels, s.in_h, s.in_w});
  Tensor dw = Tensor::empty({c.channels, 1, 3, 3});
  Backend& cpu = backend_for(Device::cpu());
  cpu::depthwise_force_generic(generic);
  for (auto _ : state) {
    if (op == "forward")
      cpu.conv2d(x, w, y, s);
    else if (op == "input_grad")
      cpu.conv2d_backward_input(dy, w, dx, s);
    else
      cpu.conv2d_backward_weight(dy, x, dw, s);
    benchmark::ClobberMemory();
  }
  cpu::depthwise_force_generic(false);
}

// ---- oneDNN ----

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A memory in the primitive's layout `want`, filled from the plain buffer `plain` (layout `from`).
dnnl::memory in_layout(const dnnl::memory::desc& want, const dnnl::memory::desc& from, float* plain,
                       dnnl::stream& stream) {
  dnnl::memory source(from, dnnl_engine(), plain);
  if (want == from) return source;
  dnnl::memory target(want, dnnl_engine());
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  return target;
}

void run_onednn(benchmark::State& state, const std::string& op, bool plain_layout, const DwCase& c) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const Conv2dShape s = shape_of(c);
  const dnnl::memory::dims src_dims = {kBatch, c.channels, s.in_h, s.in_w};
  const dnnl::memory::dims dst_dims = {kBatch, c.channels, s.out_h, s.out_w};
  const dnnl::memory::dims weight_dims = {c.channels, 1, 1, 3, 3};  // groups, out/g, in/g, kh, kw
  const dnnl::memory::dims strides = {c.stride, c.stride}, padding = {1, 1};
  // Bottom/right padding that makes the output size come out as ours.
  const dnnl::memory::dims padding_r = {(s.out_h - 1) * c.stride + 3 - s.in_h - 1,
                                        (s.out_w - 1) * c.stride + 3 - s.in_w - 1};
  const dnnl::memory::desc src_plain(src_dims, dt::f32, tag::nchw), dst_plain(dst_dims, dt::f32, tag::nchw),
      weight_plain(weight_dims, dt::f32, tag::goihw);
  const tag layout = plain_layout ? tag::nchw : tag::any;
  const dnnl::memory::desc src_any(src_dims, dt::f32, layout), dst_any(dst_dims, dt::f32, layout),
      weight_any(weight_dims, dt::f32, plain_layout ? tag::goihw : tag::any);

  Generator generator(7);
  Tensor x = randn({kBatch, c.channels, s.in_h, s.in_w}, generator);
  Tensor w = randn({c.channels, 1, 3, 3}, generator);
  Tensor dy = randn({kBatch, c.channels, s.out_h, s.out_w}, generator);
  dnnl::stream stream(dnnl_engine());

  const dnnl::convolution_forward::desc forward_desc(dnnl::prop_kind::forward_training,
                                                     dnnl::algorithm::convolution_direct, src_any, weight_any, dst_any,
                                                     strides, padding, padding_r);
  const dnnl::convolution_forward::primitive_desc forward_pd(forward_desc, dnnl_engine());
  dnnl::primitive primitive;
  std::unordered_map<int, dnnl::memory> args;
  std::string implementation;
  if (op == "forward") {
    args[DNNL_ARG_SRC] = in_layout(forward_pd.src_desc(), src_plain, x.data<float>(), stream);
    args[DNNL_ARG_WEIGHTS] = in_layout(forward_pd.weights_desc(), weight_plain, w.data<float>(), stream);
    args[DNNL_ARG_DST] = dnnl::memory(forward_pd.dst_desc(), dnnl_engine());
    primitive = dnnl::convolution_forward(forward_pd);
    implementation = forward_pd.impl_info_str();
  } else if (op == "input_grad") {
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, src_any, weight_any, dst_any,
                                                     strides, padding, padding_r);
    const dnnl::convolution_backward_data::primitive_desc pd(desc, dnnl_engine(), forward_pd);
    args[DNNL_ARG_DIFF_DST] = in_layout(pd.diff_dst_desc(), dst_plain, dy.data<float>(), stream);
    args[DNNL_ARG_WEIGHTS] = in_layout(pd.weights_desc(), weight_plain, w.data<float>(), stream);
    args[DNNL_ARG_DIFF_SRC] = dnnl::memory(pd.diff_src_desc(), dnnl_engine());
    primitive = dnnl::convolution_backward_data(pd);
    implementation = pd.impl_info_str();
  } else {
    const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, src_any, weight_any,
                                                        dst_any, strides, padding, padding_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(desc, dnnl_engine(), forward_pd);
    args[DNNL_ARG_SRC] = in_layout(pd.src_desc(), src_plain, x.data<float>(), stream);
    args[DNNL_ARG_DIFF_DST] = in_layout(pd.diff_dst_desc(), dst_plain, dy.data<float>(), stream);
    args[DNNL_ARG_DIFF_WEIGHTS] = dnnl::memory(pd.diff_weights_desc(), dnnl_engine());
    primitive = dnnl::convolution_backward_weights(pd);
    implementation = pd.impl_info_str();
  }
  for (auto _ : state) {
    primitive.execute(stream, args);
    stream.wait();
  }
  state.SetLabel(implementation);
}

void add_task(const std::string& op, const std::string& who, const DwCase& c, int threads) {
  benchmark::RegisterBenchmark(bench_name(op, who, c, threads).c_str(), [op, who, c, threads](benchmark::State& state) {
    omp_set_num_threads(threads);
    if (who == "new" || who == "generic")
      run_engine(state, op, who == "generic", c);
    else
      run_onednn(state, op, who == "onednn_nchw", c);
    const Conv2dShape s = shape_of(c);
    // Multiply-adds of the op: 9 per output element (the weight gradient's and input gradient's
    // counts are the same products).
    state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(kBatch * c.channels * s.out_h * s.out_w * 9),
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
  std::printf("machine: %s, %d hardware threads; depthwise 3x3, padding 1, NCHW float32, batch %lld\n",
              sparsecap::cpu::cpu_model().c_str(), omp_get_num_procs(), static_cast<long long>(kBatch));
  const std::vector<int> thread_counts = {1, 2};
  for (const DwCase& c : dw_cases())
    for (int threads : thread_counts)
      for (const char* op : kOps)
        for (const char* who : kWho) add_task(op, who, c, threads);
  FastestRepetitionReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  for (int threads : thread_counts) {
    std::printf("\nDepthwise 3x3 at batch 32, %d thread(s): new path vs generic loops and vs oneDNN (>1: new is faster)\n",
                threads);
    std::printf("  %-40s %-12s %10s %10s %14s\n", "shape (layer)", "op", "vs generic", "vs oneDNN", "vs oneDNN nchw");
    for (const DwCase& c : dw_cases())
      for (const char* op : kOps) {
        const double mine = reporter.seconds(bench_name(op, "new", c, threads));
        if (mine <= 0) continue;
        auto ratio = [&](const char* who) {
          const double other = reporter.seconds(bench_name(op, who, c, threads));
          char text[32] = "-";  // not run (filtered out)
          if (other > 0) std::snprintf(text, sizeof(text), "%.2fx", other / mine);
          return std::string(text);
        };
        std::printf("  %-40s %-12s %10s %10s %14s\n", (case_tag(c) + " (" + c.where + ")").c_str(), op,
                    ratio("generic").c_str(), ratio("onednn").c_str(), ratio("onednn_nchw").c_str());
      }
    // The demo encoder's depthwise layers in all (default-blocks-only shapes left out).
    for (const char* who : kWho) {
      double forward = 0, backward = 0;
      bool complete = true;
      for (const DwCase& c : dw_cases()) {
        if (c.layers == 0) continue;
        const double f = reporter.seconds(bench_name("forward", who, c, threads));
        const double i = reporter.seconds(bench_name("input_grad", who, c, threads));
        const double g = reporter.seconds(bench_name("weight_grad", who, c, threads));
        if (f <= 0 || i <= 0 || g <= 0) complete = false;
        forward += c.layers * f;
        backward += c.layers * (i + g);
      }
      if (complete)
        std::printf("  demo encoder, 7 depthwise layers, %-12s forward %8.0f us, backward (input + weight) %8.0f us\n",
                    who, forward * 1e6, backward * 1e6);
    }
  }
  benchmark::Shutdown();
  return 0;
}
