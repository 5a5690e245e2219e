// Convolutions on the GPU: cuDNN 9 through its legacy convolution API (deprecated in cuDNN 9 in
// favour of the graph API, still present in 9.x: see docs/cuda.md), or im2col + cuBLAS GEMM
// when the build has no cuDNN or CudaOptions::use_cudnn is off.
#include <algorithm>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cudnn_descriptors.h"
#include "cuda/kernels/kernels.h"

namespace sparsecap::cuda {

bool CudaBackend::cudnn_enabled() const { return SPARSECAP_WITH_CUDNN && options().use_cudnn; }

void CudaBackend::conv2d(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& s) {
  require_here({&x, &weight, &out}, "conv2d");
  require_float32(x, "conv2d");
  require_float32(weight, "conv2d");
#if SPARSECAP_WITH_CUDNN
  if (cudnn_enabled()) return convolution_cudnn_forward(x, weight, out, s);
#endif
  convolution_im2col_forward(x, weight, out, s);
}

void CudaBackend::conv2d_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx, const Conv2dShape& s) {
  require_here({&dy, &weight, &dx}, "conv2d_backward_input");
  require_float32(dy, "conv2d_backward_input");
#if SPARSECAP_WITH_CUDNN
  if (cudnn_enabled()) return convolution_cudnn_backward_input(dy, weight, dx, s);
#endif
  convolution_im2col_backward_input(dy, weight, dx, s);
}

void CudaBackend::conv2d_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight, const Conv2dShape& s) {
  require_here({&dy, &x, &dweight}, "conv2d_backward_weight");
  require_float32(dy, "conv2d_backward_weight");
#if SPARSECAP_WITH_CUDNN
  if (cudnn_enabled()) return convolution_cudnn_backward_weight(dy, x, dweight, s);
#endif
  convolution_im2col_backward_weight(dy, x, dweight, s);
}

// ---- im2col + cuBLAS ----
//
// Per image: columns [in_channels * kh * kw, out_plane] (groups are consecutive row blocks of
// cin * kh * kw rows), then one strided-batched GEMM over the groups. Images are processed one
// at a time so the columns buffer stays the size of one image's patches.

namespace {

launchers::ConvGeometry conv_geometry(const Conv2dShape& s) {
  return {s.in_channels, s.in_h, s.in_w, s.out_h, s.out_w, s.kernel_h, s.kernel_w, s.stride, s.padding};
}

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.padding == 0;
}

// A GEMM over the groups of one image: C_g = op(A_g) op(B_g), batch = groups.
GemmShape group_gemm(const Conv2dShape& s, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     int64_t a_stride, int64_t b_stride, int64_t c_stride, double beta) {
  GemmShape g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.batch = s.groups;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a_batch_stride = a_stride;
  g.b_batch_stride = b_stride;
  g.c_batch_stride = c_stride;
  g.beta = beta;
  return g;
}

}  // namespace

void CudaBackend::convolution_im2col_forward(const Tensor& x, const Tensor& weight, Tensor& out,
                                             const Conv2dShape& s) {
  const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
  const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
  const bool pointwise = is_pointwise(s);
  std::shared_ptr<Storage> columns =
      pointwise ? nullptr : allocate(static_cast<size_t>(s.groups * patch * out_plane) * sizeof(float));
  const float* xp = static_cast<const float*>(x.raw_data());
  float* yp = static_cast<float*>(out.raw_data());
  DeviceGuard guard(index_);
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* image = xp + n * s.in_channels * s.in_h * s.in_w;
    const float* patches = image;
    if (!pointwise) {
      launchers::im2col(image, static_cast<float*>(columns->data()), conv_geometry(s), stream());
      patches = static_cast<const float*>(columns->data());
    }
    // y_g [cout, out_plane] = W_g [cout, patch] x columns_g [patch, out_plane]
    gemm_raw(group_gemm(s, false, false, cout, out_plane, patch, cout * patch, patch * out_plane, cout * out_plane, 0.0),
             weight.raw_data(), patches, yp + n * s.out_channels * out_plane, DType::F32);
  }
}

