// The sliced (SELL-16) kernels: see sliced_multiply.h for the layout and why.
#include "engine/cpu/sliced_multiply.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "engine/cpu/avx2.h"
#include "engine/cpu/avx512.h"
#include "engine/cpu/cpu_info.h"
#include "engine/cpu/csr_types.h"
#include "engine/dtype.h"
#include "engine/error.h"


namespace sparsecap::cpu {

namespace {

constexpr int64_t kLanes = 16;                      // rows per slice: one AVX-512 vector of floats, two AVX2
constexpr int64_t kSortWindow = 256;                // rows sorted by length together (a multiple of 16)
constexpr int64_t kWindowSlices = kSortWindow / kLanes;
// Below this many multiply-adds (padding included), one thread: fork and join cost more. Measured
// on 2 cores (docs/sparse.md, "Two threads or one"): 2048x512 at 99% (13 k) ran 1.5x slower on two
// threads than on one, at 97.5% (29 k) 1.5x faster.
constexpr int64_t kParallelMultiplyAdds = 1 << 14;

// Index: uint16_t or int32_t column indices; Value: float or uint16_t (float16 bits), as in the CSR.
template <typename Index, typename Value>
struct SlicedLayout final : sparse::DerivedLayout {
  int64_t rows = 0, slices = 0;
  std::vector<int32_t> lane_rows;    // [slices * 16]: the row each lane computes (0 past the last row)
  std::vector<int64_t> slice_steps;  // [slices + 1]: slice s holds steps slice_steps[s] .. [s + 1] - 1
  std::vector<Index> columns;        // [steps * 16]: step k's column of each lane (0 when padding)
  std::vector<Value> values;         // [steps * 16]: step k's value of each lane (0 when padding)
  std::vector<int32_t> window_slot;  // [rows]: row r's place in its window's sorted order (0 .. 255)
};

// A CSR value as the layout holds it: as it is, or float16 bits widened to float32 (exact).
template <typename LayoutValue, typename CsrValue>
LayoutValue layout_value(CsrValue value) {
  if constexpr (std::is_same_v<LayoutValue, CsrValue>)
    return value;
  else
    return half_to_float(value);
}

// The layout of a CSR whose values are CsrValue, holding them as LayoutValue (float16 values widened
// to float32 where LayoutValue is float: SlicedHalfValues in csr_path.h).
template <typename Index, typename CsrValue, typename LayoutValue = CsrValue>
std::shared_ptr<const SlicedLayout<Index, LayoutValue>> build_layout(const sparse::CsrMatrix& csr) {
  auto layout = std::make_shared<SlicedLayout<Index, LayoutValue>>();
  const int32_t* row_ptr = csr.row_ptr.data<int32_t>();
  const auto* csr_columns = static_cast<const Index*>(csr.col_idx.raw_data());
  const auto* csr_values = static_cast<const CsrValue*>(csr.values.raw_data());
  auto length = [&](int64_t r) { return static_cast<int64_t>(row_ptr[r + 1] - row_ptr[r]); };

  layout->rows = csr.rows;
  layout->slices = (csr.rows + kLanes - 1) / kLanes;
  std::vector<int32_t> order(static_cast<size_t>(csr.rows));
  std::iota(order.begin(), order.end(), 0);
  // Sorted within windows of rows, not globally, and threads take whole windows: the rows of a
  // window are spread over its slices, and two threads storing into the same lines of y (false
  // sharing) cost more than the product at high sparsity.
  for (int64_t window = 0; window < csr.rows; window += kSortWindow)
    std::stable_sort(order.begin() + window, order.begin() + std::min(window + kSortWindow, csr.rows),
                     [&](int32_t a, int32_t b) { return length(a) > length(b); });
  layout->lane_rows.assign(static_cast<size_t>(layout->slices * kLanes), 0);
  std::copy(order.begin(), order.end(), layout->lane_rows.begin());
  layout->window_slot.resize(static_cast<size_t>(csr.rows));
  for (int64_t i = 0; i < csr.rows; ++i)
    layout->window_slot[order[static_cast<size_t>(i)]] = static_cast<int32_t>(i % kSortWindow);

  // A slice is as long as its first (longest) row.
  layout->slice_steps.assign(static_cast<size_t>(layout->slices + 1), 0);
  for (int64_t s = 0; s < layout->slices; ++s)
    layout->slice_steps[s + 1] = layout->slice_steps[s] + length(order[static_cast<size_t>(s * kLanes)]);
  const size_t entries = static_cast<size_t>(layout->slice_steps.back() * kLanes);
  layout->columns.assign(entries, Index(0));
  layout->values.assign(entries, LayoutValue(0));  // also +0.0 as float16 bits
  for (int64_t s = 0; s < layout->slices; ++s)
    for (int64_t lane = 0; lane < kLanes && s * kLanes + lane < csr.rows; ++lane) {
      const int32_t r = order[static_cast<size_t>(s * kLanes + lane)];
      for (int32_t k = 0; k < row_ptr[r + 1] - row_ptr[r]; ++k) {
        const size_t entry = static_cast<size_t>((layout->slice_steps[s] + k) * kLanes + lane);
        layout->columns[entry] = csr_columns[row_ptr[r] + k];
        layout->values[entry] = layout_value<LayoutValue>(csr_values[row_ptr[r] + k]);
      }
    }
  return layout;
}

// out [Batch, rows] at the rows of slice s = sums [activation row][lane] + bias, for the lanes that
// hold rows. Scalar stores: a 16-wide scatter measured no faster (AVX-512).
template <int Batch, typename Index, typename Value>
void store_slice_rows(const SlicedLayout<Index, Value>& layout, const float (&sums)[Batch][kLanes], const float* bias,
                      float* out, int64_t s) {
  const int32_t* rows = &layout.lane_rows[s * kLanes];
  const int64_t lanes = std::min(kLanes, layout.rows - s * kLanes);
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const float row_bias = bias ? bias[rows[lane]] : 0.0f;
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n) out[n * layout.rows + rows[lane]] = sums[n][lane] + row_bias;
  }
}

