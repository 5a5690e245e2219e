// What sparsity buys at inference, in one run:
//   - the CSR kernel (engine/cpu/csr_linear.cpp, float32 and float16 values) against the dense
//     path on the same matrices: oneDNN dnnl_sgemm (the engine's GEMM) for every batch and
//     OpenBLAS cblas_sgemv for batch 1, and against Eigen's row-major SparseMatrix x dense product;
//     shapes 2048x512 (cache-resident), 8192x2048, 10000x512 (the paper's SA output layer) and
//     2048x3072 (its LSTM) (DRAM-resident), batch 1, 3, 16, 64, sparsity 0.5 .. 0.99;
//   - the Soft-Attention decoder step, dense vs loaded from its sparse export: per-token latency
//     at batch 1 with beam 3 (3 rows) and throughput at batch 50;
//   - GPU twins (cuSPARSE through Backend::csr_linear vs cuBLAS through linear), CUDA builds with
//     a visible GPU only.
// Ratios (dense time / sparse time, > 1: sparse is faster) are printed at the end, from each
// benchmark's fastest repetition under --benchmark_repetitions=N.
//
// --csr_paths=avx2,avx512 (or portable, or all: every path this CPU has) runs the CSR kernel on
// each listed instruction-set path (engine/cpu/csr_path.h) as its own benchmarks, csr_f32_<path>
// and csr_f16_<path>, with ratio tables per path; the default is the widest path alone.
// --sliced_half_values=half|widened|auto holds csr_f16's values in the sliced layout that way
// (cpu::SlicedHalfValues; default auto).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <Eigen/SparseCore>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench/ratio_reporter.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "engine/cpu/csr_linear.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/sparse/sparse_ops.h"
#include "engine/sparse/csr_file.h"
#include "models/captioner_registry.h"
#include "train/dataset_setup.h"
#include "train/exported_model.h"

