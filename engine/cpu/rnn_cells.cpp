// The fused LSTM and GRU cells on the CPU: one pass over (row, unit) calling the shared functors
// of engine/kernels/rnn_cells.h, rows spread over the cores.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/kernels/rnn_cells.h"

namespace sparsecap::cpu {

namespace {

template <typename T>
const T* typed(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <typename T>
T* typed_mutable(Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// A unit costs several exp/tanh evaluations, so threads pay off at an eighth of the grain that
// plain copies need.
constexpr int64_t kCellGrain = kParallelGrain / 8;

}  // namespace

void CpuBackend::lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev,
                           Tensor& state, Tensor& activated_gates, int64_t batch, int64_t hidden) {
  dispatch_floating(input_gates.dtype(), "lstm_cell", [&](auto tag) {
    using T = decltype(tag);
    const T* x = typed<T>(input_gates);
    const T* hg = typed<T>(hidden_gates);
    const T* cp = typed<T>(c_prev);
    T* h = typed_mutable<T>(state);  // state [2, batch, hidden]: h rows, then c rows
    T* c = h + batch * hidden;
    T* act = typed_mutable<T>(activated_gates);
    const kernels::LstmCellForward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
      for (int64_t j = 0; j < hidden; ++j)
        cell(x + gate_row, hg + gate_row, cp + state_row, h + state_row, c + state_row, act + gate_row, hidden, j);
    }
  });
}

void CpuBackend::lstm_cell_backward(const Tensor& activated_gates, const Tensor& c_prev, const Tensor& state,
                                    const Tensor& grad_state, Tensor& grad_gates, Tensor& grad_c_prev, int64_t batch,
                                    int64_t hidden) {
  dispatch_floating(activated_gates.dtype(), "lstm_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* act = typed<T>(activated_gates);
    const T* cp = typed<T>(c_prev);
    const T* c = typed<T>(state) + batch * hidden;
    const T* dh = typed<T>(grad_state);
    const T* dc = dh + batch * hidden;
    T* dgates = typed_mutable<T>(grad_gates);
    T* dcp = typed_mutable<T>(grad_c_prev);
    const kernels::LstmCellBackward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
      for (int64_t j = 0; j < hidden; ++j)
        cell(act + gate_row, cp + state_row, c + state_row, dh + state_row, dc + state_row, dgates + gate_row,
             dcp + state_row, hidden, j);
    }
  });
}

void CpuBackend::gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                          Tensor& workspace, int64_t batch, int64_t hidden) {
  dispatch_floating(input_gates.dtype(), "gru_cell", [&](auto tag) {
    using T = decltype(tag);
    const T* x = typed<T>(input_gates);
    const T* hg = typed<T>(hidden_gates);
    const T* hp = typed<T>(h_prev);
    T* out = typed_mutable<T>(h);
    T* work = typed_mutable<T>(workspace);
    const kernels::GruCellForward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
      for (int64_t j = 0; j < hidden; ++j)
        cell(x + gate_row, hg + gate_row, hp + state_row, out + state_row, work + work_row, hidden, j);
    }
  });
}

void CpuBackend::gru_cell_backward(const Tensor& workspace, const Tensor& h_prev, const Tensor& grad_h,
                                   Tensor& grad_input_gates, Tensor& grad_hidden_gates, Tensor& grad_h_prev,
                                   int64_t batch, int64_t hidden) {
  dispatch_floating(workspace.dtype(), "gru_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* work = typed<T>(workspace);
    const T* hp = typed<T>(h_prev);
    const T* dh = typed<T>(grad_h);
    T* dx = typed_mutable<T>(grad_input_gates);
    T* dhg = typed_mutable<T>(grad_hidden_gates);
    T* dhp = typed_mutable<T>(grad_h_prev);
    const kernels::GruCellBackward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
      for (int64_t j = 0; j < hidden; ++j)
        cell(work + work_row, hp + state_row, dh + state_row, dx + gate_row, dhg + gate_row, dhp + state_row, hidden,
             j);
    }
  });
}

}  // namespace sparsecap::cpu
