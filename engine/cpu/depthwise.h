#pragma once
// Depthwise convolution on the CPU (groups == in_channels == out_channels), NCHW: direct loops.
// Models reach it through Backend::conv2d and its two backward calls.
#include <cstdint>

#include "engine/backend.h"

namespace sparsecap::cpu {

bool is_depthwise(const Conv2dShape& s);
// y [N, C, out_h, out_w] = x [N, C, in_h, in_w] correlated with w [C, 1, kh, kw]; y is overwritten.
template <typename T>
void depthwise_forward(const T* x, const T* w, T* y, const Conv2dShape& s);
// dx [N, C, in_h, in_w] from dy [N, C, out_h, out_w]; dx is overwritten.
template <typename T>
void depthwise_backward_input(const T* dy, const T* w, T* dx, const Conv2dShape& s);
// dw [C, 1, kh, kw] summed over the batch; dw is overwritten. Each channel's sum is one thread's,
// in a fixed order.
template <typename T>
void depthwise_backward_weight(const T* dy, const T* x, T* dw, const Conv2dShape& s);

}  // namespace sparsecap::cpu