namespace sparsecap::bench {
namespace {

struct MatrixShape {
  int64_t rows, cols;
  const char* residence;
};

const std::vector<MatrixShape> kShapes = {
    {2048, 512, "cache"}, {8192, 2048, "DRAM"}, {10000, 512, "DRAM"}, {2048, 3072, "DRAM"}};
const std::vector<int64_t> kBatches = {1, 3, 16, 64};
const std::vector<double> kSparsities = {0.5, 0.8, 0.9, 0.95, 0.975, 0.99};
const cpu::CsrPath kAllCsrPaths[] = {cpu::CsrPath::kPortable, cpu::CsrPath::kAvx2, cpu::CsrPath::kAvx512};

// "portable", "avx2", "avx512": the path's part of benchmark names and of --csr_paths.
std::string path_tag(cpu::CsrPath path) {
  switch (path) {
    case cpu::CsrPath::kPortable: return "portable";
    case cpu::CsrPath::kAvx2: return "avx2";
    case cpu::CsrPath::kAvx512: return "avx512";
  }
  return "unknown";
}

// "csr_f32_avx2": the CSR benchmarks of one value type on one path.
std::string csr_who(const char* values, cpu::CsrPath path) {
  return std::string("csr_") + values + "_" + path_tag(path);
}

std::string shape_tag(const MatrixShape& s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }
std::string sparsity_tag(double sparsity) {
  char text[16];
  std::snprintf(text, sizeof(text), "s%.3f", sparsity);
  return text;
}
constexpr double kKernelMinTime = 0.1, kDecoderMinTime = 0.3;  // seconds per benchmark

// Google Benchmark appends "/min_time:0.100" to the name of a benchmark with its own MinTime; the
// names built here include it so the summary finds the results.
std::string min_time_suffix(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "/min_time:%.3f", seconds);
  return text;
}
// The name to register: without the suffix Google Benchmark adds itself.
std::string registered_name(const std::string& name) { return name.substr(0, name.rfind("/min_time:")); }
std::string sparse_name(const std::string& who, const MatrixShape& s, double sparsity, int64_t batch) {
  return who + "/" + shape_tag(s) + "/" + sparsity_tag(sparsity) + "/b" + std::to_string(batch) +
         min_time_suffix(kKernelMinTime);
}
std::string dense_name(const std::string& who, const MatrixShape& s, int64_t batch) {
  return who + "/" + shape_tag(s) + "/b" + std::to_string(batch) + min_time_suffix(kKernelMinTime);
}

// A weight with `sparsity` of its entries zeroed at random (what a pruned layer looks like).
Tensor pruned_matrix(const MatrixShape& s, double sparsity) {
  Generator generator(static_cast<uint64_t>(s.rows * 131 + s.cols));
  return mul(randn({s.rows, s.cols}, generator), bernoulli({s.rows, s.cols}, 1.0 - sparsity, generator));
}

// The operands of one (shape, sparsity), built when first asked for; benchmarks are registered
// grouped by (shape, sparsity), so one cached case at a time bounds memory.
struct SparseCase {
  MatrixShape shape{};
  double sparsity = -1;
  sparse::CsrMatrix csr_f32, csr_f16;
  Eigen::SparseMatrix<float, Eigen::RowMajor, int> eigen;
};

const SparseCase& sparse_case(const MatrixShape& s, double sparsity) {
  static SparseCase cached;
  if (cached.shape.rows == s.rows && cached.shape.cols == s.cols && cached.sparsity == sparsity) return cached;
  cached = SparseCase{};
  const Tensor dense = pruned_matrix(s, sparsity);
  cached.shape = s;
  cached.sparsity = sparsity;
  cached.csr_f32 = sparse::csr_from_dense(dense, DType::F32);
  cached.csr_f16 = sparse::csr_from_dense(dense, DType::F16);
  std::vector<Eigen::Triplet<float, int>> triplets;
  const float* values = dense.data<float>();
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < s.cols; ++c)
      if (values[r * s.cols + c] != 0.0f)
        triplets.emplace_back(static_cast<int>(r), static_cast<int>(c), values[r * s.cols + c]);
  cached.eigen.resize(static_cast<int>(s.rows), static_cast<int>(s.cols));
  cached.eigen.setFromTriplets(triplets.begin(), triplets.end());
  cached.eigen.makeCompressed();
  return cached;
}

const Tensor& dense_matrix(const MatrixShape& s) {
  static std::map<std::string, Tensor> matrices;
  Tensor& matrix = matrices[shape_tag(s)];
  if (!matrix.defined()) matrix = pruned_matrix(s, 0.9);  // dense kernels ignore the values
  return matrix;
}

Tensor activations(int64_t batch, int64_t cols) {
  Generator generator(42);
  return randn({batch, cols}, generator);
}

void add_csr_benchmark(const char* values, cpu::CsrPath path, const MatrixShape& s, double sparsity, int64_t batch) {
  const std::string who = csr_who(values, path);
  benchmark::RegisterBenchmark(registered_name(sparse_name(who, s, sparsity, batch)).c_str(), [=](benchmark::State& state) {
    cpu::set_csr_kernels_path(path);
    const SparseCase& c = sparse_case(s, sparsity);
    const sparse::CsrMatrix& csr = std::string(values) == "f16" ? c.csr_f16 : c.csr_f32;
    const Tensor x = activations(batch, s.cols);
    Tensor out = Tensor::empty({batch, s.rows});
    const Tensor bias = zeros({s.rows});
    for (auto _ : state) {
      cpu::csr_linear_f32(csr, x.data<float>(), bias.data<float>(), out.data<float>(), batch);
      benchmark::DoNotOptimize(out.data<float>());
    }
    state.counters["nnz"] = static_cast<double>(csr.nnz());
  })->UseRealTime()->MinTime(kKernelMinTime);
}

