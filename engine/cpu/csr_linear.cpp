// The CPU sparse linear kernel (see csr_linear.h). Two layouts of the work:
//  - batch < kSpmmMinBatch: one sparse matrix-vector product per activation row. Each weight row
//    gathers the activations it needs: rows with at least kGatherMinRowLength non-zeros use
//    16-wide AVX-512 gathers; shorter rows (the norm at 99% sparsity) a scalar loop with four
//    independent accumulators, which beats a gather's fixed latency for a handful of entries.
//  - larger batches: the activations are transposed to [cols, batch] so each non-zero scales one
//    contiguous batch vector (broadcast value x up to four 16-wide loads, FMA into registers),
//    and the [rows, batch] result is written back strided into [batch, rows].
// Rows are split between threads by non-zero count, not row count, so uneven rows (embedding
// tables, output layers) still balance. The AVX-512 code is compiled with a target attribute and
// chosen at run time, because the build does not assume -march (engine/CMakeLists.txt); the
// portable loops run elsewhere.
#include "engine/cpu/csr_linear.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/error.h"

// GCC 12's AVX-512 headers seed intrinsics with _mm512_undefined_*(), which -Wmaybe-uninitialized
// reports as uninitialised use inside the headers (a false positive, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace sparsecap::cpu {

namespace {

constexpr int64_t kGatherMinRowLength = 16;
constexpr int64_t kSpmmMinBatch = 4;
constexpr int64_t kBatchBlock = 64;            // batch columns held in registers at once (4 x 16)
constexpr int64_t kParallelMultiplyAdds = 1 << 15;  // below this, one thread: fork/join costs more

template <typename Index, typename Value>
struct CsrArrays {
  const int32_t* row_ptr;
  const Index* columns;
  const Value* values;
  int64_t rows, cols;
};

// ---- portable loops ----------------------------------------------------------

inline float widen(float value) { return value; }
inline float widen(uint16_t half_bits) { return half_to_float(half_bits); }

template <typename Index, typename Value>
void spmv_rows_portable(const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* y, int64_t begin,
                        int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    float sum = bias ? bias[r] : 0.0f;
    for (int32_t i = w.row_ptr[r]; i < w.row_ptr[r + 1]; ++i) sum += widen(w.values[i]) * x[w.columns[i]];
    y[r] = sum;
  }
}

template <typename Index, typename Value>
void spmm_rows_portable(const CsrArrays<Index, Value>& w, const float* x_transposed, const float* bias, float* out,
                        int64_t batch, int64_t begin, int64_t end) {
  float accumulators[kBatchBlock];
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t block = 0; block < batch; block += kBatchBlock) {
      const int64_t width = std::min(kBatchBlock, batch - block);
      std::fill(accumulators, accumulators + width, bias ? bias[r] : 0.0f);
      for (int32_t i = w.row_ptr[r]; i < w.row_ptr[r + 1]; ++i) {
        const float value = widen(w.values[i]);
        const float* source = x_transposed + static_cast<int64_t>(w.columns[i]) * batch + block;
#pragma omp simd
        for (int64_t b = 0; b < width; ++b) accumulators[b] += value * source[b];
      }
      for (int64_t b = 0; b < width; ++b) out[(block + b) * w.rows + r] = accumulators[b];
    }
  }
}

// ---- AVX-512 -----------------------------------------------------------------

#define SPARSECAP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

SPARSECAP_AVX512 inline __m512i load_columns(const uint16_t* p, __mmask16 mask) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
}
SPARSECAP_AVX512 inline __m512i load_columns(const int32_t* p, __mmask16 mask) {
  return _mm512_maskz_loadu_epi32(mask, p);
}
SPARSECAP_AVX512 inline __m512 load_values(const float* p, __mmask16 mask) { return _mm512_maskz_loadu_ps(mask, p); }
SPARSECAP_AVX512 inline __m512 load_values(const uint16_t* p, __mmask16 mask) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
}
SPARSECAP_AVX512 inline float widen_fast(float value) { return value; }
SPARSECAP_AVX512 inline float widen_fast(uint16_t half_bits) { return _cvtsh_ss(half_bits); }

