// Elementwise, fill/cast/random, layout and indexing kernels. The arithmetic is the engine's:
// the functors of engine/kernels/elementwise.h, Philox of engine/kernels/philox.h and Adam of
// engine/kernels/optimizer.h, the same code the CPU backend loops over.
#include <cuda_fp16.h>

#include <cstring>
#include <optional>

#include "cuda/kernels/kernels.h"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/vector_access.cuh"
#include "engine/kernels/philox.h"

namespace sparsecap::cuda::launchers {

namespace {

// Grid-stride loop index helpers: int64 so tensors above 2^31 elements work.
__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Unsigned integer of a given width, used to move elements as raw bits.
template <size_t Bytes> struct BitsOf;
template <> struct BitsOf<1> { using type = uint8_t; };
template <> struct BitsOf<2> { using type = uint16_t; };
template <> struct BitsOf<4> { using type = uint32_t; };
template <> struct BitsOf<8> { using type = uint64_t; };

// Calls fn(BitsOf<w>::type{}) for an element width of 1, 2, 4 or 8 bytes.
template <typename Fn>
void dispatch_width(size_t element_bytes, const char* what, Fn&& fn) {
  switch (element_bytes) {
    case 1: fn(uint8_t{}); return;
    case 2: fn(uint16_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: throw Error(::sparsecap::detail::concat(what, ": unsupported element size ", element_bytes, " bytes"));
  }
}

// ---- fill, cast, random ----

template <typename Bits>
__global__ void fill_kernel(Bits* out, int64_t n, Bits bits) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = bits;
}

// 16 bytes of the pattern per store; the last elements that do not fill a whole vector go to the
// first threads.
template <typename Bits>
__global__ void fill_vector_kernel(Bits* out, int64_t n, Bits bits, uint4 pattern) {
  constexpr int64_t per_vector = sizeof(uint4) / sizeof(Bits);
  const int64_t vectors = n / per_vector;
  uint4* out_vectors = reinterpret_cast<uint4*>(out);
  for (int64_t i = first_index(); i < vectors; i += grid_stride()) out_vectors[i] = pattern;
  const int64_t tail = vectors * per_vector + first_index();
  if (tail < n) out[tail] = bits;
}

__device__ double load_as_double(const void* in, ElementType type, int64_t i) {
  switch (type) {
    case ElementType::F16: return __half2float(__ushort_as_half(static_cast<const unsigned short*>(in)[i]));
    case ElementType::F32: return static_cast<const float*>(in)[i];
    case ElementType::F64: return static_cast<const double*>(in)[i];
    case ElementType::I32: return static_cast<double>(static_cast<const int32_t*>(in)[i]);
    case ElementType::I64: return static_cast<double>(static_cast<const int64_t*>(in)[i]);
    case ElementType::U8: return static_cast<const uint8_t*>(in)[i];
    case ElementType::U16: return static_cast<const uint16_t*>(in)[i];
    case ElementType::Bool: return static_cast<const bool*>(in)[i] ? 1.0 : 0.0;
  }
  return 0.0;
}

// Conversions as the CPU's static_cast<T>(double) (F16 through float, round to nearest even).
__device__ void store_from_double(void* out, ElementType type, int64_t i, double value) {
  switch (type) {
    case ElementType::F16:
      static_cast<unsigned short*>(out)[i] = __half_as_ushort(__float2half_rn(static_cast<float>(value)));
      return;
    case ElementType::F32: static_cast<float*>(out)[i] = static_cast<float>(value); return;
    case ElementType::F64: static_cast<double*>(out)[i] = value; return;
    case ElementType::I32: static_cast<int32_t*>(out)[i] = static_cast<int32_t>(value); return;
    case ElementType::I64: static_cast<int64_t*>(out)[i] = static_cast<int64_t>(value); return;
    case ElementType::U8: static_cast<uint8_t*>(out)[i] = static_cast<uint8_t>(value); return;
    case ElementType::U16: static_cast<uint16_t*>(out)[i] = static_cast<uint16_t>(value); return;
    case ElementType::Bool: static_cast<bool*>(out)[i] = static_cast<bool>(value); return;
  }
}

// One kernel for every pair of dtypes (a runtime switch per element): casts are rare and
// memory-bound, and 64 template instantiations would cost minutes of compile time.
__global__ void cast_kernel(const void* in, ElementType in_type, void* out, ElementType out_type, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride())
    store_from_double(out, out_type, i, load_as_double(in, in_type, i));
}

__global__ void random_kernel(void* out, bool out_is_double, int64_t n, RandomDistribution distribution,
                              uint64_t seed, uint64_t stream_id, uint64_t offset, float probability) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const uint64_t at = offset + static_cast<uint64_t>(i);
    float value = 0.0f;
    switch (distribution) {
      case RandomDistribution::Uniform: value = sparsecap::kernels::philox_uniform(seed, stream_id, at); break;
      case RandomDistribution::Normal: value = sparsecap::kernels::philox_normal(seed, stream_id, at); break;
      case RandomDistribution::Bernoulli:
        value = sparsecap::kernels::philox_bernoulli(seed, stream_id, at, probability) ? 1.0f : 0.0f;
        break;
    }
    if (out_is_double)
      static_cast<double*>(out)[i] = value;
    else
      static_cast<float*>(out)[i] = value;
  }
}

