#include "engine/profiling/interval_clock.h"

namespace sparsecap::profiling {

void WallClock::begin_interval() { start_ = std::chrono::steady_clock::now(); }

void WallClock::end_interval() {
  seconds_.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

std::unique_ptr<IntervalClock> interval_clock_for(Device device) {
  if (device.is_cpu()) return std::make_unique<WallClock>();
  return cuda_event_clock(device.index);
}

}  // namespace sparsecap::profiling
