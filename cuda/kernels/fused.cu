// Fused kernels of pruning and recurrent cells: grid-stride loops over the shared functors, four
// weights per thread (gated weight, one per thread where the arrays are not 16-byte aligned) or
// one (row, unit) (cells). The arithmetic is the CPU's, from engine/kernels/; only the indexing
// lives here.
#include "cuda/kernels/fused.h"

#include <initializer_list>

#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/vector_access.cuh"
#include "engine/kernels/rnn_cells.h"

namespace sparsecap::cuda::launchers {

namespace {

using sparsecap::kernels::GateDraw;

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_count() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

__global__ void gated_weight_kernel(const float* weight, const float* gate, float* out, int64_t n, GateDraw draw) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = sparsecap::kernels::gated_weight_forward(weight[i], gate[i], draw, static_cast<uint64_t>(i));
}

__global__ void gated_weight_backward_kernel(const float* grad_out, const float* weight, const float* gate,
                                             float* grad_weight, float* grad_gate, int64_t n, GateDraw draw) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    sparsecap::kernels::gated_weight_backward(grad_out[i], weight[i], gate[i], draw, static_cast<uint64_t>(i),
                                              grad_weight[i], grad_gate[i]);
}

// Four weights per step, 16-byte loads and stores, and one Philox call for the four: with the
// draw's offset a multiple of 4 (gate_draw_span keeps it so), element 4i + k takes word k of Philox
// block offset / 4 + i, which is what philox_bits gives it one element at a time. The last n % 4
// weights go to the first threads.
__device__ __forceinline__ sparsecap::kernels::Philox4x32 draw_block(const GateDraw& draw, int64_t group) {
  if (!draw.sample) return sparsecap::kernels::Philox4x32{{0u, 0u, 0u, 0u}};
  return sparsecap::kernels::philox_block(draw.seed, draw.stream, draw.offset / 4 + static_cast<uint64_t>(group));
}

__global__ void gated_weight_vector_kernel(const float* weight, const float* gate, float* out, int64_t n,
                                           GateDraw draw) {
  using sparsecap::kernels::gated_weight_forward_bits;
  const int64_t vectors = n / kVectorFloats;
  for (int64_t i = thread_index(); i < vectors; i += thread_count()) {
    const float4 w = load_float4(weight + i * kVectorFloats), g = load_float4(gate + i * kVectorFloats);
    const sparsecap::kernels::Philox4x32 bits = draw_block(draw, i);
    store_float4(out + i * kVectorFloats, float4{gated_weight_forward_bits(w.x, g.x, bits.v[0], draw.sample),
                                                 gated_weight_forward_bits(w.y, g.y, bits.v[1], draw.sample),
                                                 gated_weight_forward_bits(w.z, g.z, bits.v[2], draw.sample),
                                                 gated_weight_forward_bits(w.w, g.w, bits.v[3], draw.sample)});
  }
  const int64_t tail = vectors * kVectorFloats + thread_index();
  if (tail < n)
    out[tail] = sparsecap::kernels::gated_weight_forward(weight[tail], gate[tail], draw, static_cast<uint64_t>(tail));
}

__global__ void gated_weight_backward_vector_kernel(const float* grad_out, const float* weight, const float* gate,
                                                    float* grad_weight, float* grad_gate, int64_t n, GateDraw draw) {
  using sparsecap::kernels::gated_weight_backward_bits;
  const int64_t vectors = n / kVectorFloats;
  for (int64_t i = thread_index(); i < vectors; i += thread_count()) {
    const int64_t at = i * kVectorFloats;
    const float4 d = load_float4(grad_out + at), w = load_float4(weight + at), g = load_float4(gate + at);
    const sparsecap::kernels::Philox4x32 bits = draw_block(draw, i);
    float4 dw, dg;
    gated_weight_backward_bits(d.x, w.x, g.x, bits.v[0], draw.sample, dw.x, dg.x);
    gated_weight_backward_bits(d.y, w.y, g.y, bits.v[1], draw.sample, dw.y, dg.y);
    gated_weight_backward_bits(d.z, w.z, g.z, bits.v[2], draw.sample, dw.z, dg.z);
    gated_weight_backward_bits(d.w, w.w, g.w, bits.v[3], draw.sample, dw.w, dg.w);
    store_float4(grad_weight + at, dw);
    store_float4(grad_gate + at, dg);
  }
  const int64_t tail = vectors * kVectorFloats + thread_index();
  if (tail < n)
    sparsecap::kernels::gated_weight_backward(grad_out[tail], weight[tail], gate[tail], draw,
                                              static_cast<uint64_t>(tail), grad_weight[tail], grad_gate[tail]);
}

__global__ void lstm_cell_kernel(const float* input_gates, const float* hidden_gates, const float* c_prev,
                                 float* state, float* activated, int64_t batch, int64_t hidden) {
  const sparsecap::kernels::LstmCellForward<float> cell{};
  float* h = state;
  float* c = state + batch * hidden;
  for (int64_t i = thread_index(); i < batch * hidden; i += thread_count()) {
    const int64_t b = i / hidden, j = i % hidden;
    const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
    cell(input_gates + gate_row, hidden_gates + gate_row, c_prev + state_row, h + state_row, c + state_row,
         activated + gate_row, hidden, j);
  }
}

