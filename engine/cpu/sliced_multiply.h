#pragma once
// Sparse weight x a few activation rows (batch 1 to 4: greedy and beam-search decoding) on a
// sliced layout of a CSR weight (SELL-16): rows sorted by length, sixteen rows to a slice, each
// slice stored step by step (entry k of its sixteen rows side by side, shorter rows padded with
// zeros). A step is one 16-wide gather of x and one FMA per activation row, and a slice has one
// loop instead of sixteen. On CSR, at high sparsity a row holds a handful of non-zeros and its
// loop exit is mispredicted on most rows, which costs more than the arithmetic; at low sparsity
// the scalar loop is bound by its three loads per non-zero. Sorting by length (within windows of
// 256 rows) keeps the padding to a few entries per slice. The layout is built from the CSR arrays
// on first use and kept with the matrix (CsrMatrix::derived_layout): the file format is CSR.
#include <cstdint>

#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cpu {

// The largest batch it takes: each step gathers once per activation row, while the transposed
// SpMM of csr_linear.cpp costs about the same from batch 1 to 16. Measured against it at 80-99%
// sparsity: batch 2 1.9-3.8x faster, batch 4 1.0-1.7x.
constexpr int64_t kSlicedMaxBatch = 4;

// out [batch, rows] = x [batch, cols] · Wᵀ + bias for a CPU CSR weight W [rows, cols] (U16 or
// I32 indices, F16 or F32 values) and batch 1 .. kSlicedMaxBatch; `bias` may be null; out must
// not alias x. Requires cpu_has_avx512() (avx512.h): the kernel is 16-wide gathers.
void sliced_multiply(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch);

}  // namespace sparsecap::cpu
