// NCHW image kernels: im2col/col2im for the cuBLAS convolution (used when cuDNN is absent or
// for float64) and pooling. Pooling is ours rather than cuDNN's because the engine's interface
// records the max-pooling argmax (a flat index in the input plane) for the backward, which cuDNN
// does not expose. Backward passes gather per input pixel instead of scattering per output, so
// overlapping windows need no atomics and the sums are deterministic.
#include "cuda/kernels/kernels.h"
#include "cuda/kernels/launch.cuh"
#include "engine/kernels/pooling.h"

namespace sparsecap::cuda::launchers {

namespace {

__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Output positions o (along one axis) whose window covers input position i: o * stride - padding
// + k == i for some k in [0, kernel), clipped to [0, out_extent).
struct WindowRange {
  int64_t first, last;  // inclusive
};
__device__ __forceinline__ WindowRange covering_outputs(int64_t i, int64_t kernel, int64_t stride, int64_t padding,
                                                       int64_t out_extent) {
  const int64_t shifted = i + padding;
  const int64_t first = shifted < kernel ? 0 : (shifted - kernel) / stride + 1;
  const int64_t last = min(shifted / stride, out_extent - 1);
  return {first, last};
}

// One thread per column element: row (c, ky, kx), column (oy, ox).
__global__ void im2col_kernel(const float* image, float* columns, ConvGeometry g) {
  const int64_t out_plane = g.out_h * g.out_w;
  const int64_t total = g.channels * g.kernel_h * g.kernel_w * out_plane;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ox = i % g.out_w, oy = (i / g.out_w) % g.out_h;
    const int64_t row = i / out_plane;
    const int64_t kx = row % g.kernel_w, ky = (row / g.kernel_w) % g.kernel_h, c = row / (g.kernel_w * g.kernel_h);
    const int64_t iy = oy * g.stride - g.padding + ky, ix = ox * g.stride - g.padding + kx;
    const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
    columns[i] = inside ? image[(c * g.in_h + iy) * g.in_w + ix] : 0.0f;
  }
}

// One thread per image pixel, summing every column entry that im2col copied from it.
__global__ void col2im_kernel(const float* columns, float* image, ConvGeometry g) {
  const int64_t out_plane = g.out_h * g.out_w;
  const int64_t total = g.channels * g.in_h * g.in_w;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ix = i % g.in_w, iy = (i / g.in_w) % g.in_h, c = i / (g.in_w * g.in_h);
    float accumulated = 0.0f;
    const WindowRange ys = covering_outputs(iy, g.kernel_h, g.stride, g.padding, g.out_h);
    const WindowRange xs = covering_outputs(ix, g.kernel_w, g.stride, g.padding, g.out_w);
    for (int64_t oy = ys.first; oy <= ys.last; ++oy) {
      const int64_t ky = iy + g.padding - oy * g.stride;
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) {
        const int64_t kx = ix + g.padding - ox * g.stride;
        accumulated += columns[((c * g.kernel_h + ky) * g.kernel_w + kx) * out_plane + oy * g.out_w + ox];
      }
    }
    image[i] = accumulated;
  }
}

// Both kernels evaluate the CPU's window (engine/kernels/pooling.h) per output.
__global__ void max_pool_kernel(const float* x, float* out, int64_t* argmax, PoolGeometry g) {
  const int64_t total = g.planes * g.out_h * g.out_w;
  const sparsecap::kernels::PoolWindow window{g.in_h, g.in_w, g.kernel, g.stride, g.padding};
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ox = i % g.out_w, oy = (i / g.out_w) % g.out_h, p = i / (g.out_w * g.out_h);
    const auto r = sparsecap::kernels::pool_window(x + p * g.in_h * g.in_w, window, oy, ox);
    out[i] = r.argmax < 0 ? -INFINITY : r.max;
    if (argmax) argmax[i] = r.argmax;
  }
}

