// Memory, fills, casts, random fills, layout copies, indexing and optimizer updates on the CPU.
#include "engine/cpu/cpu_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "engine/cpu/dispatch.h"
#include "engine/kernels/optimizer.h"
#include "engine/kernels/philox.h"

namespace sparsecap::cpu {

CpuBackend::CpuBackend() {
#if defined(__GLIBC__)
  // Keep large freed blocks in the heap instead of returning them to the system: every op
  // allocates its output, and glibc serves blocks above its mmap threshold with fresh pages, so a
  // 64 MB activation would page-fault on every step. The process keeps its peak footprint.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

std::shared_ptr<Storage> CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment: whole cache lines and aligned AVX-512 loads.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = rounded ? std::aligned_alloc(64, rounded) : nullptr;
  SPARSECAP_CHECK(rounded == 0 || data != nullptr, "out of host memory allocating ", bytes, " bytes");
  return std::make_shared<Storage>(data, bytes, Device::cpu(), [](void* p) { std::free(p); });
}

void CpuBackend::copy_within(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
}
void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) { copy_within(dst, src, bytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) { copy_within(dst, src, bytes); }

namespace {

// Calls fn(T{}) for the C++ type of any dtype; F16 is handled by the callers that support it.
template <typename Fn>
void dispatch_any(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    case DType::I32: fn(int32_t{}); return;
    case DType::I64: fn(int64_t{}); return;
    case DType::U8: fn(uint8_t{}); return;
    case DType::U16: fn(uint16_t{}); return;
    case DType::Bool: fn(bool{}); return;
    case DType::F16: break;
  }
  throw Error("float16 is a storage type: convert it with to(DType::F32) first");
}

// Element i as double, for casts from any dtype (F16 widened through the half conversion).
double read_as_double(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::F16) return half_to_float(static_cast<const uint16_t*>(t.raw_data())[i]);
  double value = 0;
  dispatch_any(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    value = static_cast<double>(static_cast<const T*>(t.raw_data())[i]);
  });
  return value;
}

void write_from_double(Tensor& t, int64_t i, double value) {
  if (t.dtype() == DType::F16) {
    static_cast<uint16_t*>(t.raw_data())[i] = float_to_half(static_cast<float>(value));
    return;
  }
  dispatch_any(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(t.raw_data())[i] = static_cast<T>(value);
  });
}

}  // namespace

void CpuBackend::fill(Tensor& out, double value) {
  const int64_t n = out.numel();
  if (out.dtype() == DType::F16) {
    const uint16_t bits = float_to_half(static_cast<float>(value));
    uint16_t* p = static_cast<uint16_t*>(out.raw_data());
    std::fill(p, p + n, bits);
    return;
  }
  dispatch_any(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(out.raw_data());
    const T v = static_cast<T>(value);
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void CpuBackend::cast(const Tensor& in, Tensor& out) {
  const int64_t n = in.numel();
  if (in.dtype() == DType::F32 && out.dtype() == DType::F64) {  // the common gradient-check path
    const float* src = in.data<float>();
    double* dst = out.data<double>();
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) write_from_double(out, i, read_as_double(in, i));
}

void CpuBackend::random_fill(Tensor& out, RandomKind kind, uint64_t seed, uint64_t stream, uint64_t offset,
                             double p) {
  const int64_t n = out.numel();
  dispatch_floating(out.dtype(), "random_fill", [&](auto tag) {
    using T = decltype(tag);
    T* dst = static_cast<T*>(out.raw_data());
    const float probability = static_cast<float>(p);
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t at = offset + static_cast<uint64_t>(i);
      switch (kind) {
        case RandomKind::Uniform: dst[i] = T(kernels::philox_uniform(seed, stream, at)); break;
        case RandomKind::Normal: dst[i] = T(kernels::philox_normal(seed, stream, at)); break;
        case RandomKind::Bernoulli:
          dst[i] = kernels::philox_bernoulli(seed, stream, at, probability) ? T(1) : T(0);
          break;
      }
    }
  });
}

void CpuBackend::transpose(const Tensor& in, Tensor& out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                           int64_t inner) {
  const size_t element = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  const int64_t block = inner * static_cast<int64_t>(element);
#pragma omp parallel for collapse(2) schedule(static) if (outer * d0 * middle * d1 * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < d0; ++i) {
      for (int64_t m = 0; m < middle; ++m) {
        for (int64_t j = 0; j < d1; ++j) {
          const int64_t from = (((o * d0 + i) * middle + m) * d1 + j) * block;
          const int64_t to = (((o * d1 + j) * middle + m) * d0 + i) * block;
          std::memcpy(dst + to, src + from, static_cast<size_t>(block));
        }
      }
    }
  }
}

