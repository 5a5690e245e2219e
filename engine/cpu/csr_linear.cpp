// The CPU sparse linear kernel (see csr_linear.h). On the AVX-512 and AVX2 paths (csr_path.h)
// batch 1, and any batch on a matrix at least 70% sparse with 16 rows or more, runs on the sliced
// kernels (sliced_multiply.h: sixteen rows at a time, no per-row loop). Otherwise, three layouts
// of the work:
//  - batch 1: one sparse matrix-vector product. Each weight row is a scalar dot product with
//    independent accumulators taking turns (four for rows under kLongRowLength non-zeros, eight
//    for longer ones, where four still wait on the add latency).
//  - batch >= 2: the activations are transposed to [cols, batch] so each non-zero scales one
//    contiguous batch vector (broadcast value x up to four 16-wide loads on AVX-512, eight 8-wide
//    on AVX2, FMA into registers): the matrix is read once for the whole batch, and the
//    [rows, batch] result is written back into [batch, rows].
//  - batch >= 2 with fewer than kSpmmMinRows weight rows (the attention's [1, A] score
//    projection applied at every position): one matrix-vector product per activation row, the
//    activation rows split between threads.
// Rows are split between threads by non-zero count, not row count, so uneven rows (embedding
// tables, output layers) still balance. The SIMD code is compiled with target attributes (avx2.h,
// avx512.h) and chosen at run time; the portable loops run on CPUs with neither.
#include "engine/cpu/csr_linear.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "engine/cpu/avx2.h"
#include "engine/cpu/avx512.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/csr_types.h"
#include "engine/cpu/sliced_multiply.h"
#include "engine/error.h"