void add_eigen_benchmark(const MatrixShape& s, double sparsity, int64_t batch) {
  benchmark::RegisterBenchmark(registered_name(sparse_name("eigen", s, sparsity, batch)).c_str(), [=](benchmark::State& state) {
    const SparseCase& c = sparse_case(s, sparsity);
    const Tensor x = activations(batch, s.cols);
    // x [batch, cols] row-major is Xᵀ column-major [cols, batch]; the result likewise.
    const Eigen::Map<const Eigen::MatrixXf> input(x.data<float>(), s.cols, batch);
    Eigen::MatrixXf output(s.rows, batch);
    for (auto _ : state) {
      output.noalias() = c.eigen * input;
      benchmark::DoNotOptimize(output.data());
    }
  })->UseRealTime()->MinTime(kKernelMinTime);
}

void add_dense_benchmarks(const MatrixShape& s, int64_t batch) {
  benchmark::RegisterBenchmark(registered_name(dense_name("dnnl_sgemm", s, batch)).c_str(), [=](benchmark::State& state) {
    const Tensor& w = dense_matrix(s);
    const Tensor x = activations(batch, s.cols);
    Tensor out = Tensor::empty({batch, s.rows});
    for (auto _ : state) {  // out [batch, rows] = x [batch, cols] · wᵀ, as the engine's linear
      dnnl_sgemm('N', 'T', batch, s.rows, s.cols, 1.0f, x.data<float>(), s.cols, w.data<float>(), s.cols, 0.0f,
                 out.data<float>(), s.rows);
      benchmark::DoNotOptimize(out.data<float>());
    }
  })->UseRealTime()->MinTime(kKernelMinTime);
  if (batch != 1) return;
  benchmark::RegisterBenchmark(registered_name(dense_name("openblas_sgemv", s, batch)).c_str(), [=](benchmark::State& state) {
    const Tensor& w = dense_matrix(s);
    const Tensor x = activations(1, s.cols);
    Tensor out = Tensor::empty({s.rows});
    for (auto _ : state) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(s.rows), static_cast<int>(s.cols), 1.0f,
                  w.data<float>(), static_cast<int>(s.cols), x.data<float>(), 1, 0.0f, out.data<float>(), 1);
      benchmark::DoNotOptimize(out.data<float>());
    }
  })->UseRealTime()->MinTime(kKernelMinTime);
}

// ---- decoder step -------------------------------------------------------------

const std::vector<double> kDecoderSparsities = {0.8, 0.9, 0.95, 0.975, 0.99};

// The demo's decoder (hidden 512, embedding 256, attention 512, LSTM) with the paper's 10 000-word
// vocabulary, over the demo's width-0.5 MobileNet (seven separable blocks, stride 16) on 224x224
// images: 14x14 = 196 attention positions of 256 channels.
train::RunConfig decoder_run_config() {
  train::RunConfig run;
  run.model = {{"type", "soft_attention"},
               {"encoder", {{"width_multiplier", 0.5}}},
               {"decoder", {{"hidden_size", 512}, {"embedding_size", 256}, {"attention_size", 512}, {"dropout", 0.0}}}};
  return train::resolve_run_config(run);
}
constexpr int64_t kDecoderVocabulary = 10000;

void prune_randomly(const std::vector<nn::ParameterPtr>& weights, double sparsity) {
  NoGradGuard no_grad;
  Generator generator(5);
  for (const nn::ParameterPtr& parameter : weights)
    parameter->value().copy_(mul(parameter->value(), bernoulli(parameter->shape(), 1.0 - sparsity, generator)));
}

// A pruned captioner and, unless `dense`, the same model exported (values `value_dtype`) and
// loaded back, so its decoder computes through CSR.
std::unique_ptr<models::Captioner> decoder_model(double sparsity, bool dense, DType value_dtype) {
  Generator generator(1);
  const train::RunConfig run = decoder_run_config();
  std::unique_ptr<models::Captioner> model =
      models::make_captioner(run.model, train::captioner_vocabulary(kDecoderVocabulary), generator);
  prune_randomly(model->prunable_parameters(), sparsity);
  model->eval();
  if (dense) return model;
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "sparsecap-bench-decoder.safetensors";
  sparse::ExportOptions options;
  options.value_dtype = value_dtype;
  const std::vector<std::string> csr = model->csr_weight_names();
  sparse::export_model(*model, std::set<std::string>(csr.begin(), csr.end()), nlohmann::json(run),
                       std::vector<std::string>(kDecoderVocabulary, "w"), path, options);
  train::ExportedCaptioner loaded = train::load_exported_captioner(path);
  std::filesystem::remove(path);
  return std::move(loaded.model);
}

