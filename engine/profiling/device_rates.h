#pragma once
// The two rates a profile compares each kernel with, measured on the device itself through its
// backend and timed by the profiler's clock: the copy rate of device memory (one large
// copy_within, counted as bytes read plus written, as the profiler counts every kernel's bytes)
// and the rate of a square float32 GEMM (2 n^3 FLOPs).
#include <cstdint>

#include "engine/device.h"

namespace sparsecap::profiling {

struct RateProbe {
  int64_t copy_bytes = int64_t{256} << 20;  // the copy's size (a multiple of 4: float32 elements)
  int64_t gemm_size = 2048;                 // n of the n x n x n GEMM
  int repeats = 3;                          // timed runs of each, after one untimed run; the best counts
};

struct DeviceRates {
  RateProbe probe;
  double copy_bytes_per_second = 0;  // 2 * copy_bytes / the best time
  double gemm_flops_per_second = 0;  // 2 * gemm_size^3 / the best time
};

DeviceRates measure_device_rates(Device device, const RateProbe& probe = {});

}  // namespace sparsecap::profiling
