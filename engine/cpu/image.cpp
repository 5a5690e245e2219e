// NCHW image primitives on the CPU: batch norm, convolution (im2col + GEMM; depthwise convolutions,
// where im2col would do k*k times the work for one channel, in depthwise.cpp) and pooling.
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/depthwise.h"
#include "engine/cpu/dispatch.h"
#include "engine/kernels/pooling.h"

namespace sparsecap::cpu {

// ---- batch norm ----

namespace {

// Per-plane sums for batch norm's statistics, accumulated in double. Eight independent partial
// sums instead of one: a single running sum is a chain of dependent additions that the compiler
// may not reorder, and it made batch norm a quarter of encoder pre-training's time. The order of
// the additions is fixed, so results stay deterministic.
constexpr int64_t kPartialSums = 8;

double combine(const double (&partial)[kPartialSums]) {
  double total = 0;
  for (const double value : partial) total += value;
  return total;
}

// sum_s x[s]
template <typename T>
double plane_sum(const T* x, int64_t n) {
  double partial[kPartialSums] = {};
  int64_t s = 0;
  for (; s + kPartialSums <= n; s += kPartialSums)
    for (int64_t k = 0; k < kPartialSums; ++k) partial[k] += static_cast<double>(x[s + k]);
  for (; s < n; ++s) partial[s % kPartialSums] += static_cast<double>(x[s]);
  return combine(partial);
}

// sum_s (x[s] - mu)^2
template <typename T>
double plane_centred_squares(const T* x, int64_t n, double mu) {
  double partial[kPartialSums] = {};
  int64_t s = 0;
  for (; s + kPartialSums <= n; s += kPartialSums)
    for (int64_t k = 0; k < kPartialSums; ++k) {
      const double centred = static_cast<double>(x[s + k]) - mu;
      partial[k] += centred * centred;
    }
  for (; s < n; ++s) {
    const double centred = static_cast<double>(x[s]) - mu;
    partial[s % kPartialSums] += centred * centred;
  }
  return combine(partial);
}

// sum_s d[s] * (x[s] - mu)
template <typename T>
double plane_centred_dot(const T* d, const T* x, int64_t n, double mu) {
  double partial[kPartialSums] = {};
  int64_t s = 0;
  for (; s + kPartialSums <= n; s += kPartialSums)
    for (int64_t k = 0; k < kPartialSums; ++k)
      partial[k] += static_cast<double>(d[s + k]) * (static_cast<double>(x[s + k]) - mu);
  for (; s < n; ++s) partial[s % kPartialSums] += static_cast<double>(d[s]) * (static_cast<double>(x[s]) - mu);
  return combine(partial);
}

}  // namespace

void CpuBackend::batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                            Tensor& running_var, Tensor& out, Tensor& mean, Tensor& invstd, int64_t batch,
                            int64_t channels, int64_t spatial, bool training, double momentum, double eps) {
  dispatch_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    const T* g = static_cast<const T*>(gamma.raw_data());
    const T* b = static_cast<const T*>(beta.raw_data());
    T* rm = static_cast<T*>(running_mean.raw_data());
    T* rv = static_cast<T*>(running_var.raw_data());
    T* y = static_cast<T*>(out.raw_data());
    T* mean_out = static_cast<T*>(mean.raw_data());
    T* invstd_out = static_cast<T*>(invstd.raw_data());
    const int64_t count = batch * spatial;
#pragma omp parallel for schedule(static) if (batch * channels * spatial > kParallelGrain)
    for (int64_t c = 0; c < channels; ++c) {
      double mu, var;
      if (training) {
        double total = 0, total_sq = 0;
        for (int64_t n = 0; n < batch; ++n) total += plane_sum(in + (n * channels + c) * spatial, spatial);
        mu = total / static_cast<double>(count);
        for (int64_t n = 0; n < batch; ++n)
          total_sq += plane_centred_squares(in + (n * channels + c) * spatial, spatial, mu);
        var = total_sq / static_cast<double>(count);
        // Running variance is unbiased (as in PyTorch and cuDNN); normalisation uses the biased one.
        const double unbiased = count > 1 ? total_sq / static_cast<double>(count - 1) : var;
        rm[c] = static_cast<T>((1.0 - momentum) * rm[c] + momentum * mu);
        rv[c] = static_cast<T>((1.0 - momentum) * rv[c] + momentum * unbiased);
      } else {
        mu = rm[c];
        var = rv[c];
      }
      const T m = static_cast<T>(mu);
      const T inv = static_cast<T>(1.0 / std::sqrt(var + eps));
      mean_out[c] = m;
      invstd_out[c] = inv;
      for (int64_t n = 0; n < batch; ++n) {
        const T* plane = in + (n * channels + c) * spatial;
        T* dst = y + (n * channels + c) * spatial;
        for (int64_t s = 0; s < spatial; ++s) dst[s] = (plane[s] - m) * inv * g[c] + b[c];
      }
    }
  });
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& invstd,
                                     const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t batch,
                                     int64_t channels, int64_t spatial) {
  dispatch_floating(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    const T* g = static_cast<const T*>(gamma.raw_data());
    const T* mu = static_cast<const T*>(mean.raw_data());
    const T* inv = static_cast<const T*>(invstd.raw_data());
    const T* d = static_cast<const T*>(dy.raw_data());
    T* dxp = static_cast<T*>(dx.raw_data());
    T* dg = static_cast<T*>(dgamma.raw_data());
    T* db = static_cast<T*>(dbeta.raw_data());
    const double count = static_cast<double>(batch * spatial);
#pragma omp parallel for schedule(static) if (batch * channels * spatial > kParallelGrain)
    for (int64_t c = 0; c < channels; ++c) {
      const double mean_c = mu[c], inv_c = inv[c];
      double sum_dy = 0, sum_dy_centred = 0;
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t base = (n * channels + c) * spatial;
        sum_dy += plane_sum(d + base, spatial);
        sum_dy_centred += plane_centred_dot(d + base, in + base, spatial, mean_c);
      }
      const double sum_dy_xhat = sum_dy_centred * inv_c;
      db[c] = static_cast<T>(sum_dy);
      dg[c] = static_cast<T>(sum_dy_xhat);
      // dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)) with xhat = (x - mean) *
      // invstd, written as a * dy + b * (x - mean) + c0 with per-channel constants.
      // The constants are summed in double, the per-element terms in T (vectorised twice as wide for
      // float).
      const double scale = g[c] * inv_c / count;
      const T a = static_cast<T>(scale * count), b = static_cast<T>(-scale * inv_c * sum_dy_xhat),
              c0 = static_cast<T>(-scale * sum_dy), m = mu[c];
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t base = (n * channels + c) * spatial;
        for (int64_t s = 0; s < spatial; ++s) dxp[base + s] = a * d[base + s] + b * (in[base + s] - m) + c0;
      }
    }
  });
}