// ---- AVX-512 -----------------------------------------------------------------

SPARSECAP_AVX512 inline __m512i load_columns(const uint16_t* columns) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(columns)));
}
SPARSECAP_AVX512 inline __m512i load_columns(const int32_t* columns) { return _mm512_loadu_si512(columns); }
SPARSECAP_AVX512 inline __m512 load_values(const float* values) { return _mm512_loadu_ps(values); }
SPARSECAP_AVX512 inline __m512 load_values(const uint16_t* half_bits) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(half_bits)));
}

// sums[n] += values of step k x the activations of x row n gathered at the step's columns: the
// indices and values are loaded once for all `Batch` rows.
template <int Batch, typename Index, typename Value>
SPARSECAP_AVX512 inline void accumulate_step(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                                             int64_t k, __m512 (&sums)[Batch]) {
  const __m512i columns = load_columns(&layout.columns[k * kLanes]);
  const __m512 values = load_values(&layout.values[k * kLanes]);
#pragma GCC unroll 4
  for (int n = 0; n < Batch; ++n)
    sums[n] = _mm512_fmadd_ps(values, _mm512_i32gather_ps(columns, x + n * cols, 4), sums[n]);
}

// out [Batch, rows] = x [Batch, cols] · Wᵀ + bias for the rows of slices [begin, end).
template <int Batch, typename Index, typename Value>
SPARSECAP_AVX512 void multiply_slices_avx512(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                                             const float* bias, float* out, int64_t begin, int64_t end) {
  alignas(64) float sums[Batch][kLanes];
  for (int64_t s = begin; s < end; ++s) {
    // Two sets of sums taking turns, so a step's FMAs do not wait on the previous step's.
    __m512 even[Batch], odd[Batch];
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n) even[n] = odd[n] = _mm512_setzero_ps();
    int64_t k = layout.slice_steps[s];
    const int64_t steps_end = layout.slice_steps[s + 1];
    for (; k + 2 <= steps_end; k += 2) {
      accumulate_step<Batch>(layout, x, cols, k, even);
      accumulate_step<Batch>(layout, x, cols, k + 1, odd);
    }
    if (k < steps_end) accumulate_step<Batch>(layout, x, cols, k, even);
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n) _mm512_store_ps(sums[n], _mm512_add_ps(even[n], odd[n]));
    store_slice_rows<Batch>(layout, sums, bias, out, s);
  }
}

