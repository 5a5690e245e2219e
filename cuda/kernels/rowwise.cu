// Reductions along a dimension and the row-wise nn kernels: one block per row (softmax,
// cross-entropy, layer norm) or per channel (batch norm), reducing through block_reduce.cuh.
// Per-element math comes from engine/kernels/rowwise.h, shared with the CPU; statistics that the
// CPU accumulates in double are accumulated in double here too.
#include <cmath>

#include "cuda/kernels/block_reduce.cuh"
#include "cuda/kernels/kernels.h"
#include "cuda/kernels/launch.cuh"
#include "engine/kernels/rowwise.h"

namespace sparsecap::cuda::launchers {

namespace {

namespace shared_math = sparsecap::kernels;

__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Row-wise kernels loop over rows with a block stride, so any grid size is correct.
__device__ __forceinline__ int64_t first_row() { return blockIdx.x; }
__device__ __forceinline__ int64_t row_stride() { return gridDim.x; }

constexpr int64_t kMaxRowBlocks = 65535;
unsigned grid_for_rows(int64_t rows) { return static_cast<unsigned>(rows < 1 ? 1 : std::min(rows, kMaxRowBlocks)); }

// ---- reductions over [outer, n, inner] ----

// inner == 1: one block per row, double accumulation as on the CPU.
__global__ void sum_rows_kernel(const float* in, float* out, int64_t outer, int64_t n) {
  __shared__ double scratch[32];
  for (int64_t o = first_row(); o < outer; o += row_stride()) {
    double total = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) total += static_cast<double>(in[o * n + i]);
    total = block_sum(total, scratch);
    if (threadIdx.x == 0) out[o] = static_cast<float>(total);
  }
}

// inner > 1: one thread per output, walking n (consecutive threads read consecutive addresses).
__global__ void sum_strided_kernel(const float* in, float* out, int64_t outer, int64_t n, int64_t inner) {
  const int64_t total_outputs = outer * inner;
  for (int64_t i = first_index(); i < total_outputs; i += grid_stride()) {
    const int64_t o = i / inner, j = i % inner;
    double total = 0;
    for (int64_t k = 0; k < n; ++k) total += static_cast<double>(in[(o * n + k) * inner + j]);
    out[i] = static_cast<float>(total);
  }
}

// Long strided sums (bias gradients: n = batch rows, inner = features): a block takes 32 outputs
// of one outer index, and kStridedLanes row lanes split n between them, each lane summing every
// kStridedLanes-th row, before the lanes are added in lane order. The one-thread-per-output
// kernel above gives an [N, 2048] bias gradient 2 048 threads, which a large GPU runs as a few
// blocks walking N rows each; here the same sum has 16 times the threads. Same double
// accumulation; a fixed order, so every run gives the same bits.
constexpr int kStridedColumns = 32;
constexpr int kStridedLanes = 16;
// From this many rows on the lanes pay for their extra barrier and shared-memory pass.
constexpr int64_t kTiledStridedMinRows = 64;

__global__ void sum_strided_tiled_kernel(const float* in, float* out, int64_t outer, int64_t n, int64_t inner) {
  __shared__ double partial[kStridedLanes][kStridedColumns];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kStridedColumns + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    double total = 0;
    if (j < inner)
      for (int64_t k = threadIdx.y; k < n; k += kStridedLanes) total += static_cast<double>(in[(o * n + k) * inner + j]);
    partial[threadIdx.y][threadIdx.x] = total;
    __syncthreads();
    if (threadIdx.y == 0 && j < inner) {
      double sum = 0;
      for (int lane = 0; lane < kStridedLanes; ++lane) sum += partial[lane][threadIdx.x];
      out[o * inner + j] = static_cast<float>(sum);
    }
    __syncthreads();  // the next outer index reuses `partial`
  }
}

