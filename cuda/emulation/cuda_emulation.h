#pragma once
// The CUDA execution model for the emulation build (SPARSECAP_CUDA_EMULATE): what nvcc and the
// CUDA headers supply to cuda/kernels/*.cu, written for a host C++ compiler, so the project's own
// kernel source — not a CPU rewrite — runs on the CPU in CI (see docs/cuda.md, "Kernel emulation").
//
// The model (cuda_emulation.cpp runs it):
// - A grid runs its blocks one after another; a block runs as blockDim OS threads (from a pool),
//   so the threads of a block really are concurrent and ThreadSanitizer sees their races.
// - __syncthreads() is a real barrier across the block's threads; a thread that returns from the
//   kernel leaves the barrier (as an exited thread does on a GPU).
// - Warp collectives (__shfl*_sync, __ballot_sync, __syncwarp) exchange through per-warp slots
//   and a warp barrier, with the lane semantics of the CUDA programming guide. The emulation
//   assumes converged warps: every live lane named in the mask calls the collective; a partial
//   mask or a read from an exited lane fails the launch with a message.
// - Device memory is host memory; every stream is the host thread, so streams run in order and
//   a launch has finished when launch() returns. One grid runs at a time (a process-wide lock).
// - `static __shared__` arrays: __shared__ expands to `static`, so all threads of a block use one
//   array. Blocks never overlap (they run one after another, one grid at a time), so no two blocks
//   ever see each other's shared memory live; like on a GPU, a block starts with whatever the last
//   block left there. Dynamic shared memory (SPARSECAP_DYNAMIC_SHARED in launch.cuh) is a fresh
//   per-block buffer filled with 0xFF bytes (NaN floats), so reads of unwritten slots show up.
// - Anything not supplied here fails to compile: an undeclared intrinsic, a CUDA header without a
//   shim in cuda/emulation/shim/, `extern __shared__` (see __shared__ below), __constant__.
#ifndef SPARSECAP_CUDA_EMULATE
#error "cuda/emulation/cuda_emulation.h is the CUDA header of the emulation build: define SPARSECAP_CUDA_EMULATE"
#endif
#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#error "the CUDA emulation is compiled by a host C++ compiler, never by nvcc"
#endif

#include <math.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
// `extern __shared__ T name[];` does not compile here ("conflicting specifiers": extern static):
// dynamic shared memory is declared with SPARSECAP_DYNAMIC_SHARED(T, name) from launch.cuh.
#define __shared__ static
#define __constant__ \
  static_assert(false, "__constant__ memory is not supported by the CUDA emulation (cuda/emulation/cuda_emulation.h)");
#define __managed__ \
  static_assert(false, "__managed__ memory is not supported by the CUDA emulation (cuda/emulation/cuda_emulation.h)");

// ---- vector types and the built-in variables ----
struct uint3 {
  unsigned x, y, z;
};
// The 16-byte vector types our kernels load and store whole (cuda/kernels/vector_access.cuh),
// aligned as CUDA's vector_types.h aligns them.
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// One set per emulated thread (set by the runtime before the kernel body runs). CUDA's built-ins
// are names of the language, visible everywhere: hence globals, defined in cuda_emulation.cpp.
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- runtime API types ----
enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;
struct CUstream_st;  // defined in emulated_runtime.cpp: a stream is only a name in the emulation
using cudaStream_t = CUstream_st*;

// Returns and clears the last error of this host thread (as the CUDA runtime does).
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
// For an emulation failure of the latest launch, the detailed message (which kernel check failed).
const char* cudaGetErrorString(cudaError_t error);

// Devices, memory, streams and events, for the host layer (cuda/*.cpp) built on the emulation.
#include "cuda/emulation/emulated_runtime.h"

