#pragma once
// Test-only kernels with planted bugs, built in the emulation suite only: they show that the
// emulated suite fails on the bugs it exists to catch (test_planted_bugs.cpp). Row sums of
// in [rows, cols] into out [rows], one block of row_threads(cols) threads per row, through a
// block reduction that is correct or has one bug planted.
#include <cstdint>

namespace sparsecap::cuda::planted {

enum class ReductionBug {
  None,            // the control: block_reduce.cuh's block_sum, inlined
  OffByOne,        // the final warp sum reads one partial too few (drops the last warp)
  MissingBarrier,  // no __syncthreads() between writing the warp partials and reading them
};

void row_sum(ReductionBug bug, const float* in, float* out, int64_t rows, int64_t cols);

// table[index[i]] += src[i] with a plain read-modify-write instead of atomicAdd: a data race
// whenever two threads share an index (ThreadSanitizer's to find).
void racy_scatter_add(const float* src, const int64_t* index, float* table, int64_t count);

}  // namespace sparsecap::cuda::planted