namespace sparsecap::cpu {

namespace {

constexpr int64_t kLongRowLength = 16;  // from here on rows take eight accumulators, not four
constexpr int64_t kSpmmMinRows = 16;  // fewer weight rows: one SpMV per activation row
constexpr double kSlicedMaxDensity = 0.3;  // batch >= 2 runs on the sliced kernels below this density
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

// ---- scalar FMA SpMV (AVX2 and AVX-512 paths) -----------------------------------

// The accumulator arrays below and in the SIMD sections are indexed only by fully unrolled loops
// (#pragma GCC unroll), which is what lets GCC keep them in registers.

// Scalar code gains nothing from AVX-512, so both SIMD paths run these (AVX-512 CPUs have FMA and
// F16C too).
SPARSECAP_AVX2 inline float widen_fast(float value) { return value; }
SPARSECAP_AVX2 inline float widen_fast(uint16_t half_bits) { return _cvtsh_ss(half_bits); }

// One row's dot product with `Chains` scalar accumulators taking turns, so consecutive
// multiply-adds do not wait on each other's latency.
template <int Chains, typename Index, typename Value>
SPARSECAP_AVX2 float scalar_row_dot(const CsrArrays<Index, Value>& w, const float* x, int32_t begin, int32_t end) {
  float sums[Chains] = {};
  int32_t i = begin;
  for (; i + Chains <= end; i += Chains)
#pragma GCC unroll 8
    for (int k = 0; k < Chains; ++k) sums[k] += widen_fast(w.values[i + k]) * x[w.columns[i + k]];
  // The tail with constant indices too: a variable index would put `sums` on the stack.
#pragma GCC unroll 8
  for (int k = 0; k + 1 < Chains; ++k)
    if (i + k < end) sums[k] += widen_fast(w.values[i + k]) * x[w.columns[i + k]];
#pragma GCC unroll 8
  for (int width = Chains / 2; width > 0; width /= 2)  // pairwise: (s0 + s2) + (s1 + s3), ...
#pragma GCC unroll 8
    for (int k = 0; k < width; ++k) sums[k] += sums[k + width];
  return sums[0];
}

template <typename Index, typename Value>
SPARSECAP_AVX2 void spmv_rows_fma(const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* y,
                                  int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const int32_t row_begin = w.row_ptr[r], row_end = w.row_ptr[r + 1];
    const float dot = row_end - row_begin < kLongRowLength ? scalar_row_dot<4>(w, x, row_begin, row_end)
                                                           : scalar_row_dot<8>(w, x, row_begin, row_end);
    y[r] = bias ? dot + bias[r] : dot;
  }
}

// ---- AVX-512 -----------------------------------------------------------------

// Rows x one block of `Vectors` x 16 batch columns (the last vector masked by `tail`). Four
// accumulator sets take turns on the non-zeros: with one vector per set (batch <= 16) each FMA
// would otherwise wait on the previous one's latency. Results are staged for kRowTile rows and
// written batch-row by batch-row, 16 x 16 at a time transposed in registers: writing each row's
// batch values straight into out [batch, rows] would touch `width` lines rows*4 bytes apart, which
// all map to one L1 set and evict each other on every row, and the scalar transposed copy cost
// about as much as the products at batch 64.
constexpr int64_t kRowTile = 16;  // = 16 lanes: write_tile_transposed relies on it

// out [batch, rows] rows tile .. tile + tile_rows - 1, batch columns block .. block + width - 1,
// from staged [row in tile][batch column in block]. Staged rows past tile_rows are masked out.
template <int Vectors>
SPARSECAP_AVX512 void write_tile_transposed(const float (&staged)[kRowTile][Vectors * 16], float* out, int64_t rows,
                                            int64_t block, int64_t width, int64_t tile, int64_t tile_rows) {
  const __mmask16 row_mask = static_cast<__mmask16>((1u << tile_rows) - 1);
#pragma GCC unroll 4
  for (int v = 0; v < Vectors; ++v) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int t = 0; t < 16; ++t) r[t] = _mm512_load_ps(&staged[t][16 * v]);
    transpose_16x16(r);
    const int64_t columns = std::min<int64_t>(16, width - 16 * v);
#pragma GCC unroll 16
    for (int b = 0; b < 16; ++b)
      if (b < columns) _mm512_mask_storeu_ps(out + (block + 16 * v + b) * rows + tile, row_mask, r[b]);
  }
}
constexpr int kSpmmChains = 4;  // the sum below is written for four

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
  alignas(64) float staged[kRowTile][Vectors * 16] = {};  // zeroed: a last tile leaves rows unwritten
  const int64_t width = std::min<int64_t>(Vectors * 16, batch - block);
  for (int64_t tile = begin; tile < end; tile += kRowTile) {
    const int64_t tile_rows = std::min(kRowTile, end - tile);
    for (int64_t t = 0; t < tile_rows; ++t) {
      const int64_t r = tile + t;
      __m512 sums[kSpmmChains][Vectors];
#pragma GCC unroll 8
      for (int k = 0; k < kSpmmChains; ++k)
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) sums[k][v] = _mm512_setzero_ps();
      int32_t i = w.row_ptr[r];
      const int32_t row_end = w.row_ptr[r + 1];
      for (; i + kSpmmChains <= row_end; i += kSpmmChains)
#pragma GCC unroll 8
        for (int k = 0; k < kSpmmChains; ++k) {
          const __m512 value = _mm512_set1_ps(widen_fast(w.values[i + k]));
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v)
            sums[k][v] = _mm512_fmadd_ps(
                value, load_batch_vector<Vectors>(w, x_transposed, batch, block, tail, i + k, v), sums[k][v]);
        }
      // The last 0-3 non-zeros as one more round in which entries past the row's end count with
      // value 0 (read at the row's last entry): no branch on the row length, which mispredicted on
      // most rows. A row with no entries reads entry 0 unless the matrix has none at all.
      if (row_end > 0) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < kSpmmChains; ++k) {  // constant indices keep `sums` in registers
          const int32_t entry = std::min(i + k, row_end - 1);
          const __m512 value = _mm512_set1_ps(i + k < row_end ? widen_fast(w.values[entry]) : 0.0f);
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v)
            sums[k][v] = _mm512_fmadd_ps(
                value, load_batch_vector<Vectors>(w, x_transposed, batch, block, tail, entry, v), sums[k][v]);
        }
      }
      const __m512 row_bias = _mm512_set1_ps(bias ? bias[r] : 0.0f);
#pragma GCC unroll 8
      for (int v = 0; v < Vectors; ++v)
        _mm512_store_ps(&staged[t][16 * v],
                        _mm512_add_ps(row_bias, _mm512_add_ps(_mm512_add_ps(sums[0][v], sums[2][v]),
                                                              _mm512_add_ps(sums[1][v], sums[3][v]))));
    }
    write_tile_transposed<Vectors>(staged, out, w.rows, block, width, tile, tile_rows);
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

