#pragma once
// Gradient clipping over a list of parameters, in place on their gradients (parameters without a
// gradient are skipped). The reference captioners clip every group, gates included, by value 0.1.
#include <vector>

#include "engine/nn/parameter.h"

namespace sparsecap::optim {

// Each gradient element clamped to [-clip_value, clip_value].
void clip_grad_value(const std::vector<nn::ParameterPtr>& parameters, double clip_value);

// Scales all gradients together by max_norm / (total + 1e-6) when their global L2 norm `total`
// exceeds max_norm (PyTorch's formula). Returns `total`, the norm before clipping. A non-finite
// norm leaves the gradients as they are: the caller sees it and decides (skip the step, stop).
double clip_grad_norm(const std::vector<nn::ParameterPtr>& parameters, double max_norm);

// The same clipping without reading anything back, for a GPU step: the norm and the scale
// min(1, max_norm / (total + 1e-6)) stay on the gradients' device (float32 sums there) and every
// gradient is multiplied by the scale. Returns `total` as a device scalar (undefined without
// gradients). A non-finite norm makes a non-finite scale, or 0 times an infinite gradient, so the
// gradients turn NaN and the weights after them: the next loss read finds the divergence.
Tensor clip_grad_norm_on_device(const std::vector<nn::ParameterPtr>& parameters, double max_norm);

}  // namespace sparsecap::optim
