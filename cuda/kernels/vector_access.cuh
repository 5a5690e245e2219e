#pragma once
// Four consecutive floats moved as one 16-byte access (ld.global.v4 / st.global.v4). Memory-bound
// kernels then issue a quarter of the memory instructions and get closer to the copy bandwidth.
// Only 16-byte-aligned addresses may be accessed this way; a tensor view can start anywhere, so
// the host entry points check with aligned_for_vectors() and otherwise launch the scalar kernel.
#ifdef SPARSECAP_CUDA_EMULATE
#include "cuda/emulation/cuda_emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include <cstdint>

namespace sparsecap::cuda {

constexpr int64_t kVectorFloats = 4;

inline bool aligned_for_vectors(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % sizeof(float4) == 0;
}

__device__ __forceinline__ float4 load_float4(const float* at) { return *reinterpret_cast<const float4*>(at); }
__device__ __forceinline__ void store_float4(float* at, float4 value) { *reinterpret_cast<float4*>(at) = value; }
__device__ __forceinline__ float4 splat_float4(float value) { return float4{value, value, value, value}; }

}  // namespace sparsecap::cuda
