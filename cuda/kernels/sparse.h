#pragma once
// Host entry point of our own CSR kernel (cuda/kernels/sparse.cu) for the sparse inference layer:
// out [batch, rows] = x [batch, cols] · Wᵀ + bias with W in CSR (int32 indices, float32 values).
#include <cuda_runtime_api.h>

#include <cstdint>

namespace sparsecap::cuda::launchers {

// Up to this many rows of x are multiplied in one pass over a CSR row (registers per lane).
constexpr int64_t kCsrBatchTile = 16;

// A warp per CSR row: the lanes split the row's nonzeros, each keeps up to kCsrBatchTile partial
// sums (one per row of x), and a butterfly sum over the warp gives each output; the bias is added
// there (no second launch). `bias` may be null.
void csr_linear_warp_rows(const int32_t* row_ptr, const int32_t* col_idx, const float* values, const float* x,
                          const float* bias, float* out, int64_t rows, int64_t cols, int64_t batch,
                          cudaStream_t stream);

}  // namespace sparsecap::cuda::launchers