__global__ void arange_kernel(int64_t* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = i;
}

// ---- elementwise over the functors ----

template <typename F>
__global__ void unary_kernel(const float* x, float* y, int64_t n, ScalarParams params) {
  const F f{};
  for (int64_t i = first_index(); i < n; i += grid_stride()) y[i] = f(x[i], params);
}

// Four elements per step (x and y 16-byte aligned); the last n % 4 go to the first threads.
template <typename F>
__global__ void unary_vector_kernel(const float* x, float* y, int64_t n, ScalarParams params) {
  const F f{};
  const int64_t vectors = n / kVectorFloats;
  for (int64_t i = first_index(); i < vectors; i += grid_stride()) {
    const float4 v = load_float4(x + i * kVectorFloats);
    store_float4(y + i * kVectorFloats, float4{f(v.x, params), f(v.y, params), f(v.z, params), f(v.w, params)});
  }
  const int64_t tail = vectors * kVectorFloats + first_index();
  if (tail < n) y[tail] = f(x[tail], params);
}

// Where item i of the layout's index space lies in a and in b. One dimension (same shapes, or a
// scalar operand) needs no division.
__device__ __forceinline__ void broadcast_offsets(const BroadcastLayout& layout, int64_t i, int64_t& offset_a,
                                                  int64_t& offset_b) {
  if (layout.rank == 1) {
    offset_a = i * layout.a_strides[0];
    offset_b = i * layout.b_strides[0];
    return;
  }
  offset_a = 0;
  offset_b = 0;
  int64_t rest = i;
  for (int d = layout.rank - 1; d >= 0; --d) {
    const int64_t coordinate = rest % layout.sizes[d];
    rest /= layout.sizes[d];
    offset_a += coordinate * layout.a_strides[d];
    offset_b += coordinate * layout.b_strides[d];
  }
}

template <typename F>
__global__ void binary_kernel(const float* a, const float* b, float* out, int64_t n, BroadcastLayout layout,
                              ScalarParams params) {
  const F f{};
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    int64_t offset_a, offset_b;
    broadcast_offsets(layout, i, offset_a, offset_b);
    out[i] = f(a[offset_a], b[offset_b], params);
  }
}

// Four consecutive outputs per step. `groups` is the layout of 4-element groups (see
// plan_vector_groups): an operand that steps along the innermost dimension is read as one float4
// (a_vector, b_vector), one that is broadcast along it as one float. With one dimension the last
// n % 4 outputs go to the first threads.
template <typename F>
__global__ void binary_vector_kernel(const float* a, const float* b, float* out, int64_t n, BroadcastLayout groups,
                                     bool a_vector, bool b_vector, ScalarParams params) {
  const F f{};
  const int64_t vectors = n / kVectorFloats;
  for (int64_t i = first_index(); i < vectors; i += grid_stride()) {
    int64_t offset_a, offset_b;
    broadcast_offsets(groups, i, offset_a, offset_b);
    const float4 x = a_vector ? load_float4(a + offset_a) : splat_float4(a[offset_a]);
    const float4 y = b_vector ? load_float4(b + offset_b) : splat_float4(b[offset_b]);
    store_float4(out + i * kVectorFloats,
                 float4{f(x.x, y.x, params), f(x.y, y.y, params), f(x.z, y.z, params), f(x.w, y.w, params)});
  }
  const int64_t tail = vectors * kVectorFloats + first_index();
  if (tail < n) out[tail] = f(a[a_vector ? tail : 0], b[b_vector ? tail : 0], params);
}

