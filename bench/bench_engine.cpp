// Engine microbenchmarks, with ratios against named baselines printed at the end of the run:
//   - engine sgemm (Backend::gemm and the matmul op) vs a direct dnnl_sgemm call and vs OpenBLAS
//     cblas_sgemm, on square sizes 64..1024, the LSTM shape [32,1024]x[1024,4096] and the batch-1
//     shape [1,512]x[512,2048], on 1 and 2 threads;
//   - a batch of small products (attention's B * H items of T x d_k by d_k x S) through
//     Backend::gemm, one oneDNN matmul call, vs one dnnl_sgemm call per item (the old CPU path);
//   - elementwise sigmoid and add vs memcpy bandwidth on the same buffer sizes (bytes moved: memcpy
//     and sigmoid read n and write n floats, add reads 2n and writes n);
//   - one LSTM step (batch 32, input 512, hidden 512) forward, and forward + backward;
//   - the LSTM cell's pointwise part alone (batch 160 = the Soft-Attention step's 32 images x 5
//     captions, hidden 512): the fused lstm_cell op against the same math composed of add,
//     sigmoid, tanh and mul ops, forward and forward + backward.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstring>
#include <string>
#include <vector>

#include "bench/ratio_reporter.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "engine/ops.h"
#include "engine/rng.h"

extern "C" void openblas_set_num_threads(int threads);

