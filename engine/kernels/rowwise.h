#pragma once
// Row-wise math shared by the CPU loops and the CUDA kernels (one block per row there): the
// per-element steps of softmax, cross-entropy and layer norm, once the row's statistics are known.

#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

// softmax: y = exp(x - max) / sum; log-softmax: y = x - max - log(sum).
template <typename T>
HD T softmax_value(T x, T row_max, T row_sum, bool log_output) {
  return log_output ? x - row_max - T(log(row_sum)) : T(exp(x - row_max)) / row_sum;
}

// dx for softmax (y, dy, dot = sum(dy * y)) and log-softmax (dot = sum(dy)).
template <typename T>
HD T softmax_grad(T y, T dy, T dot, bool log_output) {
  return log_output ? dy - T(exp(y)) * dot : y * (dy - dot);
}

// Cross-entropy gradient for one logit: scale * (softmax - onehot).
template <typename T>
HD T cross_entropy_grad(T logit, T lse, bool is_target, T scale) {
  return scale * (T(exp(logit - lse)) - (is_target ? T(1) : T(0)));
}

template <typename T>
HD T layer_norm_value(T x, T mean, T rstd, T gamma, T beta) {
  return (x - mean) * rstd * gamma + beta;
}

// dx for layer norm with xhat = (x - mean) * rstd, g = dy * gamma, and the row means of g and
// g * xhat: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
template <typename T>
HD T layer_norm_grad(T g, T xhat, T mean_g, T mean_g_xhat, T rstd) {
  return rstd * (g - mean_g - xhat * mean_g_xhat);
}

}  // namespace sparsecap::kernels
