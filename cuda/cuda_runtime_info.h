#pragma once
// The engine's view of the CUDA side. Two implementations: cuda/device_info.cpp (CUDA builds,
// links the CUDA runtime) and cuda/stub/no_cuda.cpp (CPU-only builds, which throws "built
// without CUDA"), so every target links with or without CUDA. No CUDA header is included here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sparsecap {
class Backend;
}

// Part of the error of every cuBLAS, cuSPARSE, cuDNN and CUB call in the kernel-emulation build
// (SPARSECAP_CUDA_EMULATE, cuda/emulation/vendor_not_emulated.h): those libraries are not emulated,
// and the emulated op suite skips the ops that need them when it sees this phrase.
#define SPARSECAP_NOT_EMULATED_PHRASE "is not emulated (CUDA emulation build)"

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

// Memory statistics of a device's caching allocator (bytes as requested by tensors).
struct AllocatorStats {
  size_t bytes_in_use = 0;       // held by live tensors
  size_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use
  size_t bytes_cached = 0;       // freed blocks kept for reuse
  size_t bytes_reserved = 0;     // everything obtained from the driver and not yet returned
  uint64_t allocations = 0;      // allocate() calls
  uint64_t cache_hits = 0;       // allocate() calls served from the cache
  uint64_t driver_allocations = 0;
};
// Throws when the build has no CUDA or the device is absent.
AllocatorStats allocator_stats(int index);
// Returns the cached blocks of device `index` to the driver.
void empty_cache(int index);

// Numerical options of the CUDA backend, process-wide. The defaults favour agreement with the
// CPU; the environment variables SPARSECAP_CUDA_ALLOW_TF32=1 and SPARSECAP_CUDA_DETERMINISTIC=1
// set them at start-up.
struct CudaOptions {
  // Let cuBLAS and cuDNN round float32 GEMM/convolution inputs to TF32 on Ampere and newer:
  // several times faster, ~1e-3 relative error.
  bool allow_tf32 = false;
  // Deterministic reductions where the fast path uses atomics: the sort-based embedding backward
  // and deterministic cuDNN backward-filter algorithms.
  bool deterministic = false;
  // Run convolutions through cuDNN when the build has it; false selects the im2col + cuBLAS path
  // (lets a GPU test run both paths). SPARSECAP_CUDA_NO_CUDNN=1 sets it to false at start-up.
  bool use_cudnn = true;
};
CudaOptions options();
void set_options(const CudaOptions& options);

}  // namespace sparsecap::cuda
