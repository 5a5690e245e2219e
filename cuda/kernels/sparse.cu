// Our CSR kernel for the exported decoder's layers. cuSPARSE's SpMV and SpMM are slower than
// cuBLAS's dense GEMM at batch 1-16 on the decoder's shapes whatever the sparsity (issue 22's
// measurements on an H200): a decode step multiplies a few rows of activations, where a warp per
// weight row reads each nonzero once for all of them.
#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/sparse.h"

namespace sparsecap::cuda::launchers {

namespace {

constexpr int kWarpsPerBlock = kBlockThreads / 32;

__global__ void csr_warp_rows_kernel(const int32_t* row_ptr, const int32_t* col_idx, const float* values,
                                     const float* x, const float* bias, float* out, int64_t rows, int64_t cols,
                                     int64_t batch) {
  const unsigned lane = threadIdx.x & 31u;
  const int64_t first_warp = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  const int64_t warp_count = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  // Every lane of a warp takes the same rows and tiles, so the warp sums below see all 32 lanes.
  for (int64_t r = first_warp; r < rows; r += warp_count) {
    const int32_t begin = row_ptr[r], end = row_ptr[r + 1];
    const float row_bias = bias ? bias[r] : 0.0f;
    for (int64_t first = 0; first < batch; first += kCsrBatchTile) {
      const int64_t tile = batch - first < kCsrBatchTile ? batch - first : kCsrBatchTile;
      const float* x_tile = x + first * cols;
      float partial[kCsrBatchTile];
      for (int b = 0; b < kCsrBatchTile; ++b) partial[b] = 0.0f;
      for (int32_t j = begin + static_cast<int32_t>(lane); j < end; j += 32) {
        const float value = values[j];
        const int64_t column = col_idx[j];
        for (int b = 0; b < kCsrBatchTile; ++b)
          if (b < tile) partial[b] += value * x_tile[b * cols + column];
      }
      for (int b = 0; b < kCsrBatchTile; ++b) {
        if (b >= tile) break;
        const float total = warp_sum(partial[b]);
        if (lane == 0) out[(first + b) * rows + r] = total + row_bias;
      }
    }
  }
}

}  // namespace

void csr_linear_warp_rows(const int32_t* row_ptr, const int32_t* col_idx, const float* values, const float* x,
                          const float* bias, float* out, int64_t rows, int64_t cols, int64_t batch,
                          cudaStream_t stream) {
  if (rows == 0 || batch == 0) return;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  launch(csr_warp_rows_kernel, static_cast<unsigned>(std::min(blocks, kMaxGridBlocks)), kBlockThreads, 0, stream,
         row_ptr, col_idx, values, x, bias, out, rows, cols, batch);
}

}  // namespace sparsecap::cuda::launchers
