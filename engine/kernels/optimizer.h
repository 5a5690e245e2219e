#pragma once
// Per-element optimizer updates, shared by the CPU loop and the CUDA kernel.

#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

struct AdamCoefficients {
  float lr;             // learning rate
  float beta1, beta2;
  float one_minus_beta1, one_minus_beta2;  // computed in double: float(1 - 0.999) is off by 1e-5
  float eps;
  float weight_decay;   // L2 added to the gradient (Adam) or decoupled (AdamW)
  bool decoupled;
  float bias_correction1;  // 1 - beta1^t
  float bias_correction2;  // 1 - beta2^t
};

// Adam (Kingma & Ba) with PyTorch's placement of eps: p -= lr * m_hat / (sqrt(v_hat) + eps).
template <typename T>
HD void adam_update(T& param, T grad, T& m, T& v, const AdamCoefficients& c) {
  if (c.weight_decay != 0.0f) {
    if (c.decoupled)
      param -= T(c.lr) * T(c.weight_decay) * param;
    else
      grad += T(c.weight_decay) * param;
  }
  m = T(c.beta1) * m + T(c.one_minus_beta1) * grad;
  v = T(c.beta2) * v + T(c.one_minus_beta2) * grad * grad;
  const T m_hat = m / T(c.bias_correction1);
  const T v_hat = v / T(c.bias_correction2);
  param -= T(c.lr) * m_hat / (sqrt(v_hat) + T(c.eps));
}

}  // namespace sparsecap::kernels
