#pragma once
// Central finite differences in float64 against the autograd gradients.
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace sparsecap::testing {

struct GradcheckResult {
  double max_relative_error = 0;  // max over inputs and elements of |analytic - numeric| / max(1, |numeric|)
  std::string worst;              // "input 1 element 7: analytic 0.1, numeric 0.2"
};

// f maps inputs to any tensor; the scalar checked is sum(f(x) * R) with a fixed random R, so every
// output element carries a different weight. Only inputs with differentiable[i] are perturbed.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          const std::vector<bool>& differentiable, double step = 1e-6);

}  // namespace sparsecap::testing
