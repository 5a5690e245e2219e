#pragma once
// Four consecutive floats moved as one 16-byte access (ld.global.v4 / st.global.v4). Memory-bound
// kernels then issue a quarter of the memory instructions and get closer to the copy bandwidth.
// Only 16-byte-aligned addresses may be accessed this way; a tensor view can start anywhere, so
// the host entry points check with aligned_for_vectors() and otherwise launch the scalar kernel.
#include <cstdint>

#include "cuda/kernels/launch.cuh"  // the CUDA runtime (or its emulation) and grid_for

namespace sparsecap::cuda {

constexpr int64_t kVectorFloats = 4;

// Blocks for a grid-stride loop over n floats taken four at a time (the tail included).
inline unsigned grid_for_vectors(int64_t n) { return grid_for((n + kVectorFloats - 1) / kVectorFloats); }

inline bool aligned_for_vectors(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % sizeof(float4) == 0;
}

__device__ __forceinline__ float4 load_float4(const float* at) { return *reinterpret_cast<const float4*>(at); }
__device__ __forceinline__ void store_float4(float* at, float4 value) { *reinterpret_cast<float4*>(at) = value; }
__device__ __forceinline__ float4 splat_float4(float value) { return float4{value, value, value, value}; }

}  // namespace sparsecap::cuda
