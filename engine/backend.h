#pragma once
// The one interface of primitives that every device implements (engine/cpu, cuda/). Autograd ops
// in engine/ops are written once against it. Every tensor passed here is contiguous; outputs are
// allocated by the caller with the right shape and dtype. Shapes are described by the caller in
// the flattened form each primitive needs ([outer, n, inner] for reductions, rows x columns for
// row-wise ops), so a backend never re-derives them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/beam_search_buffers.h"
#include "engine/kernels/beam_search.h"
#include "engine/kernels/elementwise.h"
#include "engine/kernels/gated_weight_math.h"
#include "engine/kernels/optimizer.h"
#include "engine/tensor.h"

namespace sparsecap {

namespace sparse {
struct CsrMatrix;  // engine/sparse/csr_matrix.h
}

enum class ReduceOp { Sum, Max };
enum class RandomKind { Uniform, Normal, Bernoulli };
enum class PoolKind { Max, Average };

struct GemmShape {
  bool trans_a = false;  // A is stored [k, m] when true, [m, k] otherwise
  bool trans_b = false;  // B is stored [n, k] when true, [k, n] otherwise
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;  // 0: shared across the batch
  double alpha = 1.0, beta = 0.0;                                      // C = alpha A B + beta C
};

struct Conv2dShape {
  int64_t batch = 0, in_channels = 0, out_channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride = 1, padding = 0, groups = 1;
};

struct Pool2dShape {
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel = 2, stride = 2, padding = 0;
};

struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW
  int64_t step = 1;                      // 1-based, for bias correction
};

// One parameter's Adam update: its tensors and its step (coefficients differ by group and by the
// parameter's own step count).
struct AdamUpdate {
  Tensor param, grad, m, v;  // handles: the update writes param, m and v in place
  AdamStep step;
};

// The per-element Adam coefficients both backends pass to kernels::adam_update; bias corrections
// and (1 - beta) are computed in double, as PyTorch does.
kernels::AdamCoefficients adam_coefficients(const AdamStep& step);

// Host-to-device copies queued beside a device's compute (Backend::copy_from_host_beside). The
// device's later work waits for them through Backend::wait_for_copies; a fence dropped without
// that wait still orders the device's later work after its copies, so memory they write is never
// reused under them.
class CopyFence {
 public:
  virtual ~CopyFence() = default;
};

// Opened by an op whose index tensors it has checked on the host (they were copied from there) or
// that were checked by the op's forward, and by code whose device indices are in range by
// construction (beam search's tokens and parent rows): inside it the CUDA backend skips its own
// index check, which reads a flag back from the device and so waits for the GPU. Per thread.
class IndicesCheckedOnHost {
 public:
  IndicesCheckedOnHost();
  ~IndicesCheckedOnHost();
  IndicesCheckedOnHost(const IndicesCheckedOnHost&) = delete;
  IndicesCheckedOnHost& operator=(const IndicesCheckedOnHost&) = delete;
  static bool active();

 private:
  bool previous_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory ----
  virtual std::shared_ptr<Storage> allocate(size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;
  // A host-to-device copy that may run beside the work already queued (a data loader's batches,
  // from its own thread); thread-safe. Returns a fence covering it and every earlier such copy of
  // this device, or nullptr where the copy is complete on return (the CPU, by default).
  virtual std::shared_ptr<CopyFence> copy_from_host_beside(void* dst, const void* src, size_t bytes) {
    copy_from_host(dst, src, bytes);
    return nullptr;
  }
  // Makes the device's work queued from now on wait for the copies `fence` covers (the host does
  // not wait).
  virtual void wait_for_copies(const CopyFence& fence) { (void)fence; }

  // ---- fills and casts ----
  virtual void fill(Tensor& out, double value) = 0;
  virtual void cast(const Tensor& in, Tensor& out) = 0;
  // out[i] = draw(seed, stream, offset + i); `p` is Bernoulli's probability of a one.
  virtual void random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream, uint64_t offset,
                           double p) = 0;

