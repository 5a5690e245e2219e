// Sum and max reductions on the CPU over a tensor viewed as [outer, n, inner].
#include <algorithm>
#include <limits>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"

namespace sparsecap::cpu {

namespace {

// Sum of n values; float accumulates in double so long reductions stay accurate and the result
// does not depend on the thread count.
template <typename T>
double sum_contiguous(const T* values, int64_t n) {
  double total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(values[i]);
  return total;
}

// One long sum (a loss, a global norm): fixed chunks summed in parallel, then added in order, so
// the result is the same for any thread count.
template <typename T>
T sum_all(const T* in, int64_t n) {
  constexpr int64_t kChunks = 64;
  const int64_t chunk = (n + kChunks - 1) / kChunks;
  double partial[kChunks] = {};
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t c = 0; c < kChunks; ++c) {
    const int64_t begin = c * chunk;
    const int64_t end = std::min(n, begin + chunk);
    if (begin < end) partial[c] = sum_contiguous(in + begin, end - begin);
  }
  double total = 0;
  for (double p : partial) total += p;
  return static_cast<T>(total);
}

// Columns one thread sums together in a strided sum: 256 doubles (2 KiB) of totals stay in L1.
constexpr int64_t kSumColumnBlock = 256;

template <typename T>
void sum_reduce(const T* in, T* out, int64_t outer, int64_t n, int64_t inner) {
  if (outer == 1 && inner == 1) {
    out[0] = sum_all(in, n);
    return;
  }
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * n > kParallelGrain)
    for (int64_t o = 0; o < outer; ++o) {
      out[o] = static_cast<T>(sum_contiguous(in + o * n, n));
    }
    return;
  }
  // Threads take (outer, column block) pairs, not whole outer slices: a bias gradient sums the
  // rows of [rows, features] with outer = 1 and would otherwise run on one thread. Each output
  // still adds its n values in order, so the result does not depend on the thread count.
  const int64_t blocks = (inner + kSumColumnBlock - 1) / kSumColumnBlock;
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t begin = block * kSumColumnBlock, width = std::min(kSumColumnBlock, inner - begin);
      double totals[kSumColumnBlock] = {};
      for (int64_t i = 0; i < n; ++i) {
        const T* slice = in + (o * n + i) * inner + begin;
#pragma omp simd
        for (int64_t j = 0; j < width; ++j) totals[j] += static_cast<double>(slice[j]);
      }
      T* target = out + o * inner + begin;
      for (int64_t j = 0; j < width; ++j) target[j] = static_cast<T>(totals[j]);
    }
  }
}

// Max with the first index reaching it; NaN propagates (a NaN is "greater" than everything).
template <typename T>
void max_reduce(const T* in, T* out, int64_t* argmax, int64_t outer, int64_t n, int64_t inner) {
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_index = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T value = in[(o * n + i) * inner + j];
        if (value > best || (value != value && best == best)) {
          best = value;
          best_index = i;
        }
      }
      out[o * inner + j] = best;
      if (argmax) argmax[o * inner + j] = best_index;
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& in, Tensor& out, Tensor& argmax, int64_t outer, int64_t n,
                        int64_t inner) {
  dispatch_floating(in.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    if (op == ReduceOp::Sum)
      sum_reduce(src, dst, outer, n, inner);
    else
      max_reduce(src, dst, argmax.defined() ? argmax.data<int64_t>() : nullptr, outer, n, inner);
  });
}

}  // namespace sparsecap::cpu
