// Batch norm and pooling on the GPU: cuDNN 9 through its legacy API (cudnnBatchNormalization*,
// cudnnPooling* with a cudnnPoolingDescriptor_t; deprecated in cuDNN 9 in favour of the graph API,
// still shipped in cudnn_ops.h: see docs/cuda.md), or our kernels (cuda/kernels/rowwise.cu and
// image.cu) when the build has no cuDNN, CudaOptions::use_cudnn is off, or cuDNN cannot compute
// what the CPU backend computes (see cudnn_batch_norm_applies).
//
// Both paths follow the CPU backend (engine/cpu/image.cpp): `mean` is the batch mean and `invstd`
// 1 / sqrt(biased batch variance + eps) in training, the running mean and 1 / sqrt(running_var +
// eps) in evaluation; running_mean and running_var move towards the batch mean and the unbiased
// batch variance by `momentum`; average pooling divides by the full window, padding included.
#include "cuda/cuda_backend.h"
#include "cuda/cudnn_descriptors.h"
#include "cuda/kernels/kernels.h"
#include "cuda/tensor_pointers.h"

namespace sparsecap::cuda {

namespace {

launchers::PoolGeometry pool_geometry(const Pool2dShape& s) {
  return {s.batch * s.channels, s.in_h, s.in_w, s.out_h, s.out_w, s.kernel, s.stride, s.padding};
}

#if SPARSECAP_WITH_CUDNN
// Where cuDNN's batch norm would differ from the CPU's, our kernels run instead:
// - eps below CUDNN_BN_MIN_EPSILON: cuDNN rejects it (the header's minimum is 0.0 in cuDNN 9,
//   earlier releases required 1e-5);
// - training with one value per channel (count == 1): cuDNN's running variance is the unbiased
//   batch variance, whose n - 1 divisor is 0 there; the CPU falls back to the biased one (0).
bool cudnn_batch_norm_applies(int64_t count, bool training, double eps) {
  return eps >= CUDNN_BN_MIN_EPSILON && (!training || count > 1);
}
#endif

}  // namespace

// ---- batch norm ----

void CudaBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                             Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                             int64_t channels, int64_t spatial, bool training, double momentum, double eps) {
  require_here({&x, &gamma, &beta, &running_mean, &running_var, &out, &mean, &invstd}, "batch_norm");
  require_float32(x, "batch_norm");
#if SPARSECAP_WITH_CUDNN
  if (cudnn_enabled() && cudnn_batch_norm_applies(batch * spatial, training, eps))
    return batch_norm_cudnn(x, gamma, beta, running_mean, running_var, out, mean, invstd, batch, channels, spatial,
                            training, momentum, eps);
#endif
  DeviceGuard guard(index_);
  launchers::batch_norm(f32(x), f32(gamma), f32(beta), f32(running_mean), f32(running_var), f32(out), f32(mean),
                      f32(invstd), batch, channels, spatial, training, momentum, eps, stream());
}

void CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                                      const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t batch,
                                      int64_t channels, int64_t spatial) {
  require_here({&x, &gamma, &mean, &invstd, &dy, &dx, &dgamma, &dbeta}, "batch_norm_backward");
  require_float32(x, "batch_norm_backward");
#if SPARSECAP_WITH_CUDNN
  // No eps here (the saved invstd carries it); one value per channel stays on our kernels as in
  // the forward's training case.
  if (cudnn_enabled() && batch * spatial > 1)
    return batch_norm_cudnn_backward(x, gamma, mean, invstd, dy, dx, dgamma, dbeta, batch, channels, spatial);
#endif
  DeviceGuard guard(index_);
  launchers::batch_norm_backward(f32(x), f32(gamma), f32(mean), f32(invstd), f32(dy), f32(dx), f32(dgamma),
                               f32(dbeta), batch, channels, spatial, stream());
}

// ---- pooling ----

void CudaBackend::pool2d(PoolKind kind, const Tensor& x, Tensor& out, Tensor& argmax, const Pool2dShape& shape) {
  require_here({&x, &out, &argmax}, "pool2d");
  require_float32(x, "pool2d");
#if SPARSECAP_WITH_CUDNN
  if (cudnn_enabled()) {
    pooling_cudnn_forward(kind, x, out, shape);
    // cuDNN's backward works from x and y and has no use for indices: skip computing them, and
    // the undefined argmax tells pool2d_backward which path pooled.
    argmax = Tensor();
    return;
  }
#endif
  DeviceGuard guard(index_);
  if (kind == PoolKind::Max)
    launchers::max_pool2d(f32(x), f32(out), i64(argmax), pool_geometry(shape), stream());
  else
    launchers::avg_pool2d(f32(x), f32(out), pool_geometry(shape), stream());
}

