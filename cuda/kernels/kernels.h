#pragma once
// The host entry points of sparsecap's own CUDA kernels (cuda/kernels/*.cu). Each launches its
// kernels on `stream` through the one launcher (launch.cuh) and returns without synchronising.
// Pointers are device pointers; shapes are the flattened forms of engine/backend.h. Compute
// kernels take float32 only: float64 is the CPU's gradient-check type.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "engine/dtype.h"
#include "engine/kernels/elementwise.h"
#include "engine/kernels/optimizer.h"

namespace sparsecap::cuda::launchers {

using sparsecap::kernels::AdamCoefficients;
using sparsecap::kernels::BinaryOp;
using sparsecap::kernels::ScalarParams;
using sparsecap::kernels::UnaryOp;

// Storage dtypes the conversion kernels understand (the values of sparsecap::DType).
enum class ElementType : uint8_t { F16, F32, F64, I32, I64, U8, U16, Bool };

// The kernels' name for an engine dtype (host side: the backend and the emulation tests).
inline ElementType element_type(DType dtype) {
  switch (dtype) {
    case DType::F16: return ElementType::F16;
    case DType::F32: return ElementType::F32;
    case DType::F64: return ElementType::F64;
    case DType::I32: return ElementType::I32;
    case DType::I64: return ElementType::I64;
    case DType::U8: return ElementType::U8;
    case DType::U16: return ElementType::U16;
    case DType::Bool: return ElementType::Bool;
  }
  return ElementType::F32;  // unreachable: every DType is listed
}

// ---- fills, casts, random (elementwise.cu) ----
// Writes the `element_bytes`-wide bit pattern `bits` (1, 2, 4 or 8 bytes) into n elements.
void fill_pattern(void* out, int64_t n, size_t element_bytes, uint64_t bits, cudaStream_t stream);
void cast(const void* in, ElementType in_type, void* out, ElementType out_type, int64_t n, cudaStream_t stream);
enum class RandomDistribution : uint8_t { Uniform, Normal, Bernoulli };
// out[i] = draw(seed, stream_id, offset + i), float32 or float64 output.
void random_fill(void* out, bool out_is_double, int64_t n, RandomDistribution distribution, uint64_t seed,
                 uint64_t stream_id, uint64_t offset, float probability, cudaStream_t stream);
void arange(int64_t* out, int64_t n, cudaStream_t stream);

// ---- elementwise over the engine/kernels functors (elementwise.cu) ----
void unary(UnaryOp op, const float* x, float* y, int64_t n, ScalarParams params, cudaStream_t stream);

// The broadcast layout of a binary op after merging dimensions (as the CPU backend plans it).
constexpr int kMaxBroadcastRank = 8;
struct BroadcastLayout {
  int rank = 0;
  int64_t sizes[kMaxBroadcastRank] = {};
  int64_t a_strides[kMaxBroadcastRank] = {};
  int64_t b_strides[kMaxBroadcastRank] = {};
};
void binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n, const BroadcastLayout& layout,
            ScalarParams params, cudaStream_t stream);
void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, const AdamCoefficients& c,
               cudaStream_t stream);
// Many parameters' Adam updates in one launch: `chunks` (device memory) lists pieces of at most
// kAdamChunkElements elements of each parameter with its coefficients; a block updates a chunk.
constexpr int64_t kAdamChunkElements = 32768;
struct AdamChunk {
  float* param;
  const float* grad;
  float* m;
  float* v;
  int64_t begin, end;  // element range of the parameter
  AdamCoefficients c;
};
void adam_step_chunks(const AdamChunk* chunks, int64_t count, cudaStream_t stream);
// Many arrays updated in place by one unary functor in one launch: `chunks` (device memory) lists
// pieces of at most kUnaryChunkElements elements; a block updates a chunk.
constexpr int64_t kUnaryChunkElements = 32768;
struct UnaryChunk {
  float* data;
  int64_t begin, end;  // element range of the array
};
void unary_chunks(UnaryOp op, const UnaryChunk* chunks, int64_t count, ScalarParams params, cudaStream_t stream);

// ---- layout and indexing (elementwise.cu); element_bytes is 1, 2, 4 or 8 ----
void transpose(const void* in, void* out, size_t element_bytes, int64_t outer, int64_t d0, int64_t middle,
               int64_t d1, int64_t inner, cudaStream_t stream);