// x_transposed [cols, batch] = x [batch, cols]ᵀ for columns [column_begin, column_end) (at most
// 16), in 16 x 16 tiles transposed in registers: the element-by-element copy reads x with a stride
// of a whole row and cost more than the products at batch 64 and 99% sparsity.
SPARSECAP_AVX512 void transpose_columns_avx512(const float* x, float* x_transposed, int64_t batch, int64_t cols,
                                               int64_t column_begin, int64_t column_end) {
  for (int64_t b0 = 0; b0 < batch; b0 += 16) {
    const int64_t batch_rows = std::min<int64_t>(16, batch - b0);
    transpose_tile(x + b0 * cols + column_begin, cols, batch_rows, column_end - column_begin,
                   x_transposed + column_begin * batch + b0, batch, static_cast<__mmask16>((1u << batch_rows) - 1));
  }
}

// ---- AVX2 + F16C ---------------------------------------------------------------

// The AVX-512 SpMM's layout of the work with 8-lane vectors and half the registers (16): batch
// blocks of up to 8 x 8 columns, results staged for 8 rows and written back through 8 x 8 register
// transposes. The transposed activations' rows are padded with zeros to a multiple of 8 batch
// columns (kAvx2BatchPad), so every load is a whole vector and needs no mask.
constexpr int64_t kAvx2BatchPad = 8;
constexpr int64_t kAvx2BatchBlock = 64;
constexpr int64_t kAvx2RowTile = 8;  // = 8 lanes: write_tile_transposed_avx2 relies on it

// Accumulator sets taking turns on the non-zeros, so 4 to 8 FMAs are in flight and at most 8 of the
// 16 registers hold sums: four for blocks of one or two vectors, two for three or four, one above.
template <int Vectors>
constexpr int kAvx2SpmmChains = Vectors <= 2 ? 4 : Vectors <= 4 ? 2 : 1;

// out [batch, rows] rows tile .. tile + tile_rows - 1, batch columns block .. block + width - 1,
// from staged [row in tile][batch column in block].
template <int Vectors>
SPARSECAP_AVX2 void write_tile_transposed_avx2(const float (&staged)[kAvx2RowTile][Vectors * 8], float* out,
                                               int64_t rows, int64_t block, int64_t width, int64_t tile,
                                               int64_t tile_rows) {
#pragma GCC unroll 8
  for (int v = 0; v < Vectors; ++v) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) r[t] = _mm256_load_ps(&staged[t][8 * v]);
    transpose_8x8(r);
    const int64_t columns = std::min<int64_t>(8, width - 8 * v);
#pragma GCC unroll 8
    for (int b = 0; b < 8; ++b)
      if (b < columns) store_first_lanes(out + (block + 8 * v + b) * rows + tile, r[b], tile_rows);
  }
}

// Vector v of the batch block for non-zero i: activations of its column, batch columns
// block + 8 v .. block + 8 v + 7 (rows of x_transposed are `stride` long).
template <typename Index, typename Value>
SPARSECAP_AVX2 inline __m256 load_batch_vector_avx2(const CsrArrays<Index, Value>& w, const float* x_transposed,
                                                    int64_t stride, int64_t block, int32_t i, int v) {
  return _mm256_loadu_ps(x_transposed + static_cast<int64_t>(w.columns[i]) * stride + block + 8 * v);
}

