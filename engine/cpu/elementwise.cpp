// Elementwise ops on the CPU: loops over the shared functors, with NumPy broadcasting.
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/dispatch.h"

namespace sparsecap::cpu {

namespace {

using kernels::ScalarParams;

template <typename T, typename F>
SPARSECAP_VECTOR_CLONES void unary_loop(const T* x, T* y, int64_t n, ScalarParams params) {
  const F f{};
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i], params);
}

// Operand layout after broadcasting: per output dimension, the element stride of each input
// (0 along broadcast dimensions). Adjacent dimensions that are contiguous in both inputs are
// merged, so most cases end as one long inner loop.
struct BroadcastPlan {
  std::vector<int64_t> sizes, a_strides, b_strides;
};

std::vector<int64_t> aligned_strides(const Shape& input, const Shape& out) {
  const size_t rank = out.size(), offset = rank - input.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t running = 1;
  for (size_t i = rank; i-- > offset;) {
    const int64_t size = input[i - offset];
    strides[i] = size == 1 ? 0 : running;
    running *= size;
  }
  return strides;
}

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const std::vector<int64_t> sa = aligned_strides(a, out), sb = aligned_strides(b, out);
  BroadcastPlan plan;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;  // size-1 dims contribute nothing
    if (!plan.sizes.empty()) {
      const int64_t size = out[i];
      int64_t& last_a = plan.a_strides.back();
      int64_t& last_b = plan.b_strides.back();
      if (last_a == sa[i] * size && last_b == sb[i] * size) {
        plan.sizes.back() *= size;
        last_a = sa[i];
        last_b = sb[i];
        continue;
      }
    }
    plan.sizes.push_back(out[i]);
    plan.a_strides.push_back(sa[i]);
    plan.b_strides.push_back(sb[i]);
  }
  if (plan.sizes.empty()) {  // all dims of size 1: a single element
    plan.sizes = {1};
    plan.a_strides = {0};
    plan.b_strides = {0};
  }
  return plan;
}

template <typename T, typename F>
SPARSECAP_VECTOR_CLONES void binary_loop(const T* a, const T* b, T* out, const BroadcastPlan& plan, int64_t total, ScalarParams params) {
  const F f{};
  const size_t rank = plan.sizes.size();
  const int64_t inner = plan.sizes[rank - 1];
  const int64_t ia = plan.a_strides[rank - 1], ib = plan.b_strides[rank - 1];
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total > kParallelGrain)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset_a = 0, offset_b = 0, rest = row;
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t coordinate = rest % plan.sizes[d];
      rest /= plan.sizes[d];
      offset_a += coordinate * plan.a_strides[d];
      offset_b += coordinate * plan.b_strides[d];
    }
    const T* pa = a + offset_a;
    const T* pb = b + offset_b;
    T* po = out + row * inner;
    if (ia == 1 && ib == 1) {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i], params);
    } else if (ia == 1 && ib == 0) {
      const T vb = *pb;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb, params);
    } else if (ia == 0 && ib == 1) {
      const T va = *pa;
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(va, pb[i], params);
    } else {
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i * ia], pb[i * ib], params);
    }
  }
}

}  // namespace

void CpuBackend::unary(kernels::UnaryOp op, const Tensor& x, Tensor& out, ScalarParams params) {
  dispatch_floating(x.dtype(), "unary op", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    const int64_t n = x.numel();
    switch (op) {
#define SPARSECAP_CASE(name) \
  case kernels::UnaryOp::name: unary_loop<T, kernels::name<T>>(src, dst, n, params); break;
      SPARSECAP_UNARY_OPS(SPARSECAP_CASE)
#undef SPARSECAP_CASE
    }
  });
}

void CpuBackend::binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, ScalarParams params) {
  const BroadcastPlan plan = plan_broadcast(a.shape(), b.shape(), out.shape());
  dispatch_floating(out.dtype(), "binary op", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    const int64_t total = out.numel();
    if (total == 0) return;
    switch (op) {
#define SPARSECAP_CASE(name) \
  case kernels::BinaryOp::name: binary_loop<T, kernels::name<T>>(pa, pb, po, plan, total, params); break;
      SPARSECAP_BINARY_OPS(SPARSECAP_CASE)
#undef SPARSECAP_CASE
    }
  });
}

}  // namespace sparsecap::cpu
