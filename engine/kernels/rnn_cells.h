#pragma once
// The pointwise part of the LSTM and GRU cells, written once for the CPU loops and the CUDA
// kernels (one thread per (row, unit) there). The GEMMs stay outside: callers pass the two gate
// pre-activations x W_ih^T + b_ih and h W_hh^T + b_hh, which the functors add, as PyTorch's fused
// cells do. Each functor handles unit j of one batch row; the pointers are already offset to the
// row (gate rows hold 4H or 3H values, state rows H).
//
// LSTM (gate order i, f, g, o):
//   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)   with a = input_gates + hidden_gates
//   c = f c_prev + i g,  h = o tanh(c)
// GRU (PyTorch's formulation, gate order r, z, n; x_* input side, h_* hidden side incl. b_hh):
//   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r h_n),  h = (1 - z) n + z h_prev
// The reset gate multiplies the hidden side's n part including its bias, which is why the two
// sides arrive separately.

#include <cstdint>

#include "engine/kernels/elementwise.h"
#include "engine/kernels/hd.h"
#include "engine/kernels/math.h"

namespace sparsecap::kernels {

template <typename T>
HD T rnn_sigmoid(T x) {
  return Sigmoid<T>{}(x, ScalarParams{});
}

// Forward of one LSTM unit. `activated` (the backward's workspace, 4H per row) receives i, f, g, o
// after their nonlinearities.
template <typename T>
struct LstmCellForward {
  HD void operator()(const T* input_gates, const T* hidden_gates, const T* c_prev, T* h, T* c, T* activated,
                     int64_t hidden, int64_t j) const {
    const T i = rnn_sigmoid(input_gates[j] + hidden_gates[j]);
    const T f = rnn_sigmoid(input_gates[hidden + j] + hidden_gates[hidden + j]);
    const T g = tanh(input_gates[2 * hidden + j] + hidden_gates[2 * hidden + j]);
    const T o = rnn_sigmoid(input_gates[3 * hidden + j] + hidden_gates[3 * hidden + j]);
    const T c_new = f * c_prev[j] + i * g;
    c[j] = c_new;
    h[j] = o * tanh(c_new);
    activated[j] = i;
    activated[hidden + j] = f;
    activated[2 * hidden + j] = g;
    activated[3 * hidden + j] = o;
  }
};

// Backward of one LSTM unit from the activated gates, c_prev, the new c and the gradients of h and
// c. grad_gates (4H per row) is the gradient of both gate pre-activations (they are summed).
template <typename T>
struct LstmCellBackward {
  HD void operator()(const T* activated, const T* c_prev, const T* c, const T* grad_h, const T* grad_c,
                     T* grad_gates, T* grad_c_prev, int64_t hidden, int64_t j) const {
    const T i = activated[j], f = activated[hidden + j], g = activated[2 * hidden + j], o = activated[3 * hidden + j];
    const T tanh_c = tanh(c[j]);
    // The cell state feeds h through tanh and the next step directly.
    const T grad_cell = grad_c[j] + grad_h[j] * o * (T(1) - tanh_c * tanh_c);
    grad_gates[j] = grad_cell * g * i * (T(1) - i);
    grad_gates[hidden + j] = grad_cell * c_prev[j] * f * (T(1) - f);
    grad_gates[2 * hidden + j] = grad_cell * i * (T(1) - g * g);
    grad_gates[3 * hidden + j] = grad_h[j] * tanh_c * o * (T(1) - o);
    grad_c_prev[j] = grad_cell * f;
  }
};

// Forward of one GRU unit. `workspace` (4H per row) receives r, z, n and the hidden side's n part
// h_n (which the reset gate's gradient needs).
template <typename T>
struct GruCellForward {
  HD void operator()(const T* input_gates, const T* hidden_gates, const T* h_prev, T* h, T* workspace,
                     int64_t hidden, int64_t j) const {
    const T r = rnn_sigmoid(input_gates[j] + hidden_gates[j]);
    const T z = rnn_sigmoid(input_gates[hidden + j] + hidden_gates[hidden + j]);
    const T hidden_n = hidden_gates[2 * hidden + j];
    const T n = tanh(input_gates[2 * hidden + j] + r * hidden_n);
    h[j] = (T(1) - z) * n + z * h_prev[j];
    workspace[j] = r;
    workspace[hidden + j] = z;
    workspace[2 * hidden + j] = n;
    workspace[3 * hidden + j] = hidden_n;
  }
};

// Backward of one GRU unit: gradients of both gate pre-activation sides (3H per row each; they
// differ only in the n part, which the reset gate scales on the hidden side) and the direct path
// to h_prev (the path through W_hh is the GEMM's, outside).
template <typename T>
struct GruCellBackward {
  HD void operator()(const T* workspace, const T* h_prev, const T* grad_h, T* grad_input_gates,
                     T* grad_hidden_gates, T* grad_h_prev, int64_t hidden, int64_t j) const {
    const T r = workspace[j], z = workspace[hidden + j], n = workspace[2 * hidden + j];
    const T hidden_n = workspace[3 * hidden + j];
    const T grad_n = grad_h[j] * (T(1) - z) * (T(1) - n * n);
    const T grad_z = grad_h[j] * (h_prev[j] - n) * z * (T(1) - z);
    const T grad_r = grad_n * hidden_n * r * (T(1) - r);
    grad_input_gates[j] = grad_r;
    grad_input_gates[hidden + j] = grad_z;
    grad_input_gates[2 * hidden + j] = grad_n;
    grad_hidden_gates[j] = grad_r;
    grad_hidden_gates[hidden + j] = grad_z;
    grad_hidden_gates[2 * hidden + j] = grad_n * r;
    grad_h_prev[j] = grad_h[j] * z;
  }
};

}  // namespace sparsecap::kernels
