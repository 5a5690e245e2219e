#include "engine/profiling/device_rates.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/profiling/backend_profiler.h"
#include "engine/tensor.h"

namespace sparsecap::profiling {

namespace {

// The shortest time of `repeats` runs of `work` (the backend calls it makes, as the profiler
// times them), after one untimed run that pays for first touches and library set-up.
double best_seconds(Device device, int repeats, const std::function<void()>& work) {
  work();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    BackendProfiler profiler(device);
    work();
    double seconds = 0;
    for (const KernelTotals& kernel : profiler.finish()) seconds += kernel.seconds;
    best = std::min(best, seconds);
  }
  return best;
}

double copy_rate(Device device, const RateProbe& probe) {
  // float32 elements: every backend fills them.
  const Tensor source = full({probe.copy_bytes / 4}, 1.0, DType::F32, device);
  const Tensor destination = Tensor::empty({probe.copy_bytes / 4}, DType::F32, device);
  const double seconds = best_seconds(
      device, probe.repeats, [&] { backend_for(device).copy_within(destination.raw_data(), source.raw_data(), source.nbytes()); });
  return 2.0 * static_cast<double>(source.nbytes()) / seconds;
}

double gemm_rate(Device device, const RateProbe& probe) {
  const int64_t n = probe.gemm_size;
  const Tensor a = full({n, n}, 0.5, DType::F32, device), b = full({n, n}, 0.25, DType::F32, device);
  Tensor c = Tensor::empty({n, n}, DType::F32, device);
  const GemmShape shape{.m = n, .n = n, .k = n};
  const double seconds = best_seconds(device, probe.repeats, [&] { backend_for(device).gemm(shape, a, b, c); });
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / seconds;
}

}  // namespace

DeviceRates measure_device_rates(Device device, const RateProbe& probe) {
  SPARSECAP_CHECK(probe.copy_bytes >= 4 && probe.gemm_size > 0 && probe.repeats > 0,
                  "rate probe needs a positive copy size, GEMM size and repeat count, got ", probe.copy_bytes, ", ",
                  probe.gemm_size, ", ", probe.repeats);
  return DeviceRates{.probe = probe,
                     .copy_bytes_per_second = copy_rate(device, probe),
                     .gemm_flops_per_second = gemm_rate(device, probe)};
}

}  // namespace sparsecap::profiling
