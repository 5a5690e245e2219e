#pragma once
// Host entry points of the fused kernels of pruning and recurrent cells (cuda/kernels/fused.cu):
// Supermask's gated weight and the LSTM/GRU pointwise cells, grid-stride loops over the
// same functors the CPU backend loops over (engine/kernels/gated_weight_math.h, rnn_cells.h).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/kernels/gated_weight_math.h"

namespace sparsecap::cuda::launchers {

void gated_weight(const float* weight, const float* gate, float* out, int64_t n,
                  const sparsecap::kernels::GateDraw& draw, cudaStream_t stream);
void gated_weight_backward(const float* grad_out, const float* weight, const float* gate, float* grad_weight,
                           float* grad_gate, int64_t n, const sparsecap::kernels::GateDraw& draw, cudaStream_t stream);

// Layouts as engine/backend.h describes them (state [2, batch, hidden] holds h then c).
void lstm_cell(const float* input_gates, const float* hidden_gates, const float* c_prev, float* state,
               float* activated_gates, int64_t batch, int64_t hidden, cudaStream_t stream);
void lstm_cell_backward(const float* activated_gates, const float* c_prev, const float* state,
                        const float* grad_state, float* grad_gates, float* grad_c_prev, int64_t batch, int64_t hidden,
                        cudaStream_t stream);
void gru_cell(const float* input_gates, const float* hidden_gates, const float* h_prev, float* h, float* workspace,
              int64_t batch, int64_t hidden, cudaStream_t stream);
void gru_cell_backward(const float* workspace, const float* h_prev, const float* grad_h, float* grad_input_gates,
                       float* grad_hidden_gates, float* grad_h_prev, int64_t batch, int64_t hidden,
                       cudaStream_t stream);

}  // namespace sparsecap::cuda::launchers
