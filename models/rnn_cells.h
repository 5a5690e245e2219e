#pragma once
// LSTM and GRU cell modules over the fused cell ops (engine/ops.h lstm_cell / gru_cell). Each
// holds w_ih [G*H, in] and w_hh [G*H, H] (kind weight, prunable) and b_ih, b_hh [G*H] (kind bias),
// G = 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n), in PyTorch's layout, so a checkpoint's tensors
// mean the same as torch.nn.LSTMCell / GRUCell's.
//
// A step is split in two so a decoder can fetch the effective weights once per sequence (a
// pruning gate then draws one mask per training step, not one per time step) and reuse them at
// every time step: `weights()` then `step(input, state, weights)`.
#include <cstdint>
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "engine/rng.h"
#include "engine/sparse/sparse_ops.h"

namespace sparsecap::models {

enum class CellType { Lstm, Gru };

const char* cell_type_name(CellType type);            // "lstm", "gru"
CellType parse_cell_type(const std::string& name);    // throws naming the value and the choices

// h [B, H]; c [B, H] for an LSTM, undefined for a GRU.
struct RecurrentState {
  Tensor h;
  Tensor c;
};

// The weights one step computes with (each Parameter's effective() value); w_ih and w_hh may be
// CSR matrices when the model was loaded from a sparse export.
struct CellWeights {
  sparse::WeightHandle w_ih, w_hh;
  Tensor b_ih, b_hh;
};

struct CellOptions {
  // Initial value of the LSTM forget-gate bias (in b_ih; b_hh starts at zero). 1.0 is
  // TensorFlow's BasicLSTMCell default, which the Soft-Attention reference builds on; it keeps
  // the cell state flowing early in training. Ignored by the GRU.
  double forget_bias = 1.0;
  DType dtype = DType::F32;
};

class RecurrentCell : public nn::Module {
 public:
  RecurrentCell(CellType type, int64_t input_size, int64_t hidden_size, Generator& generator, CellOptions options);

  CellType type() const { return type_; }
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  int64_t gate_count() const { return type_ == CellType::Lstm ? 4 : 3; }

  const nn::ParameterPtr& w_ih() const { return w_ih_; }
  const nn::ParameterPtr& w_hh() const { return w_hh_; }
  const nn::ParameterPtr& b_ih() const { return b_ih_; }
  const nn::ParameterPtr& b_hh() const { return b_hh_; }

  CellWeights weights() const;
  // input [B, input_size], state.h (and state.c for an LSTM) [B, H] -> the next state.
  RecurrentState step(const Tensor& input, const RecurrentState& state, const CellWeights& weights) const;
  // step() with freshly fetched weights: for one-off steps and tests.
  RecurrentState forward(const Tensor& input, const RecurrentState& state) const;

 private:
  void check_step_inputs(const Tensor& input, const RecurrentState& state) const;

  CellType type_;
  int64_t input_size_, hidden_size_;
  nn::ParameterPtr w_ih_, w_hh_, b_ih_, b_hh_;
};

// Weights xavier-uniform (as the reference), biases zero but for the LSTM forget bias.
class LstmCell : public RecurrentCell {
 public:
  LstmCell(int64_t input_size, int64_t hidden_size, Generator& generator, CellOptions options = {})
      : RecurrentCell(CellType::Lstm, input_size, hidden_size, generator, options) {}
};

class GruCell : public RecurrentCell {
 public:
  GruCell(int64_t input_size, int64_t hidden_size, Generator& generator, CellOptions options = {})
      : RecurrentCell(CellType::Gru, input_size, hidden_size, generator, options) {}
};

std::shared_ptr<RecurrentCell> make_recurrent_cell(CellType type, int64_t input_size, int64_t hidden_size,
                                                   Generator& generator, CellOptions options = {});

}  // namespace sparsecap::models