// One row's dot product with 16-wide gathers; the tail is masked.
template <typename Index, typename Value>
SPARSECAP_AVX512 float gathered_row_dot(const CsrArrays<Index, Value>& w, const float* x, int32_t begin, int32_t end) {
  __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
  int32_t i = begin;
  for (; i + 32 <= end; i += 32) {  // two independent chains hide the gather latency
    sum0 = _mm512_fmadd_ps(load_values(w.values + i, 0xFFFF),
                           _mm512_i32gather_ps(load_columns(w.columns + i, 0xFFFF), x, 4), sum0);
    sum1 = _mm512_fmadd_ps(load_values(w.values + i + 16, 0xFFFF),
                           _mm512_i32gather_ps(load_columns(w.columns + i + 16, 0xFFFF), x, 4), sum1);
  }
  for (; i < end; i += 16) {
    const __mmask16 mask = end - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (end - i)) - 1);
    const __m512 gathered = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, load_columns(w.columns + i, mask), x, 4);
    sum0 = _mm512_fmadd_ps(load_values(w.values + i, mask), gathered, sum0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

// One short row's dot product: four scalar accumulators, no gathers.
template <typename Index, typename Value>
SPARSECAP_AVX512 float short_row_dot(const CsrArrays<Index, Value>& w, const float* x, int32_t begin, int32_t end) {
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int32_t i = begin;
  for (; i + 4 <= end; i += 4) {
    a0 += widen_fast(w.values[i]) * x[w.columns[i]];
    a1 += widen_fast(w.values[i + 1]) * x[w.columns[i + 1]];
    a2 += widen_fast(w.values[i + 2]) * x[w.columns[i + 2]];
    a3 += widen_fast(w.values[i + 3]) * x[w.columns[i + 3]];
  }
  for (; i < end; ++i) a0 += widen_fast(w.values[i]) * x[w.columns[i]];
  return (a0 + a1) + (a2 + a3);
}

template <typename Index, typename Value>
SPARSECAP_AVX512 void spmv_rows_avx512(const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* y,
                                       int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const int32_t row_begin = w.row_ptr[r], row_end = w.row_ptr[r + 1];
    const float dot = row_end - row_begin >= kGatherMinRowLength ? gathered_row_dot(w, x, row_begin, row_end)
                                                                 : short_row_dot(w, x, row_begin, row_end);
    y[r] = bias ? dot + bias[r] : dot;
  }
}

// Rows x one block of `Vectors` x 16 batch columns (the last vector masked by `tail`). Two
// accumulator sets take alternate non-zeros so consecutive FMAs do not wait on each other's
// latency. Results are staged for kRowTile rows and written batch-row by batch-row: writing each
// row's batch values straight into out [batch, rows] would touch `width` lines rows*4 bytes
// apart, which all map to one L1 set and evict each other on every row.
constexpr int64_t kRowTile = 16;

// Vector v of the batch block for non-zero i: activations of its column, batch columns
// block + 16 v .. (masked by `tail` for the block's last vector).
template <int Vectors, typename Index, typename Value>
SPARSECAP_AVX512 inline __m512 load_batch_vector(const CsrArrays<Index, Value>& w, const float* x_transposed,
                                                 int64_t batch, int64_t block, __mmask16 tail, int32_t i, int v) {
  const float* source = x_transposed + static_cast<int64_t>(w.columns[i]) * batch + block + 16 * v;
  return _mm512_maskz_loadu_ps(v + 1 == Vectors ? tail : __mmask16(0xFFFF), source);
}

