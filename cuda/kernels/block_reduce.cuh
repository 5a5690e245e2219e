#pragma once
// Warp and block reductions for our kernels, built on __shfl_xor_sync and shared memory only
// (no CUB block primitives, no inline PTX), so they run unchanged in the emulation build.
// Preconditions: blockDim.x is a multiple of 32 (at most 1024) and every thread of the block
// calls the block-level functions (they contain __syncthreads()).
#include <cstdint>

namespace sparsecap::cuda::launchers {

constexpr unsigned kFullWarp = 0xffffffffu;

// Butterfly sum: every lane ends with the warp's total, so all warps agree bit for bit.
template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}

template <typename T>
__device__ __forceinline__ T warp_max(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_xor_sync(kFullWarp, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

// `scratch` holds at least 32 values of T in shared memory. Returns the block total to every
// thread. The leading barrier lets consecutive calls reuse the same scratch.
template <typename T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  value = warp_sum(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  return warp_sum(lane < warps ? scratch[lane] : T(0));
}

template <typename T>
__device__ __forceinline__ T block_max(T value, T* scratch, T lowest) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  value = warp_max(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  return warp_max(lane < warps ? scratch[lane] : lowest);
}

// A candidate maximum and where it was found. The CPU convention: the first NaN wins over any
// number, otherwise the largest value, ties going to the smallest index. The combine below is
// commutative and associative under that rule, so any reduction order gives the CPU's answer.
struct ValueIndex {
  float value;
  int64_t index;
};

__device__ __forceinline__ ValueIndex better_of(ValueIndex a, ValueIndex b) {
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  if (a_nan != b_nan) return a_nan ? a : b;
  if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
  return a.index <= b.index ? a : b;
}

__device__ __forceinline__ ValueIndex warp_argmax(ValueIndex candidate) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    ValueIndex other;
    other.value = __shfl_xor_sync(kFullWarp, candidate.value, offset);
    other.index = __shfl_xor_sync(kFullWarp, candidate.index, offset);
    candidate = better_of(candidate, other);
  }
  return candidate;
}

// `scratch` holds at least 32 ValueIndex in shared memory; `empty` is the identity element.
__device__ __forceinline__ ValueIndex block_argmax(ValueIndex candidate, ValueIndex* scratch, ValueIndex empty) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  candidate = warp_argmax(candidate);
  __syncthreads();
  if (lane == 0) scratch[warp] = candidate;
  __syncthreads();
  return warp_argmax(lane < warps ? scratch[lane] : empty);
}

}  // namespace sparsecap::cuda::launchers