// Average over the full window (padding counts as zeros), as the CPU and PyTorch's default.
__global__ void avg_pool_kernel(const float* x, float* out, PoolGeometry g) {
  const int64_t total = g.planes * g.out_h * g.out_w;
  const sparsecap::kernels::PoolWindow window{g.in_h, g.in_w, g.kernel, g.stride, g.padding};
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ox = i % g.out_w, oy = (i / g.out_w) % g.out_h, p = i / (g.out_w * g.out_h);
    const auto r = sparsecap::kernels::pool_window(x + p * g.in_h * g.in_w, window, oy, ox);
    out[i] = r.sum / static_cast<float>(g.kernel * g.kernel);
  }
}

__global__ void max_pool_backward_kernel(const float* dy, const int64_t* argmax, float* dx, PoolGeometry g) {
  const int64_t total = g.planes * g.in_h * g.in_w;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ix = i % g.in_w, iy = (i / g.in_w) % g.in_h, p = i / (g.in_w * g.in_h);
    const int64_t here = iy * g.in_w + ix;
    const WindowRange ys = covering_outputs(iy, g.kernel, g.stride, g.padding, g.out_h);
    const WindowRange xs = covering_outputs(ix, g.kernel, g.stride, g.padding, g.out_w);
    float accumulated = 0.0f;
    for (int64_t oy = ys.first; oy <= ys.last; ++oy)
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) {
        const int64_t at = (p * g.out_h + oy) * g.out_w + ox;
        if (argmax[at] == here) accumulated += dy[at];
      }
    dx[i] = accumulated;
  }
}

__global__ void avg_pool_backward_kernel(const float* dy, float* dx, PoolGeometry g) {
  const int64_t total = g.planes * g.in_h * g.in_w;
  const float inv_window = 1.0f / static_cast<float>(g.kernel * g.kernel);
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ix = i % g.in_w, iy = (i / g.in_w) % g.in_h, p = i / (g.in_w * g.in_h);
    const WindowRange ys = covering_outputs(iy, g.kernel, g.stride, g.padding, g.out_h);
    const WindowRange xs = covering_outputs(ix, g.kernel, g.stride, g.padding, g.out_w);
    float accumulated = 0.0f;
    for (int64_t oy = ys.first; oy <= ys.last; ++oy)
      for (int64_t ox = xs.first; ox <= xs.last; ++ox) accumulated += dy[(p * g.out_h + oy) * g.out_w + ox] * inv_window;
    dx[i] = accumulated;
  }
}

}  // namespace

void im2col(const float* image, float* columns, const ConvGeometry& g, cudaStream_t stream) {
  const int64_t total = g.channels * g.kernel_h * g.kernel_w * g.out_h * g.out_w;
  if (total == 0) return;
  launch(im2col_kernel, grid_for(total), kBlockThreads, 0, stream, image, columns, g);
}

void col2im(const float* columns, float* image, const ConvGeometry& g, cudaStream_t stream) {
  const int64_t total = g.channels * g.in_h * g.in_w;
  if (total == 0) return;
  launch(col2im_kernel, grid_for(total), kBlockThreads, 0, stream, columns, image, g);
}

void max_pool2d(const float* x, float* out, int64_t* argmax, const PoolGeometry& g, cudaStream_t stream) {
  const int64_t total = g.planes * g.out_h * g.out_w;
  if (total == 0) return;
  launch(max_pool_kernel, grid_for(total), kBlockThreads, 0, stream, x, out, argmax, g);
}

void avg_pool2d(const float* x, float* out, const PoolGeometry& g, cudaStream_t stream) {
  const int64_t total = g.planes * g.out_h * g.out_w;
  if (total == 0) return;
  launch(avg_pool_kernel, grid_for(total), kBlockThreads, 0, stream, x, out, g);
}

void max_pool2d_backward(const float* dy, const int64_t* argmax, float* dx, const PoolGeometry& g,
                         cudaStream_t stream) {
  const int64_t total = g.planes * g.in_h * g.in_w;
  if (total == 0) return;
  launch(max_pool_backward_kernel, grid_for(total), kBlockThreads, 0, stream, dy, argmax, dx, g);
}

void avg_pool2d_backward(const float* dy, float* dx, const PoolGeometry& g, cudaStream_t stream) {
  const int64_t total = g.planes * g.in_h * g.in_w;
  if (total == 0) return;
  launch(avg_pool_backward_kernel, grid_for(total), kBlockThreads, 0, stream, dy, dx, g);
}

}  // namespace sparsecap::cuda::launchers