namespace sparsecap::cuda::emulation {

// ---- launching (used by launch() in cuda/kernels/launch.cuh) ----

// The kernel body with its arguments bound; called once per emulated thread.
using ThreadBody = void (*)(const void* bound_kernel);

// Runs the grid to completion on the calling host thread's behalf. Launch-configuration errors
// (block over 1024 threads, too much shared memory...) and emulation errors inside the kernel
// are reported through cudaGetLastError, as a failed launch is on a GPU. `kernel` identifies the
// kernel for coverage counting only.
void run_grid(const void* kernel, dim3 grid, dim3 block, size_t dynamic_shared_bytes, cudaStream_t stream,
              ThreadBody body, const void* bound_kernel);

// How the threads of a block are scheduled between barriers.
enum class Schedule {
  Concurrent,        // all threads free-running: the schedule for ThreadSanitizer
  WarpsInOrder,      // between two __syncthreads(), warp 0 runs to the barrier, then warp 1, ...
  WarpsInReverseOrder,  // the same from the last warp down
};
// The ordered schedules are valid CUDA schedules that make a missing __syncthreads() fail
// deterministically (a reader runs before, or after, the writer it forgot to wait for).
void set_schedule(Schedule schedule);
Schedule schedule();

// Distinct kernels (instantiations) launched so far in this process, for the coverage report.
size_t distinct_kernels_launched();
bool was_launched(const void* kernel);

// ---- what the device functions below call ----
[[noreturn]] void fail_kernel(const char* message);  // fails the launch with `message`
std::byte* dynamic_shared_memory();                  // this block's dynamic shared memory
void sync_block();
void sync_warp(unsigned mask);
// Publishes this lane's 8-byte value, waits for the warp, and returns the values of all lanes
// (valid until this lane's next-but-one collective). `mask` is checked against the live lanes.
const uint64_t* exchange_in_warp(unsigned mask, uint64_t value, const char* intrinsic);
// Whether `lane` took part in this lane's latest collective (a lane that has exited did not).
bool took_part_in_last_collective(unsigned lane);
unsigned lane_id();
unsigned live_lanes();   // lanes of this warp that exist and have not returned
unsigned warp_lanes();   // lanes of this warp that exist (a partial last warp has fewer)

template <typename T>
inline uint64_t to_slot(T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "CUDA emulation: warp shuffles move trivially copyable values of at most 8 bytes "
                "(shuffle the members of a larger struct one by one)");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <typename T>
inline T from_slot(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// CUDA's rule for a source lane: within segments of `width` lanes; out-of-segment or
// out-of-warp sources read the caller's own value (shfl_down/up/xor), shfl_sync wraps.
template <typename T>
inline T shuffle_from(unsigned mask, T value, unsigned source_lane, bool source_valid, const char* intrinsic) {
  const uint64_t* lanes = exchange_in_warp(mask, to_slot(value), intrinsic);
  if (!source_valid) return value;
  if (!took_part_in_last_collective(source_lane))
    fail_kernel("warp shuffle reads a lane that has exited or does not exist");
  return from_slot<T>(lanes[source_lane]);
}

inline void check_width(int width) {
  if (width <= 0 || width > 32 || (width & (width - 1)) != 0)
    fail_kernel("warp shuffle width must be a power of two in [1, 32]");
}

}  // namespace sparsecap::cuda::emulation

// ---- synchronisation ----
inline void __syncthreads() { sparsecap::cuda::emulation::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { sparsecap::cuda::emulation::sync_warp(mask); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
// The emulation's warps are converged (see the top of this file): all live lanes are active.
inline unsigned __activemask() { return sparsecap::cuda::emulation::live_lanes(); }

// ---- warp shuffles and votes ----
template <typename T>
inline T __shfl_sync(unsigned mask, T value, int source_lane, int width = warpSize) {
  namespace em = sparsecap::cuda::emulation;
  em::check_width(width);
  const unsigned lane = em::lane_id(), segment = lane & ~static_cast<unsigned>(width - 1);
  const unsigned source = segment + (static_cast<unsigned>(source_lane) & static_cast<unsigned>(width - 1));
  return em::shuffle_from(mask, value, source, true, "__shfl_sync");
}

template <typename T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  namespace em = sparsecap::cuda::emulation;
  em::check_width(width);
  const unsigned lane = em::lane_id(), in_segment = lane & static_cast<unsigned>(width - 1);
  const bool valid = in_segment + delta < static_cast<unsigned>(width);
  return em::shuffle_from(mask, value, valid ? lane + delta : lane, valid, "__shfl_down_sync");
}

template <typename T>
inline T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
  namespace em = sparsecap::cuda::emulation;
  em::check_width(width);
  const unsigned lane = em::lane_id(), in_segment = lane & static_cast<unsigned>(width - 1);
  const bool valid = in_segment >= delta;
  return em::shuffle_from(mask, value, valid ? lane - delta : lane, valid, "__shfl_up_sync");
}

template <typename T>
inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
  namespace em = sparsecap::cuda::emulation;
  em::check_width(width);
  const unsigned lane = em::lane_id(), source = lane ^ static_cast<unsigned>(lane_mask);
  // Sources in a later segment (or past the warp) give the caller its own value.
  const unsigned segment = lane & ~static_cast<unsigned>(width - 1);
  const bool valid = source < 32u && source < segment + static_cast<unsigned>(width);
  return em::shuffle_from(mask, value, valid ? source : lane, valid, "__shfl_xor_sync");
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  namespace em = sparsecap::cuda::emulation;
  const uint64_t* lanes = em::exchange_in_warp(mask, predicate != 0 ? 1u : 0u, "__ballot_sync");
  unsigned ballot = 0;
  for (unsigned lane = 0; lane < 32; ++lane)
    if (((mask >> lane) & 1u) && em::took_part_in_last_collective(lane))
      ballot |= static_cast<unsigned>(lanes[lane] & 1u) << lane;
  return ballot;
}
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == (mask & sparsecap::cuda::emulation::live_lanes());
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }

