// CUB device-wide reductions and sorts. Kept apart from cuda/kernels/: these are NVIDIA's kernels,
// not emulated by the kernel-emulation build.
#include "cuda/device_wide.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cuda/std/functional>

#include "cuda/check.h"

namespace sparsecap::cuda::device_wide {

namespace {
struct FloatToDouble {
  __host__ __device__ double operator()(float value) const { return static_cast<double>(value); }
};
}  // namespace

size_t sum_to_double_temp_bytes(int64_t n) {
  size_t bytes = 0;
  SPARSECAP_CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, bytes, static_cast<const float*>(nullptr),
                                                          static_cast<double*>(nullptr), n,
                                                          ::cuda::std::plus<double>{}, FloatToDouble{}, 0.0));
  return bytes;
}

void sum_to_double(const float* in, double* total, int64_t n, void* temp, size_t temp_bytes, cudaStream_t stream) {
  SPARSECAP_CUDA_CHECK(cub::DeviceReduce::TransformReduce(temp, temp_bytes, in, total, n, ::cuda::std::plus<double>{},
                                                          FloatToDouble{}, 0.0, stream));
}

size_t sort_pairs_temp_bytes(int64_t n) {
  size_t bytes = 0;
  SPARSECAP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int64_t*>(nullptr),
                                                       static_cast<int64_t*>(nullptr),
                                                       static_cast<const int64_t*>(nullptr),
                                                       static_cast<int64_t*>(nullptr), n));
  return bytes;
}

void sort_pairs(const int64_t* keys_in, int64_t* keys_out, const int64_t* values_in, int64_t* values_out, int64_t n,
                void* temp, size_t temp_bytes, cudaStream_t stream) {
  SPARSECAP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, values_in, values_out, n,
                                                       0, static_cast<int>(sizeof(int64_t) * 8), stream));
}

}  // namespace sparsecap::cuda::device_wide