template <int Vectors, typename Index, typename Value>
SPARSECAP_AVX512 void spmm_block_avx512(const CsrArrays<Index, Value>& w, const float* x_transposed, const float* bias,
                                        float* out, int64_t batch, int64_t block, __mmask16 tail, int64_t begin,
                                        int64_t end) {
  alignas(64) float staged[kRowTile][Vectors * 16];
  const int64_t width = std::min<int64_t>(Vectors * 16, batch - block);
  for (int64_t tile = begin; tile < end; tile += kRowTile) {
    const int64_t tile_rows = std::min(kRowTile, end - tile);
    for (int64_t t = 0; t < tile_rows; ++t) {
      const int64_t r = tile + t;
      __m512 even[Vectors], odd[Vectors];
      for (int v = 0; v < Vectors; ++v) {
        even[v] = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        odd[v] = _mm512_setzero_ps();
      }
      int32_t i = w.row_ptr[r];
      const int32_t row_end = w.row_ptr[r + 1];
      for (; i + 2 <= row_end; i += 2) {
        const __m512 first = _mm512_set1_ps(widen_fast(w.values[i]));
        const __m512 second = _mm512_set1_ps(widen_fast(w.values[i + 1]));
        for (int v = 0; v < Vectors; ++v) {
          even[v] = _mm512_fmadd_ps(first, load_batch_vector<Vectors>(w, x_transposed, batch, block, tail, i, v), even[v]);
          odd[v] = _mm512_fmadd_ps(second, load_batch_vector<Vectors>(w, x_transposed, batch, block, tail, i + 1, v),
                                   odd[v]);
        }
      }
      if (i < row_end) {
        const __m512 last = _mm512_set1_ps(widen_fast(w.values[i]));
        for (int v = 0; v < Vectors; ++v)
          even[v] = _mm512_fmadd_ps(last, load_batch_vector<Vectors>(w, x_transposed, batch, block, tail, i, v), even[v]);
      }
      for (int v = 0; v < Vectors; ++v) _mm512_store_ps(&staged[t][16 * v], _mm512_add_ps(even[v], odd[v]));
    }
    for (int64_t b = 0; b < width; ++b) {
      float* destination = out + (block + b) * w.rows + tile;
      for (int64_t t = 0; t < tile_rows; ++t) destination[t] = staged[t][b];
    }
  }
}

template <typename Index, typename Value>
SPARSECAP_AVX512 void spmm_rows_avx512(const CsrArrays<Index, Value>& w, const float* x_transposed, const float* bias,
                                       float* out, int64_t batch, int64_t begin, int64_t end) {
  for (int64_t block = 0; block < batch; block += kBatchBlock) {
    const int64_t width = std::min(kBatchBlock, batch - block);
    const int vectors = static_cast<int>((width + 15) / 16);
    const int64_t last = width - 16 * (vectors - 1);
    const __mmask16 tail = last == 16 ? __mmask16(0xFFFF) : __mmask16((1u << last) - 1);
    switch (vectors) {
      case 1: spmm_block_avx512<1>(w, x_transposed, bias, out, batch, block, tail, begin, end); break;
      case 2: spmm_block_avx512<2>(w, x_transposed, bias, out, batch, block, tail, begin, end); break;
      case 3: spmm_block_avx512<3>(w, x_transposed, bias, out, batch, block, tail, begin, end); break;
      default: spmm_block_avx512<4>(w, x_transposed, bias, out, batch, block, tail, begin, end); break;
    }
  }
}

// ---- driver ------------------------------------------------------------------

bool cpu_has_avx512() {
  static const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
                                __builtin_cpu_supports("f16c");
  return supported;
}

// Thread `thread` of `threads` takes the rows holding its share of the non-zeros.
std::pair<int64_t, int64_t> row_range_by_nonzeros(const int32_t* row_ptr, int64_t rows, int thread, int threads) {
  const int64_t nnz = row_ptr[rows];
  auto first_row_at = [&](int64_t share) -> int64_t {
    if (share <= 0) return 0;
    if (share >= threads) return rows;
    const int64_t target = nnz * share / threads;
    return std::lower_bound(row_ptr, row_ptr + rows, static_cast<int32_t>(target)) - row_ptr;
  };
  return {first_row_at(thread), first_row_at(thread + 1)};
}

