#pragma once
// Differentiable operations. Each is written once (engine/ops/*.cpp) against the Backend
// primitives, with its backward beside its forward, and runs on every device.
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/beam_search_buffers.h"
#include "engine/kernels/beam_search.h"
#include "engine/tensor.h"

namespace sparsecap {

class Generator;

// ---- elementwise, with NumPy broadcasting for binary ops ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double value);
Tensor mul_scalar(const Tensor& x, double value);
Tensor affine(const Tensor& x, double scale, double shift);  // scale * x + shift
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, double min_value, double max_value);
// 1.0 where x > threshold, else 0.0 (not differentiable: no gradient flows).
Tensor greater_than(const Tensor& x, double threshold);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }

// ---- reductions ----
Tensor sum(const Tensor& x);  // over all elements, shape []
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // gradient flows to the first maximal element
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // I64, no gradient
// Sum `x` down to `shape` over broadcast dimensions (the gradient of a broadcast).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ----
// [.., m, k] x [.., k, n] with batch dims broadcast when one side is 2-D; 1-D x 2-D works as [1, k].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [.., in] W [out, in] (b [out]) -> [.., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- shape ----
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor transpose(const Tensor& x);  // last two dims
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);

// ---- indexing ----
// Rows of x (dim 0) by an I64 index of any shape, on x's device or on the host (then checked there
// and copied, so a GPU does not wait to check it).
Tensor index_select(const Tensor& x, const Tensor& index);
Tensor gather(const Tensor& x, const Tensor& index);        // along the last dim; index shape [.., k]
// The k largest entries of each row along the last dim, largest first, equal values in index order
// (argmax's rule, so NaN comes first): values [.., k] and I64 indices [.., k], k distinct indices.
// No gradient. One kernel on a GPU (a block per row, k passes over it): meant for the small k of
// beam search.
std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k);
Tensor embedding(const Tensor& table, const Tensor& index);  // table [V, D], index any shape -> [.., D]

// ---- neural-network ops ----
Tensor softmax(const Tensor& x);      // over the last dim
Tensor log_softmax(const Tensor& x);  // over the last dim
// Softmax over the last dim where mask == 0 positions get probability 0 (padding). mask is
// [M, cols] (any leading shape with M rows in all) and the rows of x, in order, come in M equal
// groups sharing one mask row: x [B, H, T, S] takes a mask [B, S].
Tensor masked_softmax(const Tensor& x, const Tensor& mask);
// logits [N, C], targets I64 [N]; mean over targets != ignore_index (0 when all are ignored).
// Targets on the host are checked and counted there (no wait for a GPU's logits).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);
// The Transformer reference's layer norm over the last dim: gamma (x - mean) / (std + eps) + beta
// with the unbiased std (n - 1). One node; its backward stays finite on a constant row (std 0),
// where the composition through sqrt would give 0 * inf = NaN.
Tensor reference_layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-6);
// x [N, C, H, W]; running stats updated in place while training.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] optional.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t groups = 1);
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor global_avg_pool2d(const Tensor& x);  // [N, C, H, W] -> [N, C]

// ---- fused recurrent cells (pointwise part; see engine/kernels/rnn_cells.h) ----
// input_gates = x W_ih^T + b_ih and hidden_gates = h W_hh^T + b_hh come from separate GEMMs.
// LSTM (gate order i, f, g, o): gates [B, 4H], c_prev [B, H] -> [2, B, H] holding (h, c): take
// them with .row(0) and .row(1) (a node has one output).
Tensor lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev);
// GRU as PyTorch (gate order r, z, n; n = tanh(x_n + r (h_n + b_hn))): gates [B, 3H], h_prev
// [B, H] -> h [B, H].
Tensor gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev);

// ---- fused attention (see engine/kernels/attention.h) ----
// Additive attention scores [rows, positions] = linear(tanh(keys + query[:, None, :]), weight, bias)
// with keys [rows, positions, width], query [rows, width], weight [1, width] (a linear layer to one
// output), bias [1] or undefined: one pass over the keys forward and one backward instead of the
// add, tanh and GEMM and their backward, each a pass over [rows, positions, width].
Tensor additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight,
                          const Tensor& bias = Tensor());

// ---- decoding ----
// One step of batched beam search on the buffers' device (engine/kernels/beam_search.h): reads
// top_values [images * beam, k] (float32 or float64, the decoder's) and top_tokens I64 [images *
// beam, k], each row's top_k, and writes the next step's scores, histories, parents and tokens and
// the results; then swap_steps(). No gradient; one kernel launch on a GPU.
void beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                      const kernels::BeamStepShape& shape);

}  // namespace sparsecap