template <typename F>
__global__ void unary_chunks_kernel(const UnaryChunk* chunks, int64_t count, ScalarParams params) {
  const F f{};
  for (int64_t chunk = blockIdx.x; chunk < count; chunk += gridDim.x) {
    const UnaryChunk c = chunks[chunk];
    for (int64_t i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) c.data[i] = f(c.data[i], params);
  }
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, int64_t n, AdamCoefficients c) {
  for (int64_t i = first_index(); i < n; i += grid_stride())
    sparsecap::kernels::adam_update(param[i], grad[i], m[i], v[i], c);
}

__global__ void adam_chunks_kernel(const AdamChunk* chunks, int64_t count) {
  for (int64_t chunk = blockIdx.x; chunk < count; chunk += gridDim.x) {
    const AdamChunk a = chunks[chunk];
    for (int64_t i = a.begin + threadIdx.x; i < a.end; i += blockDim.x)
      sparsecap::kernels::adam_update(a.param[i], a.grad[i], a.m[i], a.v[i], a.c);
  }
}

// ---- layout and indexing ----

// in [outer, d0, middle, d1, inner] -> out [outer, d1, middle, d0, inner], one thread per output.
template <typename Bits>
__global__ void transpose_kernel(const Bits* in, Bits* out, int64_t outer, int64_t d0, int64_t middle, int64_t d1,
                                 int64_t inner) {
  const int64_t total = outer * d1 * middle * d0 * inner;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    int64_t rest = i;
    const int64_t e = rest % inner;
    rest /= inner;
    const int64_t p = rest % d0;  // coordinate along d0 (now at position 3)
    rest /= d0;
    const int64_t m = rest % middle;
    rest /= middle;
    const int64_t q = rest % d1;  // coordinate along d1 (now at position 1)
    const int64_t o = rest / d1;
    out[i] = in[(((o * d0 + p) * middle + m) * d1 + q) * inner + e];
  }
}

template <typename Bits>
__global__ void index_select_kernel(const Bits* table, const int64_t* index, Bits* out, int64_t count,
                                    int64_t width) {
  const int64_t total = count * width;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t row = i / width, column = i % width;
    out[i] = table[index[row] * width + column];
  }
}

__global__ void find_out_of_range_kernel(const int64_t* index, int64_t n, int64_t bound, int64_t ignore,
                                         unsigned long long* first_bad) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const int64_t value = index[i];
    if (value != ignore && (value < 0 || value >= bound))
      atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

__global__ void index_add_atomic_kernel(const float* src, const int64_t* index, float* table, int64_t count,
                                        int64_t width) {
  const int64_t total = count * width;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t row = i / width, column = i % width;
    atomicAdd(&table[index[row] * width + column], src[i]);
  }
}

// One thread per (sorted position that starts a run of equal indices, column): it adds the run's
// source rows in their original order, so the sum is the CPU's, bit for bit.
__global__ void index_add_sorted_kernel(const float* src, const int64_t* sorted_index,
                                        const int64_t* sorted_position, float* table, int64_t count,
                                        int64_t width) {
  const int64_t total = count * width;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t start = i / width, column = i % width;
    const int64_t row = sorted_index[start];
    if (start > 0 && sorted_index[start - 1] == row) continue;  // not the start of a run
    float accumulated = table[row * width + column];
    for (int64_t j = start; j < count && sorted_index[j] == row; ++j)
      accumulated += src[sorted_position[j] * width + column];
    table[row * width + column] = accumulated;
  }
}

__global__ void gather_columns_kernel(const float* in, const int64_t* index, float* out, int64_t rows, int64_t n,
                                      int64_t k) {
  const int64_t total = rows * k;
  for (int64_t i = first_index(); i < total; i += grid_stride()) out[i] = in[(i / k) * n + index[i]];
}

// One thread per row, columns in order: repeated indices within a row accumulate in the CPU's
// order without atomics.
__global__ void scatter_add_columns_kernel(const float* grad_out, const int64_t* index, float* grad_in,
                                           int64_t rows, int64_t n, int64_t k) {
  for (int64_t r = first_index(); r < rows; r += grid_stride())
    for (int64_t j = 0; j < k; ++j) grad_in[r * n + index[r * k + j]] += grad_out[r * k + j];
}

