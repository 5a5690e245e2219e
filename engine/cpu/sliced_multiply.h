#pragma once
// Sparse weight x activations on a sliced layout of a CSR weight (SELL-16): rows sorted by length
// within windows of 256 rows, sixteen rows to a slice, each slice stored step by step (entry k of
// its sixteen rows side by side, shorter rows padded with zeros). A slice has one loop instead of
// sixteen: on CSR, at high sparsity a row holds a handful of non-zeros and its per-row loop cost
// more than the arithmetic. Two kernels walk the slices, each on AVX-512 and on AVX2 (csr_path.h):
//  - batch 1 to 4 (greedy and beam-search decoding): a step is one 16-wide gather of x (two 8-wide
//    on AVX2) and one FMA per activation row;
//  - larger batches: activation rows in blocks of 16 (8 on AVX2; x transposed to [cols][16] or
//    [cols][8] per block), a step is one broadcast FMA per slice row into its block-wide sum; the
//    sums of a window are transposed and put back into row order through a per-window buffer.
// The layout is built from the CSR arrays on first use and kept with the matrix
// (CsrMatrix::derived_layout): the file format is CSR.
#include <cstdint>

#include "engine/cpu/csr_path.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cpu {

// The largest batch on the gather kernel: it gathers once per activation row and step, while the
// block kernel costs the same for 1 to 16 rows. Measured against the block kernel at 80-99%
// sparsity: batch 2 1.3-3.9x faster, batch 3 1.1-3.8x, batch 4 0.8-2.6x.
constexpr int64_t kSlicedGatherMaxBatch = 4;

// The SlicedHalfValues::kAuto rule (csr_path.h): whether a float16 weight of `nnz` non-zeros with
// `index_bytes`-byte column indices has its values widened to float32 in the sliced layout, on a CPU
// whose last-level cache holds `cache_bytes`: when nnz x (index_bytes + 4), the float32 layout
// without its padding, is at most half of it. Where the layout stays in cache the batch-1 loop is
// bound by its loads and shuffles, and widening saves one conversion per 8 values; where it does
// not, float16's smaller reads win.
bool sliced_layout_widens_half(int64_t nnz, int64_t index_bytes, int64_t cache_bytes);

// out [batch, rows] = x [batch, cols] · Wᵀ + bias for a CPU CSR weight W [rows, cols] (U16 or
// I32 indices, F16 or F32 values); `bias` may be null; out must not alias x. Runs on `path`: kAvx512
// or kAvx2, which this CPU must have. F16 values are held as sliced_half_values() says; the results
// are the same either way (widening float16 is exact).
void sliced_multiply(CsrPath path, const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out,
                     int64_t batch);

}  // namespace sparsecap::cpu