__global__ void max_rows_kernel(const float* in, float* out, int64_t* argmax, int64_t outer, int64_t n) {
  __shared__ ValueIndex scratch[32];
  const ValueIndex empty{-INFINITY, INT64_MAX};
  for (int64_t o = first_row(); o < outer; o += row_stride()) {
    ValueIndex best = empty;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) best = better_of(best, ValueIndex{in[o * n + i], i});
    best = block_argmax(best, scratch, empty);
    if (threadIdx.x == 0) {
      out[o] = best.value;
      // All -inf (or n == 0): the CPU keeps index 0.
      if (argmax) argmax[o] = best.index == INT64_MAX ? 0 : best.index;
    }
  }
}

// Whether `candidate` ranks after `previous` in better_of's order (indices are distinct).
__device__ __forceinline__ bool ranks_after(ValueIndex previous, ValueIndex candidate) {
  return candidate.index != previous.index && better_of(previous, candidate).index == previous.index;
}

// One block per row, k passes: each takes the block's best entry among those ranked after the
// previous pass's pick, so the row is never copied or modified.
__global__ void top_k_rows_kernel(const float* in, float* values, int64_t* indices, int64_t rows, int64_t n,
                                  int64_t k) {
  __shared__ ValueIndex scratch[32];
  const ValueIndex empty{-INFINITY, INT64_MAX};
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    ValueIndex previous = empty;
    for (int64_t pass = 0; pass < k; ++pass) {
      ValueIndex best = empty;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const ValueIndex candidate{in[r * n + i], i};
        if (pass == 0 || ranks_after(previous, candidate)) best = better_of(best, candidate);
      }
      best = block_argmax(best, scratch, empty);
      if (threadIdx.x == 0) {
        values[r * k + pass] = best.value;
        indices[r * k + pass] = best.index;
      }
      previous = best;
    }
  }
}

// The CPU loop exactly: strictly greater replaces, a NaN replaces a number.
__global__ void max_strided_kernel(const float* in, float* out, int64_t* argmax, int64_t outer, int64_t n,
                                   int64_t inner) {
  const int64_t total_outputs = outer * inner;
  for (int64_t i = first_index(); i < total_outputs; i += grid_stride()) {
    const int64_t o = i / inner, j = i % inner;
    float best = -INFINITY;
    int64_t best_index = 0;
    for (int64_t k = 0; k < n; ++k) {
      const float value = in[(o * n + k) * inner + j];
      if (value > best || (value != value && best == best)) {
        best = value;
        best_index = k;
      }
    }
    out[i] = best;
    if (argmax) argmax[i] = best_index;
  }
}

__global__ void double_to_float_kernel(const double* total, float* out) { *out = static_cast<float>(*total); }

// ---- softmax ----

// mask (optional) is [rows / mask_group, cols]: row r uses mask row r / mask_group.
__global__ void softmax_kernel(const float* x, const float* mask, int64_t mask_group, float* out, int64_t rows,
                               int64_t cols, bool log_output) {
  __shared__ float scratch[32];
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const float* row = x + r * cols;
    const float* keep = mask ? mask + (r / mask_group) * cols : nullptr;
    float* dst = out + r * cols;
    float row_max = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      if (!keep || keep[c] != 0.0f) row_max = fmaxf(row_max, row[c]);
    row_max = block_max(row_max, scratch, -INFINITY);
    const float masked_value = log_output ? -INFINITY : 0.0f;
    if (row_max == -INFINITY) {  // every position masked
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = masked_value;
      continue;
    }
    float row_sum = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      if (!keep || keep[c] != 0.0f) row_sum += expf(row[c] - row_max);
    row_sum = block_sum(row_sum, scratch);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const bool masked = keep && keep[c] == 0.0f;
      dst[c] = masked ? masked_value : shared_math::softmax_value(row[c], row_max, row_sum, log_output);
    }
  }
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols,
                                        bool log_output) {
  __shared__ float scratch[32];
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float dot = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dot += log_output ? dyr[c] : dyr[c] * yr[c];
    dot = block_sum(dot, scratch);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      // Masked positions (-inf in log space) get no gradient, as on the CPU.
      const bool masked = log_output && isinf(yr[c]);
      dx[r * cols + c] = masked ? 0.0f : shared_math::softmax_grad(yr[c], dyr[c], dot, log_output);
    }
  }
}