// ---- convolution ----

namespace {

// Columns [cin_per_group * kh * kw, out_h * out_w] of one image's channel group.
template <typename T>
void im2col(const T* image, T* columns, int64_t channels, const Conv2dShape& s) {
  const int64_t out_plane = s.out_h * s.out_w;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t ky = 0; ky < s.kernel_h; ++ky)
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        T* row = columns + ((c * s.kernel_h + ky) * s.kernel_w + kx) * out_plane;
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
          const int64_t iy = oy * s.stride - s.padding + ky;
          for (int64_t ox = 0; ox < s.out_w; ++ox) {
            const int64_t ix = ox * s.stride - s.padding + kx;
            const bool inside = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w;
            row[oy * s.out_w + ox] = inside ? image[(c * s.in_h + iy) * s.in_w + ix] : T(0);
          }
        }
      }
}

// The adjoint of im2col: accumulate columns back into the image.
template <typename T>
void col2im(const T* columns, T* image, int64_t channels, const Conv2dShape& s) {
  const int64_t out_plane = s.out_h * s.out_w;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t ky = 0; ky < s.kernel_h; ++ky)
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        const T* row = columns + ((c * s.kernel_h + ky) * s.kernel_w + kx) * out_plane;
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
          const int64_t iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.in_h) continue;
          for (int64_t ox = 0; ox < s.out_w; ++ox) {
            const int64_t ix = ox * s.stride - s.padding + kx;
            if (ix >= 0 && ix < s.in_w) image[(c * s.in_h + iy) * s.in_w + ix] += row[oy * s.out_w + ox];
          }
        }
      }
}

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride == 1 && s.padding == 0;
}