// The layout of 4-element output groups for binary_vector_kernel, when there is one: the
// innermost dimension's size is a multiple of 4 (or it is the only dimension; its last n % 4
// elements are then the kernel's tail), each operand steps along it by 1 or not at all, and every
// group of an operand that steps starts 16 bytes aligned.
struct VectorGroups {
  BroadcastLayout layout;
  bool a_vector = false, b_vector = false;
};
bool operand_aligned_in_groups(const float* base, const int64_t* strides, int rank) {
  if (!aligned_for_vectors(base)) return false;
  for (int d = 0; d + 1 < rank; ++d)
    if (strides[d] % kVectorFloats != 0) return false;
  return true;
}
std::optional<VectorGroups> plan_vector_groups(const float* a, const float* b, const float* out,
                                               const BroadcastLayout& layout) {
  const int inner = layout.rank - 1;
  const int64_t step_a = layout.a_strides[inner], step_b = layout.b_strides[inner];
  if ((step_a != 0 && step_a != 1) || (step_b != 0 && step_b != 1)) return std::nullopt;
  if (layout.rank > 1 && layout.sizes[inner] % kVectorFloats != 0) return std::nullopt;
  if (!aligned_for_vectors(out)) return std::nullopt;
  VectorGroups groups{layout, step_a == 1, step_b == 1};
  if (groups.a_vector && !operand_aligned_in_groups(a, layout.a_strides, layout.rank)) return std::nullopt;
  if (groups.b_vector && !operand_aligned_in_groups(b, layout.b_strides, layout.rank)) return std::nullopt;
  groups.layout.sizes[inner] /= kVectorFloats;
  groups.layout.a_strides[inner] *= kVectorFloats;
  groups.layout.b_strides[inner] *= kVectorFloats;
  return groups;
}

// `bits` (the low element_bytes bytes) repeated over 16 bytes.
template <typename Bits>
uint4 repeated_pattern(Bits bits) {
  unsigned char bytes[sizeof(uint4)];
  for (size_t k = 0; k < sizeof(uint4); k += sizeof(Bits)) std::memcpy(bytes + k, &bits, sizeof(Bits));
  uint4 pattern;
  std::memcpy(&pattern, bytes, sizeof(pattern));
  return pattern;
}

}  // namespace

// ---- host entry points ----

void fill_pattern(void* out, int64_t n, size_t element_bytes, uint64_t bits, cudaStream_t stream) {
  dispatch_width(element_bytes, "fill", [&](auto tag) {
    using Bits = decltype(tag);
    if (aligned_for_vectors(out)) {
      const int64_t per_vector = static_cast<int64_t>(sizeof(uint4) / sizeof(Bits));
      launch(fill_vector_kernel<Bits>, grid_for((n + per_vector - 1) / per_vector), kBlockThreads, 0, stream,
             static_cast<Bits*>(out), n, static_cast<Bits>(bits), repeated_pattern(static_cast<Bits>(bits)));
      return;
    }
    launch(fill_kernel<Bits>, grid_for(n), kBlockThreads, 0, stream, static_cast<Bits*>(out), n,
           static_cast<Bits>(bits));
  });
}

void cast(const void* in, ElementType in_type, void* out, ElementType out_type, int64_t n, cudaStream_t stream) {
  launch(cast_kernel, grid_for(n), kBlockThreads, 0, stream, in, in_type, out, out_type, n);
}

void random_fill(void* out, bool out_is_double, int64_t n, RandomDistribution distribution, uint64_t seed,
                 uint64_t stream_id, uint64_t offset, float probability, cudaStream_t stream) {
  launch(random_kernel, grid_for(n), kBlockThreads, 0, stream, out, out_is_double, n, distribution, seed, stream_id,
         offset, probability);
}

void arange(int64_t* out, int64_t n, cudaStream_t stream) {
  launch(arange_kernel, grid_for(n), kBlockThreads, 0, stream, out, n);
}

void unary(UnaryOp op, const float* x, float* y, int64_t n, ScalarParams params, cudaStream_t stream) {
  const bool vectors = aligned_for_vectors(x) && aligned_for_vectors(y);
  const unsigned blocks = vectors ? grid_for_vectors(n) : grid_for(n);
  switch (op) {
#define SPARSECAP_CASE(name)                                                                                  \
  case UnaryOp::name:                                                                                         \
    launch(vectors ? unary_vector_kernel<sparsecap::kernels::name<float>> : unary_kernel<sparsecap::kernels::name<float>>, \
           blocks, kBlockThreads, 0, stream, x, y, n, params);                                                \
    return;
    SPARSECAP_UNARY_OPS(SPARSECAP_CASE)
#undef SPARSECAP_CASE
  }
}