std::string decoder_name(const std::string& who, const std::string& mode, double sparsity) {
  return "decoder_step/" + mode + "/" + who + (who == "dense" ? "" : "/" + sparsity_tag(sparsity)) +
         min_time_suffix(kDecoderMinTime);
}

// mode "latency": 1 image, beam 3 (3 rows per step); mode "throughput": 50 images, 1 row each.
void add_decoder_benchmark(const std::string& who, const std::string& mode, double sparsity) {
  benchmark::RegisterBenchmark(registered_name(decoder_name(who, mode, sparsity)).c_str(), [=](benchmark::State& state) {
    cpu::set_csr_kernels_path(cpu::csr_best_path());
    NoGradGuard no_grad;
    auto model = decoder_model(sparsity, who == "dense", who == "csr_f16" ? DType::F16 : DType::F32);
    const int64_t images = mode == "latency" ? 1 : 50, rows = mode == "latency" ? 3 : 50;
    Generator generator(3);
    auto decoding = model->encode(randn({images, 3, 224, 224}, generator));
    if (rows != images) decoding->select_rows(zeros({rows}, DType::I64));
    const Tensor tokens = full({rows}, 2, DType::I64);
    for (auto _ : state) benchmark::DoNotOptimize(model->decode_step(*decoding, tokens).raw_data());
    state.SetItemsProcessed(state.iterations() * rows);
  })->UseRealTime()->MinTime(kDecoderMinTime);
}

// ---- GPU twins ------------------------------------------------------------------

#if SPARSECAP_WITH_CUDA
void add_gpu_benchmarks(const MatrixShape& s, double sparsity, int64_t batch) {
  benchmark::RegisterBenchmark(registered_name(sparse_name("gpu_cusparse", s, sparsity, batch)).c_str(), [=](benchmark::State& state) {
    const Device gpu = Device::cuda(0);
    const sparse::CsrMatrix csr = sparse_case(s, sparsity).csr_f32.to(gpu);
    const Tensor x = activations(batch, s.cols).to(gpu);
    NoGradGuard no_grad;
    for (auto _ : state) {
      benchmark::DoNotOptimize(sparse::sparse_linear(x, csr).raw_data());
      backend_for(gpu).synchronize();
    }
  })->UseRealTime()->MinTime(kKernelMinTime);
  if (sparsity != kSparsities.front()) return;
  benchmark::RegisterBenchmark(registered_name(dense_name("gpu_cublas", s, batch)).c_str(), [=](benchmark::State& state) {
    const Device gpu = Device::cuda(0);
    const Tensor w = dense_matrix(s).to(gpu);
    const Tensor x = activations(batch, s.cols).to(gpu);
    NoGradGuard no_grad;
    for (auto _ : state) {
      benchmark::DoNotOptimize(linear(x, w).raw_data());
      backend_for(gpu).synchronize();
    }
  })->UseRealTime()->MinTime(kKernelMinTime);
}
#endif

// Whether the GPU twins can run; prints why not otherwise.
bool gpu_twins_available() {
#if SPARSECAP_WITH_CUDA
  if (!cuda::devices().empty()) return true;
  std::printf("GPU twins (cuSPARSE vs cuBLAS) refused: no CUDA device is visible to this process\n");
#else
  std::printf("GPU twins (cuSPARSE vs cuBLAS) refused: this build has no CUDA (configure with -DSPARSECAP_CUDA=ON)\n");
#endif
  return false;
}

// ---- the summary ------------------------------------------------------------------

