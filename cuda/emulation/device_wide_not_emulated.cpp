// Emulation build only: cuda/device_wide.h without CUB. CUB's device-wide routines are NVIDIA's
// GPU code and are not emulated: each entry point throws, so the ops built on them (the sum over
// all elements, the sort of the deterministic embedding backward) report it and the emulated op
// suite skips them, rather than running a host substitute.
#include "cuda/device_wide.h"

#include "cuda/cuda_runtime_info.h"
#include "engine/error.h"

namespace sparsecap::cuda::device_wide {

namespace {

[[noreturn]] void not_emulated(const char* routine) {
  throw Error(::sparsecap::detail::concat("CUB ", routine, " ", SPARSECAP_NOT_EMULATED_PHRASE));
}

}  // namespace

size_t sum_to_double_temp_bytes(int64_t) { not_emulated("cub::DeviceReduce::Sum"); }
void sum_to_double(const float*, double*, int64_t, void*, size_t, cudaStream_t) {
  not_emulated("cub::DeviceReduce::Sum");
}

size_t sort_pairs_temp_bytes(int64_t) { not_emulated("cub::DeviceRadixSort::SortPairs"); }
void sort_pairs(const int64_t*, int64_t*, const int64_t*, int64_t*, int64_t, void*, size_t, cudaStream_t) {
  not_emulated("cub::DeviceRadixSort::SortPairs");
}

}  // namespace sparsecap::cuda::device_wide
