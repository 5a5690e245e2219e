// GPU benchmarks of the CUDA backend: GEMM through the engine vs cuBLAS called directly,
// elementwise kernels vs a device-to-device memcpy of the same bytes, and csr_linear (our
// warp-per-row kernel and cuSPARSE) vs the dense cuBLAS GEMM of the same layer. Every iteration is timed
// with CUDA events on the backend's stream after a warm-up; ratios against the baselines are
// printed at the end. Refuses to run (exit code 2) without a GPU.
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/ratio_reporter.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::bench {
namespace {

constexpr int kWarmUpRuns = 5;

// Times `work` per iteration with CUDA events on the backend's stream, after a warm-up.
void time_with_events(benchmark::State& state, cuda::CudaBackend& backend, const std::function<void()>& work) {
  for (int i = 0; i < kWarmUpRuns; ++i) work();
  backend.synchronize();
  cuda::Event start(true), stop(true);
  for (auto _ : state) {
    start.record(backend.stream());
    work();
    stop.record(backend.stream());
    stop.synchronize();
    state.SetIterationTime(static_cast<double>(stop.elapsed_ms_since(start)) * 1e-3);
  }
}

struct GemmCase {
  int64_t m, n, k;
};
std::vector<GemmCase> gemm_cases() { return {{512, 512, 512}, {1024, 1024, 1024}, {4096, 4096, 4096}, {64, 9487, 512}}; }

std::string gemm_name(const std::string& who, const GemmCase& c) {
  return "gemm/" + who + "/m" + std::to_string(c.m) + "_n" + std::to_string(c.n) + "_k" + std::to_string(c.k);
}

void add_gemm_task(const std::string& who, GemmCase c) {
  benchmark::RegisterBenchmark(gemm_name(who, c).c_str(), [who, c](benchmark::State& state) {
    cuda::CudaBackend& backend = cuda::cuda_backend(0);
    Generator generator(1);
    const Device gpu = Device::cuda(0);
    const Tensor a = randn({c.m, c.k}, generator, DType::F32, gpu), b = randn({c.k, c.n}, generator, DType::F32, gpu);
    Tensor out = Tensor::empty({c.m, c.n}, DType::F32, gpu);
    std::function<void()> work;
    if (who == "engine_backend_gemm") {
      GemmShape shape;
      shape.m = c.m;
      shape.n = c.n;
      shape.k = c.k;
      work = [&] { backend.gemm(shape, a, b, out); };
    } else {  // cuBLAS directly, row-major through the operand swap, plain float32 compute
      cublasHandle_t handle = backend.handles().cublas();
      work = [&, handle] {
        const float alpha = 1.0f, beta = 0.0f;
        const cublasStatus_t status =
            cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(c.n), static_cast<int>(c.m),
                        static_cast<int>(c.k), &alpha, b.data<float>(), static_cast<int>(c.n), a.data<float>(),
                        static_cast<int>(c.k), &beta, out.data<float>(), static_cast<int>(c.n));
        if (status != CUBLAS_STATUS_SUCCESS) throw Error(cublasGetStatusString(status));
      };
    }
    time_with_events(state, backend, work);
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(c.m * c.n * c.k),
                                                   benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
  })->UseManualTime()->Unit(benchmark::kMicrosecond);
}

std::string elementwise_name(const std::string& who, int64_t n) { return "elementwise/" + who + "/n" + std::to_string(n); }

// `bytes_per_element`: bytes read plus written per element (memcpy 8, sigmoid 8, add 12).
void add_elementwise_task(const std::string& who, int64_t n, double bytes_per_element) {
  benchmark::RegisterBenchmark(elementwise_name(who, n).c_str(), [who, n, bytes_per_element](benchmark::State& state) {
    cuda::CudaBackend& backend = cuda::cuda_backend(0);
    Generator generator(2);
    const Device gpu = Device::cuda(0);
    const Tensor x = randn({n}, generator, DType::F32, gpu), y = randn({n}, generator, DType::F32, gpu);
    Tensor out = Tensor::empty({n}, DType::F32, gpu);
    std::function<void()> work;
    if (who == "memcpy")
      work = [&] { backend.copy_within(out.raw_data(), x.raw_data(), static_cast<size_t>(n) * sizeof(float)); };
    else if (who == "sigmoid_kernel")
      work = [&] { backend.unary(kernels::UnaryOp::Sigmoid, x, out, {}); };
    else if (who == "add_kernel")
      work = [&] { backend.binary(kernels::BinaryOp::Add, x, y, out, {}); };
    else  // add_op: through the autograd op (allocation from the caching allocator included)
      work = [&] { benchmark::DoNotOptimize(add(x, y)); };
    time_with_events(state, backend, work);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(bytes_per_element * static_cast<double>(n)));
  })->UseManualTime()->Unit(benchmark::kMicrosecond);
}

// The exported decoders' layer shapes (weight rows x columns) of issue 22.
struct CsrCase {
  int64_t rows, cols;
  double sparsity;
  int64_t batch;
};
std::vector<CsrCase> csr_cases() {
  std::vector<CsrCase> cases;
  for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{2048, 512}, {10000, 512}, {2048, 3072}, {8192, 2048}})
    for (double sparsity : {0.90, 0.95, 0.99})
      for (int64_t batch : {1, 16}) cases.push_back({rows, cols, sparsity, batch});
  return cases;
}

std::string csr_name(const std::string& who, const CsrCase& c) {
  return "csr_linear/" + who + "/" + std::to_string(c.rows) + "x" + std::to_string(c.cols) + "_s" +
         std::to_string(static_cast<int>(c.sparsity * 100 + 0.5)) + "_b" + std::to_string(c.batch);
}