template <int Vectors, typename Index, typename Value>
SPARSECAP_AVX2 void spmm_block_avx2(const CsrArrays<Index, Value>& w, const float* x_transposed, int64_t stride,
                                    const float* bias, float* out, int64_t batch, int64_t block, int64_t begin,
                                    int64_t end) {
  constexpr int kChains = kAvx2SpmmChains<Vectors>;
  alignas(32) float staged[kAvx2RowTile][Vectors * 8] = {};  // zeroed: a last tile leaves rows unwritten
  const int64_t width = std::min<int64_t>(Vectors * 8, batch - block);
  for (int64_t tile = begin; tile < end; tile += kAvx2RowTile) {
    const int64_t tile_rows = std::min(kAvx2RowTile, end - tile);
    for (int64_t t = 0; t < tile_rows; ++t) {
      const int64_t r = tile + t;
      __m256 sums[kChains][Vectors];
#pragma GCC unroll 8
      for (int k = 0; k < kChains; ++k)
#pragma GCC unroll 8
        for (int v = 0; v < Vectors; ++v) sums[k][v] = _mm256_setzero_ps();
      int32_t i = w.row_ptr[r];
      const int32_t row_end = w.row_ptr[r + 1];
      for (; i + kChains <= row_end; i += kChains)
#pragma GCC unroll 8
        for (int k = 0; k < kChains; ++k) {
          const __m256 value = _mm256_set1_ps(widen_fast(w.values[i + k]));
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v)
            sums[k][v] =
                _mm256_fmadd_ps(value, load_batch_vector_avx2(w, x_transposed, stride, block, i + k, v), sums[k][v]);
        }
      // The last entries as one more round with value 0 past the row's end, as in spmm_block_avx512.
      if (row_end > 0) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < kChains; ++k) {
          const int32_t entry = std::min(i + k, row_end - 1);
          const __m256 value = _mm256_set1_ps(i + k < row_end ? widen_fast(w.values[entry]) : 0.0f);
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v)
            sums[k][v] =
                _mm256_fmadd_ps(value, load_batch_vector_avx2(w, x_transposed, stride, block, entry, v), sums[k][v]);
        }
      }
#pragma GCC unroll 8
      for (int width_left = kChains / 2; width_left > 0; width_left /= 2)  // pairwise: (s0 + s2) + (s1 + s3)
#pragma GCC unroll 8
        for (int k = 0; k < width_left; ++k)
#pragma GCC unroll 8
          for (int v = 0; v < Vectors; ++v) sums[k][v] = _mm256_add_ps(sums[k][v], sums[k + width_left][v]);
      const __m256 row_bias = _mm256_set1_ps(bias ? bias[r] : 0.0f);
#pragma GCC unroll 8
      for (int v = 0; v < Vectors; ++v) _mm256_store_ps(&staged[t][8 * v], _mm256_add_ps(row_bias, sums[0][v]));
    }
    write_tile_transposed_avx2<Vectors>(staged, out, w.rows, block, width, tile, tile_rows);
  }
}

template <typename Index, typename Value>
SPARSECAP_AVX2 void spmm_rows_avx2(const CsrArrays<Index, Value>& w, const float* x_transposed, int64_t stride,
                                   const float* bias, float* out, int64_t batch, int64_t begin, int64_t end) {
  for (int64_t block = 0; block < batch; block += kAvx2BatchBlock) {
    const int64_t width = std::min(kAvx2BatchBlock, batch - block);
    switch ((width + 7) / 8) {
      case 1: spmm_block_avx2<1>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 2: spmm_block_avx2<2>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 3: spmm_block_avx2<3>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 4: spmm_block_avx2<4>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 5: spmm_block_avx2<5>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 6: spmm_block_avx2<6>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      case 7: spmm_block_avx2<7>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
      default: spmm_block_avx2<8>(w, x_transposed, stride, bias, out, batch, block, begin, end); break;
    }
  }
}

// x_transposed [cols, stride] = x [batch, cols]ᵀ for columns [column_begin, column_end), batch
// columns batch .. stride - 1 zero, in 8 x 8 tiles transposed in registers.
SPARSECAP_AVX2 void transpose_columns_avx2(const float* x, float* x_transposed, int64_t batch, int64_t stride,
                                           int64_t cols, int64_t column_begin, int64_t column_end) {
  for (int64_t c0 = column_begin; c0 < column_end; c0 += 8)
    for (int64_t b0 = 0; b0 < batch; b0 += 8)
      transpose_tile_8x8(x + b0 * cols + c0, cols, std::min<int64_t>(8, batch - b0),
                         std::min<int64_t>(8, column_end - c0), x_transposed + c0 * stride + b0, stride);
}

// ---- driver ------------------------------------------------------------------

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
void spmv_rows(CsrPath path, const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* y,
               int64_t begin, int64_t end) {
  if (path == CsrPath::kPortable)
    spmv_rows_portable(w, x, bias, y, begin, end);
  else
    spmv_rows_fma(w, x, bias, y, begin, end);
}

