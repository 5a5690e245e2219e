#pragma once
// One pooling window, written once for the CPU loop and the CUDA kernels: the maximum (first
// index wins ties, padding skipped) and the sum of the in-image values, visited row by row.
#include <cstdint>

#include "engine/kernels/hd.h"

namespace sparsecap::kernels {

struct PoolWindow {
  int64_t in_h, in_w, kernel, stride, padding;
};

template <typename T>
struct PoolWindowResult {
  T max;
  int64_t argmax;  // flat index in the input plane; -1 when the window holds no input
  T sum;           // average pooling divides by kernel² (padding counts as zeros)
};

template <typename T>
HD PoolWindowResult<T> pool_window(const T* plane, const PoolWindow& w, int64_t oy, int64_t ox) {
  PoolWindowResult<T> result{T(0), -1, T(0)};
  for (int64_t ky = 0; ky < w.kernel; ++ky) {
    const int64_t iy = oy * w.stride - w.padding + ky;
    if (iy < 0 || iy >= w.in_h) continue;
    for (int64_t kx = 0; kx < w.kernel; ++kx) {
      const int64_t ix = ox * w.stride - w.padding + kx;
      if (ix < 0 || ix >= w.in_w) continue;
      const T value = plane[iy * w.in_w + ix];
      result.sum += value;
      if (result.argmax < 0 || value > result.max) {
        result.max = value;
        result.argmax = iy * w.in_w + ix;
      }
    }
  }
  return result;
}

}  // namespace sparsecap::kernels