void print_kernel_ratios(const RatioReporter& reporter, const std::string& who, const std::string& baseline) {
  std::printf("\n%s speed-up over %s (baseline time / %s time), %d threads:\n", who.c_str(), baseline.c_str(),
              who.c_str(), omp_get_max_threads());
  std::printf("%-22s", "shape / batch");
  for (double sparsity : kSparsities) std::printf(" %8.1f%%", 100 * sparsity);
  std::printf("\n");
  for (const MatrixShape& s : kShapes)
    for (int64_t batch : kBatches) {
      if (baseline == "openblas_sgemv" && batch != 1) continue;
      std::printf("%-22s", (shape_tag(s) + " " + s.residence + " b" + std::to_string(batch)).c_str());
      for (double sparsity : kSparsities) {
        const double candidate = reporter.seconds(sparse_name(who, s, sparsity, batch));
        const bool sparse_baseline = baseline == "eigen" || baseline.rfind("csr_", 0) == 0;
        const double base = sparse_baseline ? reporter.seconds(sparse_name(baseline, s, sparsity, batch))
                                            : reporter.seconds(dense_name(baseline, s, batch));
        if (candidate > 0 && base > 0)
          std::printf(" %8.2fx", base / candidate);
        else
          std::printf(" %9s", "-");
      }
      std::printf("\n");
    }
}

void print_path_ratios(const RatioReporter& reporter, cpu::CsrPath path) {
  const std::string f32 = csr_who("f32", path), f16 = csr_who("f16", path);
  std::printf("\n==== CSR kernel, %s path ====\n", cpu::csr_path_name(path));
  print_kernel_ratios(reporter, f32, "dnnl_sgemm");
  print_kernel_ratios(reporter, f32, "openblas_sgemv");
  print_kernel_ratios(reporter, f16, "dnnl_sgemm");
  print_kernel_ratios(reporter, f32, "eigen");
  print_kernel_ratios(reporter, f16, "eigen");
  print_kernel_ratios(reporter, f16, f32);
}

[[noreturn]] void exit_with_usage_error(const std::string& message) {
  std::fprintf(stderr, "bench_sparse: %s\n", message.c_str());
  std::exit(2);
}

// The flags left after Google Benchmark's: --csr_paths=LIST and --sliced_half_values=WAY (empty
// when not given); exits with a message on any other argument.
struct BenchFlags {
  std::string csr_paths, sliced_half_values;
};

BenchFlags parse_flags(int argc, char** argv) {
  BenchFlags flags;
  const std::string paths_flag = "--csr_paths=", half_flag = "--sliced_half_values=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(paths_flag, 0) == 0)
      flags.csr_paths = arg.substr(paths_flag.size());
    else if (arg.rfind(half_flag, 0) == 0)
      flags.sliced_half_values = arg.substr(half_flag.size());
    else
      exit_with_usage_error("unknown argument " + arg);
  }
  return flags;
}

// The way --sliced_half_values names ("auto", "half" or "widened"; empty: auto).
cpu::SlicedHalfValues requested_half_values(const std::string& name) {
  if (name.empty() || name == "auto") return cpu::SlicedHalfValues::kAuto;
  if (name == "half") return cpu::SlicedHalfValues::kHalf;
  if (name == "widened") return cpu::SlicedHalfValues::kWidened;
  exit_with_usage_error("--sliced_half_values: unknown way '" + name + "' (auto, half or widened)");
}

// The paths --csr_paths names, comma-separated ("all": every path this CPU has), or the widest
// alone; exits with a message on an unknown name or a path this CPU lacks.
std::vector<cpu::CsrPath> requested_csr_paths(const std::string& list) {
  if (list.empty()) return {cpu::csr_best_path()};
  std::vector<cpu::CsrPath> paths;
  if (list == "all") {
    for (cpu::CsrPath path : kAllCsrPaths)
      if (cpu::csr_path_available(path)) paths.push_back(path);
    return paths;
  }
  for (size_t begin = 0; begin <= list.size();) {
    const size_t end = std::min(list.find(',', begin), list.size());
    const std::string name = list.substr(begin, end - begin);
    const auto* path = std::find_if(std::begin(kAllCsrPaths), std::end(kAllCsrPaths),
                                    [&](cpu::CsrPath candidate) { return path_tag(candidate) == name; });
    if (path == std::end(kAllCsrPaths))
      exit_with_usage_error("--csr_paths: unknown path '" + name + "' (portable, avx2, avx512 or all)");
    if (!cpu::csr_path_available(*path))
      exit_with_usage_error(std::string("this CPU cannot run the ") + cpu::csr_path_name(*path) + " path");
    paths.push_back(*path);
    begin = end + 1;
  }
  return paths;
}

