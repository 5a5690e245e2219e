// Device discovery through the CUDA runtime, the per-device backends (created on first use) and
// the process-wide CUDA options (host code only: no kernels in this file).
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace sparsecap::cuda {

bool built_with_cuda() { return true; }

std::string compiled_architectures() { return SPARSECAP_CUDA_ARCHITECTURES; }

std::string runtime_summary() {
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  const cudaError_t status = cudaDriverGetVersion(&driver);
  std::string out = "runtime " + std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
  if (status != cudaSuccess || driver == 0) return out + ", no CUDA driver found";
  return out + ", driver " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10);
}

std::vector<DeviceInfo> devices() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" error; zero devices is the answer
    return {};
  }
  std::vector<DeviceInfo> found;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, i) != cudaSuccess) continue;
    found.push_back(DeviceInfo{i, properties.name, properties.major, properties.minor, properties.totalGlobalMem,
                               properties.multiProcessorCount});
  }
  return found;
}

namespace {

bool environment_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "0") != 0 && value[0] != '\0';
}

std::mutex& options_mutex() {
  static std::mutex mutex;
  return mutex;
}

CudaOptions& stored_options() {
  static CudaOptions stored = [] {
    CudaOptions initial;
    initial.allow_tf32 = environment_flag("SPARSECAP_CUDA_ALLOW_TF32");
    initial.deterministic = environment_flag("SPARSECAP_CUDA_DETERMINISTIC");
    initial.use_cudnn = !environment_flag("SPARSECAP_CUDA_NO_CUDNN");
    return initial;
  }();
  return stored;
}

}  // namespace

CudaOptions options() {
  std::lock_guard<std::mutex> lock(options_mutex());
  return stored_options();
}

void set_options(const CudaOptions& options) {
  std::lock_guard<std::mutex> lock(options_mutex());
  stored_options() = options;
}

CudaBackend& cuda_backend(int index) {
  // One backend per device, created on first use and never destroyed: tensors held in static
  // objects may be freed after main() returns, and their deleters need the allocator alive.
  static std::mutex mutex;
  static std::vector<CudaBackend*> backends;
  std::lock_guard<std::mutex> lock(mutex);
  if (backends.empty()) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();
      count = 0;
    }
    backends.assign(static_cast<size_t>(count), nullptr);
  }
  SPARSECAP_CHECK(index >= 0 && index < static_cast<int>(backends.size()), "cuda:", index,
                  " requested but ", backends.size(), " CUDA device(s) are visible (", runtime_summary(), ")");
  CudaBackend*& slot = backends[static_cast<size_t>(index)];
  if (!slot) slot = new CudaBackend(index);
  return *slot;
}

AllocatorStats allocator_stats(int index) { return cuda_backend(index).allocator_stats(); }

void empty_cache(int index) { cuda_backend(index).empty_cache(); }

}  // namespace sparsecap::cuda

namespace sparsecap {

// The engine's entry point to this backend (declared in engine/backend.h).
Backend& cuda_device_backend(int index) { return cuda::cuda_backend(index); }

}  // namespace sparsecap
