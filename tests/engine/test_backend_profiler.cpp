// The profiler's counting (engine/profiling/): which rows a known sequence of ops gives, with their
// calls, bytes and FLOPs; which calls it leaves out (other threads, calls inside a call); the
// grouping of calls into kernels; and the reference rates' bookkeeping. Values only: no test
// asserts a time beyond its being measured (finite, not negative).
//
// The kernel-emulation build compiles this file once more against the emulated CUDA side
// (tests/cuda_emulation/): there the CUDA test times a real CudaBackend call with CUDA events.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_runtime_info.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/ops.h"
#include "engine/profiling/backend_profiler.h"
#include "engine/profiling/device_rates.h"
#include "engine/rng.h"

namespace sparsecap::profiling {
namespace {

std::map<std::string, KernelTotals> by_kernel(const std::vector<KernelTotals>& totals) {
  std::map<std::string, KernelTotals> rows;
  for (const KernelTotals& row : totals) rows[row.kernel] = row;
  return rows;
}

void expect_measured(const KernelTotals& row) {
  EXPECT_TRUE(std::isfinite(row.seconds)) << row.kernel;
  EXPECT_GE(row.seconds, 0.0) << row.kernel;
}

TEST(BackendProfiler, AMatmulIsOneGemmOf2MnkFlopsBesideItsOutputsAllocation) {
  Generator generator(1);
  const Tensor a = randn({3, 5}, generator), b = randn({5, 7}, generator);
  BackendProfiler profiler(Device::cpu());
  const Tensor c = matmul(a, b);
  const auto rows = by_kernel(profiler.finish());
  ASSERT_EQ(rows.size(), 2u);
  const KernelTotals& gemm = rows.at("gemm");
  EXPECT_EQ(gemm.calls, 1);
  EXPECT_EQ(gemm.kind, WorkKind::Flops);
  EXPECT_EQ(gemm.amount, 2.0 * 3 * 7 * 5);
  expect_measured(gemm);
  EXPECT_EQ(rows.at("allocate").calls, 1);
  EXPECT_EQ(rows.at("allocate").kind, WorkKind::None);
  EXPECT_EQ(rows.at("allocate").amount, 0.0);
  EXPECT_EQ(c.shape(), (Shape{3, 7}));
}

TEST(BackendProfiler, AnAddReadsTwoTensorsAndWritesOne) {
  const int64_t n = 1000;
  const Tensor x = full({n}, 1.0), y = full({n}, 2.0);
  BackendProfiler profiler(Device::cpu());
  const Tensor z = add(x, y);
  const Tensor w = add(z, y);
  const auto rows = by_kernel(profiler.finish());
  const KernelTotals& add_row = rows.at("binary.add");
  EXPECT_EQ(add_row.calls, 2);
  EXPECT_EQ(add_row.kind, WorkKind::Bytes);
  EXPECT_EQ(add_row.amount, 2.0 * 3 * n * 4);
  expect_measured(add_row);
  EXPECT_EQ(w.to_vector<float>()[0], 5.0f);
}

TEST(BackendProfiler, AConvolutionCountsItsMultiplyAdds) {
  Generator generator(2);
  // Batch 2, 3 -> 4 channels, 3x3 kernel over 6x6 with padding 1: a 6x6 output.
  const Tensor x = randn({2, 3, 6, 6}, generator), weight = randn({4, 3, 3, 3}, generator);
  BackendProfiler profiler(Device::cpu());
  const Tensor y = conv2d(x, weight, Tensor(), 1, 1);
  const auto rows = by_kernel(profiler.finish());
  const KernelTotals& conv = rows.at("conv2d");
  EXPECT_EQ(conv.calls, 1);
  EXPECT_EQ(conv.kind, WorkKind::Flops);
  EXPECT_EQ(conv.amount, 2.0 * 2 * 4 * 6 * 6 * 3 * 3 * 3);
}

TEST(BackendProfiler, UnaryKernelsAreNamedAfterTheirFunctor) {
  const Tensor x = full({10}, 0.5);
  BackendProfiler profiler(Device::cpu());
  const Tensor y = sigmoid(exp(x));
  const auto rows = by_kernel(profiler.finish());
  EXPECT_EQ(rows.at("unary.exp").amount, 2.0 * 10 * 4);
  EXPECT_EQ(rows.at("unary.sigmoid").calls, 1);
}

TEST(BackendProfiler, CallsFromOtherThreadsPassThroughUntimed) {
  const Tensor x = full({100}, 1.0);
  BackendProfiler profiler(Device::cpu());
  Tensor from_thread;
  std::thread worker([&] { from_thread = add(x, x); });
  worker.join();
  EXPECT_TRUE(profiler.finish().empty());
  EXPECT_EQ(from_thread.to_vector<float>()[0], 2.0f);
}

TEST(BackendProfiler, RoutesTheDeviceOnlyWhileItIsAlive) {
  Backend& own = cpu::cpu_backend();
  {
    BackendProfiler profiler(Device::cpu());
    EXPECT_NE(&backend_for(Device::cpu()), &own);
    EXPECT_EQ(backend_for(Device::cpu()).device(), Device::cpu());
    EXPECT_THROW(BackendProfiler second(Device::cpu()), Error);
    profiler.finish();
    EXPECT_EQ(&backend_for(Device::cpu()), &own);
  }
  { BackendProfiler unfinished(Device::cpu()); }
  EXPECT_EQ(&backend_for(Device::cpu()), &own);
}

TEST(BackendProfiler, ACallThatThrowsIsCountedAndTheRegionStillEnds) {
  const Tensor table = full({4, 3}, 1.0), index = from_vector<int64_t>({1, 9}, {2});
  Tensor out = Tensor::empty({2, 3});
  BackendProfiler profiler(Device::cpu());
  EXPECT_THROW(backend_for(Device::cpu()).index_select_rows(table, index, out, 3), Error);
  const auto rows = by_kernel(profiler.finish());
  EXPECT_EQ(rows.at("index_select_rows").calls, 1);
  EXPECT_EQ(rows.at("index_select_rows").amount, 2 * 8 + 2.0 * 2 * 3 * 4);
}

TEST(KernelTotals, GroupsCallsByKernelMostTimeFirst) {
  const std::vector<CallWork> calls = {{"gemm", WorkKind::Flops, 100},
                                       {"binary.add", WorkKind::Bytes, 12},
                                       {"gemm", WorkKind::Flops, 50},
                                       {"allocate", WorkKind::None, 0},
                                       {"fill", WorkKind::Bytes, 4}};
  const std::vector<KernelTotals> totals = kernel_totals(calls, {1.0, 0.5, 2.0, 0.25, 0.5});
  ASSERT_EQ(totals.size(), 4u);
  EXPECT_EQ(totals[0].kernel, "gemm");
  EXPECT_EQ(totals[0].calls, 2);
  EXPECT_EQ(totals[0].seconds, 3.0);
  EXPECT_EQ(totals[0].amount, 150.0);
  // Equal times in name order.
  EXPECT_EQ(totals[1].kernel, "binary.add");
  EXPECT_EQ(totals[2].kernel, "fill");
  EXPECT_EQ(totals[3].kernel, "allocate");
  EXPECT_THROW(kernel_totals(calls, {1.0}), Error);
}

TEST(DeviceRates, ASmallProbeGivesPositiveRatesAndKeepsItsSizes) {
  const RateProbe probe{.copy_bytes = 1 << 20, .gemm_size = 64, .repeats = 2};
  const DeviceRates rates = measure_device_rates(Device::cpu(), probe);
  EXPECT_EQ(rates.probe.copy_bytes, 1 << 20);
  EXPECT_EQ(rates.probe.gemm_size, 64);
  EXPECT_EQ(rates.probe.repeats, 2);
  EXPECT_TRUE(std::isfinite(rates.copy_bytes_per_second) && rates.copy_bytes_per_second > 0);
  EXPECT_TRUE(std::isfinite(rates.gemm_flops_per_second) && rates.gemm_flops_per_second > 0);
  // The probe's own profilers are gone.
  EXPECT_EQ(&backend_for(Device::cpu()), &cpu::cpu_backend());
  EXPECT_THROW(measure_device_rates(Device::cpu(), RateProbe{.copy_bytes = 0}), Error);
}

TEST(BackendProfilerCuda, TimesAnAddWithEventsOnTheDevicesStream) {
  if (!cuda::built_with_cuda() || cuda::devices().empty()) GTEST_SKIP() << "no CUDA device";
  const Device gpu = Device::cuda(0);
  const int64_t n = 4096;
  const Tensor x = full({n}, 1.0, DType::F32, gpu), y = full({n}, 2.0, DType::F32, gpu);
  BackendProfiler profiler(gpu);
  const Tensor z = add(x, y);
  const auto rows = by_kernel(profiler.finish());
  const KernelTotals& add_row = rows.at("binary.add");
  EXPECT_EQ(add_row.calls, 1);
  EXPECT_EQ(add_row.amount, 3.0 * n * 4);
  expect_measured(add_row);
  EXPECT_EQ(rows.at("allocate").calls, 1);
  EXPECT_EQ(z.to_vector<float>()[n - 1], 3.0f);
}

TEST(BackendProfilerCuda, ACpuOnlyBuildRefusesToProfileCuda) {
  if (cuda::built_with_cuda()) GTEST_SKIP() << "built with CUDA";
  EXPECT_THROW(BackendProfiler profiler(Device::cuda(0)), Error);
}

}  // namespace
}  // namespace sparsecap::profiling