// who: "own_kernel", "cusparse" (forced through CudaBackend::set_csr_kernel) or "dense_gemm" (the
// same layer as x · Wᵀ through the engine's GEMM, i.e. cuBLAS).
void add_csr_task(const std::string& who, CsrCase c) {
  benchmark::RegisterBenchmark(csr_name(who, c).c_str(), [who, c](benchmark::State& state) {
    cuda::CudaBackend& backend = cuda::cuda_backend(0);
    Generator generator(3);
    const Device gpu = Device::cuda(0);
    const Tensor keep = greater_than(rand({c.rows, c.cols}, generator), c.sparsity);
    const Tensor dense = mul(randn({c.rows, c.cols}, generator), keep);
    const sparse::CsrMatrix weight = sparse::csr_from_dense(dense).to(gpu);
    const Tensor dense_gpu = dense.to(gpu), x = randn({c.batch, c.cols}, generator, DType::F32, gpu);
    Tensor out = Tensor::empty({c.batch, c.rows}, DType::F32, gpu);
    std::function<void()> work;
    if (who == "dense_gemm") {
      GemmShape shape;
      shape.m = c.batch;
      shape.n = c.rows;
      shape.k = c.cols;
      shape.trans_b = true;
      work = [&] { backend.gemm(shape, x, dense_gpu, out); };
    } else {
      backend.set_csr_kernel(who == "own_kernel" ? cuda::CsrKernel::Own : cuda::CsrKernel::CuSparse);
      work = [&] { backend.csr_linear(weight, x, Tensor(), out, c.batch); };
    }
    time_with_events(state, backend, work);
    backend.set_csr_kernel(cuda::CsrKernel::Auto);
  })->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap::bench;
  namespace cuda = sparsecap::cuda;
  if (!cuda::built_with_cuda() || cuda::devices().empty()) {
    std::fprintf(stderr,
                 "bench_cuda: no CUDA device found (%s); the GPU benchmarks need an NVIDIA GPU and driver. "
                 "See docs/cuda.md.\n",
                 cuda::runtime_summary().c_str());
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  const cuda::DeviceInfo device = cuda::devices().front();
  std::printf("device: %s (sm_%d%d, %d SMs, %.1f GiB), %s, TF32 %s\n", device.name.c_str(), device.compute_major,
              device.compute_minor, device.multiprocessors, static_cast<double>(device.memory_bytes) / (1 << 30),
              cuda::runtime_summary().c_str(), cuda::options().allow_tf32 ? "allowed" : "off");
  for (const GemmCase& c : gemm_cases())
    for (const char* who : {"engine_backend_gemm", "cublas_sgemm_direct"}) add_gemm_task(who, c);
  const std::vector<int64_t> sizes = {1 << 16, 1 << 20, 1 << 24, 1 << 26};
  for (int64_t n : sizes) {
    add_elementwise_task("memcpy", n, 8);
    add_elementwise_task("sigmoid_kernel", n, 8);
    add_elementwise_task("add_kernel", n, 12);
    add_elementwise_task("add_op", n, 12);
  }
  for (const CsrCase& c : csr_cases())
    for (const char* who : {"own_kernel", "cusparse", "dense_gemm"}) add_csr_task(who, c);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::printf("\nGEMM speed relative to cuBLAS called directly (1.0 = same; >1 faster):\n");
  for (const GemmCase& c : gemm_cases())
    reporter.print_speedup("engine gemm vs cublasSgemm, m" + std::to_string(c.m) + " n" + std::to_string(c.n) + " k" +
                               std::to_string(c.k),
                           gemm_name("engine_backend_gemm", c), gemm_name("cublas_sgemm_direct", c));
  std::printf("\nElementwise bandwidth as a share of device memcpy bandwidth (bytes moved counted per op):\n");
  for (int64_t n : sizes) {
    const double memcpy_seconds = reporter.seconds(elementwise_name("memcpy", n));
    if (memcpy_seconds <= 0) continue;
    const double memcpy_rate = 8.0 * static_cast<double>(n) / memcpy_seconds;
    for (auto [who, bytes] : {std::pair{"sigmoid_kernel", 8.0}, std::pair{"add_kernel", 12.0},
                              std::pair{"add_op", 12.0}}) {
      const double seconds = reporter.seconds(elementwise_name(who, n));
      if (seconds <= 0) continue;
      const double rate = bytes * static_cast<double>(n) / seconds;
      std::printf("  %-16s n=%-9lld %6.1f%% of memcpy (%.1f GB/s vs %.1f GB/s)\n", who, static_cast<long long>(n),
                  100.0 * rate / memcpy_rate, rate / 1e9, memcpy_rate / 1e9);
    }
  }
  std::printf("\nCSR layer (no bias) speed, our kernel against cuSPARSE and against the dense cuBLAS GEMM "
              "(>1: ours faster; issue 22 asks >= 2x cuSPARSE at >= 90%% sparsity, batch 1-16, and never slower "
              "than dense at >= 95%%):\n");
  for (const CsrCase& c : csr_cases()) {
    const std::string label = std::to_string(c.rows) + "x" + std::to_string(c.cols) + " sparsity " +
                              std::to_string(static_cast<int>(c.sparsity * 100 + 0.5)) + "% batch " +
                              std::to_string(c.batch);
    reporter.print_speedup("own vs cuSPARSE, " + label, csr_name("own_kernel", c), csr_name("cusparse", c));
    reporter.print_speedup("own vs dense,    " + label, csr_name("own_kernel", c), csr_name("dense_gemm", c));
  }
  benchmark::Shutdown();
  return 0;
}