void CudaBackend::convolution_im2col_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx,
                                                    const Conv2dShape& s) {
  const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
  const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
  const bool pointwise = is_pointwise(s);
  std::shared_ptr<Storage> columns =
      pointwise ? nullptr : allocate(static_cast<size_t>(s.groups * patch * out_plane) * sizeof(float));
  const float* dyp = static_cast<const float*>(dy.raw_data());
  float* dxp = static_cast<float*>(dx.raw_data());
  DeviceGuard guard(index_);
  for (int64_t n = 0; n < s.batch; ++n) {
    float* image_grad = dxp + n * s.in_channels * s.in_h * s.in_w;
    float* target = pointwise ? image_grad : static_cast<float*>(columns->data());
    // columns_g [patch, out_plane] = W_g^T [patch, cout] x dy_g [cout, out_plane]
    gemm_raw(group_gemm(s, true, false, patch, out_plane, cout, cout * patch, cout * out_plane, patch * out_plane, 0.0),
             weight.raw_data(), dyp + n * s.out_channels * out_plane, target, DType::F32);
    if (!pointwise) launchers::col2im(target, image_grad, conv_geometry(s), stream());
  }
}

void CudaBackend::convolution_im2col_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight,
                                                     const Conv2dShape& s) {
  const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
  const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
  const bool pointwise = is_pointwise(s);
  std::shared_ptr<Storage> columns =
      pointwise ? nullptr : allocate(static_cast<size_t>(s.groups * patch * out_plane) * sizeof(float));
  const float* dyp = static_cast<const float*>(dy.raw_data());
  const float* xp = static_cast<const float*>(x.raw_data());
  DeviceGuard guard(index_);
  fill(dweight, 0.0);
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* image = xp + n * s.in_channels * s.in_h * s.in_w;
    const float* patches = image;
    if (!pointwise) {
      launchers::im2col(image, static_cast<float*>(columns->data()), conv_geometry(s), stream());
      patches = static_cast<const float*>(columns->data());
    }
    // dW_g [cout, patch] += dy_g [cout, out_plane] x columns_g^T [out_plane, patch]
    gemm_raw(group_gemm(s, false, true, cout, patch, out_plane, cout * out_plane, patch * out_plane, cout * patch, 1.0),
             dyp + n * s.out_channels * out_plane, patches, dweight.raw_data(), DType::F32);
  }
}

// ---- cuDNN ----
#if SPARSECAP_WITH_CUDNN

namespace {

// The filter and convolution descriptors of one call (tensor descriptors: cuda/cudnn_descriptors.h).
class FilterDescriptor
    : public CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor> {
 public:
  explicit FilterDescriptor(const Conv2dShape& s) {
    // [out_channels, in_channels / groups, kh, kw], the engine's weight layout.
    SPARSECAP_CUDNN_CHECK(cudnnSetFilter4dDescriptor(get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                                     cudnn_dimension(s.out_channels),
                                                     cudnn_dimension(s.in_channels / s.groups),
                                                     cudnn_dimension(s.kernel_h), cudnn_dimension(s.kernel_w)));
  }
};

class ConvolutionDescriptor : public CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                                     cudnnDestroyConvolutionDescriptor> {
 public:
  ConvolutionDescriptor(const Conv2dShape& s, bool allow_tf32) {
    // Cross-correlation (no kernel flip) is what the CPU's im2col computes; float accumulation.
    SPARSECAP_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), cudnn_dimension(s.padding),
                                                          cudnn_dimension(s.padding), cudnn_dimension(s.stride),
                                                          cudnn_dimension(s.stride), 1, 1, CUDNN_CROSS_CORRELATION,
                                                          CUDNN_DATA_FLOAT));
    SPARSECAP_CUDNN_CHECK(cudnnSetConvolutionGroupCount(get(), cudnn_dimension(s.groups)));
    // CUDNN_DEFAULT_MATH permits TF32 tensor-core kernels for float32 on Ampere and newer;
    // CUDNN_FMA_MATH restricts cuDNN to FMA kernels (full float32), our default.
    SPARSECAP_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
};

// The descriptors of one convolution.
struct ConvolutionDescriptors {
  TensorDescriptor input, output;
  FilterDescriptor filter;
  ConvolutionDescriptor convolution;
  ConvolutionDescriptors(const Conv2dShape& s, bool allow_tf32)
      : input(s.batch, s.in_channels, s.in_h, s.in_w),
        output(s.batch, s.out_channels, s.out_h, s.out_w),
        filter(s),
        convolution(s, allow_tf32) {}
};

