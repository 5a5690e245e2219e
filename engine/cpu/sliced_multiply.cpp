// The sliced (SELL-16) kernels: see sliced_multiply.h for the layout and why.
#include "engine/cpu/sliced_multiply.h"

#include <omp.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/cpu/avx512.h"
#include "engine/cpu/csr_types.h"
#include "engine/error.h"


namespace sparsecap::cpu {

namespace {

constexpr int64_t kLanes = 16;                      // rows per slice: one AVX-512 vector of floats
constexpr int64_t kSortWindow = 256;                // rows sorted by length together (a multiple of 16)
constexpr int64_t kWindowSlices = kSortWindow / kLanes;
constexpr int64_t kParallelMultiplyAdds = 1 << 12;  // below this, one thread: fork/join costs more

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

template <typename Index, typename Value>
std::shared_ptr<const SlicedLayout<Index, Value>> build_layout(const sparse::CsrMatrix& csr) {
  auto layout = std::make_shared<SlicedLayout<Index, Value>>();
  const int32_t* row_ptr = csr.row_ptr.data<int32_t>();
  const auto* csr_columns = static_cast<const Index*>(csr.col_idx.raw_data());
  const auto* csr_values = static_cast<const Value*>(csr.values.raw_data());
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
  layout->values.assign(entries, Value(0));  // also +0.0 as float16 bits
  for (int64_t s = 0; s < layout->slices; ++s)
    for (int64_t lane = 0; lane < kLanes && s * kLanes + lane < csr.rows; ++lane) {
      const int32_t r = order[static_cast<size_t>(s * kLanes + lane)];
      for (int32_t k = 0; k < row_ptr[r + 1] - row_ptr[r]; ++k) {
        const size_t entry = static_cast<size_t>((layout->slice_steps[s] + k) * kLanes + lane);
        layout->columns[entry] = csr_columns[row_ptr[r] + k];
        layout->values[entry] = csr_values[row_ptr[r] + k];
      }
    }
  return layout;
}

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
SPARSECAP_AVX512 void multiply_slices(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols,
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
    // Scalar stores: a 16-wide scatter measured no faster.
    const int32_t* rows = &layout.lane_rows[s * kLanes];
    const int64_t lanes = std::min(kLanes, layout.rows - s * kLanes);
    for (int64_t lane = 0; lane < lanes; ++lane) {
      const float row_bias = bias ? bias[rows[lane]] : 0.0f;
#pragma GCC unroll 4
      for (int n = 0; n < Batch; ++n) out[n * layout.rows + rows[lane]] = sums[n][lane] + row_bias;
    }
  }
}

template <typename Index, typename Value>
void multiply_slices(const SlicedLayout<Index, Value>& layout, const float* x, int64_t cols, const float* bias,
                     float* out, int64_t batch, int64_t begin, int64_t end) {
  switch (batch) {
    case 1: multiply_slices<1>(layout, x, cols, bias, out, begin, end); break;
    case 2: multiply_slices<2>(layout, x, cols, bias, out, begin, end); break;
    case 3: multiply_slices<3>(layout, x, cols, bias, out, begin, end); break;
    default: multiply_slices<4>(layout, x, cols, bias, out, begin, end); break;
  }
}

// ---- batch above kSlicedGatherMaxBatch: blocks of sixteen activation rows ------------------

// x_blocked [batch / 16][cols][16]: block j holds activation rows 16 j .. 16 j + 15 transposed
// (lanes past the batch zero), so one non-zero's 16 batch values are one vector and a
// block of a 512-column x fits in L1. Tiles of 16 x 16, transposed in registers.
SPARSECAP_AVX512 void transpose_to_blocks(const float* x, int64_t batch, int64_t cols, float* x_blocked,
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
SPARSECAP_AVX512 void multiply_windows(const SlicedLayout<Index, Value>& layout, const float* x_blocked, int64_t cols,
                                       const float* bias, float* out, int64_t batch, int64_t begin, int64_t end) {
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

template <typename Index, typename Value>
void sliced_multiply_typed(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out,
                           int64_t batch) {
  const auto layout = weight.derived_layout<SlicedLayout<Index, Value>>(build_layout<Index, Value>);
  if (layout->rows == 0) return;
  const bool parallel = (layout->slice_steps.back() * kLanes + layout->rows) * batch >= kParallelMultiplyAdds;
  if (batch <= kSlicedGatherMaxBatch) {
#pragma omp parallel if (parallel)
    {
      const auto [begin, end] = slice_range_by_steps(layout->slice_steps, omp_get_thread_num(), omp_get_num_threads());
      multiply_slices(*layout, x, weight.cols, bias, out, batch, begin, end);
    }
    return;
  }
  const int64_t cols = weight.cols, blocks = (batch + kLanes - 1) / kLanes, column_tiles = (cols + kLanes - 1) / kLanes;
  float* x_blocked = blocked_activation_buffer(static_cast<size_t>(blocks * cols * kLanes));
#pragma omp parallel if (parallel)
  {
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < blocks * column_tiles; ++tile)
      transpose_to_blocks(x, batch, cols, x_blocked, tile / column_tiles, (tile % column_tiles) * kLanes);
    const auto [begin, end] = slice_range_by_steps(layout->slice_steps, omp_get_thread_num(), omp_get_num_threads());
    multiply_windows(*layout, x_blocked, cols, bias, out, batch, begin, end);
  }
}

}  // namespace

void sliced_multiply(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch) {
  SPARSECAP_CHECK(cpu_has_avx512(), "sliced_multiply: this CPU has no AVX-512");
  SPARSECAP_CHECK(batch >= 1, "sliced_multiply: batch must be at least 1, got ", batch);
  visit_csr_types(weight, "sliced_multiply", [&](auto index, auto value) {
    sliced_multiply_typed<decltype(index), decltype(value)>(weight, x, bias, out, batch);
  });
}

}  // namespace sparsecap::cpu