// ---- atomics on emulated device memory (host memory): std::atomic_ref, returning the old value ----
template <typename T>
inline T __sparsecap_atomic_add(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}
inline int atomicAdd(int* address, int value) { return __sparsecap_atomic_add(address, value); }
inline unsigned atomicAdd(unsigned* address, unsigned value) { return __sparsecap_atomic_add(address, value); }
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return __sparsecap_atomic_add(address, value);
}
inline float atomicAdd(float* address, float value) { return __sparsecap_atomic_add(address, value); }
inline double atomicAdd(double* address, double value) { return __sparsecap_atomic_add(address, value); }

template <typename T, typename Better>
inline T __sparsecap_atomic_replace_if(T* address, T value, Better better) {
  std::atomic_ref<T> target(*address);
  T old = target.load(std::memory_order_relaxed);
  while (better(value, old) && !target.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}
#define SPARSECAP_EMULATED_MIN_MAX(type)                                                                   \
  inline type atomicMax(type* address, type value) {                                                       \
    return __sparsecap_atomic_replace_if(address, value, [](type a, type b) { return a > b; });            \
  }                                                                                                        \
  inline type atomicMin(type* address, type value) {                                                       \
    return __sparsecap_atomic_replace_if(address, value, [](type a, type b) { return a < b; });            \
  }
SPARSECAP_EMULATED_MIN_MAX(int)
SPARSECAP_EMULATED_MIN_MAX(unsigned)
SPARSECAP_EMULATED_MIN_MAX(long long)
SPARSECAP_EMULATED_MIN_MAX(unsigned long long)
#undef SPARSECAP_EMULATED_MIN_MAX

template <typename T>
inline T __sparsecap_atomic_cas(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // the old value: equal to `compare` exactly when the swap happened
}
inline int atomicCAS(int* address, int compare, int value) { return __sparsecap_atomic_cas(address, compare, value); }
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
  return __sparsecap_atomic_cas(address, compare, value);
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare,
                                    unsigned long long value) {
  return __sparsecap_atomic_cas(address, compare, value);
}
template <typename T>
inline T atomicExch(T* address, T value) {
  static_assert(std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, unsigned long long> ||
                    std::is_same_v<T, float>,
                "CUDA emulation: atomicExch exists for int, unsigned, unsigned long long and float only");
  return std::atomic_ref<T>(*address).exchange(value, std::memory_order_relaxed);
}

