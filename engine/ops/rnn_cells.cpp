// Fused LSTM and GRU cells: the pointwise part of a recurrent step in one backend pass forward and
// one backward, in place of about a dozen elementwise ops (each a pass over memory and a node on
// the tape). The gate GEMMs stay separate ops, so W_ih and W_hh can be gated or masked like any
// other weight.
#include "engine/ops/op_helpers.h"

namespace sparsecap {

using namespace ops_detail;

namespace {

// Both gate inputs [batch, gates * hidden] and the previous state [batch, hidden] on one device
// in one floating dtype; returns (batch, hidden).
std::pair<int64_t, int64_t> check_cell_inputs(const Tensor& input_gates, const Tensor& hidden_gates,
                                              const Tensor& previous_state, int64_t gates, const char* op,
                                              const char* state_name) {
  check_floating(input_gates, op);
  check_same_device_and_dtype(input_gates, hidden_gates, op);
  check_same_device_and_dtype(input_gates, previous_state, op);
  SPARSECAP_CHECK(previous_state.dim() == 2, op, ": ", state_name, " must be [batch, hidden], got ",
                  shape_str(previous_state.shape()));
  const int64_t batch = previous_state.size(0), hidden = previous_state.size(1);
  check_shape(input_gates, {batch, gates * hidden}, std::string(op) + " input_gates");
  check_shape(hidden_gates, {batch, gates * hidden}, std::string(op) + " hidden_gates");
  return {batch, hidden};
}

}  // namespace

Tensor lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev) {
  const auto [batch, hidden] = check_cell_inputs(input_gates, hidden_gates, c_prev, 4, "lstm_cell", "c_prev");
  Tensor state = Tensor::empty({2, batch, hidden}, c_prev.dtype(), c_prev.device());
  Tensor activated = Tensor::empty({batch, 4 * hidden}, c_prev.dtype(), c_prev.device());
  backend_of(c_prev).lstm_cell(input_gates, hidden_gates, c_prev, state, activated, batch, hidden);
  if (any_requires_grad({input_gates, hidden_gates, c_prev})) {
    record(state, "lstm_cell", {input_gates, hidden_gates, c_prev},
           [activated, saved_c_prev = c_prev.detach(), saved_state = state.detach(), batch = batch, hidden = hidden](
               const Tensor& grad_state, const NeedsGrad&) {
             Tensor grad_gates = Tensor::empty({batch, 4 * hidden}, grad_state.dtype(), grad_state.device());
             Tensor grad_c_prev = empty_like(saved_c_prev);
             backend_for(grad_state.device())
                 .lstm_cell_backward(activated, saved_c_prev, saved_state, grad_state, grad_gates, grad_c_prev,
                                     batch, hidden);
             // Both gate inputs are summed before the nonlinearities: one gradient serves both.
             return std::vector<Tensor>{grad_gates, grad_gates, grad_c_prev};
           });
  }
  return state;
}

Tensor gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev) {
  const auto [batch, hidden] = check_cell_inputs(input_gates, hidden_gates, h_prev, 3, "gru_cell", "h_prev");
  Tensor h = Tensor::empty({batch, hidden}, h_prev.dtype(), h_prev.device());
  Tensor workspace = Tensor::empty({batch, 4 * hidden}, h_prev.dtype(), h_prev.device());
  backend_of(h_prev).gru_cell(input_gates, hidden_gates, h_prev, h, workspace, batch, hidden);
  if (any_requires_grad({input_gates, hidden_gates, h_prev})) {
    record(h, "gru_cell", {input_gates, hidden_gates, h_prev},
           [workspace, saved_h_prev = h_prev.detach(), batch = batch, hidden = hidden](const Tensor& grad_h, const NeedsGrad&) {
             Tensor grad_input_gates = Tensor::empty({batch, 3 * hidden}, grad_h.dtype(), grad_h.device());
             Tensor grad_hidden_gates = empty_like(grad_input_gates);
             Tensor grad_h_prev = empty_like(saved_h_prev);
             backend_for(grad_h.device())
                 .gru_cell_backward(workspace, saved_h_prev, grad_h, grad_input_gates, grad_hidden_gates, grad_h_prev,
                                    batch, hidden);
             return std::vector<Tensor>{grad_input_gates, grad_hidden_gates, grad_h_prev};
           });
  }
  return h;
}

}  // namespace sparsecap