// ---- batch above kSlicedGatherMaxBatch: blocks of sixteen activation rows ------------------

// x_blocked [batch / 16][cols][16]: block j holds activation rows 16 j .. 16 j + 15 transposed
// (lanes past the batch zero), so one non-zero's 16 batch values are one vector and a
// block of a 512-column x fits in L1. Tiles of 16 x 16, transposed in registers.
SPARSECAP_AVX512 void transpose_to_blocks_avx512(const float* x, int64_t batch, int64_t cols, float* x_blocked,
                                          int64_t block, int64_t column_begin) {
  transpose_tile(x + block * kLanes * cols + column_begin, cols, std::min<int64_t>(kLanes, batch - block * kLanes),
                 std::min<int64_t>(kLanes, cols - column_begin), x_blocked + (block * cols + column_begin) * kLanes,
                 kLanes, __mmask16(0xFFFF));
}

// The values of step k widened to float32 (float16 all sixteen at once), for one broadcast each.
SPARSECAP_AVX512 inline const float* step_values(const float* values, float*) { return values; }
SPARSECAP_AVX512 inline const float* step_values(const uint16_t* half_bits, float* widened) {
  _mm512_store_ps(widened, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(half_bits))));
  return widened;
}

// One block of 16 activation rows against slice s: sums[lane] is slice row `lane` over the block,
// one broadcast FMA per entry and no branch per row.
template <typename Index, typename Value>
SPARSECAP_AVX512 inline void multiply_slice_block(const SlicedLayout<Index, Value>& layout, const float* xb, int64_t s,
                                                  __m512 (&sums)[16]) {
  alignas(64) float widened[kLanes];
#pragma GCC unroll 16
  for (int lane = 0; lane < 16; ++lane) sums[lane] = _mm512_setzero_ps();
  for (int64_t k = layout.slice_steps[s]; k < layout.slice_steps[s + 1]; ++k) {
    const Index* columns = &layout.columns[k * kLanes];
    const float* values = step_values(&layout.values[k * kLanes], widened);
#pragma GCC unroll 16
    for (int lane = 0; lane < 16; ++lane)
      sums[lane] = _mm512_fmadd_ps(_mm512_set1_ps(values[lane]),
                                   _mm512_loadu_ps(xb + static_cast<int64_t>(columns[lane]) * kLanes), sums[lane]);
  }
}

