#pragma once
// The one launcher of sparsecap's own kernels. Every custom kernel goes through launch(): in a
// CUDA build it is <<<>>> plus the launch-error check; the emulation build (SPARSECAP_CUDA_EMULATE)
// will supply its own definition that runs the grid on the CPU. No <<<>>> anywhere else.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
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

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // nothing to do (empty tensors)
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw Error(::sparsecap::detail::concat("CUDA kernel launch failed: ", cudaGetErrorString(status), " (grid [",
                                            grid.x, ", ", grid.y, ", ", grid.z, "], block [", block.x, ", ", block.y,
                                            ", ", block.z, "], ", shared_bytes, " bytes of shared memory)"));
}

}  // namespace sparsecap::cuda
