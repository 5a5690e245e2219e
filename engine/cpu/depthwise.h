#pragma once
// Depthwise convolution on the CPU (groups == in_channels == out_channels), NCHW. 3x3 kernels with
// padding 1 and stride 1 or 2 (MobileNet's) take a specialised path; every other shape takes the
// generic direct loops. Exposed for the tests and benchmarks; models reach it through
// Backend::conv2d and its two backward calls.
#include <cstdint>

#include "engine/backend.h"

namespace sparsecap::cpu {

bool is_depthwise(const Conv2dShape& s);
// Whether `s` (a depthwise shape) takes the specialised path: 3x3, padding 1, stride 1 or 2.
bool depthwise_has_fast_path(const Conv2dShape& s);

// y [N, C, out_h, out_w] = x [N, C, in_h, in_w] correlated with w [C, 1, kh, kw]; y is overwritten.
template <typename T>
void depthwise_forward(const T* x, const T* w, T* y, const Conv2dShape& s);
// dx [N, C, in_h, in_w] from dy [N, C, out_h, out_w]; dx is overwritten.
template <typename T>
void depthwise_backward_input(const T* dy, const T* w, T* dx, const Conv2dShape& s);
// dw [C, 1, kh, kw] summed over the batch; dw is overwritten. Deterministic: the specialised path
// gives the same bits for any thread count, the generic one for a given thread count.
template <typename T>
void depthwise_backward_weight(const T* dy, const T* x, T* dw, const Conv2dShape& s);

// For tests and benchmarks: send every depthwise shape through the generic loops (what shapes
// without a specialised path run) until called again with false. Do not call while a
// convolution is running.
void depthwise_force_generic(bool force);

}  // namespace sparsecap::cpu
