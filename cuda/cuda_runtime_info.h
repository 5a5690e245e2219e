#pragma once
// The engine's view of the CUDA side. Two implementations: cuda/device_info.cpp (CUDA builds,
// links the CUDA runtime) and cuda/stub/no_cuda.cpp (CPU-only builds, which throws "built
// without CUDA"), so every target links with or without CUDA. No CUDA header is included here.
#include <cstddef>
#include <string>
#include <vector>

namespace sparsecap {
class Backend;
}

namespace sparsecap::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  size_t memory_bytes = 0;
  int multiprocessors = 0;
};

bool built_with_cuda();
// The architectures the kernels were compiled for ("75;80;86;89;90"), empty without CUDA.
std::string compiled_architectures();
// CUDA runtime/driver versions and toolkit version as text, or why they are unavailable.
std::string runtime_summary();
// Devices visible to the runtime; empty when there is no GPU (or no CUDA in the build).
std::vector<DeviceInfo> devices();
// The backend for device `index`; throws when the build has no CUDA or the device is absent.
Backend& backend(int index);

}  // namespace sparsecap::cuda
