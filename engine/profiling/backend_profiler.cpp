#include "engine/profiling/backend_profiler.h"

#include <algorithm>
#include <map>

#include "engine/error.h"
#include "engine/profiling/profiling_backend.h"

namespace sparsecap::profiling {

std::string_view work_kind_name(WorkKind kind) {
  switch (kind) {
    case WorkKind::None: return "none";
    case WorkKind::Bytes: return "bytes";
    case WorkKind::HostBytes: return "host_bytes";
    case WorkKind::Flops: return "flops";
  }
  return "none";
}

BackendProfiler::BackendProfiler(Device device) : device_(device) {
  Backend& own = backend_for(device);
  backend_ = std::make_unique<ProfilingBackend>(own, interval_clock_for(device));
  Backend* previous = replace_backend_for(device, backend_.get());
  if (previous != nullptr) {
    replace_backend_for(device, previous);
    throw Error(detail::concat(device.str(), " is being profiled already: one BackendProfiler per device at a time"));
  }
  installed_ = true;
}

BackendProfiler::~BackendProfiler() { restore(); }

void BackendProfiler::restore() {
  if (installed_) replace_backend_for(device_, nullptr);
  installed_ = false;
}

std::vector<KernelTotals> BackendProfiler::finish() {
  restore();
  return kernel_totals(backend_->calls(), backend_->call_seconds());
}

std::vector<KernelTotals> kernel_totals(const std::vector<CallWork>& calls, const std::vector<double>& seconds) {
  SPARSECAP_CHECK(calls.size() == seconds.size(), "kernel_totals: ", calls.size(), " calls but ", seconds.size(),
                  " times");
  std::map<std::string_view, KernelTotals> by_kernel;
  for (size_t i = 0; i < calls.size(); ++i) {
    KernelTotals& totals = by_kernel[calls[i].kernel];
    totals.kernel = calls[i].kernel;
    totals.kind = calls[i].kind;
    totals.calls += 1;
    totals.seconds += seconds[i];
    totals.amount += calls[i].amount;
  }
  std::vector<KernelTotals> sorted;
  for (auto& [kernel, totals] : by_kernel) sorted.push_back(std::move(totals));
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const KernelTotals& a, const KernelTotals& b) { return a.seconds > b.seconds; });
  return sorted;
}

}  // namespace sparsecap::profiling
