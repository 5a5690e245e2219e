// CPU-only builds link this in place of the CUDA runtime side: every entry point that needs a GPU
// throws, so code and tests compile the same with or without CUDA.
#include "cuda/cuda_runtime_info.h"
#include "engine/error.h"

namespace sparsecap::cuda {

bool built_with_cuda() { return false; }
std::string compiled_architectures() { return ""; }
std::string runtime_summary() { return "built without CUDA"; }
std::vector<DeviceInfo> devices() { return {}; }
Backend& backend(int index) {
  throw Error(detail::concat("cuda:", index, " requested but sparsecap was built without CUDA"));
}

}  // namespace sparsecap::cuda