void CudaBackend::pool2d_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor& argmax, Tensor& dx, const Pool2dShape& shape) {
  require_here({&x, &y, &dy, &argmax, &dx}, "pool2d_backward");
  require_float32(dy, "pool2d_backward");
#if SPARSECAP_WITH_CUDNN
  // Max pooling takes the forward's path (use_cudnn may have changed since): cuDNN when it left no
  // argmax, our kernel when it recorded one. Average pooling needs nothing from the forward.
  const bool cudnn_pooled = kind == PoolKind::Max ? !argmax.defined() : cudnn_enabled();
  if (cudnn_pooled && x.defined() && y.defined()) return pooling_cudnn_backward(kind, x, y, dy, dx, shape);
#endif
  DeviceGuard guard(index_);
  if (kind == PoolKind::Max) {
    SPARSECAP_CHECK(argmax.defined(), "max pool2d_backward needs the argmax of the forward, or its x and y when "
                                      "cuDNN pooled");
    launchers::max_pool2d_backward(f32(dy), i64(argmax), f32(dx), pool_geometry(shape), stream());
  } else {
    launchers::avg_pool2d_backward(f32(dy), f32(dx), pool_geometry(shape), stream());
  }
}

// ---- cuDNN ----
#if SPARSECAP_WITH_CUDNN

namespace {

// The engine's NCHW activations as [batch, channels, spatial, 1] (CUDNN_BATCHNORM_SPATIAL
// normalises each channel over N, H and W, so H x W may be folded into one dimension), and the
// per-channel [1, channels, 1, 1] tensor of gamma, beta and the statistics.
struct BatchNormDescriptors {
  TensorDescriptor data, per_channel;
  BatchNormDescriptors(int64_t batch, int64_t channels, int64_t spatial)
      : data(batch, channels, spatial, 1), per_channel(1, channels, 1, 1) {}
};

// CUDNN_BATCHNORM_SPATIAL rather than ..._SPATIAL_PERSISTENT: the persistent kernels "impose some
// limits on the range of values" (cudnn_ops.h), and PyTorch's cuDNN batch norm reports accuracy
// losses with them.
constexpr cudnnBatchNormMode_t kBatchNormMode = CUDNN_BATCHNORM_SPATIAL;

// Max: CUDNN_POOLING_MAX_DETERMINISTIC, the same gradient bits on every run (CUDNN_POOLING_MAX's
// backward need not be); padded positions never win, as in our kernel, which skips them (the op
// allows no window lying wholly in the padding, padding <= kernel / 2).
// On equal maxima in a window our kernel gives the gradient to the first in row-major order;
// cuDNN does not document its choice (the op table's max-pool cases have no ties).
// Average: our kernel divides by kernel², padding counted as zeros, so COUNT_INCLUDE_PADDING.
// NaN: CUDNN_PROPAGATE_NAN makes a NaN in a window the window's maximum; our kernel keeps a NaN
// only when it comes first in the window (a later one never compares greater).
class PoolingDescriptor
    : public CudnnDescriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor> {
 public:
  PoolingDescriptor(PoolKind kind, const Pool2dShape& s) {
    const cudnnPoolingMode_t mode =
        kind == PoolKind::Max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    const int window = cudnn_dimension(s.kernel), padding = cudnn_dimension(s.padding),
              stride = cudnn_dimension(s.stride);
    SPARSECAP_CUDNN_CHECK(cudnnSetPooling2dDescriptor(get(), mode, CUDNN_PROPAGATE_NAN, window, window, padding,
                                                      padding, stride, stride));
  }
};

struct PoolingDescriptors {
  PoolingDescriptor pooling;
  TensorDescriptor input, output;
  PoolingDescriptors(PoolKind kind, const Pool2dShape& s)
      : pooling(kind, s), input(s.batch, s.channels, s.in_h, s.in_w), output(s.batch, s.channels, s.out_h, s.out_w) {}
};

}  // namespace

