#pragma once
// Kernel-by-kernel timing of the work a device does: while a BackendProfiler is alive,
// backend_for(device) returns a decorator (engine/profiling/profiling_backend.h) that forwards
// every call to the device's backend and times it (the host's clock on the CPU, CUDA events on a
// GPU: engine/profiling/interval_clock.h), with what the call moved or computed: the bytes of the
// tensors it reads and writes, or the FLOPs of a GEMM, convolution or sparse product.
//
// Only the thread that made the profiler is timed, and only its outermost calls: a call a backend
// makes inside another (a workspace allocation, an im2col GEMM) belongs to the one around it, and
// calls of other threads (OpenMP workers, a loader) pass through untimed.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/device.h"

namespace sparsecap::profiling {

class ProfilingBackend;

// What a call's amount counts.
enum class WorkKind {
  None,       // nothing moved or computed on the device: allocate, synchronize
  Bytes,      // bytes of device memory read plus written, compared with the device's copy rate
  HostBytes,  // bytes copied between the host and the device (no device reference)
  Flops,      // floating-point operations (a multiply-add is two), compared with the GEMM rate
};

// "none", "bytes", "host_bytes", "flops".
std::string_view work_kind_name(WorkKind kind);

// One backend call as the profiler counts it.
struct CallWork {
  std::string_view kernel;  // "gemm", "binary.add", ...: static storage
  WorkKind kind = WorkKind::None;
  double amount = 0;
};

// A kernel's calls within a profiled region.
struct KernelTotals {
  std::string kernel;
  WorkKind kind = WorkKind::None;
  int64_t calls = 0;
  double seconds = 0;
  double amount = 0;  // bytes or FLOPs over all its calls
};

class BackendProfiler {
 public:
  // Routes backend_for(device) through the timing decorator. Throws when the device is being
  // profiled already.
  explicit BackendProfiler(Device device);
  // Restores the device's own backend (when finish() has not).
  ~BackendProfiler();
  BackendProfiler(const BackendProfiler&) = delete;
  BackendProfiler& operator=(const BackendProfiler&) = delete;

  // Ends the region: restores the device's own backend, waits for the device to finish the timed
  // calls and returns one entry per kernel, the most time first (equal times by name).
  std::vector<KernelTotals> finish();

 private:
  void restore();

  Device device_;
  std::unique_ptr<ProfilingBackend> backend_;
  bool installed_ = false;
};

// The calls grouped by kernel, the most time first (equal times by name); `seconds[i]` is call
// i's time.
std::vector<KernelTotals> kernel_totals(const std::vector<CallWork>& calls, const std::vector<double>& seconds);

}  // namespace sparsecap::profiling