// The batch row length of the transposed activations on `path`.
int64_t transposed_stride(CsrPath path, int64_t batch) {
  return path == CsrPath::kAvx2 ? (batch + kAvx2BatchPad - 1) / kAvx2BatchPad * kAvx2BatchPad : batch;
}

void transpose_columns(CsrPath path, const float* x, float* x_transposed, int64_t batch, int64_t stride, int64_t cols,
                       int64_t column_begin, int64_t column_end) {
  switch (path) {
    case CsrPath::kAvx512:
      transpose_columns_avx512(x, x_transposed, batch, cols, column_begin, column_end);
      break;
    case CsrPath::kAvx2:
      transpose_columns_avx2(x, x_transposed, batch, stride, cols, column_begin, column_end);
      break;
    case CsrPath::kPortable:
      for (int64_t c = column_begin; c < column_end; ++c)
        for (int64_t b = 0; b < batch; ++b) x_transposed[c * stride + b] = x[b * cols + c];
      break;
  }
}

template <typename Index, typename Value>
void spmm_rows(CsrPath path, const CsrArrays<Index, Value>& w, const float* x_transposed, int64_t stride,
               const float* bias, float* out, int64_t batch, int64_t begin, int64_t end) {
  switch (path) {
    case CsrPath::kAvx512: spmm_rows_avx512(w, x_transposed, bias, out, batch, begin, end); break;
    case CsrPath::kAvx2: spmm_rows_avx2(w, x_transposed, stride, bias, out, batch, begin, end); break;
    case CsrPath::kPortable: spmm_rows_portable(w, x_transposed, bias, out, batch, begin, end); break;
  }
}

template <typename Index, typename Value>
void csr_linear_typed(CsrPath path, const CsrArrays<Index, Value>& w, const float* x, const float* bias, float* out,
                      int64_t batch) {
  const bool parallel = static_cast<int64_t>(w.row_ptr[w.rows]) * batch + w.rows * batch >= kParallelMultiplyAdds;
  if (batch == 1) {
#pragma omp parallel if (parallel)
    {
      const auto [begin, end] = row_range_by_nonzeros(w.row_ptr, w.rows, omp_get_thread_num(), omp_get_num_threads());
      spmv_rows(path, w, x, bias, out, begin, end);
    }
    return;
  }
  if (w.rows < kSpmmMinRows) {
    // A few rows (the attention's [1, A] score projection over every position): splitting rows
    // would leave threads idle and transposing x would cost more than the product, so each
    // thread takes whole activation rows.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < batch; ++b) spmv_rows(path, w, x + b * w.cols, bias, out + b * w.rows, 0, w.rows);
    return;
  }
  const int64_t stride = transposed_stride(path, batch);
  float* x_transposed = transposed_activation_buffer(static_cast<size_t>(w.cols * stride));
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t column_begin = 0; column_begin < w.cols; column_begin += 16)
      transpose_columns(path, x, x_transposed, batch, stride, w.cols, column_begin,
                        std::min(w.cols, column_begin + 16));
    const auto [begin, end] = row_range_by_nonzeros(w.row_ptr, w.rows, omp_get_thread_num(), omp_get_num_threads());
    spmm_rows(path, w, x_transposed, stride, bias, out, batch, begin, end);
  }
}

}  // namespace

void csr_linear_f32(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch) {
  const CsrPath path = csr_kernels_path();
  // On matrices under 70% sparse the transposed SpMM below measured faster from batch 2 on
  // (8192x2048 at 50%, batch 3); with fewer than 16 rows a slice would be mostly padding.
  const bool sliced_fits = batch == 1 || (weight.density() < kSlicedMaxDensity && weight.rows >= kSpmmMinRows);
  if (sliced_fits && path != CsrPath::kPortable) {
    sliced_multiply(path, weight, x, bias, out, batch);
    return;
  }
  visit_csr_types(weight, "csr_linear", [&](auto index, auto value) {
    using Index = decltype(index);
    using Value = decltype(value);
    const CsrArrays<Index, Value> arrays{weight.row_ptr.data<int32_t>(),
                                         static_cast<const Index*>(weight.col_idx.raw_data()),
                                         static_cast<const Value*>(weight.values.raw_data()), weight.rows, weight.cols};
    csr_linear_typed(path, arrays, x, bias, out, batch);
  });
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