// Scratch for the transposed activations, kept per calling thread so repeated calls (every
// decoder step) do not allocate.
float* transposed_activation_buffer(size_t floats) {
  static thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

template <typename Index, typename Value>
void csr_linear_typed(const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* out, int64_t batch) {
  const bool avx512 = cpu_has_avx512();
  const bool parallel = static_cast<int64_t>(w.row_ptr[w.rows]) * batch + w.rows * batch >= kParallelMultiplyAdds;
  if (batch < kSpmmMinBatch) {
#pragma omp parallel if (parallel)
    {
      const auto [begin, end] = row_range_by_nonzeros(w.row_ptr, w.rows, omp_get_thread_num(), omp_get_num_threads());
      for (int64_t b = 0; b < batch; ++b) {
        if (avx512)
          spmv_rows_avx512(w, x + b * w.cols, bias, out + b * w.rows, begin, end);
        else
          spmv_rows_portable(w, x + b * w.cols, bias, out + b * w.rows, begin, end);
      }
    }
    return;
  }
  float* x_transposed = transposed_activation_buffer(static_cast<size_t>(w.cols * batch));
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < w.cols; ++c)
      for (int64_t b = 0; b < batch; ++b) x_transposed[c * batch + b] = x[b * w.cols + c];
    const auto [begin, end] = row_range_by_nonzeros(w.row_ptr, w.rows, omp_get_thread_num(), omp_get_num_threads());
    if (avx512)
      spmm_rows_avx512(w, x_transposed, bias, out, batch, begin, end);
    else
      spmm_rows_portable(w, x_transposed, bias, out, batch, begin, end);
  }
}

template <typename Index>
void dispatch_values(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch) {
  const int32_t* row_ptr = weight.row_ptr.data<int32_t>();
  const auto* columns = static_cast<const Index*>(weight.col_idx.raw_data());
  if (weight.values.dtype() == DType::F16)
    csr_linear_typed(CsrArrays<Index, uint16_t>{row_ptr, columns, static_cast<const uint16_t*>(weight.values.raw_data()),
                                                weight.rows, weight.cols},
                     x, bias, out, batch);
  else
    csr_linear_typed(CsrArrays<Index, float>{row_ptr, columns, weight.values.data<float>(), weight.rows, weight.cols}, x,
                     bias, out, batch);
}

}  // namespace

bool csr_kernels_use_avx512() { return cpu_has_avx512(); }

void csr_linear_f32(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch) {
  SPARSECAP_CHECK(weight.values.dtype() == DType::F32 || weight.values.dtype() == DType::F16,
                  "csr_linear: values must be F32 or F16, got ", dtype_name(weight.values.dtype()));
  if (weight.col_idx.dtype() == DType::U16)
    dispatch_values<uint16_t>(weight, x, bias, out, batch);
  else if (weight.col_idx.dtype() == DType::I32)
    dispatch_values<int32_t>(weight, x, bias, out, batch);
  else
    throw Error(detail::concat("csr_linear: col_idx must be U16 or I32, got ", dtype_name(weight.col_idx.dtype())));
}

}  // namespace sparsecap::cpu

// ---- the backend entry point ---------------------------------------------------

namespace sparsecap::cpu {

void CpuBackend::csr_linear(const sparse::CsrMatrix& weight, const Tensor& x, const Tensor& bias, Tensor& out,
                            int64_t batch) {
  SPARSECAP_CHECK(x.dtype() == DType::F32 && out.dtype() == DType::F32, "csr_linear: activations must be float32, got ",
                  dtype_name(x.dtype()));
  csr_linear_f32(weight, x.data<float>(), bias.defined() ? bias.data<float>() : nullptr, out.data<float>(), batch);
}

}  // namespace sparsecap::cpu