// ---- cross-entropy ----

__global__ void cross_entropy_kernel(const float* logits, const int64_t* targets, float* losses, float* lse,
                                     int64_t rows, int64_t cols, int64_t ignore_index) {
  __shared__ float scratch[32];
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const float* row = logits + r * cols;
    float row_max = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row_max = fmaxf(row_max, row[c]);
    row_max = block_max(row_max, scratch, -INFINITY);
    float row_sum = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) row_sum += expf(row[c] - row_max);
    row_sum = block_sum(row_sum, scratch);
    if (threadIdx.x == 0) {
      const float log_sum_exp = row_max + logf(row_sum);
      lse[r] = log_sum_exp;
      const int64_t target = targets[r];
      losses[r] = target == ignore_index ? 0.0f : log_sum_exp - row[target];
    }
  }
}

__global__ void cross_entropy_backward_kernel(const float* logits, const int64_t* targets, const float* lse,
                                              float* dlogits, int64_t rows, int64_t cols, int64_t ignore_index,
                                              float scale) {
  const int64_t total = rows * cols;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t r = i / cols, c = i % cols;
    const int64_t target = targets[r];
    dlogits[i] = target == ignore_index
                     ? 0.0f
                     : shared_math::cross_entropy_grad(logits[i], lse[r], c == target, scale);
  }
}

// ---- layer norm ----

__global__ void layer_norm_kernel(const float* x, const float* gamma, const float* beta, float* out, float* mean,
                                  float* rstd, int64_t rows, int64_t cols, double eps) {
  __shared__ double scratch[32];
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const float* row = x + r * cols;
    double total = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) total += row[c];
    const double mu = block_sum(total, scratch) / static_cast<double>(cols);
    double total_sq = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) total_sq += (row[c] - mu) * (row[c] - mu);
    total_sq = block_sum(total_sq, scratch);
    const float m = static_cast<float>(mu);
    const float inv = static_cast<float>(1.0 / sqrt(total_sq / static_cast<double>(cols) + eps));
    if (threadIdx.x == 0) {
      mean[r] = m;
      rstd[r] = inv;
    }
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      out[r * cols + c] = shared_math::layer_norm_value(row[c], m, inv, gamma[c], beta[c]);
  }
}

__global__ void layer_norm_backward_input_kernel(const float* x, const float* gamma, const float* mean,
                                                 const float* rstd, const float* dy, float* dx, int64_t rows,
                                                 int64_t cols) {
  __shared__ double scratch[32];
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    double mean_g = 0, mean_g_xhat = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const double gc = dy[r * cols + c] * gamma[c];
      mean_g += gc;
      mean_g_xhat += gc * (x[r * cols + c] - mean[r]) * rstd[r];
    }
    mean_g = block_sum(mean_g, scratch) / static_cast<double>(cols);
    mean_g_xhat = block_sum(mean_g_xhat, scratch) / static_cast<double>(cols);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float xhat = (x[r * cols + c] - mean[r]) * rstd[r];
      dx[r * cols + c] = shared_math::layer_norm_grad(dy[r * cols + c] * gamma[c], xhat, static_cast<float>(mean_g),
                                                      static_cast<float>(mean_g_xhat), rstd[r]);
    }
  }
}

// Column sums over rows, one thread per column, rows in order (deterministic, as the CPU).
__global__ void layer_norm_backward_params_kernel(const float* x, const float* mean, const float* rstd,
                                                  const float* dy, float* dgamma, float* dbeta, int64_t rows,
                                                  int64_t cols) {
  for (int64_t c = first_index(); c < cols; c += grid_stride()) {
    double sum_g = 0, sum_b = 0;
    for (int64_t r = 0; r < rows; ++r) {
      sum_g += dy[r * cols + c] * (x[r * cols + c] - mean[r]) * rstd[r];
      sum_b += dy[r * cols + c];
    }
    dgamma[c] = static_cast<float>(sum_g);
    dbeta[c] = static_cast<float>(sum_b);
  }
}

