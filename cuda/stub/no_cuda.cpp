// CPU-only builds link this in place of the CUDA runtime side: every entry point that needs a GPU
// throws, so code and tests compile the same with or without CUDA.
#include "cuda/cuda_runtime_info.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/profiling/interval_clock.h"

namespace sparsecap::cuda {

bool built_with_cuda() { return false; }
std::string compiled_architectures() { return ""; }
std::string runtime_summary() { return "built without CUDA"; }
std::vector<DeviceInfo> devices() { return {}; }
AllocatorStats allocator_stats(int index) {
  throw Error(detail::concat("cuda:", index, " allocator statistics requested but sparsecap was built without CUDA"));
}
void empty_cache(int index) {
  throw Error(detail::concat("cuda:", index, " empty_cache requested but sparsecap was built without CUDA"));
}
// Options only change how CUDA kernels run; without CUDA they are kept and have no effect.
namespace {
CudaOptions& stored_options() {
  static CudaOptions stored;
  return stored;
}
}  // namespace
CudaOptions options() { return stored_options(); }
void set_options(const CudaOptions& options) { stored_options() = options; }

}  // namespace sparsecap::cuda

namespace sparsecap {

Backend& cuda_device_backend(int index) {
  throw Error(detail::concat("cuda:", index, " requested but sparsecap was built without CUDA"));
}

}  // namespace sparsecap

namespace sparsecap::profiling {

std::unique_ptr<IntervalClock> cuda_event_clock(int index) {
  throw Error(detail::concat("cuda:", index, " profiling requested but sparsecap was built without CUDA"));
}

}  // namespace sparsecap::profiling