// out [batch, rows] for the rows of slices [begin, end) (whole windows). Window by window (its
// part of the matrix stays in cache while every block of activation rows passes): the slice sums
// are transposed into a window buffer in sorted order, then gathered back into row order and
// stored contiguously.
template <typename Index, typename Value>
SPARSECAP_AVX512 void multiply_windows_avx512(const SlicedLayout<Index, Value>& layout, const float* x_blocked,
                                              int64_t cols, const float* bias, float* out, int64_t batch,
                                              int64_t begin, int64_t end) {
  alignas(64) float window_sums[kLanes][kSortWindow];  // [activation row in block][place in window]
  for (int64_t window = begin; window < end; window += kWindowSlices) {
    const int64_t window_end = std::min(end, window + kWindowSlices);
    const int64_t first_row = window * kLanes;
    const int64_t window_rows = std::min(kSortWindow, layout.rows - first_row);
    for (int64_t block = 0; block * kLanes < batch; ++block) {
      const int64_t block_rows = std::min<int64_t>(kLanes, batch - block * kLanes);
      for (int64_t s = window; s < window_end; ++s) {
        __m512 sums[16];
        multiply_slice_block(layout, x_blocked + block * cols * kLanes, s, sums);
        transpose_16x16(sums);
#pragma GCC unroll 16
        for (int b = 0; b < 16; ++b) _mm512_store_ps(&window_sums[b][(s - window) * kLanes], sums[b]);
      }
      for (int64_t r = 0; r < window_rows; r += kLanes) {
        const __mmask16 mask = static_cast<__mmask16>((1u << std::min<int64_t>(kLanes, window_rows - r)) - 1);
        const __m512i places = _mm512_maskz_loadu_epi32(mask, &layout.window_slot[first_row + r]);
        const __m512 row_bias = bias ? _mm512_maskz_loadu_ps(mask, bias + first_row + r) : _mm512_setzero_ps();
        for (int64_t b = 0; b < block_rows; ++b) {
          const __m512 sum = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, places, window_sums[b], 4);
          _mm512_mask_storeu_ps(out + (block * kLanes + b) * layout.rows + first_row + r, mask,
                                _mm512_add_ps(sum, row_bias));
        }
      }
    }
  }
}

// ---- AVX2 + F16C ---------------------------------------------------------------

SPARSECAP_AVX2 inline __m256 load_values8(const float* values) { return _mm256_loadu_ps(values); }
SPARSECAP_AVX2 inline __m256 load_values8(const uint16_t* half_bits) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(half_bits)));
}

// x at the eight columns columns[0 .. 7], from scalar loads put together in registers: on AMD Zen
// 4, in a microbenchmark over an L1-resident x, this cost 0.23 ns per element against 0.34 ns for
// _mm256_i32gather_ps (and 0.30 ns for eight scalar multiply-add chains).
template <typename Index>
SPARSECAP_AVX2 inline __m256 gather8(const float* x, const Index* columns) {
  return _mm256_setr_ps(x[columns[0]], x[columns[1]], x[columns[2]], x[columns[3]], x[columns[4]], x[columns[5]],
                        x[columns[6]], x[columns[7]]);
}

// U16 columns four at a time from one 64-bit load, taken apart by shifts: the loop is bound by its
// loads, and this made the batch-1 kernel 1.12-1.21x faster in float32 and 1.03-1.09x in float16
// (AMD Zen 4, one thread, bench_sparse's shapes at 95-99% sparsity).
SPARSECAP_AVX2 inline __m256 gather8(const float* x, const uint16_t* columns) {
  uint64_t low, high;
  std::memcpy(&low, columns, 8);
  std::memcpy(&high, columns + 4, 8);
  return _mm256_setr_ps(x[low & 0xFFFF], x[(low >> 16) & 0xFFFF], x[(low >> 32) & 0xFFFF], x[low >> 48],
                        x[high & 0xFFFF], x[(high >> 16) & 0xFFFF], x[(high >> 32) & 0xFFFF], x[high >> 48]);
}

// sums[n][half] += values of step k x the activations of x row n at the step's columns, for lanes
// 8 half .. 8 half + 7. The two halves are independent chains, and a step's loads take longer than
// an FMA's latency, so no second set of sums takes turns as on AVX-512.
template <int Batch, typename Index, typename Value>
SPARSECAP_AVX2 inline void accumulate_step_avx2(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                                                int64_t k, __m256 (&sums)[Batch][2]) {
#pragma GCC unroll 2
  for (int half = 0; half < 2; ++half) {
    const Index* columns = &layout.columns[k * kLanes + 8 * half];
    const __m256 values = load_values8(&layout.values[k * kLanes + 8 * half]);
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n)
      sums[n][half] = _mm256_fmadd_ps(values, gather8(x + n * cols, columns), sums[n][half]);
  }
}

