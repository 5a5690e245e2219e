#include "engine/cpu/batched_gemm.h"

#include <map>
#include <mutex>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/error.h"

namespace sparsecap::cpu {

namespace {

using Dims = dnnl::memory::dims;

// Everything that fixes a primitive: transposes, sizes, which operand is shared, beta.
using PrimitiveKey = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, bool, bool, bool>;

PrimitiveKey key_of(const GemmShape& s) {
  return {s.trans_a, s.trans_b, s.batch, s.m, s.n, s.k, s.a_batch_stride == 0, s.b_batch_stride == 0, s.beta != 0.0};
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// [batch or 1, rows, cols] of a matrix stored row-major [rows, cols], or [cols, rows] when
// transposed (then read through its strides, not copied).
dnnl::memory::desc operand_desc(int64_t batch, int64_t batch_stride, int64_t rows, int64_t cols, bool transposed) {
  const Dims dims = {batch_stride == 0 ? 1 : batch, rows, cols};
  const Dims strides = {batch_stride == 0 ? rows * cols : batch_stride, transposed ? 1 : cols, transposed ? rows : 1};
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

struct BatchedMatmul {
  dnnl::memory::desc a, b, c;
  dnnl::matmul primitive;
};

BatchedMatmul make_batched_matmul(const GemmShape& s) {
  BatchedMatmul made;
  made.a = operand_desc(s.batch, s.a_batch_stride, s.m, s.k, s.trans_a);
  made.b = operand_desc(s.batch, s.b_batch_stride, s.k, s.n, s.trans_b);
  made.c = dnnl::memory::desc({s.batch, s.m, s.n}, dnnl::memory::data_type::f32, Dims{s.c_batch_stride, s.n, 1});
  dnnl::primitive_attr attributes;
  if (s.beta != 0.0) {
    dnnl::post_ops accumulate;
    accumulate.append_sum(1.0f);
    attributes.set_post_ops(accumulate);
  }
  const dnnl::matmul::desc description(made.a, made.b, made.c);
  made.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(description, attributes, cpu_engine()));
  return made;
}

// Caption lengths and region counts vary, so shapes do too; the cache is emptied when it grows
// past this many primitives.
constexpr size_t kMaxCachedPrimitives = 512;

// A copy (primitives and descriptors are shared handles), so a later clear() cannot pull it away.
BatchedMatmul cached_batched_matmul(const GemmShape& s) {
  static std::mutex mutex;
  static std::map<PrimitiveKey, BatchedMatmul> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  const PrimitiveKey key = key_of(s);
  auto found = cache.find(key);
  if (found != cache.end()) return found->second;
  if (cache.size() >= kMaxCachedPrimitives) cache.clear();
  return cache.emplace(key, make_batched_matmul(s)).first->second;
}

}  // namespace

void batched_sgemm(const GemmShape& s, const float* a, const float* b, float* c) {
  SPARSECAP_CHECK(s.alpha == 1.0 && (s.beta == 0.0 || s.beta == 1.0), "batched_sgemm: alpha must be 1 and beta 0 or 1, got ",
                  s.alpha, " and ", s.beta);
  SPARSECAP_CHECK(s.c_batch_stride == s.m * s.n, "batched_sgemm: C must be dense [batch, m, n]");
  const BatchedMatmul matmul = cached_batched_matmul(s);
  dnnl::memory a_memory(matmul.a, cpu_engine(), const_cast<float*>(a));
  dnnl::memory b_memory(matmul.b, cpu_engine(), const_cast<float*>(b));
  dnnl::memory c_memory(matmul.c, cpu_engine(), c);
  dnnl::stream stream(cpu_engine());
  matmul.primitive.execute(stream, {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, c_memory}});
  stream.wait();
}

}  // namespace sparsecap::cpu
