// The sliced (SELL-16) kernel for batches of one to four: see sliced_multiply.h for the layout and why.
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
#pragma omp parallel if (parallel)
  {
    const auto [begin, end] = slice_range_by_steps(layout->slice_steps, omp_get_thread_num(), omp_get_num_threads());
    multiply_slices(*layout, x, weight.cols, bias, out, batch, begin, end);
  }
}

}  // namespace

void sliced_multiply(const sparse::CsrMatrix& weight, const float* x, const float* bias, float* out, int64_t batch) {
  SPARSECAP_CHECK(cpu_has_avx512(), "sliced_multiply: this CPU has no AVX-512");
  SPARSECAP_CHECK(batch >= 1 && batch <= kSlicedMaxBatch, "sliced_multiply: batch must be 1 to ", kSlicedMaxBatch,
                  ", got ", batch);
  visit_csr_types(weight, "sliced_multiply", [&](auto index, auto value) {
    sliced_multiply_typed<decltype(index), decltype(value)>(weight, x, bias, out, batch);
  });
}

}  // namespace sparsecap::cpu
