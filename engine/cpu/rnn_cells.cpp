// The fused LSTM and GRU cells on the CPU: one pass over (row, unit) calling the shared functors
// of engine/kernels/rnn_cells.h, rows spread over the cores and the units of a row in SIMD lanes.
// The ops give every cell fresh output tensors (engine/ops/rnn_cells.cpp), so no unit's outputs
// overlap another's inputs, which `omp simd` relies on: without it GCC left these loops scalar,
// calling the exp and tanh polynomials one unit at a time.
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

// Each cell function below spells out its own two loops: OpenMP outlines a parallel loop into the
// function that holds it, and only functions marked SPARSECAP_VECTOR_CLONES are compiled for AVX2
// and AVX-512 too, so a shared loop helper would run at baseline x86-64 width.

// state [2, batch, hidden]: h rows, then c rows; activated [batch, 4 hidden].
template <typename T>
SPARSECAP_VECTOR_CLONES void lstm_rows(const T* x, const T* hg, const T* cp, T* h, T* c, T* act, int64_t batch,
                                       int64_t hidden) {
  const kernels::LstmCellForward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
#pragma omp simd
    for (int64_t j = 0; j < hidden; ++j)
      cell(x + gate_row, hg + gate_row, cp + state_row, h + state_row, c + state_row, act + gate_row, hidden, j);
  }
}

template <typename T>
SPARSECAP_VECTOR_CLONES void lstm_backward_rows(const T* act, const T* cp, const T* c, const T* dh, const T* dc,
                                                T* dgates, T* dcp, int64_t batch, int64_t hidden) {
  const kernels::LstmCellBackward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t gate_row = b * 4 * hidden, state_row = b * hidden;
#pragma omp simd
    for (int64_t j = 0; j < hidden; ++j)
      cell(act + gate_row, cp + state_row, c + state_row, dh + state_row, dc + state_row, dgates + gate_row,
           dcp + state_row, hidden, j);
  }
}

// workspace [batch, 4 hidden]: what the backward needs of each unit.
template <typename T>
SPARSECAP_VECTOR_CLONES void gru_rows(const T* x, const T* hg, const T* hp, T* out, T* work, int64_t batch,
                                      int64_t hidden) {
  const kernels::GruCellForward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
#pragma omp simd
    for (int64_t j = 0; j < hidden; ++j)
      cell(x + gate_row, hg + gate_row, hp + state_row, out + state_row, work + work_row, hidden, j);
  }
}

template <typename T>
SPARSECAP_VECTOR_CLONES void gru_backward_rows(const T* work, const T* hp, const T* dh, T* dx, T* dhg, T* dhp,
                                               int64_t batch, int64_t hidden) {
  const kernels::GruCellBackward<T> cell{};
#pragma omp parallel for schedule(static) if (batch * hidden > kCellGrain)
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t gate_row = b * 3 * hidden, work_row = b * 4 * hidden, state_row = b * hidden;
#pragma omp simd
    for (int64_t j = 0; j < hidden; ++j)
      cell(work + work_row, hp + state_row, dh + state_row, dx + gate_row, dhg + gate_row, dhp + state_row, hidden,
           j);
  }
}

}  // namespace

void CpuBackend::lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev,
                           Tensor& state, Tensor& activated_gates, int64_t batch, int64_t hidden) {
  dispatch_floating(input_gates.dtype(), "lstm_cell", [&](auto tag) {
    using T = decltype(tag);
    const T* x = typed<T>(input_gates);
    const T* hg = typed<T>(hidden_gates);
    const T* cp = typed<T>(c_prev);
    T* h = typed_mutable<T>(state);
    lstm_rows(x, hg, cp, h, h + batch * hidden, typed_mutable<T>(activated_gates), batch, hidden);
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
    lstm_backward_rows(act, cp, c, dh, dc, typed_mutable<T>(grad_gates), typed_mutable<T>(grad_c_prev), batch, hidden);
  });
}

void CpuBackend::gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                          Tensor& workspace, int64_t batch, int64_t hidden) {
  dispatch_floating(input_gates.dtype(), "gru_cell", [&](auto tag) {
    using T = decltype(tag);
    const T* x = typed<T>(input_gates);
    const T* hg = typed<T>(hidden_gates);
    const T* hp = typed<T>(h_prev);
    gru_rows(x, hg, hp, typed_mutable<T>(h), typed_mutable<T>(workspace), batch, hidden);
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
    gru_backward_rows(work, hp, dh, typed_mutable<T>(grad_input_gates), typed_mutable<T>(grad_hidden_gates),
                      typed_mutable<T>(grad_h_prev), batch, hidden);
  });
}

}  // namespace sparsecap::cpu
