// The planted-bug kernels of planted_bug_kernels.h, written as our kernels are (launch(),
// warp_sum from block_reduce.cuh) and compiled only into the emulation suite.
#include "tests/cuda_emulation/planted_bug_kernels.h"

#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/launch.cuh"

namespace sparsecap::cuda::planted {

namespace {

using launchers::warp_sum;

template <ReductionBug Bug>
__device__ float planted_block_sum(float value, float* scratch) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  value = warp_sum(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  if constexpr (Bug != ReductionBug::MissingBarrier) __syncthreads();
  const unsigned partials = Bug == ReductionBug::OffByOne ? warps - 1 : warps;
  return warp_sum(lane < partials ? scratch[lane] : 0.0f);
}

template <ReductionBug Bug>
__global__ void planted_row_sum_kernel(const float* in, float* out, int64_t rows, int64_t cols) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float total = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) total += in[r * cols + c];
    total = planted_block_sum<Bug>(total, scratch);
    if (threadIdx.x == 0) out[r] = total;
  }
}

__global__ void racy_scatter_add_kernel(const float* src, const int64_t* index, float* table, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    table[index[i]] += src[i];
}

}  // namespace

void row_sum(ReductionBug bug, const float* in, float* out, int64_t rows, int64_t cols) {
  const unsigned grid = static_cast<unsigned>(rows), block = row_threads(cols);
  switch (bug) {
    case ReductionBug::None:
      launch(planted_row_sum_kernel<ReductionBug::None>, grid, block, 0, nullptr, in, out, rows, cols);
      return;
    case ReductionBug::OffByOne:
      launch(planted_row_sum_kernel<ReductionBug::OffByOne>, grid, block, 0, nullptr, in, out, rows, cols);
      return;
    case ReductionBug::MissingBarrier:
      launch(planted_row_sum_kernel<ReductionBug::MissingBarrier>, grid, block, 0, nullptr, in, out, rows, cols);
      return;
  }
}

void racy_scatter_add(const float* src, const int64_t* index, float* table, int64_t count) {
  launch(racy_scatter_add_kernel, grid_for(count), kBlockThreads, 0, nullptr, src, index, table, count);
}

}  // namespace sparsecap::cuda::planted
