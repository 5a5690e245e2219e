#pragma once
// How the profiler (engine/profiling/backend_profiler.h) times a device's calls: the CPU by the
// host's steady clock around each call, which returns when its work is done; a GPU by a pair of
// CUDA events recorded on the device's stream around each call, read once the stream has passed
// them, because a GPU call returns as soon as its kernels are queued. The CUDA side of the build
// defines cuda_event_clock, so the engine includes no CUDA header.
#include <chrono>
#include <memory>
#include <vector>

#include "engine/device.h"

namespace sparsecap::profiling {

class IntervalClock {
 public:
  virtual ~IntervalClock() = default;
  // The start and the end of one interval; intervals follow one another, never nest.
  virtual void begin_interval() = 0;
  virtual void end_interval() = 0;
  // The seconds of every interval ended so far, in order. Waits until the device has reached the
  // last end.
  virtual std::vector<double> interval_seconds() = 0;
};

// The host's steady clock.
class WallClock final : public IntervalClock {
 public:
  void begin_interval() override;
  void end_interval() override;
  std::vector<double> interval_seconds() override { return seconds_; }

 private:
  std::chrono::steady_clock::time_point start_;
  std::vector<double> seconds_;
};

// Timing events on the stream of cuda:`index` (cuda/cuda_event_clock.cpp; in a CPU-only build
// cuda/stub/no_cuda.cpp, which throws "built without CUDA").
std::unique_ptr<IntervalClock> cuda_event_clock(int index);

// The clock that times calls on `device`.
std::unique_ptr<IntervalClock> interval_clock_for(Device device);

}  // namespace sparsecap::profiling