// The first algorithm of cuDNN's heuristic ranking that succeeded (and is deterministic when
// asked for). The _v7 query is a heuristic, not a benchmark: cheap enough to run per call.
template <typename Perf>
decltype(Perf{}.algo) pick_algorithm(const std::vector<Perf>& ranked, int returned, bool deterministic,
                                     const char* what) {
  for (int i = 0; i < returned; ++i) {
    const Perf& perf = ranked[static_cast<size_t>(i)];
    if (perf.status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && perf.determinism != CUDNN_DETERMINISTIC) continue;
    return perf.algo;
  }
  throw Error(::sparsecap::detail::concat("cuDNN offers no usable ", what, " algorithm for this convolution",
                                          deterministic ? " (deterministic algorithms requested)" : ""));
}

}  // namespace

void CudaBackend::convolution_cudnn_forward(const Tensor& x, const Tensor& weight, Tensor& out,
                                            const Conv2dShape& s) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const CudaOptions opts = options();
  ConvolutionDescriptors d(s, opts.allow_tf32);
  int count = 0, returned = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked(static_cast<size_t>(std::max(count, 1)));
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, d.input.get(), d.filter.get(),
                                                               d.convolution.get(), d.output.get(), count, &returned,
                                                               ranked.data()));
  const cudnnConvolutionFwdAlgo_t algorithm = pick_algorithm(ranked, returned, opts.deterministic, "forward");
  size_t workspace_bytes = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, d.input.get(), d.filter.get(),
                                                                d.convolution.get(), d.output.get(), algorithm,
                                                                &workspace_bytes));
  std::shared_ptr<Storage> workspace = allocate(workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;
  SPARSECAP_CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, d.input.get(), x.raw_data(), d.filter.get(),
                                                weight.raw_data(), d.convolution.get(), algorithm, workspace->data(),
                                                workspace_bytes, &beta, d.output.get(), out.raw_data()));
}

void CudaBackend::convolution_cudnn_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx,
                                                   const Conv2dShape& s) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const CudaOptions opts = options();
  ConvolutionDescriptors d(s, opts.allow_tf32);
  int count = 0, returned = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> ranked(static_cast<size_t>(std::max(count, 1)));
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.filter.get(), d.output.get(),
                                                                    d.convolution.get(), d.input.get(), count,
                                                                    &returned, ranked.data()));
  const cudnnConvolutionBwdDataAlgo_t algorithm =
      pick_algorithm(ranked, returned, opts.deterministic, "backward-data");
  size_t workspace_bytes = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.filter.get(), d.output.get(),
                                                                     d.convolution.get(), d.input.get(), algorithm,
                                                                     &workspace_bytes));
  std::shared_ptr<Storage> workspace = allocate(workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;  // beta 0: dx is overwritten, as the CPU does
  SPARSECAP_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &alpha, d.filter.get(), weight.raw_data(),
                                                     d.output.get(), dy.raw_data(), d.convolution.get(), algorithm,
                                                     workspace->data(), workspace_bytes, &beta, d.input.get(),
                                                     dx.raw_data()));
}

void CudaBackend::convolution_cudnn_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight,
                                                    const Conv2dShape& s) {
  DeviceGuard guard(index_);
  cudnnHandle_t handle = handles_.cudnn();
  const CudaOptions opts = options();
  ConvolutionDescriptors d(s, opts.allow_tf32);
  int count = 0, returned = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> ranked(static_cast<size_t>(std::max(count, 1)));
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.input.get(), d.output.get(),
                                                                      d.convolution.get(), d.filter.get(), count,
                                                                      &returned, ranked.data()));
  const cudnnConvolutionBwdFilterAlgo_t algorithm =
      pick_algorithm(ranked, returned, opts.deterministic, "backward-filter");
  size_t workspace_bytes = 0;
  SPARSECAP_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.input.get(), d.output.get(),
                                                                       d.convolution.get(), d.filter.get(),
                                                                       algorithm, &workspace_bytes));
  std::shared_ptr<Storage> workspace = allocate(workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;
  SPARSECAP_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &alpha, d.input.get(), x.raw_data(), d.output.get(),
                                                       dy.raw_data(), d.convolution.get(), algorithm,
                                                       workspace->data(), workspace_bytes, &beta, d.filter.get(),
                                                       dweight.raw_data()));
}

#endif  // SPARSECAP_WITH_CUDNN

}  // namespace sparsecap::cuda