// out [Batch, rows] = x [Batch, cols] · Wᵀ + bias for the rows of slices [begin, end).
template <int Batch, typename Index, typename Value>
SPARSECAP_AVX2 void multiply_slices_avx2(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                                         const float* bias, float* out, int64_t begin, int64_t end) {
  alignas(32) float sums[Batch][kLanes];
  for (int64_t s = begin; s < end; ++s) {
    __m256 halves[Batch][2];
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n) halves[n][0] = halves[n][1] = _mm256_setzero_ps();
    for (int64_t k = layout.slice_steps[s]; k < layout.slice_steps[s + 1]; ++k)
      accumulate_step_avx2<Batch>(layout, x, cols, k, halves);
#pragma GCC unroll 4
    for (int n = 0; n < Batch; ++n) {
      _mm256_store_ps(&sums[n][0], halves[n][0]);
      _mm256_store_ps(&sums[n][8], halves[n][1]);
    }
    store_slice_rows<Batch>(layout, sums, bias, out, s);
  }
}

// Batch above kSlicedGatherMaxBatch: blocks of 16 activation rows, x_blocked [batch / 16][cols][16]
// as on AVX-512 (two 8-lane vectors per column), built from 8 x 8 register transposes. A pass takes
// four slice rows against a block (8 sums): each non-zero's broadcast value and column index then
// serve two FMAs. The loads, not the FMAs, bound this loop: eight slice rows against blocks of 8
// activation rows (three loads per FMA: column, broadcast, activations) took 0.9-1.4x the time of
// this in float32 and 1.0-1.7x in float16 (AMD Zen 4, one thread, interleaved runs, shapes and
// sparsities of bench_sparse at batch 16 and 64).
constexpr int64_t kAvx2BlockRows = 16;
static_assert(kAvx2BlockRows == kLanes, "x_blocked has the same layout on both paths");
constexpr int64_t kAvx2PassLanes = 4;  // slice rows per pass

// Block `block` of x_blocked, columns column_begin .. column_begin + 7: activation rows 0-7 and 8-15
// of the block as two 8 x 8 tiles (rows past the batch zero).
SPARSECAP_AVX2 void transpose_to_blocks_avx2(const float* x, int64_t batch, int64_t cols, float* x_blocked,
                                             int64_t block, int64_t column_begin) {
  const int64_t columns = std::min<int64_t>(8, cols - column_begin);
#pragma GCC unroll 2
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t first_row = block * kAvx2BlockRows + 8 * half;
    const int64_t rows = std::clamp<int64_t>(batch - first_row, 0, 8);
    const float* source = rows > 0 ? x + first_row * cols + column_begin : x;  // not read when rows = 0
    transpose_tile_8x8(source, cols, rows, columns,
                       x_blocked + (block * cols + column_begin) * kAvx2BlockRows + 8 * half, kAvx2BlockRows);
  }
}

// The values of a window's steps as float32, for every block of activation rows to read: the
// layout's own, or float16 widened once per window into a per-thread buffer (widened at every step
// of every block instead, float16 took up to 1.4x the time of float32).
SPARSECAP_AVX2 inline const float* window_values(const float* values, int64_t, std::vector<float>&) { return values; }
SPARSECAP_AVX2 inline const float* window_values(const uint16_t* half_bits, int64_t count, std::vector<float>& buffer) {
  if (buffer.size() < static_cast<size_t>(count)) buffer.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i += 8)  // count is a multiple of 16
    _mm256_storeu_ps(&buffer[i], load_values8(half_bits + i));
  return buffer.data();
}