void index_select_rows(const void* table, const int64_t* index, void* out, size_t element_bytes, int64_t count,
                       int64_t width, cudaStream_t stream);
// Sets *first_bad (initialised by the caller to INT64_MAX) to the smallest position i with
// index[i] outside [0, bound) and != ignore (pass ignore outside the range to ignore nothing).
void find_out_of_range(const int64_t* index, int64_t n, int64_t bound, int64_t ignore,
                       unsigned long long* first_bad, cudaStream_t stream);
// table[index[i], :] += src[i, :] with atomics (order of repeated indices unspecified).
void index_add_rows_atomic(const float* src, const int64_t* index, float* table, int64_t count, int64_t width,
                           cudaStream_t stream);
// The deterministic variant, given the indices sorted stably with their original positions:
// each run of equal indices is summed in position order, exactly as the CPU loop does.
void index_add_rows_sorted(const float* src, const int64_t* sorted_index, const int64_t* sorted_position,
                           float* table, int64_t count, int64_t width, cudaStream_t stream);
void gather_columns(const float* in, const int64_t* index, float* out, int64_t rows, int64_t n, int64_t k,
                    cudaStream_t stream);
void scatter_add_columns(const float* grad_out, const int64_t* index, float* grad_in, int64_t rows, int64_t n,
                         int64_t k, cudaStream_t stream);

// ---- reductions and row-wise nn (rowwise.cu) ----
void sum_along(const float* in, float* out, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream);
void max_along(const float* in, float* out, int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
               cudaStream_t stream);
// The k best entries of each row of in [rows, n] in max_along's order (a NaN first, then larger
// values, ties to the lower index): values and distinct indices [rows, k].
void top_k_rows(const float* in, float* values, int64_t* indices, int64_t rows, int64_t n, int64_t k,
                cudaStream_t stream);
// out[0] = float(*total) (the tail of the CUB sum over all elements, which accumulates in double).
void double_to_float(const double* total, float* out, cudaStream_t stream);
void softmax(const float* x, const float* mask, int64_t mask_group, float* out, int64_t rows, int64_t cols,
             bool log_output, cudaStream_t stream);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, bool log_output,
                      cudaStream_t stream);
void cross_entropy(const float* logits, const int64_t* targets, float* losses, float* lse, int64_t rows,
                   int64_t cols, int64_t ignore_index, cudaStream_t stream);
void cross_entropy_backward(const float* logits, const int64_t* targets, const float* lse, float* dlogits,
                            int64_t rows, int64_t cols, int64_t ignore_index, float scale, cudaStream_t stream);
void layer_norm(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* rstd,
                int64_t rows, int64_t cols, double eps, cudaStream_t stream);
void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, cudaStream_t stream);
void batch_norm(const float* x, const float* gamma, const float* beta, float* running_mean, float* running_var,
                float* out, float* mean, float* invstd, int64_t batch, int64_t channels, int64_t spatial,
                bool training, double momentum, double eps, cudaStream_t stream);
void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t batch, int64_t channels,
                         int64_t spatial, cudaStream_t stream);

// ---- images (image.cu) ----
struct ConvGeometry {
  int64_t channels, in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride, padding;
};
// columns [channels * kh * kw, out_h * out_w] of one image [channels, in_h, in_w].
void im2col(const float* image, float* columns, const ConvGeometry& g, cudaStream_t stream);
// image = the adjoint of im2col applied to columns (overwrites the image).
void col2im(const float* columns, float* image, const ConvGeometry& g, cudaStream_t stream);
struct PoolGeometry {
  int64_t planes, in_h, in_w, out_h, out_w, kernel, stride, padding;
};
void max_pool2d(const float* x, float* out, int64_t* argmax, const PoolGeometry& g, cudaStream_t stream);
void avg_pool2d(const float* x, float* out, const PoolGeometry& g, cudaStream_t stream);
void max_pool2d_backward(const float* dy, const int64_t* argmax, float* dx, const PoolGeometry& g,
                         cudaStream_t stream);
void avg_pool2d_backward(const float* dy, float* dx, const PoolGeometry& g, cudaStream_t stream);

}  // namespace sparsecap::cuda::launchers
