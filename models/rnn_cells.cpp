#include "models/rnn_cells.h"

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace sparsecap::models {

const char* cell_type_name(CellType type) { return type == CellType::Lstm ? "lstm" : "gru"; }

CellType parse_cell_type(const std::string& name) {
  if (name == "lstm") return CellType::Lstm;
  if (name == "gru") return CellType::Gru;
  throw Error("unknown recurrent cell '" + name + "' (expected lstm or gru)");
}

RecurrentCell::RecurrentCell(CellType type, int64_t input_size, int64_t hidden_size, Generator& generator,
                             CellOptions options)
    : type_(type), input_size_(input_size), hidden_size_(hidden_size) {
  SPARSECAP_CHECK(input_size > 0 && hidden_size > 0, cell_type_name(type), " cell(", input_size, ", ", hidden_size,
                  "): sizes must be positive");
  const int64_t gates = gate_count() * hidden_size;
  Tensor w_ih = Tensor::empty({gates, input_size}, options.dtype);
  Tensor w_hh = Tensor::empty({gates, hidden_size}, options.dtype);
  nn::init::xavier_uniform_(w_ih, generator);
  nn::init::xavier_uniform_(w_hh, generator);
  Tensor b_ih = zeros({gates}, options.dtype);
  if (type == CellType::Lstm && options.forget_bias != 0.0)
    b_ih.narrow_rows(hidden_size, hidden_size).fill_(options.forget_bias);  // gate order i, f, g, o
  w_ih_ = register_parameter("w_ih", nn::ParameterKind::Weight, w_ih);
  w_hh_ = register_parameter("w_hh", nn::ParameterKind::Weight, w_hh);
  b_ih_ = register_parameter("b_ih", nn::ParameterKind::Bias, b_ih);
  b_hh_ = register_parameter("b_hh", nn::ParameterKind::Bias, zeros({gates}, options.dtype));
}

CellWeights RecurrentCell::weights() const {
  return CellWeights{w_ih_->effective(), w_hh_->effective(), b_ih_->effective(), b_hh_->effective()};
}

void RecurrentCell::check_step_inputs(const Tensor& input, const RecurrentState& state) const {
  // "decoder.lstm." -> " in decoder.lstm", so errors name the layer.
  const std::string& prefix = this->prefix();
  const std::string where =
      " in " + (prefix.empty() ? std::string(cell_type_name(type_)) : prefix.substr(0, prefix.size() - 1));
  SPARSECAP_CHECK(input.dim() == 2 && input.size(1) == input_size_, "expected input [B, ", input_size_, "], got ",
                  shape_str(input.shape()), where);
  const int64_t batch = input.size(0);
  SPARSECAP_CHECK(state.h.defined(), "missing h state", where);
  check_shape(state.h, {batch, hidden_size_}, "h state" + where);
  if (type_ == CellType::Lstm) {
    SPARSECAP_CHECK(state.c.defined(), "missing c state", where);
    check_shape(state.c, {batch, hidden_size_}, "c state" + where);
  }
}

RecurrentState RecurrentCell::step(const Tensor& input, const RecurrentState& state, const CellWeights& weights) const {
  check_step_inputs(input, state);
  const Tensor input_gates = sparse::linear(input, weights.w_ih, weights.b_ih);
  const Tensor hidden_gates = sparse::linear(state.h, weights.w_hh, weights.b_hh);
  if (type_ == CellType::Gru) return RecurrentState{gru_cell(input_gates, hidden_gates, state.h), Tensor()};
  const Tensor h_and_c = lstm_cell(input_gates, hidden_gates, state.c);
  return RecurrentState{h_and_c.row(0), h_and_c.row(1)};
}

RecurrentState RecurrentCell::forward(const Tensor& input, const RecurrentState& state) const {
  return step(input, state, weights());
}

std::shared_ptr<RecurrentCell> make_recurrent_cell(CellType type, int64_t input_size, int64_t hidden_size,
                                                   Generator& generator, CellOptions options) {
  if (type == CellType::Lstm) return std::make_shared<LstmCell>(input_size, hidden_size, generator, options);
  return std::make_shared<GruCell>(input_size, hidden_size, generator, options);
}

}  // namespace sparsecap::models