void CpuBackend::copy_blocks(const Tensor& in, Tensor& out, int64_t outer, int64_t length, int64_t in_stride,
                             int64_t in_offset, int64_t out_stride, int64_t out_offset) {
  const int64_t element = static_cast<int64_t>(dtype_size(in.dtype()));
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
#pragma omp parallel for schedule(static) if (outer * length > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + (o * out_stride + out_offset) * element, src + (o * in_stride + in_offset) * element,
                static_cast<size_t>(length * element));
}

namespace {
void check_index(int64_t value, int64_t bound, const char* op) {
  SPARSECAP_CHECK(value >= 0 && value < bound, op, ": index ", value, " out of range [0, ", bound, ")");
}
}  // namespace

void CpuBackend::index_select_rows(const Tensor& table, const Tensor& index, Tensor& out, int64_t width) {
  const int64_t rows = table.numel() / std::max<int64_t>(width, 1);
  const int64_t n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) check_index(idx[i], rows, "index_select");
  const int64_t element = static_cast<int64_t>(dtype_size(table.dtype()));
  const char* src = static_cast<const char*>(table.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
#pragma omp parallel for schedule(static) if (n * width > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(dst + i * width * element, src + idx[i] * width * element, static_cast<size_t>(width * element));
}

void CpuBackend::index_add_rows(const Tensor& src, const Tensor& index, Tensor& table, int64_t width) {
  const int64_t rows = table.numel() / std::max<int64_t>(width, 1);
  const int64_t n = index.numel();
  const int64_t* idx = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) check_index(idx[i], rows, "index_add");
  dispatch_floating(src.dtype(), "index_add", [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src.raw_data());
    T* t = static_cast<T*>(table.raw_data());
    // Parallel over columns: every thread walks the indices in order, so repeated indices
    // accumulate without races and in a fixed order (deterministic).
#pragma omp parallel for schedule(static) if (n * width > kParallelGrain)
    for (int64_t c = 0; c < width; ++c)
      for (int64_t i = 0; i < n; ++i) t[idx[i] * width + c] += s[i * width + c];
  });
}

void CpuBackend::gather_columns(const Tensor& in, const Tensor& index, Tensor& out, int64_t rows, int64_t n,
                                int64_t k) {
  const int64_t* idx = index.data<int64_t>();
  for (int64_t i = 0; i < rows * k; ++i) check_index(idx[i], n, "gather");
  dispatch_floating(in.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) dst[r * k + j] = src[r * n + idx[r * k + j]];
  });
}

namespace {

// Argmax's order: a NaN ranks before any number (the first NaN before later ones), then larger
// values, then lower indices. Strict, so each pass of top_k_rows can start after the last pick.
template <typename T>
bool ranks_before(T a, int64_t a_index, T b, int64_t b_index) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan != b_nan) return a_nan;
  if (!a_nan && a != b) return a > b;
  return a_index < b_index;
}

}  // namespace

void CpuBackend::top_k_rows(const Tensor& in, Tensor& values, Tensor& indices, int64_t rows, int64_t n, int64_t k) {
  int64_t* picked = indices.data<int64_t>();
  dispatch_floating(in.dtype(), "top_k", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.raw_data());
    T* best_values = static_cast<T*>(values.raw_data());
    // k passes over the row, each taking the best entry ranked after the previous pick: k is the
    // beam search's few candidates, so no sort of the whole row.
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = src + r * n;
      for (int64_t pass = 0; pass < k; ++pass) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; ++i) {
          if (pass > 0 && !ranks_before(best_values[r * k + pass - 1], picked[r * k + pass - 1], row[i], i)) continue;
          if (best < 0 || ranks_before(row[i], i, row[best], best)) best = i;
        }
        best_values[r * k + pass] = row[best];
        picked[r * k + pass] = best;
      }
    }
  });
}

void CpuBackend::scatter_add_columns(const Tensor& grad_out, const Tensor& index, Tensor& grad_in, int64_t rows,
                                     int64_t n, int64_t k) {
  const int64_t* idx = index.data<int64_t>();
  dispatch_floating(grad_out.dtype(), "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(grad_out.raw_data());
    T* dst = static_cast<T*>(grad_in.raw_data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j) dst[r * n + idx[r * k + j]] += src[r * k + j];
  });
}

void CpuBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamStep& step) {
  const kernels::AdamCoefficients c = adam_coefficients(step);
  const int64_t n = param.numel();
  dispatch_floating(param.dtype(), "adam_step", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param.raw_data());
    const T* g = static_cast<const T*>(grad.raw_data());
    T* mp = static_cast<T*>(m.raw_data());
    T* vp = static_cast<T*>(v.raw_data());
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) kernels::adam_update(p[i], g[i], mp[i], vp[i], c);
  });
}

}  // namespace sparsecap::cpu