// ---- batch norm: one block per channel over its batch * spatial elements ----

__device__ __forceinline__ int64_t channel_element(int64_t i, int64_t c, int64_t channels, int64_t spatial) {
  return ((i / spatial) * channels + c) * spatial + i % spatial;
}

__global__ void batch_norm_kernel(const float* x, const float* gamma, const float* beta, float* running_mean,
                                  float* running_var, float* out, float* mean, float* invstd, int64_t batch,
                                  int64_t channels, int64_t spatial, bool training, double momentum, double eps) {
  __shared__ double scratch[32];
  const int64_t count = batch * spatial;
  for (int64_t c = first_row(); c < channels; c += row_stride()) {
    double mu, var;
    if (training) {
      double total = 0;
      for (int64_t i = threadIdx.x; i < count; i += blockDim.x) total += x[channel_element(i, c, channels, spatial)];
      mu = block_sum(total, scratch) / static_cast<double>(count);
      double total_sq = 0;
      for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
        const double centred = x[channel_element(i, c, channels, spatial)] - mu;
        total_sq += centred * centred;
      }
      total_sq = block_sum(total_sq, scratch);
      var = total_sq / static_cast<double>(count);
      // Running variance is unbiased, the normalisation uses the biased one (as the CPU).
      const double unbiased = count > 1 ? total_sq / static_cast<double>(count - 1) : var;
      if (threadIdx.x == 0) {
        running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mu);
        running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
      }
    } else {
      mu = running_mean[c];
      var = running_var[c];
    }
    const float m = static_cast<float>(mu);
    const float inv = static_cast<float>(1.0 / sqrt(var + eps));
    if (threadIdx.x == 0) {
      mean[c] = m;
      invstd[c] = inv;
    }
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
      const int64_t at = channel_element(i, c, channels, spatial);
      out[at] = (x[at] - m) * inv * gamma[c] + beta[c];
    }
  }
}

__global__ void batch_norm_backward_kernel(const float* x, const float* gamma, const float* mean,
                                           const float* invstd, const float* dy, float* dx, float* dgamma,
                                           float* dbeta, int64_t batch, int64_t channels, int64_t spatial) {
  __shared__ double scratch[32];
  const int64_t count = batch * spatial;
  for (int64_t c = first_row(); c < channels; c += row_stride()) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
      const int64_t at = channel_element(i, c, channels, spatial);
      sum_dy += dy[at];
      sum_dy_xhat += dy[at] * (x[at] - mean[c]) * invstd[c];
    }
    sum_dy = block_sum(sum_dy, scratch);
    sum_dy_xhat = block_sum(sum_dy_xhat, scratch);
    if (threadIdx.x == 0) {
      dbeta[c] = static_cast<float>(sum_dy);
      dgamma[c] = static_cast<float>(sum_dy_xhat);
    }
    // dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
    const double total = static_cast<double>(count);
    const double scale = gamma[c] * invstd[c] / total;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
      const int64_t at = channel_element(i, c, channels, spatial);
      const double xhat = (x[at] - mean[c]) * invstd[c];
      dx[at] = static_cast<float>(scale * (total * dy[at] - sum_dy - xhat * sum_dy_xhat));
    }
  }
}

}  // namespace

// ---- host entry points ----

void sum_along(const float* in, float* out, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream) {
  if (inner == 1) {
    launch(sum_rows_kernel, grid_for_rows(outer), row_threads(n), 0, stream, in, out, outer, n);
  } else if (n >= kTiledStridedMinRows) {
    const dim3 grid(static_cast<unsigned>((inner + kStridedColumns - 1) / kStridedColumns), grid_for_rows(outer));
    launch(sum_strided_tiled_kernel, grid, dim3(kStridedColumns, kStridedLanes), 0, stream, in, out, outer, n, inner);
  } else {
    launch(sum_strided_kernel, grid_for(outer * inner), kBlockThreads, 0, stream, in, out, outer, n, inner);
  }
}

