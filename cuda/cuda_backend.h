#pragma once
// The CUDA backend of one device: every primitive of engine/backend.h on the GPU. Host code only
// (no kernels here): it checks arguments, picks the path and calls our kernels
// (cuda/kernels/kernels.h), CUB (cuda/device_wide.h), cuBLAS and cuDNN on the device's stream.
#include <memory>
#include <mutex>

#include "cuda/library_handles.h"
#include "cuda/runtime.h"
#include "engine/backend.h"

namespace sparsecap::cuda {

// Which kernel CudaBackend::csr_linear runs. Auto: ours (a warp per weight row, the bias fused,
// cuda/kernels/sparse.cu) for up to kOwnCsrMaxBatch rows of activations, where cuSPARSE is slower
// than even a dense GEMM, and cuSPARSE's SpMM above. Own and CuSparse force one (benchmarks).
enum class CsrKernel { Auto, Own, CuSparse };
constexpr int64_t kOwnCsrMaxBatch = 16;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index);
  Device device() const override { return Device::cuda(index_); }
  cudaStream_t stream() const { return stream_.get(); }
  AllocatorStats allocator_stats() const { return allocator_.stats(); }
  void empty_cache() { allocator_.empty_cache(); }
  LibraryHandles& handles() { return handles_; }
  void set_csr_kernel(CsrKernel kernel) { csr_kernel_ = kernel; }
  CsrKernel csr_kernel() const { return csr_kernel_; }

  std::shared_ptr<Storage> allocate(size_t bytes) override;
  void copy_within(void* dst, const void* src, size_t bytes) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;
  // On a copy stream of the device's own, after the work queued on the compute stream so far.
  std::shared_ptr<CopyFence> copy_from_host_beside(void* dst, const void* src, size_t bytes) override;
  void wait_for_copies(const CopyFence& fence) override;

  void fill(Tensor& out, double value) override;
  void cast(const Tensor& in, Tensor& out) override;
  void random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream, uint64_t offset,
                   double p) override;

  void unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, kernels::ScalarParams params) override;
  void unary_in_place_many(kernels::UnaryOp op, const std::vector<Tensor>& tensors,
                           kernels::ScalarParams params) override;  // one launch
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
  void adam_step_many(const std::vector<AdamUpdate>& updates) override;  // one launch

  void gated_weight(const Tensor& weight, const Tensor& gate, Tensor& out, const sparsecap::kernels::GateDraw& draw) override;
  void gated_weight_backward(const Tensor& grad_out, const Tensor& weight, const Tensor& gate, Tensor& grad_weight,
                             Tensor& grad_gate, const sparsecap::kernels::GateDraw& draw) override;
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
  // One launch forward, two backward (cuda/kernels/attention.cu) instead of the default composition.
  void additive_attention(const Tensor& keys, const Tensor& query, const Tensor& weight, const Tensor& bias,
                          Tensor& scores, int64_t rows, int64_t positions, int64_t width) override;
  void additive_attention_backward(const Tensor& keys, const Tensor& query, const Tensor& weight,
                                   const Tensor& grad_scores, Tensor& grad_keys, bool add_to_grad_keys,
                                   Tensor& grad_query, Tensor& grad_weight, int64_t rows, int64_t positions,
                                   int64_t width) override;

  void beam_search_step(BeamSearchBuffers& buffers, const Tensor& top_values, const Tensor& top_tokens,
                        const sparsecap::kernels::BeamStepShape& shape) override;

  void csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                  int64_t batch) override;  // cuSPARSE, cuda/cuda_sparse.cpp

 private:
  // Throws unless every defined tensor lives on this device (a CPU pointer in a kernel would be
  // an illegal address, reported much later and far from the cause).
  void require_here(std::initializer_list<const Tensor*> tensors, const char* op) const;
  // Throws unless the tensor is float32: float64 runs on the CPU (gradient checks).
  void require_float32(const Tensor& tensor, const char* op) const;
  // Throws like the CPU backend when an index lies outside [0, bound) (and != ignore).
  void check_indices(const Tensor& index, int64_t bound, int64_t ignore, const char* op);
  bool cudnn_enabled() const;
  // C = alpha op(A) op(B) + beta C on raw device pointers (row-major), float32 or float64.
  void gemm_raw(const GemmShape& shape, const void* a, const void* b, void* c, DType dtype);
  void convolution_im2col_forward(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& s);
  void convolution_im2col_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx, const Conv2dShape& s);
  void convolution_im2col_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight, const Conv2dShape& s);
#if SPARSECAP_WITH_CUDNN
  void convolution_cudnn_forward(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& s);
  void convolution_cudnn_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx, const Conv2dShape& s);
  void convolution_cudnn_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight, const Conv2dShape& s);
  // cuda_batch_norm_pooling.cpp
  void batch_norm_cudnn(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                        Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                        int64_t channels, int64_t spatial, bool training, double momentum, double eps);
  void batch_norm_cudnn_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                                 const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t batch,
                                 int64_t channels, int64_t spatial);
  void pooling_cudnn_forward(PoolKind kind, const Tensor& x, Tensor& out, const Pool2dShape& s);
  void pooling_cudnn_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx,
                              const Pool2dShape& s);
#endif

  int index_;
  Stream stream_;
  CachingAllocator allocator_;
  PinnedStaging staging_;
  LibraryHandles handles_;
  std::mutex copy_stream_mutex_;
  std::unique_ptr<Stream> copy_stream_;  // made on the first copy_from_host_beside
  CsrKernel csr_kernel_ = CsrKernel::Auto;
};

// The backend of device `index` as the CudaBackend type (bench/ and tests reach the allocator
// and handles through it).
CudaBackend& cuda_backend(int index);

}  // namespace sparsecap::cuda
