// The profiler's clock on a GPU (engine/profiling/interval_clock.h): a pair of timing events per
// interval, recorded on the device's stream around each call, so an interval is the time the
// stream spent on that call's kernels and copies, not the host's time to queue them. The events
// are read once, after the stream has passed the last one. Host code only.
#include <memory>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/runtime.h"
#include "engine/profiling/interval_clock.h"

namespace sparsecap::cuda {

namespace {

class CudaEventClock final : public profiling::IntervalClock {
 public:
  explicit CudaEventClock(int index) : index_(index), stream_(cuda_backend(index).stream()) {}

  void begin_interval() override { record_new(starts_); }
  void end_interval() override { record_new(ends_); }

  std::vector<double> interval_seconds() override {
    DeviceGuard guard(index_);
    if (!ends_.empty()) ends_.back()->synchronize();
    std::vector<double> seconds;
    seconds.reserve(ends_.size());
    for (size_t i = 0; i < ends_.size(); ++i) seconds.push_back(ends_[i]->elapsed_ms_since(*starts_[i]) / 1000.0);
    return seconds;
  }

 private:
  void record_new(std::vector<std::unique_ptr<Event>>& marks) {
    DeviceGuard guard(index_);  // an event belongs to the device current when it is made
    marks.push_back(std::make_unique<Event>(/*timing=*/true));
    marks.back()->record(stream_);
  }

  int index_;
  cudaStream_t stream_;
  std::vector<std::unique_ptr<Event>> starts_, ends_;
};

}  // namespace

}  // namespace sparsecap::cuda

namespace sparsecap::profiling {

// Declared in engine/profiling/interval_clock.h.
std::unique_ptr<IntervalClock> cuda_event_clock(int index) { return std::make_unique<cuda::CudaEventClock>(index); }

}  // namespace sparsecap::profiling
