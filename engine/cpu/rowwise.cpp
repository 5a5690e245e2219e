// Row-wise nn primitives on the CPU: softmax (plain, log, masked), fused cross-entropy and layer
// norm, one row per loop iteration, rows spread over the cores.
#include <cmath>
#include <limits>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"
#include "engine/kernels/rowwise.h"

namespace sparsecap::cpu {

void CpuBackend::softmax(const Tensor& x, const Tensor& mask, Tensor& out, int64_t rows, int64_t cols, bool log) {
  const int64_t mask_rows = mask.defined() ? mask.numel() / std::max<int64_t>(cols, 1) : 0;
  const int64_t group = mask_rows ? rows / mask_rows : 1;
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    const T* valid = mask.defined() ? static_cast<const T*>(mask.raw_data()) : nullptr;
    T* y = static_cast<T*>(out.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = in + r * cols;
      const T* keep = valid ? valid + (r / group) * cols : nullptr;
      T* dst = y + r * cols;
      T row_max = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < cols; ++c)
        if (!keep || keep[c] != T(0)) row_max = std::max(row_max, row[c]);
      if (row_max == -std::numeric_limits<T>::infinity()) {  // every position masked: all zeros
        for (int64_t c = 0; c < cols; ++c) dst[c] = log ? -std::numeric_limits<T>::infinity() : T(0);
        continue;
      }
      T row_sum = 0;
      for (int64_t c = 0; c < cols; ++c)
        if (!keep || keep[c] != T(0)) row_sum += kernels::exp(row[c] - row_max);
      for (int64_t c = 0; c < cols; ++c) {
        const bool masked = keep && keep[c] == T(0);
        dst[c] = masked ? (log ? -std::numeric_limits<T>::infinity() : T(0))
                        : kernels::softmax_value(row[c], row_max, row_sum, log);
      }
    }
  });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, int64_t rows, int64_t cols,
                                  bool log) {
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* yp = static_cast<const T*>(y.raw_data());
    const T* dyp = static_cast<const T*>(dy.raw_data());
    T* dxp = static_cast<T*>(dx.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* yr = yp + r * cols;
      const T* dyr = dyp + r * cols;
      T dot = 0;
      for (int64_t c = 0; c < cols; ++c) dot += log ? dyr[c] : dyr[c] * yr[c];
      for (int64_t c = 0; c < cols; ++c) {
        // Masked positions (y = 0, or -inf in log space) get no gradient.
        const bool masked = log ? std::isinf(yr[c]) : false;
        dxp[r * cols + c] = masked ? T(0) : kernels::softmax_grad(yr[c], dyr[c], dot, log);
      }
    }
  });
}

void CpuBackend::cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& losses, Tensor& lse,
                               int64_t rows, int64_t cols, int64_t ignore_index) {
  const int64_t* target = targets.data<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    SPARSECAP_CHECK(target[r] == ignore_index || (target[r] >= 0 && target[r] < cols), "cross_entropy: target ",
                    target[r], " at row ", r, " outside [0, ", cols, ")");
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(logits.raw_data());
    T* loss = static_cast<T*>(losses.raw_data());
    T* lse_out = static_cast<T*>(lse.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = in + r * cols;
      T row_max = -std::numeric_limits<T>::infinity();
      for (int64_t c = 0; c < cols; ++c) row_max = std::max(row_max, row[c]);
      T row_sum = 0;
      for (int64_t c = 0; c < cols; ++c) row_sum += kernels::exp(row[c] - row_max);
      const T log_sum_exp = row_max + std::log(row_sum);
      lse_out[r] = log_sum_exp;
      loss[r] = target[r] == ignore_index ? T(0) : log_sum_exp - row[target[r]];
    }
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                        Tensor& dlogits, int64_t rows, int64_t cols, int64_t ignore_index,
                                        double scale) {
  const int64_t* target = targets.data<int64_t>();
  dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(logits.raw_data());
    const T* lse_in = static_cast<const T*>(lse.raw_data());
    T* grad = static_cast<T*>(dlogits.raw_data());
    const T s = static_cast<T>(scale);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      T* dst = grad + r * cols;
      if (target[r] == ignore_index) {
        for (int64_t c = 0; c < cols; ++c) dst[c] = T(0);
        continue;
      }
      const T* row = in + r * cols;
      for (int64_t c = 0; c < cols; ++c) dst[c] = kernels::cross_entropy_grad(row[c], lse_in[r], c == target[r], s);
    }
  });
}

void CpuBackend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& out, Tensor& mean,
                            Tensor& rstd, int64_t rows, int64_t cols, double eps) {
  dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    const T* g = static_cast<const T*>(gamma.raw_data());
    const T* b = static_cast<const T*>(beta.raw_data());
    T* y = static_cast<T*>(out.raw_data());
    T* mean_out = static_cast<T*>(mean.raw_data());
    T* rstd_out = static_cast<T*>(rstd.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = in + r * cols;
      double total = 0, total_sq = 0;
      for (int64_t c = 0; c < cols; ++c) total += row[c];
      const double mu = total / static_cast<double>(cols);
      for (int64_t c = 0; c < cols; ++c) total_sq += (row[c] - mu) * (row[c] - mu);
      const T m = static_cast<T>(mu);
      const T inv = static_cast<T>(1.0 / std::sqrt(total_sq / static_cast<double>(cols) + eps));
      mean_out[r] = m;
      rstd_out[r] = inv;
      for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = kernels::layer_norm_value(row[c], m, inv, g[c], b[c]);
    }
  });
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                                     const Tensor& dy, Tensor& dx, Tensor& dgamma, Tensor& dbeta, int64_t rows,
                                     int64_t cols) {
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x.raw_data());
    const T* g = static_cast<const T*>(gamma.raw_data());
    const T* mu = static_cast<const T*>(mean.raw_data());
    const T* inv = static_cast<const T*>(rstd.raw_data());
    const T* d = static_cast<const T*>(dy.raw_data());
    T* dxp = static_cast<T*>(dx.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      double mean_g = 0, mean_g_xhat = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double gc = d[r * cols + c] * g[c];
        mean_g += gc;
        mean_g_xhat += gc * (in[r * cols + c] - mu[r]) * inv[r];
      }
      mean_g /= static_cast<double>(cols);
      mean_g_xhat /= static_cast<double>(cols);
      for (int64_t c = 0; c < cols; ++c) {
        const T xhat = (in[r * cols + c] - mu[r]) * inv[r];
        dxp[r * cols + c] = kernels::layer_norm_grad(d[r * cols + c] * g[c], xhat, static_cast<T>(mean_g),
                                                     static_cast<T>(mean_g_xhat), inv[r]);
      }
    }
    // Parameter gradients: column sums over rows (in row order: deterministic).
    T* dg = static_cast<T*>(dgamma.raw_data());
    T* db = static_cast<T*>(dbeta.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t c = 0; c < cols; ++c) {
      double sum_g = 0, sum_b = 0;
      for (int64_t r = 0; r < rows; ++r) {
        sum_g += d[r * cols + c] * (in[r * cols + c] - mu[r]) * inv[r];
        sum_b += d[r * cols + c];
      }
      dg[c] = static_cast<T>(sum_g);
      db[c] = static_cast<T>(sum_b);
    }
  });
}

}  // namespace sparsecap::cpu
