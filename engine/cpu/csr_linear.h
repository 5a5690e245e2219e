#pragma once
// The CPU sparse linear kernel: out [batch, rows] = x [batch, cols] · Wᵀ + bias for a CSR weight
// W [rows, cols] (U16 or I32 column indices, F16 or F32 values). Exposed for the benchmarks;
// models reach it through Backend::csr_linear.
#include <cstdint>

#include "engine/cpu/csr_path.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cpu {

// `bias` may be null. x, bias and out are float32 host arrays; out must not alias x. Runs on
// csr_kernels_path() (csr_path.h).
void csr_linear_f32(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch);

}  // namespace sparsecap::cpu