void max_along(const float* in, float* out, int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
               cudaStream_t stream) {
  if (inner == 1)
    launch(max_rows_kernel, grid_for_rows(outer), row_threads(n), 0, stream, in, out, argmax, outer, n);
  else
    launch(max_strided_kernel, grid_for(outer * inner), kBlockThreads, 0, stream, in, out, argmax, outer, n, inner);
}

void top_k_rows(const float* in, float* values, int64_t* indices, int64_t rows, int64_t n, int64_t k,
                cudaStream_t stream) {
  if (rows == 0 || k == 0) return;
  launch(top_k_rows_kernel, grid_for_rows(rows), row_threads(n), 0, stream, in, values, indices, rows, n, k);
}

void double_to_float(const double* total, float* out, cudaStream_t stream) {
  launch(double_to_float_kernel, 1, 1, 0, stream, total, out);
}

void softmax(const float* x, const float* mask, int64_t mask_group, float* out, int64_t rows, int64_t cols,
             bool log_output, cudaStream_t stream) {
  if (rows == 0) return;
  launch(softmax_kernel, grid_for_rows(rows), row_threads(cols), 0, stream, x, mask, mask_group, out, rows, cols,
         log_output);
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, bool log_output,
                      cudaStream_t stream) {
  if (rows == 0) return;
  launch(softmax_backward_kernel, grid_for_rows(rows), row_threads(cols), 0, stream, y, dy, dx, rows, cols,
         log_output);
}

void cross_entropy(const float* logits, const int64_t* targets, float* losses, float* lse, int64_t rows,
                   int64_t cols, int64_t ignore_index, cudaStream_t stream) {
  if (rows == 0) return;
  launch(cross_entropy_kernel, grid_for_rows(rows), row_threads(cols), 0, stream, logits, targets, losses, lse, rows,
         cols, ignore_index);
}

void cross_entropy_backward(const float* logits, const int64_t* targets, const float* lse, float* dlogits,
                            int64_t rows, int64_t cols, int64_t ignore_index, float scale, cudaStream_t stream) {
  if (rows * cols == 0) return;
  launch(cross_entropy_backward_kernel, grid_for(rows * cols), kBlockThreads, 0, stream, logits, targets, lse,
         dlogits, rows, cols, ignore_index, scale);
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* out, float* mean, float* rstd,
                int64_t rows, int64_t cols, double eps, cudaStream_t stream) {
  if (rows == 0) return;
  launch(layer_norm_kernel, grid_for_rows(rows), row_threads(cols), 0, stream, x, gamma, beta, out, mean, rstd, rows,
         cols, eps);
}

void layer_norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows > 0)
    launch(layer_norm_backward_input_kernel, grid_for_rows(rows), row_threads(cols), 0, stream, x, gamma, mean, rstd,
           dy, dx, rows, cols);
  launch(layer_norm_backward_params_kernel, grid_for(cols), kBlockThreads, 0, stream, x, mean, rstd, dy, dgamma,
         dbeta, rows, cols);
}

void batch_norm(const float* x, const float* gamma, const float* beta, float* running_mean, float* running_var,
                float* out, float* mean, float* invstd, int64_t batch, int64_t channels, int64_t spatial,
                bool training, double momentum, double eps, cudaStream_t stream) {
  if (channels == 0) return;
  launch(batch_norm_kernel, grid_for_rows(channels), row_threads(batch * spatial), 0, stream, x, gamma, beta,
         running_mean, running_var, out, mean, invstd, batch, channels, spatial, training, momentum, eps);
}

void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t batch, int64_t channels,
                         int64_t spatial, cudaStream_t stream) {
  if (channels == 0) return;
  launch(batch_norm_backward_kernel, grid_for_rows(channels), row_threads(batch * spatial), 0, stream, x, gamma,
         mean, invstd, dy, dx, dgamma, dbeta, batch, channels, spatial);
}

}  // namespace sparsecap::cuda::launchers