namespace sparsecap::bench {
namespace {

struct GemmCase {
  int64_t m, n, k;
};

std::vector<GemmCase> gemm_cases() {
  return {{64, 64, 64}, {128, 128, 128}, {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
          {32, 4096, 1024}, {1, 2048, 512}};
}

std::string gemm_name(const char* who, const GemmCase& c, int threads) {
  return std::string(who) + "/m" + std::to_string(c.m) + "_n" + std::to_string(c.n) + "_k" + std::to_string(c.k) +
         "/threads:" + std::to_string(threads);
}

void set_threads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

void add_gemm_task(const char* who, const GemmCase& c, int threads) {
  benchmark::RegisterBenchmark(gemm_name(who, c, threads).c_str(), [who = std::string(who), c, threads](
                                                                       benchmark::State& state) {
    set_threads(threads);
    Generator generator(1);
    const Tensor a = randn({c.m, c.k}, generator), b = randn({c.k, c.n}, generator);
    Tensor out = Tensor::empty({c.m, c.n});
    GemmShape shape;
    shape.m = c.m;
    shape.n = c.n;
    shape.k = c.k;
    for (auto _ : state) {
      if (who == "engine_backend_gemm") {
        backend_for(Device::cpu()).gemm(shape, a, b, out);
      } else if (who == "engine_matmul_op") {
        benchmark::DoNotOptimize(matmul(a, b).raw_data());
      } else if (who == "dnnl_sgemm") {
        dnnl_sgemm('N', 'N', c.m, c.n, c.k, 1.0f, a.data<float>(), c.k, b.data<float>(), c.n, 0.0f, out.data<float>(),
                   c.n);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(c.m), static_cast<int>(c.n),
                    static_cast<int>(c.k), 1.0f, a.data<float>(), static_cast<int>(c.k), b.data<float>(),
                    static_cast<int>(c.n), 0.0f, out.data<float>(), static_cast<int>(c.n));
      }
      benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(c.m * c.n * c.k),
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// ---- a batch of small products ----

struct BatchedCase {
  int64_t batch, m, n, k;
};

std::vector<BatchedCase> batched_cases() {
  // ORT at the small config (75 captions x 4 heads, 16 words, d_k 32) and at paper size (8 heads, d_k 64).
  return {{300, 16, 16, 32}, {300, 16, 32, 16}, {600, 20, 20, 64}};
}

std::string batched_name(const char* who, const BatchedCase& c) {
  return std::string(who) + "/batch" + std::to_string(c.batch) + "_m" + std::to_string(c.m) + "_n" +
         std::to_string(c.n) + "_k" + std::to_string(c.k);
}

void add_batched_gemm_task(const char* who, const BatchedCase& c) {
  benchmark::RegisterBenchmark(batched_name(who, c).c_str(), [who = std::string(who), c](benchmark::State& state) {
    set_threads(omp_get_num_procs());
    Generator generator(4);
    const Tensor a = randn({c.batch, c.m, c.k}, generator), b = randn({c.batch, c.k, c.n}, generator);
    Tensor out = Tensor::empty({c.batch, c.m, c.n});
    GemmShape shape;
    shape.batch = c.batch;
    shape.m = c.m;
    shape.n = c.n;
    shape.k = c.k;
    shape.a_batch_stride = c.m * c.k;
    shape.b_batch_stride = c.k * c.n;
    shape.c_batch_stride = c.m * c.n;
    for (auto _ : state) {
      if (who == "engine_batched_gemm") {
        backend_for(Device::cpu()).gemm(shape, a, b, out);
      } else {
        for (int64_t i = 0; i < c.batch; ++i)
          dnnl_sgemm('N', 'N', c.m, c.n, c.k, 1.0f, a.data<float>() + i * shape.a_batch_stride, c.k,
                     b.data<float>() + i * shape.b_batch_stride, c.n, 0.0f, out.data<float>() + i * shape.c_batch_stride,
                     c.n);
      }
      benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(c.batch * c.m * c.n * c.k),
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// ---- elementwise vs memcpy ----

std::string elementwise_name(const char* who, int64_t n) { return std::string(who) + "/n" + std::to_string(n); }

void add_elementwise_task(const char* who, int64_t n, int64_t bytes_per_element) {
  benchmark::RegisterBenchmark(elementwise_name(who, n).c_str(), [who = std::string(who), n,
                                                                  bytes_per_element](benchmark::State& state) {
    set_threads(omp_get_num_procs());
    Generator generator(2);
    const Tensor x = randn({n}, generator), y = randn({n}, generator);
    Tensor out = Tensor::empty({n});
    out.zero_();  // touch the pages before timing
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state) {
      if (who == "memcpy")
        std::memcpy(out.raw_data(), x.raw_data(), static_cast<size_t>(n) * sizeof(float));
      else if (who == "sigmoid_kernel")
        cpu.unary(kernels::UnaryOp::Sigmoid, x, out, {});
      else if (who == "add_kernel")
        cpu.binary(kernels::BinaryOp::Add, x, y, out, {});
      else if (who == "sigmoid_op")  // the op, including its output allocation
        benchmark::DoNotOptimize(sigmoid(x).raw_data());
      else
        benchmark::DoNotOptimize(add(x, y).raw_data());
      benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * n * bytes_per_element);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// ---- one LSTM step ----

struct LstmStep {
  Tensor x, h, c, w_ih, w_hh, bias;
  Tensor run() const {
    const Tensor gates = add(linear(x, w_ih, bias), linear(h, w_hh));
    const std::vector<Tensor> parts = split(gates, h.size(1), 1);
    const Tensor i = sigmoid(parts[0]), f = sigmoid(parts[1]), g = tanh(parts[2]), o = sigmoid(parts[3]);
    const Tensor c_next = add(mul(f, c), mul(i, g));
    return mul(o, tanh(c_next));
  }
};

LstmStep make_lstm(bool requires_grad) {
  Generator generator(3);
  const int64_t batch = 32, input = 512, hidden = 512;
  LstmStep s{randn({batch, input}, generator), randn({batch, hidden}, generator), randn({batch, hidden}, generator),
             mul_scalar(randn({4 * hidden, input}, generator), 0.05), mul_scalar(randn({4 * hidden, hidden}, generator), 0.05),
             zeros({4 * hidden})};
  if (requires_grad)
    for (Tensor* t : {&s.w_ih, &s.w_hh, &s.bias}) t->set_requires_grad(true);
  return s;
}

void add_lstm_tasks() {
  benchmark::RegisterBenchmark("lstm_step_forward/b32_in512_h512", [](benchmark::State& state) {
    set_threads(omp_get_num_procs());
    const LstmStep step = make_lstm(false);
    NoGradGuard no_grad;
    for (auto _ : state) benchmark::DoNotOptimize(step.run().raw_data());
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("lstm_step_forward_backward/b32_in512_h512", [](benchmark::State& state) {
    set_threads(omp_get_num_procs());
    const LstmStep step = make_lstm(true);
    for (auto _ : state) {
      sum(step.run()).backward();
      for (const Tensor* t : {&step.w_ih, &step.w_hh, &step.bias}) t->zero_grad();
    }
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// ---- the LSTM cell's pointwise part: fused op vs composed ops ----

constexpr int64_t kCellBatch = 160, kCellHidden = 512;

std::string cell_name(const char* who) {
  return std::string(who) + "/b" + std::to_string(kCellBatch) + "_h" + std::to_string(kCellHidden);
}

// The new [2, batch, hidden] state (h rows, then c rows) from the two gate pre-activations.
Tensor composed_lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev) {
  const std::vector<Tensor> parts = split(add(input_gates, hidden_gates), kCellHidden, 1);
  const Tensor i = sigmoid(parts[0]), f = sigmoid(parts[1]), g = tanh(parts[2]), o = sigmoid(parts[3]);
  const Tensor c = add(mul(f, c_prev), mul(i, g));
  return stack({mul(o, tanh(c)), c}, 0);
}

void add_cell_task(const char* who, bool fused, bool backward) {
  benchmark::RegisterBenchmark(cell_name(who).c_str(), [fused, backward](benchmark::State& state) {
    set_threads(omp_get_num_procs());
    Generator generator(5);
    Tensor input_gates = randn({kCellBatch, 4 * kCellHidden}, generator);
    Tensor hidden_gates = randn({kCellBatch, 4 * kCellHidden}, generator);
    Tensor c_prev = randn({kCellBatch, kCellHidden}, generator);
    for (Tensor* t : {&input_gates, &hidden_gates, &c_prev}) t->set_requires_grad(backward);
    for (auto _ : state) {
      const Tensor state_out = fused ? lstm_cell(input_gates, hidden_gates, c_prev)
                                     : composed_lstm_cell(input_gates, hidden_gates, c_prev);
      if (backward) {
        sum(state_out).backward();
        for (const Tensor* t : {&input_gates, &hidden_gates, &c_prev}) t->zero_grad();
      }
      benchmark::DoNotOptimize(state_out.raw_data());
    }
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void add_cell_tasks() {
  add_cell_task("lstm_cell_fused_forward", true, false);
  add_cell_task("lstm_cell_composed_forward", false, false);
  add_cell_task("lstm_cell_fused_forward_backward", true, true);
  add_cell_task("lstm_cell_composed_forward_backward", false, true);
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap::bench;
  benchmark::Initialize(&argc, argv);
  std::printf("machine: %s, %d hardware threads, %s\n", sparsecap::cpu::cpu_model().c_str(), omp_get_num_procs(),
              sparsecap::cpu::gemm_library().c_str());
  const std::vector<int> thread_counts = {1, omp_get_num_procs()};
  for (const GemmCase& c : gemm_cases())
    for (int threads : thread_counts)
      for (const char* who : {"engine_backend_gemm", "engine_matmul_op", "dnnl_sgemm", "openblas_cblas_sgemm"})
        add_gemm_task(who, c, threads);
  for (const BatchedCase& c : batched_cases())
    for (const char* who : {"engine_batched_gemm", "per_item_dnnl_sgemm"}) add_batched_gemm_task(who, c);
  const std::vector<int64_t> sizes = {1 << 16, 1 << 20, 1 << 24};
  for (int64_t n : sizes) {
    add_elementwise_task("memcpy", n, 8);
    add_elementwise_task("sigmoid_kernel", n, 8);
    add_elementwise_task("sigmoid_op", n, 8);
    add_elementwise_task("add_kernel", n, 12);
    add_elementwise_task("add_op", n, 12);
  }
  add_lstm_tasks();
  add_cell_tasks();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::printf("\nGEMM speed relative to direct dnnl_sgemm (1.0 = same; >1 faster) and to OpenBLAS:\n");
  for (const GemmCase& c : gemm_cases())
    for (int threads : thread_counts) {
      const std::string tag = "m" + std::to_string(c.m) + " n" + std::to_string(c.n) + " k" + std::to_string(c.k) +
                              ", " + std::to_string(threads) + " thread(s)";
      reporter.print_speedup("engine gemm vs dnnl_sgemm, " + tag, gemm_name("engine_backend_gemm", c, threads),
                             gemm_name("dnnl_sgemm", c, threads));
      reporter.print_speedup("engine matmul op vs dnnl_sgemm, " + tag, gemm_name("engine_matmul_op", c, threads),
                             gemm_name("dnnl_sgemm", c, threads));
      reporter.print_speedup("engine gemm vs OpenBLAS, " + tag, gemm_name("engine_backend_gemm", c, threads),
                             gemm_name("openblas_cblas_sgemm", c, threads));
    }
  std::printf("\nBatched GEMM: one oneDNN matmul call vs one dnnl_sgemm per item (>1: the batched call is faster):\n");
  for (const BatchedCase& c : batched_cases())
    reporter.print_speedup("engine batched gemm vs per-item dnnl_sgemm, " + batched_name("", c),
                           batched_name("engine_batched_gemm", c), batched_name("per_item_dnnl_sgemm", c));
  std::printf("\nElementwise bandwidth as a share of memcpy bandwidth (same n; bytes moved counted per op):\n");
  for (int64_t n : sizes) {
    const double memcpy_seconds = reporter.seconds(elementwise_name("memcpy", n));
    if (memcpy_seconds <= 0) continue;
    const double memcpy_rate = 8.0 * static_cast<double>(n) / memcpy_seconds;
    for (auto [who, bytes] : {std::pair{"sigmoid_kernel", 8.0}, std::pair{"sigmoid_op", 8.0},
                              std::pair{"add_kernel", 12.0}, std::pair{"add_op", 12.0}}) {
      const double seconds = reporter.seconds(elementwise_name(who, n));
      if (seconds <= 0) continue;
      const double rate = bytes * static_cast<double>(n) / seconds;
      std::printf("  %-16s n=%-9lld %6.1f%% of memcpy (%.1f GB/s vs %.1f GB/s)\n", who, static_cast<long long>(n),
                  100.0 * rate / memcpy_rate, rate / 1e9, memcpy_rate / 1e9);
    }
  }
  std::printf("\nLSTM cell, fused op vs the same math in composed ops (>1: fused is faster):\n");
  for (const char* pass : {"forward", "forward_backward"})
    reporter.print_speedup(std::string("lstm_cell ") + pass,
                           cell_name((std::string("lstm_cell_fused_") + pass).c_str()),
                           cell_name((std::string("lstm_cell_composed_") + pass).c_str()));
  benchmark::Shutdown();
  return 0;
}
