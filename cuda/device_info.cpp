// Device discovery through the CUDA runtime (host code only: no kernels in this file).
#include <cuda_runtime_api.h>

#include "cuda/cuda_runtime_info.h"
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

Backend& backend(int index) {
  throw Error(detail::concat("cuda:", index,
                             ": CUDA tensors are not available yet in this version of sparsecap (the CUDA backend "
                             "is being built; device discovery works, tensor ops do not)"));
}

}  // namespace sparsecap::cuda