__global__ void lstm_cell_backward_kernel(const float* activated, const float* c_prev, const float* state,
                                          const float* grad_state, float* grad_gates, float* grad_c_prev,
                                          int64_t batch, int64_t hidden) {
  const sparsecap::kernels::LstmCellBackward<float> cell{};
  const float* c = state + batch * hidden;
  const float* dh = grad_state;
  const float* dc = grad_state + batch * hidden;
  for (int64_t i = thread_index(); i < batch * hidden; i += thread_count()) {
    const int64_t b = i / hidden, j = i % hidden;
    const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
    cell(activated + gate_row, c_prev + state_row, c + state_row, dh + state_row, dc + state_row,
         grad_gates + gate_row, grad_c_prev + state_row, hidden, j);
  }
}

__global__ void gru_cell_kernel(const float* input_gates, const float* hidden_gates, const float* h_prev, float* h,
                                float* workspace, int64_t batch, int64_t hidden) {
  const sparsecap::kernels::GruCellForward<float> cell{};
  for (int64_t i = thread_index(); i < batch * hidden; i += thread_count()) {
    const int64_t b = i / hidden, j = i % hidden;
    const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
    cell(input_gates + gate_row, hidden_gates + gate_row, h_prev + state_row, h + state_row, workspace + work_row,
         hidden, j);
  }
}

__global__ void gru_cell_backward_kernel(const float* workspace, const float* h_prev, const float* grad_h,
                                         float* grad_input_gates, float* grad_hidden_gates, float* grad_h_prev,
                                         int64_t batch, int64_t hidden) {
  const sparsecap::kernels::GruCellBackward<float> cell{};
  for (int64_t i = thread_index(); i < batch * hidden; i += thread_count()) {
    const int64_t b = i / hidden, j = i % hidden;
    const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
    cell(workspace + work_row, h_prev + state_row, grad_h + state_row, grad_input_gates + gate_row,
         grad_hidden_gates + gate_row, grad_h_prev + state_row, hidden, j);
  }
}

// The vector kernels need 16-byte-aligned arrays and a draw that starts on a Philox block.
bool gated_weight_vectors(std::initializer_list<const void*> arrays, const GateDraw& draw) {
  if (draw.offset % 4 != 0) return false;
  for (const void* array : arrays)
    if (!aligned_for_vectors(array)) return false;
  return true;
}

}  // namespace

void gated_weight(const float* weight, const float* gate, float* out, int64_t n, const GateDraw& draw,
                  cudaStream_t stream) {
  if (n == 0) return;
  if (gated_weight_vectors({weight, gate, out}, draw)) {
    launch(gated_weight_vector_kernel, grid_for_vectors(n), kBlockThreads, 0, stream, weight, gate, out, n, draw);
    return;
  }
  launch(gated_weight_kernel, grid_for(n), kBlockThreads, 0, stream, weight, gate, out, n, draw);
}

void gated_weight_backward(const float* grad_out, const float* weight, const float* gate, float* grad_weight,
                           float* grad_gate, int64_t n, const GateDraw& draw, cudaStream_t stream) {
  if (n == 0) return;
  if (gated_weight_vectors({grad_out, weight, gate, grad_weight, grad_gate}, draw)) {
    launch(gated_weight_backward_vector_kernel, grid_for_vectors(n), kBlockThreads, 0, stream, grad_out, weight,
           gate, grad_weight, grad_gate, n, draw);
    return;
  }
  launch(gated_weight_backward_kernel, grid_for(n), kBlockThreads, 0, stream, grad_out, weight, gate, grad_weight,
         grad_gate, n, draw);
}

void lstm_cell(const float* input_gates, const float* hidden_gates, const float* c_prev, float* state,
               float* activated_gates, int64_t batch, int64_t hidden, cudaStream_t stream) {
  if (batch * hidden == 0) return;
  launch(lstm_cell_kernel, grid_for(batch * hidden), kBlockThreads, 0, stream, input_gates, hidden_gates, c_prev,
         state, activated_gates, batch, hidden);
}

void lstm_cell_backward(const float* activated_gates, const float* c_prev, const float* state,
                        const float* grad_state, float* grad_gates, float* grad_c_prev, int64_t batch, int64_t hidden,
                        cudaStream_t stream) {
  if (batch * hidden == 0) return;
  launch(lstm_cell_backward_kernel, grid_for(batch * hidden), kBlockThreads, 0, stream, activated_gates, c_prev,
         state, grad_state, grad_gates, grad_c_prev, batch, hidden);
}

void gru_cell(const float* input_gates, const float* hidden_gates, const float* h_prev, float* h, float* workspace,
              int64_t batch, int64_t hidden, cudaStream_t stream) {
  if (batch * hidden == 0) return;
  launch(gru_cell_kernel, grid_for(batch * hidden), kBlockThreads, 0, stream, input_gates, hidden_gates, h_prev, h,
         workspace, batch, hidden);
}

void gru_cell_backward(const float* workspace, const float* h_prev, const float* grad_h, float* grad_input_gates,
                       float* grad_hidden_gates, float* grad_h_prev, int64_t batch, int64_t hidden,
                       cudaStream_t stream) {
  if (batch * hidden == 0) return;
  launch(gru_cell_backward_kernel, grid_for(batch * hidden), kBlockThreads, 0, stream, workspace, h_prev, grad_h,
         grad_input_gates, grad_hidden_gates, grad_h_prev, batch, hidden);
}

}  // namespace sparsecap::cuda::launchers
