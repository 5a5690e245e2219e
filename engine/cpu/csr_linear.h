#pragma once
// The CPU sparse linear kernel: out [batch, rows] = x [batch, cols] · Wᵀ + bias for a CSR weight
// W [rows, cols] (U16 or I32 column indices, F16 or F32 values). Exposed for the benchmarks;
// models reach it through Backend::csr_linear.
#include <cstdint>

#include "engine/sparse/csr_matrix.h"

namespace sparsecap::cpu {

// `bias` may be null. x, bias and out are float32 host arrays; out must not alias x.
void csr_linear_f32(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch);

// Whether the AVX-512 kernels run on this CPU (else the portable loops do).
bool csr_kernels_use_avx512();

// For tests: run the portable loops (what CPUs without AVX-512 run) even where AVX-512 is
// available, until called again with false. Do not call while a product is running.
void csr_kernels_force_portable(bool force);

}  // namespace sparsecap::cpu
