// Depthwise convolution on the CPU. im2col would do k*k times the work for one channel, so these
// are direct loops, one (image, channel) plane at a time.
#include "engine/cpu/depthwise.h"

#include <algorithm>

#include "engine/cpu/cpu_backend.h"

namespace sparsecap::cpu {

namespace {

// ---- the generic loops: any kernel size, stride and padding ----

template <typename T>
void generic_forward(const T* x, const T* w, T* y, const Conv2dShape& s) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t c = 0; c < s.in_channels; ++c) {
      const T* plane = x + (n * s.in_channels + c) * s.in_h * s.in_w;
      const T* kernel = w + c * s.kernel_h * s.kernel_w;
      T* dst = y + (n * s.out_channels + c) * s.out_h * s.out_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          T total = 0;
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
            const int64_t iy = oy * s.stride - s.padding + ky;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
              const int64_t ix = ox * s.stride - s.padding + kx;
              if (ix >= 0 && ix < s.in_w) total += plane[iy * s.in_w + ix] * kernel[ky * s.kernel_w + kx];
            }
          }
          dst[oy * s.out_w + ox] = total;
        }
    }
}

// Input and weight gradients accumulated (into zeroed dx / dw) per channel: each channel's weight
// gradient is owned by one iteration, so the sum over the batch is race-free and in a fixed order.
template <typename T>
void generic_backward(const T* dy, const T* x, const T* w, T* dx, T* dw, const Conv2dShape& s) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.in_channels; ++c) {
    const T* kernel = w ? w + c * s.kernel_h * s.kernel_w : nullptr;
    T* kernel_grad = dw ? dw + c * s.kernel_h * s.kernel_w : nullptr;
    for (int64_t n = 0; n < s.batch; ++n) {
      // x is null when only the input gradient is wanted (offsetting a null pointer is undefined).
      const T* plane = x ? x + (n * s.in_channels + c) * s.in_h * s.in_w : nullptr;
      T* plane_grad = dx ? dx + (n * s.in_channels + c) * s.in_h * s.in_w : nullptr;
      const T* grad = dy + (n * s.out_channels + c) * s.out_h * s.out_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          const T g = grad[oy * s.out_w + ox];
          for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
            const int64_t iy = oy * s.stride - s.padding + ky;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
              const int64_t ix = ox * s.stride - s.padding + kx;
              if (ix < 0 || ix >= s.in_w) continue;
              if (plane_grad) plane_grad[iy * s.in_w + ix] += g * kernel[ky * s.kernel_w + kx];
              if (kernel_grad) kernel_grad[ky * s.kernel_w + kx] += g * plane[iy * s.in_w + ix];
            }
          }
        }
    }
  }
}

}  // namespace

bool is_depthwise(const Conv2dShape& s) {
  return s.groups == s.in_channels && s.groups == s.out_channels && s.groups > 1;
}

template <typename T>
void depthwise_forward(const T* x, const T* w, T* y, const Conv2dShape& s) {
  generic_forward(x, w, y, s);
}

template <typename T>
void depthwise_backward_input(const T* dy, const T* w, T* dx, const Conv2dShape& s) {
  std::fill(dx, dx + s.batch * s.in_channels * s.in_h * s.in_w, T(0));
  generic_backward<T>(dy, nullptr, w, dx, nullptr, s);
}

template <typename T>
void depthwise_backward_weight(const T* dy, const T* x, T* dw, const Conv2dShape& s) {
  std::fill(dw, dw + s.in_channels * s.kernel_h * s.kernel_w, T(0));
  generic_backward<T>(dy, x, nullptr, nullptr, dw, s);
}

template void depthwise_forward<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_forward<double>(const double*, const double*, double*, const Conv2dShape&);
template void depthwise_backward_input<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_backward_input<double>(const double*, const double*, double*, const Conv2dShape&);
template void depthwise_backward_weight<float>(const float*, const float*, float*, const Conv2dShape&);
template void depthwise_backward_weight<double>(const double*, const double*, double*, const Conv2dShape&);

}  // namespace sparsecap::cpu