// ---- bit reinterpretation ----
inline float __uint_as_float(unsigned bits) { return sparsecap::cuda::emulation::from_slot<float>(bits); }
inline unsigned __float_as_uint(float value) {
  return static_cast<unsigned>(sparsecap::cuda::emulation::to_slot(value));
}
inline float __int_as_float(int bits) { return __uint_as_float(static_cast<unsigned>(bits)); }
inline int __float_as_int(float value) { return static_cast<int>(__float_as_uint(value)); }
inline double __longlong_as_double(long long bits) { return sparsecap::cuda::emulation::from_slot<double>(
    static_cast<uint64_t>(bits)); }
inline long long __double_as_longlong(double value) {
  return static_cast<long long>(sparsecap::cuda::emulation::to_slot(value));
}
template <typename T>
inline T __ldg(const T* address) {
  return *address;
}

// ---- device math: the fast intrinsics are computed exactly here (their GPU error bounds are
// the GPU's business; the emulation checks the code around them) ----
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float exp10f(float x) { return powf(10.0f, x); }

// CUDA's global min/max overloads for integers and floating point.
#define SPARSECAP_EMULATED_MIN_MAX(type)                            \
  inline type min(type a, type b) { return b < a ? b : a; }         \
  inline type max(type a, type b) { return a < b ? b : a; }
SPARSECAP_EMULATED_MIN_MAX(int)
SPARSECAP_EMULATED_MIN_MAX(unsigned)
SPARSECAP_EMULATED_MIN_MAX(long)
SPARSECAP_EMULATED_MIN_MAX(unsigned long)
SPARSECAP_EMULATED_MIN_MAX(long long)
SPARSECAP_EMULATED_MIN_MAX(unsigned long long)
#undef SPARSECAP_EMULATED_MIN_MAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// ---- half precision (cuda_fp16.h): storage and round-to-nearest-even conversions ----
struct __half {
  unsigned short __x;
};

inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }

inline __half __float2half_rn(float value) {
  const unsigned bits = __float_as_uint(value);
  const unsigned sign = (bits >> 16) & 0x8000u, exponent = (bits >> 23) & 0xFFu, mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFFu)  // infinity; every NaN becomes the canonical 0x7FFF, as cvt.rn.f16.f32 does
    return __half{static_cast<unsigned short>(mantissa ? 0x7FFFu : sign | 0x7C00u)};
  const int half_exponent = static_cast<int>(exponent) - 127 + 15;
  if (half_exponent >= 31) return __half{static_cast<unsigned short>(sign | 0x7C00u)};
  if (half_exponent <= 0) {  // subnormal half (or zero): shift the implicit one in, round to even
    if (half_exponent < -10) return __half{static_cast<unsigned short>(sign)};
    const unsigned full = mantissa | 0x800000u, shift = static_cast<unsigned>(14 - half_exponent);
    unsigned half_mantissa = full >> shift;
    const unsigned remainder = full & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u))) ++half_mantissa;
    return __half{static_cast<unsigned short>(sign | half_mantissa)};
  }
  unsigned half = sign | (static_cast<unsigned>(half_exponent) << 10) | (mantissa >> 13);
  const unsigned remainder = mantissa & 0x1FFFu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u))) ++half;  // a carry into the exponent is right
  return __half{static_cast<unsigned short>(half)};
}
inline __half __float2half(float value) { return __float2half_rn(value); }

inline float __half2float(__half h) {
  const unsigned sign = (h.__x & 0x8000u) << 16, exponent = (h.__x >> 10) & 0x1Fu, mantissa = h.__x & 0x3FFu;
  if (exponent == 0x1Fu) return __uint_as_float(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return __uint_as_float(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
  if (mantissa == 0) return __uint_as_float(sign);
  // Subnormal: value = mantissa · 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}