void print_decoder_ratios(const RatioReporter& reporter) {
  for (const char* mode : {"latency", "throughput"}) {
    const double dense = reporter.seconds(decoder_name("dense", mode, 0));
    std::printf("\ndecoder step, %s (%s): dense %.1f us per step\n", mode,
                std::string(mode) == "latency" ? "batch 1, beam 3" : "batch 50", 1e6 * dense);
    for (const char* who : {"csr_f32", "csr_f16"})
      for (double sparsity : kDecoderSparsities) {
        const double sparse = reporter.seconds(decoder_name(who, mode, sparsity));
        if (sparse > 0 && dense > 0)
          std::printf("  %-8s %6.1f%% sparse: %8.1f us per step, %6.2fx dense\n", who, 100 * sparsity, 1e6 * sparse,
                      dense / sparse);
      }
  }
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap::bench;
  benchmark::Initialize(&argc, argv);
  const BenchFlags flags = parse_flags(argc, argv);
  const std::vector<sparsecap::cpu::CsrPath> paths = requested_csr_paths(flags.csr_paths);
  sparsecap::cpu::set_sliced_half_values(requested_half_values(flags.sliced_half_values));
  std::string path_names;
  for (sparsecap::cpu::CsrPath path : paths)
    path_names += std::string(path_names.empty() ? "" : ", ") + sparsecap::cpu::csr_path_name(path);
  std::printf("machine: %s, %d hardware threads, %d OpenMP threads, last-level cache %lld KiB, CSR kernel paths: %s "
              "(decoder step: %s; AVX-512 batch 1-4 x by %s; sliced float16 values: %s), dense: %s\n",
              sparsecap::cpu::cpu_model().c_str(), omp_get_num_procs(), omp_get_max_threads(),
              static_cast<long long>(sparsecap::cpu::last_level_cache_bytes() >> 10), path_names.c_str(),
              sparsecap::cpu::csr_path_name(sparsecap::cpu::csr_best_path()),
              sparsecap::cpu::sliced_gather_name(sparsecap::cpu::sliced_gather()),
              sparsecap::cpu::sliced_half_values_name(sparsecap::cpu::sliced_half_values()),
              sparsecap::cpu::gemm_library().c_str());
  const bool gpu = gpu_twins_available();
  for (const MatrixShape& s : kShapes) {
    for (int64_t batch : kBatches) add_dense_benchmarks(s, batch);
    for (double sparsity : kSparsities)
      for (int64_t batch : kBatches) {
        for (sparsecap::cpu::CsrPath path : paths) {
          add_csr_benchmark("f32", path, s, sparsity, batch);
          add_csr_benchmark("f16", path, s, sparsity, batch);
        }
        add_eigen_benchmark(s, sparsity, batch);
#if SPARSECAP_WITH_CUDA
        if (gpu) add_gpu_benchmarks(s, sparsity, batch);
#endif
      }
  }
  (void)gpu;
  for (const char* mode : {"latency", "throughput"}) {
    add_decoder_benchmark("dense", mode, 0.9);
    for (double sparsity : kDecoderSparsities) {
      add_decoder_benchmark("csr_f32", mode, sparsity);
      add_decoder_benchmark("csr_f16", mode, sparsity);
    }
  }
  FastestRepetitionReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  for (sparsecap::cpu::CsrPath path : paths) print_path_ratios(reporter, path);
  print_decoder_ratios(reporter);
#if SPARSECAP_WITH_CUDA
  if (gpu) print_kernel_ratios(reporter, "gpu_cusparse", "gpu_cublas");
#endif
  return 0;
}
