#include "pruning/gated_weight_op.h"

#include "engine/autograd.h"
#include "engine/backend.h"

namespace sparsecap::pruning {

Tensor gated_weight(const Tensor& weight, const Tensor& gate, const kernels::GateDraw& draw) {
  check_shape(gate, weight.shape(), "gate of a gated weight");
  SPARSECAP_CHECK(weight.dtype() == DType::F32 && gate.dtype() == DType::F32,
                  "gated_weight works on float32, got weight ", dtype_name(weight.dtype()), " and gate ",
                  dtype_name(gate.dtype()));
  SPARSECAP_CHECK(weight.device() == gate.device(), "gated_weight: weight on ", weight.device().str(), ", gate on ",
                  gate.device().str());
  Tensor out = Tensor::empty(weight.shape(), DType::F32, weight.device());
  backend_for(weight.device()).gated_weight(weight, gate, out, draw);
  if (any_requires_grad({weight, gate})) {
    // Only W and G are saved; the mask is recomputed from the same counters in the backward.
    record(out, "gated_weight", {weight, gate}, [w = weight.detach(), g = gate.detach(), draw](
                                                    const Tensor& grad, const NeedsGrad&) {
      Tensor grad_weight = Tensor::empty(w.shape(), DType::F32, w.device());
      Tensor grad_gate = Tensor::empty(g.shape(), DType::F32, g.device());
      backend_for(w.device()).gated_weight_backward(grad, w, g, grad_weight, grad_gate, draw);
      return std::vector<Tensor>{grad_weight, grad_gate};
    });
  }
  return out;
}

uint64_t gate_draw_span(int64_t numel) { return (static_cast<uint64_t>(numel) + 3) / 4 * 4; }

}  // namespace sparsecap::pruning
