// Additive attention scores through the backends' fused pair (engine/kernels/attention.h). The
// backward recomputes the tanh from the keys and the query instead of saving the [rows, positions,
// width] energies: a decoder keeps one set of keys for all its steps, so saving nothing per step
// saves a tensor of the keys' size at every step.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

Tensor additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias) {
  const char* op = "additive_attention";
  check_floating(keys, op);
  check_same_device_and_dtype(keys, query, op);
  check_same_device_and_dtype(keys, weight, op);
  SPARSECAP_CHECK(keys.dim() == 3 && keys.size(2) > 0, op, ": keys must be [rows, positions, width > 0], got ",
                  shape_str(keys.shape()));
  const int64_t rows = keys.size(0), positions = keys.size(1), width = keys.size(2);
  check_shape(query, {rows, width}, "additive_attention query");
  check_shape(weight, {1, width}, "additive_attention weight");
  if (bias.defined()) {
    check_same_device_and_dtype(keys, bias, op);
    check_shape(bias, {1}, "additive_attention bias");
  }
  Tensor scores = Tensor::empty({rows, positions}, keys.dtype(), keys.device());
  if (scores.numel() > 0)
    backend_of(keys).additive_attention(keys.detach(), query.detach(), weight.detach(),
                                        bias.defined() ? bias.detach() : Tensor(), scores, rows, positions, width);
  if (any_requires_grad({keys, query, weight, bias})) {
    record(scores, op, {keys, query, weight, bias},
           [saved_keys = keys.detach(), saved_query = query.detach(), saved_weight = weight.detach(), rows, positions,
            width](const Tensor& grad, const NeedsGrad& needs) {
             // The keys' gradient goes straight into their running sum where autograd offers it: a
             // decoder's keys receive one from every step.
             const Tensor running = needs[0] ? gradient_accumulator(0) : Tensor();
             const bool add_to_running = running.defined() && running.shape() == saved_keys.shape() &&
                                         running.dtype() == grad.dtype() && running.device() == grad.device();
             Tensor grad_keys =
                 add_to_running ? running : Tensor::empty({rows, positions, width}, grad.dtype(), grad.device());
             Tensor grad_query = Tensor::empty({rows, width}, grad.dtype(), grad.device());
             Tensor grad_weight = Tensor::empty({1, width}, grad.dtype(), grad.device());
             if (grad.numel() > 0) {
               backend_for(grad.device())
                   .additive_attention_backward(saved_keys, saved_query, saved_weight, grad, grad_keys,
                                                add_to_running, grad_query, grad_weight, rows, positions, width);
             } else {
               grad_query.zero_();
               grad_weight.zero_();
             }
             return std::vector<Tensor>{needs[0] && !add_to_running ? grad_keys : Tensor(),
                                        needs[1] ? grad_query : Tensor(),
                                        needs[2] ? grad_weight : Tensor(),
                                        needs[3] ? sum(grad).reshape({1}) : Tensor()};
           });
  }
  return scores;
}

}  // namespace sparsecap