// One block of 16 activation rows against slice rows `lane0` .. lane0 + 3 of a slice whose steps
// start at columns / values: sums[lane][v] is slice row lane0 + lane over activation rows
// 8 v .. 8 v + 7.
template <typename Index>
SPARSECAP_AVX2 inline void multiply_pass(const Index* columns, const float* values, int64_t steps, const float* xb,
                                         int lane0, __m256 (&sums)[kAvx2PassLanes][2]) {
#pragma GCC unroll 4
  for (int lane = 0; lane < kAvx2PassLanes; ++lane) sums[lane][0] = sums[lane][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < steps; ++k) {
#pragma GCC unroll 4
    for (int lane = 0; lane < kAvx2PassLanes; ++lane) {
      const int64_t entry = k * kLanes + lane0 + lane;
      const __m256 value = _mm256_broadcast_ss(values + entry);
      const float* source = xb + static_cast<int64_t>(columns[entry]) * kAvx2BlockRows;
      sums[lane][0] = _mm256_fmadd_ps(value, _mm256_loadu_ps(source), sums[lane][0]);
      sums[lane][1] = _mm256_fmadd_ps(value, _mm256_loadu_ps(source + 8), sums[lane][1]);
    }
  }
}

// window_sums[b][place + lane] = sums[lane][b / 8] lane b % 8, for the 16 activation rows b: each
// vector's four slice rows transposed as the first two steps of transpose_8x8 (then u[k] holds
// activation rows k and k + 4, a 128-bit half each).
SPARSECAP_AVX2 inline void store_pass(const __m256 (&sums)[kAvx2PassLanes][2], float (*window_sums)[kSortWindow],
                                      int64_t place) {
#pragma GCC unroll 2
  for (int v = 0; v < 2; ++v) {
    const __m256 t0 = _mm256_unpacklo_ps(sums[0][v], sums[1][v]), t1 = _mm256_unpackhi_ps(sums[0][v], sums[1][v]);
    const __m256 t2 = _mm256_unpacklo_ps(sums[2][v], sums[3][v]), t3 = _mm256_unpackhi_ps(sums[2][v], sums[3][v]);
    const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                         _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      _mm_store_ps(&window_sums[8 * v + k][place], _mm256_castps256_ps128(u[k]));
      _mm_store_ps(&window_sums[8 * v + k + 4][place], _mm256_extractf128_ps(u[k], 1));
    }
  }
}

// out [batch, rows] for the rows of slices [begin, end) (whole windows), window by window as
// multiply_windows_avx512: window sums in sorted order, then put back into row order.
template <typename Index, typename Value>
SPARSECAP_AVX2 void multiply_windows_avx2(const SlicedLayout<Index, Value>& layout, const float* x_blocked,
                                          int64_t cols, const float* bias, float* out, int64_t batch, int64_t begin,
                                          int64_t end) {
  static thread_local std::vector<float> widened;
  alignas(32) float window_sums[kAvx2BlockRows][kSortWindow];  // [activation row in block][place in window]
  for (int64_t window = begin; window < end; window += kWindowSlices) {
    const int64_t window_end = std::min(end, window + kWindowSlices);
    const int64_t first_row = window * kLanes;
    const int64_t window_rows = std::min(kSortWindow, layout.rows - first_row);
    const int64_t first_step = layout.slice_steps[window];
    const float* values = window_values(&layout.values[first_step * kLanes],
                                        (layout.slice_steps[window_end] - first_step) * kLanes, widened);
    for (int64_t block = 0; block * kAvx2BlockRows < batch; ++block) {
      const int64_t block_rows = std::min(kAvx2BlockRows, batch - block * kAvx2BlockRows);
      const float* xb = x_blocked + block * cols * kAvx2BlockRows;
      for (int64_t s = window; s < window_end; ++s) {
        const int64_t step = layout.slice_steps[s], steps = layout.slice_steps[s + 1] - step;
        for (int lane0 = 0; lane0 < kLanes; lane0 += kAvx2PassLanes) {
          __m256 sums[kAvx2PassLanes][2];
          multiply_pass(&layout.columns[step * kLanes], values + (step - first_step) * kLanes, steps, xb, lane0, sums);
          store_pass(sums, window_sums, (s - window) * kLanes + lane0);
        }
      }
      for (int64_t r = 0; r < window_rows; r += 8) {
        const int64_t lanes = std::min<int64_t>(8, window_rows - r);
        const int32_t* places = &layout.window_slot[first_row + r];
        for (int64_t b = 0; b < block_rows; ++b) {
          float* row_out = out + (block * kAvx2BlockRows + b) * layout.rows + first_row + r;
          if (lanes == 8) {
            const __m256 row_bias = bias ? _mm256_loadu_ps(bias + first_row + r) : _mm256_setzero_ps();
            _mm256_storeu_ps(row_out, _mm256_add_ps(gather8(window_sums[b], places), row_bias));
          } else {
            for (int64_t j = 0; j < lanes; ++j)
              row_out[j] = window_sums[b][places[j]] + (bias ? bias[first_row + r + j] : 0.0f);
          }
        }
      }
    }
  }
}