void binary(BinaryOp op, const float* a, const float* b, float* out, int64_t n, const BroadcastLayout& layout,
            ScalarParams params, cudaStream_t stream) {
  const std::optional<VectorGroups> groups = plan_vector_groups(a, b, out, layout);
  switch (op) {
#define SPARSECAP_CASE(name)                                                                                    \
  case BinaryOp::name:                                                                                          \
    if (groups)                                                                                                 \
      launch(binary_vector_kernel<sparsecap::kernels::name<float>>, grid_for_vectors(n), kBlockThreads, 0,     \
             stream, a, b, out, n, groups->layout, groups->a_vector, groups->b_vector, params);                \
    else                                                                                                        \
      launch(binary_kernel<sparsecap::kernels::name<float>>, grid_for(n), kBlockThreads, 0, stream, a, b, out, n, \
             layout, params);                                                                                   \
    return;
    SPARSECAP_BINARY_OPS(SPARSECAP_CASE)
#undef SPARSECAP_CASE
  }
}

void unary_chunks(UnaryOp op, const UnaryChunk* chunks, int64_t count, ScalarParams params, cudaStream_t stream) {
  if (count == 0) return;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(count, kMaxGridBlocks));
  switch (op) {
#define SPARSECAP_CASE(name)                                                                                   \
  case UnaryOp::name:                                                                                          \
    launch(unary_chunks_kernel<sparsecap::kernels::name<float>>, blocks, kBlockThreads, 0, stream, chunks, count, \
           params);                                                                                            \
    return;
    SPARSECAP_UNARY_OPS(SPARSECAP_CASE)
#undef SPARSECAP_CASE
  }
}

void adam_step(float* param, const float* grad, float* m, float* v, int64_t n, const AdamCoefficients& c,
               cudaStream_t stream) {
  launch(adam_kernel, grid_for(n), kBlockThreads, 0, stream, param, grad, m, v, n, c);
}

void adam_step_chunks(const AdamChunk* chunks, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  launch(adam_chunks_kernel, static_cast<unsigned>(std::min<int64_t>(count, kMaxGridBlocks)), kBlockThreads, 0,
         stream, chunks, count);
}

void transpose(const void* in, void* out, size_t element_bytes, int64_t outer, int64_t d0, int64_t middle,
               int64_t d1, int64_t inner, cudaStream_t stream) {
  const int64_t total = outer * d0 * middle * d1 * inner;
  if (total == 0) return;
  dispatch_width(element_bytes, "transpose", [&](auto tag) {
    using Bits = decltype(tag);
    launch(transpose_kernel<Bits>, grid_for(total), kBlockThreads, 0, stream, static_cast<const Bits*>(in),
           static_cast<Bits*>(out), outer, d0, middle, d1, inner);
  });
}

void index_select_rows(const void* table, const int64_t* index, void* out, size_t element_bytes, int64_t count,
                       int64_t width, cudaStream_t stream) {
  if (count * width == 0) return;
  dispatch_width(element_bytes, "index_select", [&](auto tag) {
    using Bits = decltype(tag);
    launch(index_select_kernel<Bits>, grid_for(count * width), kBlockThreads, 0, stream,
           static_cast<const Bits*>(table), index, static_cast<Bits*>(out), count, width);
  });
}

void find_out_of_range(const int64_t* index, int64_t n, int64_t bound, int64_t ignore,
                       unsigned long long* first_bad, cudaStream_t stream) {
  if (n == 0) return;
  launch(find_out_of_range_kernel, grid_for(n), kBlockThreads, 0, stream, index, n, bound, ignore, first_bad);
}

void index_add_rows_atomic(const float* src, const int64_t* index, float* table, int64_t count, int64_t width,
                           cudaStream_t stream) {
  if (count * width == 0) return;
  launch(index_add_atomic_kernel, grid_for(count * width), kBlockThreads, 0, stream, src, index, table, count,
         width);
}

void index_add_rows_sorted(const float* src, const int64_t* sorted_index, const int64_t* sorted_position,
                           float* table, int64_t count, int64_t width, cudaStream_t stream) {
  if (count * width == 0) return;
  launch(index_add_sorted_kernel, grid_for(count * width), kBlockThreads, 0, stream, src, sorted_index,
         sorted_position, table, count, width);
}

void gather_columns(const float* in, const int64_t* index, float* out, int64_t rows, int64_t n, int64_t k,
                    cudaStream_t stream) {
  if (rows * k == 0) return;
  launch(gather_columns_kernel, grid_for(rows * k), kBlockThreads, 0, stream, in, index, out, rows, n, k);
}

void scatter_add_columns(const float* grad_out, const int64_t* index, float* grad_in, int64_t rows, int64_t n,
                         int64_t k, cudaStream_t stream) {
  if (rows * k == 0) return;
  launch(scatter_add_columns_kernel, grid_for(rows), kBlockThreads, 0, stream, grad_out, index, grad_in, rows, n,
         k);
}

}  // namespace sparsecap::cuda::launchers