// C[m, n] = op(A) op(B) (+ C when accumulate), single-threaded inside a parallel region.
template <typename T>
void small_gemm(CpuBackend& backend, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a,
                const T* b, T* c, bool accumulate) {
  GemmShape shape;
  shape.trans_a = trans_a;
  shape.trans_b = trans_b;
  shape.m = m;
  shape.n = n;
  shape.k = k;
  shape.beta = accumulate ? 1.0 : 0.0;
  // Wrap raw pointers in non-owning tensors so the GEMM dispatch is shared.
  auto wrap = [](const T* p, int64_t count) {
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = {count};
    impl->dtype = dtype_of<T>();
    impl->storage = std::make_shared<Storage>(const_cast<T*>(p), static_cast<size_t>(count) * sizeof(T),
                                              Device::cpu(), nullptr);
    return Tensor(std::move(impl));
  };
  Tensor ta = wrap(a, m * k), tb = wrap(b, k * n), tc = wrap(c, m * n);
  backend.gemm(shape, ta, tb, tc);
}

}  // namespace

void CpuBackend::conv2d(const Tensor& x, const Tensor& weight, Tensor& out, const Conv2dShape& s) {
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw_data());
    const T* wp = static_cast<const T*>(weight.raw_data());
    T* yp = static_cast<T*>(out.raw_data());
    if (is_depthwise(s)) return depthwise_forward(xp, wp, yp, s);
    const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
    const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
    const bool pointwise = is_pointwise(s);
#pragma omp parallel
    {
      std::vector<T> columns(pointwise ? 0 : static_cast<size_t>(patch * out_plane));
#pragma omp for schedule(static)
      for (int64_t n = 0; n < s.batch; ++n)
        for (int64_t g = 0; g < s.groups; ++g) {
          const T* image = xp + (n * s.in_channels + g * cin) * s.in_h * s.in_w;
          if (!pointwise) im2col(image, columns.data(), cin, s);
          small_gemm<T>(*this, false, false, cout, out_plane, patch, wp + g * cout * patch,
                        pointwise ? image : columns.data(), yp + (n * s.out_channels + g * cout) * out_plane, false);
        }
    }
  });
}

void CpuBackend::conv2d_backward_input(const Tensor& dy, const Tensor& weight, Tensor& dx, const Conv2dShape& s) {
  dispatch_floating(dy.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    const T* dyp = static_cast<const T*>(dy.raw_data());
    const T* wp = static_cast<const T*>(weight.raw_data());
    T* dxp = static_cast<T*>(dx.raw_data());
    if (is_depthwise(s)) return depthwise_backward_input<T>(dyp, wp, dxp, s);
    std::fill(dxp, dxp + dx.numel(), T(0));
    const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
    const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
    const bool pointwise = is_pointwise(s);
#pragma omp parallel
    {
      std::vector<T> columns(pointwise ? 0 : static_cast<size_t>(patch * out_plane));
#pragma omp for schedule(static)
      for (int64_t n = 0; n < s.batch; ++n)
        for (int64_t g = 0; g < s.groups; ++g) {
          T* image_grad = dxp + (n * s.in_channels + g * cin) * s.in_h * s.in_w;
          const T* grad = dyp + (n * s.out_channels + g * cout) * out_plane;
          // columns = W_g^T dy: [patch, cout] x [cout, out_plane]
          small_gemm<T>(*this, true, false, patch, out_plane, cout, wp + g * cout * patch, grad,
                        pointwise ? image_grad : columns.data(), false);
          if (!pointwise) col2im(columns.data(), image_grad, cin, s);
        }
    }
  });
}