  // ---- elementwise over the shared functors ----
  virtual void unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, kernels::ScalarParams params) = 0;
  // x = op(x) for every tensor of `tensors` (handles: written in place), as unary would do it one
  // by one, which the default does; the CUDA backend updates them all in one launch (clipping every
  // gradient by value).
  virtual void unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                                   kernels::ScalarParams params);
  // a and b broadcast (NumPy rules) to out's shape.
  virtual void binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out,
                      kernels::ScalarParams params) = 0;

  // ---- reductions: in viewed as [outer, n, inner], out as [outer, inner] ----
  // For Max, `argmax` (I64, same shape as out) receives the index along n; may be undefined for Sum.
  virtual void reduce(ReduceOp op, const Tensor& in, Tensor& out, Tensor& argmax, int64_t outer, int64_t n,
                      int64_t inner) = 0;

  // ---- layout ----
  virtual void gemm(const GemmShape& shape, const Tensor& a, const Tensor& b, Tensor& c) = 0;
  // in viewed as [outer, d0, middle, d1, inner] -> out [outer, d1, middle, d0, inner].
  virtual void transpose(const Tensor& in, Tensor& out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                         int64_t inner) = 0;
  // For each of `outer` blocks: copy `length` elements from in[o * in_stride + in_offset] to
  // out[o * out_stride + out_offset]. Concat, narrow and their gradients.
  virtual void copy_blocks(const Tensor& in, Tensor& out, int64_t outer, int64_t length, int64_t in_stride,
                           int64_t in_offset, int64_t out_stride, int64_t out_offset) = 0;

  // ---- indexing (indices are I64) ----
  // out[i, :] = table[index[i], :], table [rows, width].
  virtual void index_select_rows(const Tensor& table, const Tensor& index, Tensor& out, int64_t width) = 0;
  // table[index[i], :] += src[i, :] (the embedding backward).
  virtual void index_add_rows(const Tensor& src, const Tensor& index, Tensor& table, int64_t width) = 0;
  // out[r, j] = in[r, index[r, j]], in [rows, n], index/out [rows, k].
  virtual void gather_columns(const Tensor& in, const Tensor& index, Tensor& out, int64_t rows, int64_t n,
                              int64_t k) = 0;
  // The k largest of each row of in [rows, n], largest first: values [rows, k] and their column
  // indices (I64 [rows, k], distinct). Argmax's order: a NaN before any number, then larger
  // values, equal values by lower index.
  virtual void top_k_rows(const Tensor& in, Tensor& values, Tensor& indices, int64_t rows, int64_t n, int64_t k) = 0;
  // grad_in[r, index[r, j]] += grad_out[r, j].
  virtual void scatter_add_columns(const Tensor& grad_out, const Tensor& index, Tensor& grad_in, int64_t rows,
                                   int64_t n, int64_t k) = 0;

  // ---- row-wise nn primitives, x viewed as [rows, cols] ----
  // mask (optional, same [rows, cols] or [mask_rows, cols] broadcast over rows / mask_rows groups):
  // positions where mask == 0 get probability 0. log: log-softmax.
  virtual void softmax(const Tensor& x, const Tensor& mask, Tensor& out, int64_t rows, int64_t cols, bool log) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t rows, int64_t cols,
                                bool log) = 0;
  // losses[r] = logsumexp(logits[r]) - logits[r, target[r]] (0 where target == ignore_index);
  // lse[r] saved for the backward.
  virtual void cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& lse,
                             int64_t rows, int64_t cols, int64_t ignore_index) = 0;
  // dlogits[r] = scale * (softmax(logits[r]) - onehot(target[r])), zero rows where ignored.
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                      Tensor& dlogits, int64_t rows, int64_t cols, int64_t ignore_index,
                                      double scale) = 0;
  virtual void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& out, Tensor& mean,
                          Tensor& rstd, int64_t rows, int64_t cols, double eps) = 0;
  virtual void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t rows,
                                   int64_t cols) = 0;

  // ---- images, NCHW ----
  // Training: per-channel batch statistics into mean/invstd (saved) and running stats updated
  // with `momentum`. Evaluation (training == false): normalise with the running statistics.
  virtual void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                          Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                          int64_t channels, int64_t spatial, bool training, double momentum, double eps) = 0;
  virtual void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                                   const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t batch,
                                   int64_t channels, int64_t spatial) = 0;
  virtual void conv2d(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& shape) = 0;
  virtual void conv2d_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx,
                                     const Conv2dShape& shape) = 0;
  virtual void conv2d_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight,
                                      const Conv2dShape& shape) = 0;
  // Max pooling records the argmax (I64, flat index within the input plane) for the backward, or
  // resets `argmax` to undefined when its backward works from the forward's x and y instead
  // (cuDNN's pooling backward takes x and y, no indices).
  virtual void pool2d(PoolKind kind, const Tensor& x, Tensor& out, Tensor& argmax, const Pool2dShape& shape) = 0;
  // x and y are the forward's input and output; a backend may ignore them (the CPU works from the
  // argmax). Without them (undefined) a backward must manage from the argmax alone.
  virtual void pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                               const Tensor& argmax, Tensor& dx, const Pool2dShape& shape) = 0;

  // ---- optimizers ----
  virtual void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& step) = 0;
  // All of an optimizer step's updates at once, each exactly as adam_step would do it. The default
  // calls adam_step for each; the CUDA backend updates every parameter in one launch.
  virtual void adam_step_many(const std::vector<AdamUpdate>& updates);

  // ---- pruning (float32): Supermask's fused gated weight, see engine/kernels/gated_weight_math.h ----
  // Not pure: a backend without them throws naming the device (the CUDA kernels are added with
  // the CUDA backend's pruning work).
  virtual void gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const kernels::GateDraw& draw);
  virtual void gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate,
                                     Tensor& grad_weight, Tensor& grad_gate, const kernels::GateDraw& draw);

  // ---- recurrent cells: the pointwise part, see engine/kernels/rnn_cells.h (GEMMs stay outside) ----
  // Not pure: a backend without them throws naming the device (CUDA kernels come later).
  // LSTM: input_gates and hidden_gates [batch, 4 hidden], c_prev [batch, hidden] -> state
  // [2, batch, hidden] holding (h, c), and activated_gates [batch, 4 hidden] for the backward.
  virtual void lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev, Tensor& state,
                         Tensor& activated_gates, int64_t batch, int64_t hidden);
  // grad_state [2, batch, hidden] holds (dh, dc); grad_gates [batch, 4 hidden] is the gradient of
  // both gate inputs, grad_c_prev [batch, hidden].
  virtual void lstm_cell_backward(const Tensor& activated_gates, const Tensor& c_prev, const Tensor& state,
                                  const Tensor& grad_state, Tensor& grad_gates, Tensor& grad_c_prev, int64_t batch,
                                  int64_t hidden);
  // GRU: input_gates and hidden_gates [batch, 3 hidden], h_prev [batch, hidden] -> h [batch, hidden]
  // and workspace [batch, 4 hidden] (r, z, n, hidden-side n) for the backward.
  virtual void gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                        Tensor& workspace, int64_t batch, int64_t hidden);
  // grad_input_gates, grad_hidden_gates [batch, 3 hidden]; grad_h_prev [batch, hidden] is the
  // direct path only (the path through W_hh belongs to the GEMM).
  virtual void gru_cell_backward(const Tensor& workspace, const Tensor& h_prev, const Tensor& grad_h,
                                 Tensor& grad_input_gates, Tensor& grad_hidden_gates, Tensor& grad_h_prev,
                                 int64_t batch, int64_t hidden);

  // ---- attention: additive scores, see engine/kernels/attention.h ----
  // keys [rows, positions, width], query [rows, width], weight [width], bias [1] or undefined (floating,
  // this device) -> scores [rows, positions]. Not pure: the default composes this backend's own
  // primitives (add, tanh, GEMM) in the unfused passes; the CPU and CUDA backends override both
  // with fused passes (one forward, one backward plus the weight's sum over rows on CUDA).
  virtual void additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias,
                                  Tensor& scores, int64_t rows, int64_t positions, int64_t width);
  // From grad_scores [rows, positions]: grad_keys [rows, positions, width] (written, or added to
  // when add_to_grad_keys: a decoder's keys gather a gradient from every step), grad_query [rows,
  // width] and grad_weight [width], the tanh recomputed from keys and query. The bias's gradient,
  // the sum of grad_scores, is the caller's.
  virtual void additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                           const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                           Tensor& grad_query, Tensor& grad_weight, int64_t rows, int64_t positions,
                                           int64_t width);

  // ---- decoding: one step of batched beam search over every image (engine/kernels/beam_search.h) ----
  // top_values [images * beam, k] (float32; float64 on the CPU), top_tokens I64 [images * beam, k],
  // all on this device; writes the buffers' next_* tensors, parents, tokens and results.
  virtual void beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                                const kernels::BeamStepShape& shape) = 0;

  // ---- sparse inference (engine/sparse): no gradient flows through a CSR weight ----
  // out [batch, weight.rows] = x [batch, weight.cols] · weightᵀ + bias, float32 activations,
  // bias [weight.rows] or undefined; `weight` lives on this device. Not pure: a backend without
  // it throws naming the device.
  virtual void csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                          int64_t batch);
};

// The backend for a device. CUDA throws "built without CUDA" in a CPU-only build.
Backend& backend_for(Device device);

// Makes backend_for(device) return `replacement` (nullptr: the device's own backend again) and
// returns the replacement in place before, nullptr when there was none. The profiler
// (engine/profiling/backend_profiler.h) routes a device's calls through its timing decorator this
// way while a profiled region runs. CUDA devices from index kReplaceableCudaDevices up cannot be
// replaced (throws).
Backend* replace_backend_for(Device device, Backend* replacement);
constexpr int kReplaceableCudaDevices = 64;

// The backend of CUDA device `index`. The CUDA side of the build defines it (cuda/device_info.cpp;
// in a CPU-only build cuda/stub/no_cuda.cpp, which throws "built without CUDA"), so the engine
// reaches the CUDA backend without including anything from cuda/.
Backend& cuda_device_backend(int index);

}  // namespace sparsecap