void CudaBackend::batch_norm_cudnn(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                                   Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                                   int64_t channels, int64_t spatial, bool training, double momentum, double eps) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const BatchNormDescriptors d(batch, channels, spatial);
  const float alpha = 1.0f, beta_blend = 0.0f;  // out is overwritten
  if (training) {
    // exponentialAverageFactor: running = factor * batch statistic + (1 - factor) * running, the
    // engine's momentum convention; cuDNN's running variance is the unbiased batch variance, as
    // the CPU's. resultSaveInvVariance holds 1 / sqrt(biased variance + eps) despite its name
    // (the CPU's invstd), resultSaveMean the batch mean.
    SPARSECAP_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        handle, kBatchNormMode, &alpha, &beta_blend, d.data.get(), x.raw_data(), d.data.get(), out.raw_data(),
        d.per_channel.get(), gamma.raw_data(), beta.raw_data(), momentum, running_mean.raw_data(),
        running_var.raw_data(), eps, mean.raw_data(), invstd.raw_data()));
    return;
  }
  SPARSECAP_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      handle, kBatchNormMode, &alpha, &beta_blend, d.data.get(), x.raw_data(), d.data.get(), out.raw_data(),
      d.per_channel.get(), gamma.raw_data(), beta.raw_data(), running_mean.raw_data(), running_var.raw_data(), eps));
  // The inference call saves no statistics, but the backward (dgamma, and dx through the op)
  // needs what the CPU stores: the running mean and invstd = (running_var + eps)^-1/2.
  copy_within(mean.raw_data(), running_mean.raw_data(), static_cast<size_t>(channels) * sizeof(float));
  launchers::unary(kernels::UnaryOp::Affine, f32(running_var), f32(invstd), channels, {1.0, eps}, stream());
  launchers::unary(kernels::UnaryOp::Pow, f32(invstd), f32(invstd), channels, {-0.5, 0.0}, stream());
}

void CudaBackend::batch_norm_cudnn_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                            const Tensor& invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                                            Tensor& dbeta, int64_t batch, int64_t channels, int64_t spatial) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const BatchNormDescriptors d(batch, channels, spatial);
  const float alpha = 1.0f, beta_blend = 0.0f;  // dx, dgamma and dbeta are overwritten, as on the CPU
  // savedMean/savedInvVariance are the forward's mean and invstd (in evaluation: the running mean
  // and its invstd, so dgamma = sum(dy * xhat) as on the CPU; the op replaces dx there). With them
  // given cuDNN does not recompute the statistics, the only use of epsilon; our interface passes
  // no eps to the backward, so the minimum goes in its place.
  SPARSECAP_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      handle, kBatchNormMode, &alpha, &beta_blend, &alpha, &beta_blend, d.data.get(), x.raw_data(), d.data.get(),
      dy.raw_data(), d.data.get(), dx.raw_data(), d.per_channel.get(), gamma.raw_data(), dgamma.raw_data(),
      dbeta.raw_data(), CUDNN_BN_MIN_EPSILON, mean.raw_data(), invstd.raw_data()));
}

void CudaBackend::pooling_cudnn_forward(PoolKind kind, const Tensor& x, Tensor& out, const Pool2dShape& s) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const PoolingDescriptors d(kind, s);
  // cuDNN sizes the output as 1 + (in + 2 padding - window) / stride, the engine's rule; checked,
  // since a mismatch would write past `out`.
  int n = 0, c = 0, h = 0, w = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(d.pooling.get(), d.input.get(), &n, &c, &h, &w));
  SPARSECAP_CHECK(h == s.out_h && w == s.out_w, "pool2d: cuDNN's output ", h, "x", w, " differs from the engine's ",
                  s.out_h, "x", s.out_w);
  const float alpha = 1.0f, beta = 0.0f;
  SPARSECAP_CUDNN_CHECK(cudnnPoolingForward(handle, d.pooling.get(), &alpha, d.input.get(), x.raw_data(), &beta,
                                            d.output.get(), out.raw_data()));
}

void CudaBackend::pooling_cudnn_backward(PoolKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                                         Tensor& dx, const Pool2dShape& s) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const PoolingDescriptors d(kind, s);
  const float alpha = 1.0f, beta = 0.0f;  // dx is overwritten, as on the CPU
  SPARSECAP_CUDNN_CHECK(cudnnPoolingBackward(handle, d.pooling.get(), &alpha, d.output.get(), y.raw_data(),
                                             d.output.get(), dy.raw_data(), d.input.get(), x.raw_data(), &beta,
                                             d.input.get(), dx.raw_data()));
}

#endif  // SPARSECAP_WITH_CUDNN

}  // namespace sparsecap::cuda