void CpuBackend::conv2d_backward_weight(const Tensor& dy, const Tensor& x, Tensor& dweight, const Conv2dShape& s) {
  dispatch_floating(dy.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    const T* dyp = static_cast<const T*>(dy.raw_data());
    const T* xp = static_cast<const T*>(x.raw_data());
    T* dwp = static_cast<T*>(dweight.raw_data());
    const int64_t total = dweight.numel();
    if (is_depthwise(s)) return depthwise_backward_weight<T>(dyp, xp, dwp, s);
    std::fill(dwp, dwp + total, T(0));
    const int64_t cin = s.in_channels / s.groups, cout = s.out_channels / s.groups;
    const int64_t patch = cin * s.kernel_h * s.kernel_w, out_plane = s.out_h * s.out_w;
    const bool pointwise = is_pointwise(s);
    // Each thread sums its static share of the batch into its own buffer; the buffers are then
    // added in thread order, so the result is deterministic for a given thread count.
    const int threads = omp_get_max_threads();
    std::vector<std::vector<T>> partial(static_cast<size_t>(threads), std::vector<T>(static_cast<size_t>(total), T(0)));
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> columns(pointwise ? 0 : static_cast<size_t>(patch * out_plane));
      T* mine = partial[static_cast<size_t>(omp_get_thread_num())].data();
#pragma omp for schedule(static)
      for (int64_t n = 0; n < s.batch; ++n)
        for (int64_t g = 0; g < s.groups; ++g) {
          const T* image = xp + (n * s.in_channels + g * cin) * s.in_h * s.in_w;
          if (!pointwise) im2col(image, columns.data(), cin, s);
          // dW_g += dy_g [cout, out_plane] x columns^T [out_plane, patch]
          small_gemm<T>(*this, false, true, cout, patch, out_plane, dyp + (n * s.out_channels + g * cout) * out_plane,
                        pointwise ? image : columns.data(), mine + g * cout * patch, true);
        }
    }
    for (const auto& buffer : partial)
      for (int64_t i = 0; i < total; ++i) dwp[i] += buffer[static_cast<size_t>(i)];
  });
}

// ---- pooling ----

void CpuBackend::pool2d(PoolKind kind, const Tensor& x, Tensor& out, Tensor& argmax, const Pool2dShape& s) {
  dispatch_floating(x.dtype(), "pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    T* y = static_cast<T*>(out.raw_data());
    int64_t* best_at = argmax.defined() ? argmax.data<int64_t>() : nullptr;
    const int64_t planes = s.batch * s.channels;
    const kernels::PoolWindow window{s.in_h, s.in_w, s.kernel, s.stride, s.padding};
#pragma omp parallel for schedule(static) if (planes * s.out_h * s.out_w > kParallelGrain)
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = in + p * s.in_h * s.in_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          const kernels::PoolWindowResult<T> r = kernels::pool_window(plane, window, oy, ox);
          const int64_t at = (p * s.out_h + oy) * s.out_w + ox;
          // Average pooling divides by the full window (padding counts as zeros), as PyTorch's default.
          y[at] = kind == PoolKind::Max ? (r.argmax < 0 ? -std::numeric_limits<T>::infinity() : r.max)
                                        : r.sum / static_cast<T>(s.kernel * s.kernel);
          if (best_at) best_at[at] = r.argmax;
        }
    }
  });
}

// x and y are not needed: the argmax routes max pooling's gradient.
void CpuBackend::pool2d_backward(PoolKind kind, const Tensor& /*x*/, const Tensor& /*y*/, const Tensor& dy,
                                 const Tensor& argmax, Tensor& dx, const Pool2dShape& s) {
  dispatch_floating(dy.dtype(), "pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* grad = static_cast<const T*>(dy.raw_data());
    T* dxp = static_cast<T*>(dx.raw_data());
    std::fill(dxp, dxp + dx.numel(), T(0));
    const int64_t* best_at = argmax.defined() ? argmax.data<int64_t>() : nullptr;
    const int64_t planes = s.batch * s.channels;
    const T inv_window = T(1) / static_cast<T>(s.kernel * s.kernel);
#pragma omp parallel for schedule(static) if (planes * s.out_h * s.out_w > kParallelGrain)
    for (int64_t p = 0; p < planes; ++p) {
      T* plane = dxp + p * s.in_h * s.in_w;
      for (int64_t oy = 0; oy < s.out_h; ++oy)
        for (int64_t ox = 0; ox < s.out_w; ++ox) {
          const int64_t at = (p * s.out_h + oy) * s.out_w + ox;
          if (kind == PoolKind::Max) {
            if (best_at[at] >= 0) plane[best_at[at]] += grad[at];
            continue;
          }
          for (int64_t ky = 0; ky < s.kernel; ++ky) {
            const int64_t iy = oy * s.stride - s.padding + ky;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int64_t kx = 0; kx < s.kernel; ++kx) {
              const int64_t ix = ox * s.stride - s.padding + kx;
              if (ix >= 0 && ix < s.in_w) plane[iy * s.in_w + ix] += grad[at] * inv_window;
            }
          }
        }
    }
  });
}

}  // namespace sparsecap::cpu
