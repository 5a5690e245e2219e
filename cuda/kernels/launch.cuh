#pragma once
// The one launcher of sparsecap's own kernels. Every custom kernel goes through launch(): in a
// CUDA build it is <<<>>> plus the launch-error check; in the emulation build
// (SPARSECAP_CUDA_EMULATE, cuda/emulation/) it runs the grid on the CPU, with the same check. No
// <<<>>> anywhere else.
#ifdef SPARSECAP_CUDA_EMULATE
#include "cuda/emulation/cuda_emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "engine/error.h"

namespace sparsecap::cuda {

// 256 threads: a multiple of the warp size that keeps enough blocks resident per SM on every
// architecture we build for.
constexpr int kBlockThreads = 256;
// Grid-stride loops need no more blocks than fill the largest GPUs a few times over.
constexpr int64_t kMaxGridBlocks = 8192;

// Blocks for a grid-stride loop over n items.
inline unsigned grid_for(int64_t n, int threads = kBlockThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxGridBlocks));
}

// Threads per block for one-block-per-row kernels: enough warps to cover the row, at most 1024.
inline unsigned row_threads(int64_t cols) {
  int64_t threads = 32;
  while (threads < cols && threads < 1024) threads *= 2;
  return static_cast<unsigned>(threads);
}

// Dynamic shared memory of a kernel (the launch's shared_bytes), as a T*: `extern __shared__` in a
// CUDA build, the emulated block's buffer in the emulation build (where extern __shared__ does
// not compile).
#ifdef SPARSECAP_CUDA_EMULATE
#define SPARSECAP_DYNAMIC_SHARED(T, name) \
  T* name = reinterpret_cast<T*>(::sparsecap::cuda::emulation::dynamic_shared_memory())
#else
#define SPARSECAP_DYNAMIC_SHARED(T, name)                 \
  extern __shared__ __align__(16) unsigned char name##_bytes[]; \
  T* name = reinterpret_cast<T*>(name##_bytes)
#endif

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // nothing to do (empty tensors)
#ifdef SPARSECAP_CUDA_EMULATE
  // As <<<>>> does, the arguments are converted to the kernel's parameter types once, on the host;
  // every emulated thread then receives its own copies through the by-value parameters.
  struct BoundKernel {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> arguments;
  };
  const BoundKernel bound{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  emulation::run_grid(
      reinterpret_cast<const void*>(kernel), grid, block, shared_bytes, stream,
      [](const void* bound_kernel) {
        const BoundKernel& self = *static_cast<const BoundKernel*>(bound_kernel);
        std::apply(self.kernel, self.arguments);
      },
      &bound);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw Error(::sparsecap::detail::concat("CUDA kernel launch failed: ", cudaGetErrorString(status), " (grid [",
                                            grid.x, ", ", grid.y, ", ", grid.z, "], block [", block.x, ", ", block.y,
                                            ", ", block.z, "], ", shared_bytes, " bytes of shared memory)"));
}

}  // namespace sparsecap::cuda
