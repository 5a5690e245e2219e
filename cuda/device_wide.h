#pragma once
// CUB device-wide routines used by the backend (host-callable; the kernels are CUB's). Each
// follows CUB's two-phase protocol: ask for the temporary storage size, then run with it.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace sparsecap::cuda::device_wide {

// *total = sum of n floats accumulated in double (as the CPU backend's sum over all elements).
size_t sum_to_double_temp_bytes(int64_t n);
void sum_to_double(const float* in, double* total, int64_t n, void* temp, size_t temp_bytes, cudaStream_t stream);

// Stable radix sort of (key, value) pairs by key: equal keys keep their input order.
size_t sort_pairs_temp_bytes(int64_t n);
void sort_pairs(const int64_t* keys_in, int64_t* keys_out, const int64_t* values_in, int64_t* values_out, int64_t n,
                void* temp, size_t temp_bytes, cudaStream_t stream);

}  // namespace sparsecap::cuda::device_wide
