#pragma once
// The decorator a BackendProfiler (engine/profiling/backend_profiler.h) installs for its device:
// every primitive is forwarded to the device's own backend, and the profiled thread's outermost
// calls are timed on an IntervalClock and counted (CallWork: the kernel's name, bytes or FLOPs).
#include <memory>
#include <thread>
#include <vector>

#include "engine/backend.h"
#include "engine/profiling/backend_profiler.h"
#include "engine/profiling/interval_clock.h"

namespace sparsecap::profiling {

class ProfilingBackend final : public Backend {
 public:
  // Times the calls made on the constructing thread.
  ProfilingBackend(Backend& inner, std::unique_ptr<IntervalClock> clock);

  // The timed calls in order, and their seconds (waits for the device).
  const std::vector<CallWork>& calls() const { return calls_; }
  std::vector<double> call_seconds() { return clock_->interval_seconds(); }

  Device device() const override { return inner_.device(); }

  std::shared_ptr<Storage> allocate(size_t bytes) override;
  void copy_within(void* dst, const void* src, size_t bytes) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;
  // Runs on a copy stream of its own on a GPU: its events, on the compute stream, time only the
  // queuing. The profiled steps put their batch on the device before the region starts.
  std::shared_ptr<CopyFence> copy_from_host_beside(void* dst, const void* src, size_t bytes) override;
  void wait_for_copies(const CopyFence& fence) override;

  void fill(Tensor& out, double value) override;
  void cast(const Tensor& in, Tensor& out) override;
  void random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream, uint64_t offset,
                   double p) override;

  void unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, kernels::ScalarParams params) override;
  void unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                           kernels::ScalarParams params) override;
  void binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out,
              kernels::ScalarParams params) override;
  void reduce(ReduceOp op, const Tensor& in, Tensor& out, Tensor& argmax, int64_t outer, int64_t n,
              int64_t inner) override;

  void gemm(const GemmShape& shape, const Tensor& a, const Tensor& b, Tensor& c) override;
  void transpose(const Tensor& in, Tensor& out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                 int64_t inner) override;
  void copy_blocks(const Tensor& in, Tensor& out, int64_t outer, int64_t length, int64_t in_stride,
                   int64_t in_offset, int64_t out_stride, int64_t out_offset) override;

  void index_select_rows(const Tensor& table, const Tensor& index, Tensor& out, int64_t width) override;
  void index_add_rows(const Tensor& src, const Tensor& index, Tensor& table, int64_t width) override;
  void gather_columns(const Tensor& in, const Tensor& index, Tensor& out, int64_t rows, int64_t n,
                      int64_t k) override;
  void top_k_rows(const Tensor& in, Tensor& values, Tensor& indices, int64_t rows, int64_t n, int64_t k) override;
  void scatter_add_columns(const Tensor& grad_out, const Tensor& index, Tensor& grad_in, int64_t rows, int64_t n,
                           int64_t k) override;

  void softmax(const Tensor& x, const Tensor& mask, Tensor& out, int64_t rows, int64_t cols, bool log) override;
  void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t rows, int64_t cols,
                        bool log) override;
  void cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& lse, int64_t rows,
                     int64_t cols, int64_t ignore_index) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, Tensor& dlogits,
                              int64_t rows, int64_t cols, int64_t ignore_index, double scale) override;
  void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& out, Tensor& mean,
                  Tensor& rstd, int64_t rows, int64_t cols, double eps) override;
  void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                           const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t rows,
                           int64_t cols) override;

  void batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch, int64_t channels,
                  int64_t spatial, bool training, double momentum, double eps) override;
  void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                           const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t batch,
                           int64_t channels, int64_t spatial) override;
  void conv2d(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& shape) override;
  void conv2d_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx, const Conv2dShape& shape) override;
  void conv2d_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight,
                              const Conv2dShape& shape) override;
  void pool2d(PoolKind kind, const Tensor& x, Tensor& out, Tensor& argmax, const Pool2dShape& shape) override;
  void pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& argmax,
                       Tensor& dx, const Pool2dShape& shape) override;

  void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& step) override;
  void adam_step_many(const std::vector<AdamUpdate>& updates) override;

  void gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const kernels::GateDraw& draw) override;
  void gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate, Tensor& grad_weight,
                             Tensor& grad_gate, const kernels::GateDraw& draw) override;
  void lstm_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& c_prev, Tensor& state,
                 Tensor& activated_gates, int64_t batch, int64_t hidden) override;
  void lstm_cell_backward(const Tensor& activated_gates, const Tensor& c_prev, const Tensor& state,
                          const Tensor& grad_state, Tensor& grad_gates, Tensor& grad_c_prev, int64_t batch,
                          int64_t hidden) override;
  void gru_cell(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& h_prev, Tensor& h,
                Tensor& workspace, int64_t batch, int64_t hidden) override;
  void gru_cell_backward(const Tensor& workspace, const Tensor& h_prev, const Tensor& grad_h,
                         Tensor& grad_input_gates, Tensor& grad_hidden_gates, Tensor& grad_h_prev, int64_t batch,
                         int64_t hidden) override;

  void additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias,
                          Tensor& scores, int64_t rows, int64_t positions, int64_t width) override;
  void additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                   const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                   Tensor& grad_query, Tensor& grad_weight, int64_t rows, int64_t positions,
                                   int64_t width) override;

  void beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                        const kernels::BeamStepShape& shape) override;

  void csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                  int64_t batch) override;

 private:
  // Runs `call`, timed and recorded as `work` when it is an outermost call of the profiled thread.
  template <typename Call>
  void timed(const CallWork& work, Call&& call);

  Backend& inner_;
  std::unique_ptr<IntervalClock> clock_;
  std::thread::id profiled_thread_;
  std::vector<CallWork> calls_;
};

}  // namespace sparsecap::profiling