// ---- driver ------------------------------------------------------------------

// Scratch for the blocked activations, kept per calling thread so repeated calls do not allocate.
float* blocked_activation_buffer(size_t floats) {
  static thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// Thread `thread` of `threads` takes the whole windows holding its share of the steps.
std::pair<int64_t, int64_t> slice_range_by_steps(const std::vector<int64_t>& slice_steps, int thread, int threads) {
  const int64_t slices = static_cast<int64_t>(slice_steps.size()) - 1;
  auto first_slice_at = [&](int64_t share) -> int64_t {
    if (share <= 0) return 0;
    if (share >= threads) return slices;
    const int64_t target = slice_steps.back() * share / threads;
    const int64_t slice = std::lower_bound(slice_steps.begin(), slice_steps.end() - 1, target) - slice_steps.begin();
    return std::min(slices, (slice + kWindowSlices / 2) / kWindowSlices * kWindowSlices);  // nearest window start
  };
  return {first_slice_at(thread), first_slice_at(thread + 1)};
}

template <int Batch, typename Index, typename Value>
void multiply_slices(CsrPath path, const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                     const float* bias, float* out, int64_t begin, int64_t end) {
  // On the AVX-512 path, the AVX2 kernel where the 16-wide gather is the slower way (csr_path.h).
  if (path == CsrPath::kAvx512 && sliced_gather() == SlicedGather::kHardwareGather)
    multiply_slices_avx512<Batch>(layout, x, cols, bias, out, begin, end);
  else
    multiply_slices_avx2<Batch>(layout, x, cols, bias, out, begin, end);
}

template <typename Index, typename Value>
void multiply_slices(CsrPath path, const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
                     const float* bias, float* out, int64_t batch, int64_t begin, int64_t end) {
  switch (batch) {
    case 1: multiply_slices<1>(path, layout, x, cols, bias, out, begin, end); break;
    case 2: multiply_slices<2>(path, layout, x, cols, bias, out, begin, end); break;
    case 3: multiply_slices<3>(path, layout, x, cols, bias, out, begin, end); break;
    default: multiply_slices<4>(path, layout, x, cols, bias, out, begin, end); break;
  }
}

// out [batch, rows] = x [batch, cols] · Wᵀ + bias on W's sliced layout.
template <typename Index, typename Value>
void multiply_on_layout(CsrPath path, const std::shared_ptr<const SlicedLayout<Index, Value>>& layout, int64_t cols,
                        const float* x, const float* bias, float* out, int64_t batch) {
  if (layout->rows == 0) return;
  const bool parallel = (layout->slice_steps.back() * kLanes + layout->rows) * batch >= kParallelMultiplyAdds;
  if (batch <= kSlicedGatherMaxBatch) {
    if (!parallel) {
      // No parallel region at all: an inactive one (`if (false)`) still cost about 0.35 us, 10% of
      // 2048x512 at 99% (docs/sparse.md, "Two threads or one").
      multiply_slices(path, *layout, x, cols, bias, out, batch, 0, layout->slices);
      return;
    }
#pragma omp parallel
    {
      const auto [begin, end] = slice_range_by_steps(layout->slice_steps, omp_get_thread_num(), omp_get_num_threads());
      multiply_slices(path, *layout, x, cols, bias, out, batch, begin, end);
    }
    return;
  }
  const bool avx512 = path == CsrPath::kAvx512;
  const int64_t tile_columns = avx512 ? kLanes : 8;  // columns per register transpose
  const int64_t blocks = (batch + kLanes - 1) / kLanes;  // kLanes = kAvx2BlockRows
  const int64_t column_tiles = (cols + tile_columns - 1) / tile_columns;
  float* x_blocked = blocked_activation_buffer(static_cast<size_t>(blocks * cols * kLanes));
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < blocks * column_tiles; ++tile) {
      const int64_t block = tile / column_tiles, column_begin = (tile % column_tiles) * tile_columns;
      if (avx512)
        transpose_to_blocks_avx512(x, batch, cols, x_blocked, block, column_begin);
      else
        transpose_to_blocks_avx2(x, batch, cols, x_blocked, block, column_begin);
    }
    const auto [begin, end] = slice_range_by_steps(layout->slice_steps, omp_get_thread_num(), omp_get_num_threads());
    if (avx512)
      multiply_windows_avx512(*layout, x_blocked, cols, bias, out, batch, begin, end);
    else
      multiply_windows_avx2(*layout, x_blocked, cols, bias, out, batch, begin, end);
  }
}

