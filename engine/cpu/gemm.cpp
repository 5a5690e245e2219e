// GEMM on the CPU: float32 through oneDNN's dnnl_sgemm (row-major, ~95% of FMA peak on this
// class of machine), a batch of them as one oneDNN matmul call (engine/cpu/batched_gemm.h);
// float64, used only by gradient checks, through a plain loop.
#include <oneapi/dnnl/dnnl.h>

#include "engine/cpu/batched_gemm.h"
#include "engine/cpu/cpu_backend.h"

namespace sparsecap::cpu {

namespace {

void sgemm(const GemmShape& s, const float* a, const float* b, float* c) {
  const int64_t lda = s.trans_a ? s.m : s.k;
  const int64_t ldb = s.trans_b ? s.k : s.n;
  const dnnl_status_t status =
      dnnl_sgemm(s.trans_a ? 'T' : 'N', s.trans_b ? 'T' : 'N', s.m, s.n, s.k, static_cast<float>(s.alpha), a, lda, b,
                 ldb, static_cast<float>(s.beta), c, s.n);
  SPARSECAP_CHECK(status == dnnl_success, "dnnl_sgemm failed with status ", static_cast<int>(status), " for m=", s.m,
                  " n=", s.n, " k=", s.k);
}

void dgemm(const GemmShape& s, const double* a, const double* b, double* c) {
#pragma omp parallel for schedule(static) if (s.m * s.n * s.k > kParallelGrain)
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double total = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double av = s.trans_a ? a[p * s.m + i] : a[i * s.k + p];
        const double bv = s.trans_b ? b[j * s.k + p] : b[p * s.n + j];
        total += av * bv;
      }
      c[i * s.n + j] = s.alpha * total + (s.beta == 0.0 ? 0.0 : s.beta * c[i * s.n + j]);
    }
  }
}

}  // namespace

void CpuBackend::gemm(const GemmShape& shape, const Tensor& a, const Tensor& b, Tensor& c) {
  if (shape.m == 0 || shape.n == 0) return;
  if (c.dtype() == DType::F32 && shape.batch > 1 && shape.alpha == 1.0 && (shape.beta == 0.0 || shape.beta == 1.0)) {
    batched_sgemm(shape, a.data<float>(), b.data<float>(), c.data<float>());
    return;
  }
  for (int64_t i = 0; i < shape.batch; ++i) {
    if (c.dtype() == DType::F32) {
      sgemm(shape, a.data<float>() + i * shape.a_batch_stride, b.data<float>() + i * shape.b_batch_stride,
            c.data<float>() + i * shape.c_batch_stride);
    } else if (c.dtype() == DType::F64) {
      dgemm(shape, a.data<double>() + i * shape.a_batch_stride, b.data<double>() + i * shape.b_batch_stride,
            c.data<double>() + i * shape.c_batch_stride);
    } else {
      throw Error(detail::concat("gemm: unsupported dtype ", dtype_name(c.dtype())));
    }
  }
}

}  // namespace sparsecap::cpu