// Whether this float16 weight's layout holds its values widened to float32 (csr_path.h).
bool widens_half_values(const sparse::CsrMatrix& weight) {
  switch (sliced_half_values()) {
    case SlicedHalfValues::kHalf: return false;
    case SlicedHalfValues::kWidened: return true;
    case SlicedHalfValues::kAuto: break;
  }
  return sliced_layout_widens_half(weight.nnz(), dtype_size(weight.col_idx.dtype()), last_level_cache_bytes());
}

template <typename Index, typename Value>
void sliced_multiply_typed(CsrPath path, const sparse::CsrMatrix& weight, const float* x, const float* bias,
                           float* out, int64_t batch) {
  if constexpr (std::is_same_v<Value, uint16_t>) {
    if (widens_half_values(weight)) {
      const auto layout = weight.derived_layout<SlicedLayout<Index, float>>(build_layout<Index, uint16_t, float>);
      multiply_on_layout(path, layout, weight.cols, x, bias, out, batch);
      return;
    }
  }
  const auto layout = weight.derived_layout<SlicedLayout<Index, Value>>(build_layout<Index, Value>);
  multiply_on_layout(path, layout, weight.cols, x, bias, out, batch);
}

}  // namespace

bool sliced_layout_widens_half(int64_t nnz, int64_t index_bytes, int64_t cache_bytes) {
  return 2 * nnz * (index_bytes + static_cast<int64_t>(sizeof(float))) <= cache_bytes;
}

void sliced_multiply(CsrPath path, const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out,
                     int64_t batch) {
  SPARSECAP_CHECK(path == CsrPath::kAvx512 || path == CsrPath::kAvx2,
                  "sliced_multiply: runs on the AVX-512 or AVX2 path, not ", csr_path_name(path));
  SPARSECAP_CHECK(csr_path_available(path), "sliced_multiply: this CPU has no ", csr_path_name(path));
  SPARSECAP_CHECK(batch >= 1, "sliced_multiply: batch must be at least 1, got ", batch);
  visit_csr_types(weight, "sliced_multiply", [&](auto index, auto value) {
    sliced_multiply_typed<decltype(index), decltype(value)>(path, weight, x, bias, out, batch);
  });
}

}  // namespace sparsecap::cpu
