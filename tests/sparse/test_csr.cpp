// CSR matrices: dense round trip, index and value dtypes, every invariant violation, and the CPU
// sparse linear kernel against a dense float64 reference across the kernel's code paths (short
// and long rows, the sliced gather and block kernels, SpMV, SpMM and SpMV-per-activation-row
// batches, one and two threads, F16 and F32 values, U16 and I32 indices), each on every
// instruction-set path (portable, AVX2, AVX-512) this CPU has; the others are skipped, by name.
#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>

#include "engine/autograd.h"
#include "engine/cpu/csr_linear.h"
#include "engine/cpu/csr_path.h"
#include "engine/cpu/sliced_multiply.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/sparse/csr_matrix.h"
#include "engine/sparse/sparse_ops.h"

namespace sparsecap::cpu {

// How test names print a path parameter ("AVX2"), instead of its bytes.
void PrintTo(CsrPath path, std::ostream* os) { *os << csr_path_name(path); }

}  // namespace sparsecap::cpu

namespace sparsecap::sparse {
namespace {

// A [rows, cols] matrix with about `density` of its entries non-zero.
Tensor random_sparse_matrix(int64_t rows, int64_t cols, double density, uint64_t seed) {
  Generator generator(seed);
  const Tensor values = randn({rows, cols}, generator);
  const Tensor keep = bernoulli({rows, cols}, density, generator);
  return mul(values, keep);
}

TEST(CsrMatrix, RoundTripsADenseMatrix) {
  const Tensor dense = from_vector<float>({0, 1.5f, 0, 0, 0, 0, -2, 0, 3, 0, 0, 4}, {3, 4});
  const CsrMatrix csr = csr_from_dense(dense);
  EXPECT_EQ(csr.rows, 3);
  EXPECT_EQ(csr.cols, 4);
  EXPECT_EQ(csr.nnz(), 4);
  EXPECT_EQ(csr.row_ptr.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2, 4}));
  EXPECT_EQ(csr.col_idx.dtype(), DType::U16);
  EXPECT_EQ(csr.col_idx.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 0, 3}));
  EXPECT_EQ(csr.values.to_vector<float>(), (std::vector<float>{1.5f, -2, 3, 4}));
  EXPECT_EQ(csr_to_dense(csr).to_vector<float>(), dense.to_vector<float>());
  EXPECT_NO_THROW(validate_csr(csr, "test"));
  EXPECT_EQ(csr.stored_bytes(), 4u * 4 + 2u * 4 + 4u * 4);
}

TEST(CsrMatrix, ColumnIndexTypeIsTheNarrowestThatFits) {
  EXPECT_EQ(narrowest_column_index_dtype(512), DType::U16);
  EXPECT_EQ(narrowest_column_index_dtype(65536), DType::U16);
  EXPECT_EQ(narrowest_column_index_dtype(65537), DType::I32);
  const Tensor wide = zeros({1, 70000});
  Tensor host = wide.clone();
  host.data<float>()[69999] = 5.0f;
  const CsrMatrix csr = csr_from_dense(host);
  EXPECT_EQ(csr.col_idx.dtype(), DType::I32);
  EXPECT_EQ(csr.col_idx.to_vector<int64_t>(), (std::vector<int64_t>{69999}));
  EXPECT_EQ(csr_to_dense(csr).to_vector<float>()[69999], 5.0f);
}

TEST(CsrMatrix, Float16ValuesRoundToHalfPrecision) {
  const Tensor dense = from_vector<float>({0.1f, 0, -3.25f, 65504.0f}, {2, 2});
  const CsrMatrix csr = csr_from_dense(dense, DType::F16);
  EXPECT_EQ(csr.values.dtype(), DType::F16);
  const std::vector<float> back = csr_to_dense(csr).to_vector<float>();
  EXPECT_NEAR(back[0], 0.1f, 1e-4);
  EXPECT_EQ(back[1], 0.0f);
  EXPECT_EQ(back[2], -3.25f);
  EXPECT_EQ(back[3], 65504.0f);
}

// A valid 2 x 4 matrix with entries (0,1), (0,3), (1,0); tests break one invariant each.
CsrMatrix small_matrix(std::vector<int32_t> row_ptr, std::vector<int32_t> columns, int64_t value_count = -1) {
  const int64_t nnz = value_count >= 0 ? value_count : static_cast<int64_t>(columns.size());
  std::vector<float> values(static_cast<size_t>(nnz), 1.0f);
  return CsrMatrix{2, 4, from_vector(row_ptr, {static_cast<int64_t>(row_ptr.size())}),
                   from_vector(columns, {static_cast<int64_t>(columns.size())}),
                   from_vector(values, {nnz})};
}

void expect_invalid(const CsrMatrix& matrix, const std::string& message) {
  try {
    validate_csr(matrix, "model.safetensors: decoder.logit.weight");
    FAIL() << "expected an error containing: " << message;
  } catch (const Error& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("model.safetensors: decoder.logit.weight"), std::string::npos) << text;
    EXPECT_NE(text.find(message), std::string::npos) << text;
  }
}

TEST(CsrMatrix, ValidationNamesEachBrokenInvariant) {
  EXPECT_NO_THROW(validate_csr(small_matrix({0, 2, 3}, {1, 3, 0}), "ok"));
  expect_invalid(small_matrix({1, 2, 3}, {1, 3, 0}), "row_ptr[0] = 1, expected 0");
  expect_invalid(small_matrix({0, 2, 1}, {1, 3, 0}), "row_ptr decreases at row 1 (2 -> 1)");
  expect_invalid(small_matrix({0, 2, 2}, {1, 3, 0}), "row_ptr ends at 2, expected nnz = 3");
  expect_invalid(small_matrix({0, 2}, {1, 3, 0}), "row_ptr has 2 entries, expected rows + 1 = 3");
  expect_invalid(small_matrix({0, 2, 3}, {1, 3, 0}, 2), "col_idx has 3 entries but values has 2");
  expect_invalid(small_matrix({0, 2, 3}, {1, 4, 0}), "col_idx[1] = 4 in row 0 outside [0, 4)");
  expect_invalid(small_matrix({0, 2, 3}, {1, -1, 0}), "col_idx[1] = -1 in row 0 outside [0, 4)");
  expect_invalid(small_matrix({0, 2, 3}, {3, 1, 0}), "col_idx not strictly increasing in row 0 (entry 1: 3 then 1)");
  expect_invalid(small_matrix({0, 2, 3}, {3, 3, 0}), "col_idx not strictly increasing in row 0 (entry 1: 3 then 3)");
  CsrMatrix wrong_type = small_matrix({0, 2, 3}, {1, 3, 0});
  wrong_type.row_ptr = wrong_type.row_ptr.to(DType::I64);
  expect_invalid(wrong_type, "row_ptr must be I32, got int64");
  CsrMatrix wrong_values = small_matrix({0, 2, 3}, {1, 3, 0});
  wrong_values.values = wrong_values.values.to(DType::F64);
  expect_invalid(wrong_values, "values must be F16 or F32, got float64");
}

// x [batch, cols] · denseᵀ + bias in float64.
std::vector<double> reference_linear(const Tensor& dense, const Tensor& x, const Tensor& bias) {
  const int64_t rows = dense.size(0), cols = dense.size(1), batch = x.size(0);
  const std::vector<double> w = dense.to_vector<double>(), input = x.to_vector<double>(), b = bias.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(batch * rows));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t r = 0; r < rows; ++r) {
      double sum = b[static_cast<size_t>(r)];
      for (int64_t c = 0; c < cols; ++c)
        sum += w[static_cast<size_t>(r * cols + c)] * input[static_cast<size_t>(n * cols + c)];
      out[static_cast<size_t>(n * rows + r)] = sum;
    }
  return out;
}

// Whether every kernel output is within 1e-4 · (1 + |reference|) of the float64 reference; the
// message names the first that is not.
::testing::AssertionResult near_reference(const std::vector<float>& got, const std::vector<double>& expected) {
  if (got.size() != expected.size())
    return ::testing::AssertionFailure() << got.size() << " outputs, " << expected.size() << " expected";
  for (size_t i = 0; i < got.size(); ++i)
    if (std::abs(got[i] - expected[i]) > 1e-4 * (1.0 + std::abs(expected[i])))
      return ::testing::AssertionFailure() << "entry " << i << ": " << got[i] << ", expected " << expected[i];
  return ::testing::AssertionSuccess();
}

struct KernelCase {
  int64_t rows, cols, batch;
  double density;
  DType values;
};

// How test names print a case ("300x700 batch 2 density 0.2 F32"), instead of its bytes.
void PrintTo(const KernelCase& c, std::ostream* os) {
  *os << c.rows << "x" << c.cols << " batch " << c.batch << " density " << c.density << " " << dtype_name(c.values);
}

using cpu::CsrPath;

const CsrPath kCsrPaths[] = {CsrPath::kPortable, CsrPath::kAvx2, CsrPath::kAvx512};

// "portable", "avx2", "avx512": parameter names for the test list.
std::string path_tag(CsrPath path) {
  switch (path) {
    case CsrPath::kPortable: return "portable";
    case CsrPath::kAvx2: return "avx2";
    case CsrPath::kAvx512: return "avx512";
  }
  return "unknown";
}

// Makes one of the kernels' choices (a path, a way of gathering x, a way of holding float16) while
// alive, then restores the one before.
template <typename Choice, Choice (*Get)(), void (*Set)(Choice)>
class ScopedChoice {
 public:
  explicit ScopedChoice(Choice choice) : previous_(Get()) { Set(choice); }
  ~ScopedChoice() { Set(previous_); }
  ScopedChoice(const ScopedChoice&) = delete;
  ScopedChoice& operator=(const ScopedChoice&) = delete;

 private:
  Choice previous_;
};

using KernelPath = ScopedChoice<CsrPath, cpu::csr_kernels_path, cpu::set_csr_kernels_path>;
using HalfValuesWay = ScopedChoice<cpu::SlicedHalfValues, cpu::sliced_half_values, cpu::set_sliced_half_values>;
using GatherWay = ScopedChoice<cpu::SlicedGather, cpu::sliced_gather, cpu::set_sliced_gather>;

CsrPath path_of(CsrPath path) { return path; }
template <typename Case>
CsrPath path_of(const std::tuple<Case, CsrPath>& param) {
  return std::get<1>(param);
}

// Runs each test on the path its parameter names; skipped, with the reason, where the CPU lacks it.
template <typename Param>
class OnKernelPath : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const CsrPath path = path_of(this->GetParam());
    if (!cpu::csr_path_available(path))
      GTEST_SKIP() << "this CPU has no " << cpu::csr_path_name(path) << ": the " << path_tag(path)
                   << " sparse kernels are tested only where they can run";
    path_.emplace(path);
  }

 private:
  std::optional<KernelPath> path_;
};

class SparseLinearPath : public OnKernelPath<CsrPath> {};

std::string path_param_name(const ::testing::TestParamInfo<CsrPath>& info) { return path_tag(info.param); }

TEST(CsrPath, SelectsTheWidestAvailablePathAndRefusesMissingOnes) {
  EXPECT_TRUE(cpu::csr_path_available(CsrPath::kPortable));
  EXPECT_TRUE(cpu::csr_path_available(cpu::csr_best_path()));
  EXPECT_EQ(cpu::csr_kernels_path(), cpu::csr_best_path());
  for (CsrPath path : kCsrPaths) {
    if (static_cast<int>(path) > static_cast<int>(cpu::csr_best_path())) {
      EXPECT_FALSE(cpu::csr_path_available(path)) << "a wider path than the best one: " << path_tag(path);
    }
    if (cpu::csr_path_available(path)) {
      const KernelPath chosen(path);
      EXPECT_EQ(cpu::csr_kernels_path(), path);
    } else {
      EXPECT_THROW(cpu::set_csr_kernels_path(path), Error) << path_tag(path);
      EXPECT_EQ(cpu::csr_kernels_path(), cpu::csr_best_path());
    }
  }
  EXPECT_EQ(cpu::csr_kernels_path(), cpu::csr_best_path());
}

// Each case on every path (skipped where the CPU lacks it).
class SparseLinearKernel : public OnKernelPath<std::tuple<KernelCase, CsrPath>> {};

TEST_P(SparseLinearKernel, MatchesTheDenseProduct) {
  const KernelCase c = std::get<0>(GetParam());
  Generator generator(7);
  const Tensor dense_input = random_sparse_matrix(c.rows, c.cols, c.density, 11);
  const CsrMatrix csr = csr_from_dense(dense_input, c.values);
  const Tensor dense = csr_to_dense(csr);  // F16 rounding included
  const Tensor x = randn({c.batch, c.cols}, generator);
  const Tensor bias = randn({c.rows}, generator);
  const std::vector<float> got = sparse_linear(x, csr, bias).to_vector<float>();
  const std::vector<double> expected = reference_linear(dense, x, bias);
  ASSERT_TRUE(near_reference(got, expected));
}

// Short and long rows, every batch layout, one and two threads, F16 and F32 values.
const KernelCase kKernelCases[] = {
    KernelCase{64, 40, 1, 0.05, DType::F32},  // short rows: four accumulators
    KernelCase{64, 300, 1, 0.3, DType::F32},  // long rows: eight accumulators
    KernelCase{64, 300, 3, 0.3, DType::F16},  // SpMM at batch 3, F16 widened
    KernelCase{300, 700, 2, 0.2, DType::F32},  // large enough for both threads
    KernelCase{50, 33, 4, 0.5, DType::F32},  // SpMM, one masked vector
    KernelCase{50, 33, 16, 0.5, DType::F16},  // SpMM, one full vector
    KernelCase{70, 90, 37, 0.1, DType::F32},  // SpMM, three vectors, masked tail
    KernelCase{40, 120, 64, 0.3, DType::F16},  // SpMM, four vectors
    KernelCase{300, 500, 150, 0.05, DType::F32},  // SpMM, several batch blocks, threads
    KernelCase{8, 16, 5, 0.0, DType::F32},  // empty rows: bias only
    KernelCase{64, 40, 1, 0.05, DType::F16},  // short rows, F16 widened
    KernelCase{64, 300, 1, 0.3, DType::F16},  // long rows, F16 widened
    KernelCase{2000, 512, 1, 0.05, DType::F16},  // SpMV on both threads
    KernelCase{64, 90, 2, 0.2, DType::F32},  // SpMM at batch 2
    KernelCase{600, 400, 3, 0.1, DType::F16},  // SpMM at batch 3, both threads
    KernelCase{1, 512, 2450, 0.05, DType::F32},  // one row: SpMV per activation row, threads
    KernelCase{15, 70, 3, 0.3, DType::F16},  // fewest rows still SpMV per activation row
    KernelCase{16, 70, 3, 0.3, DType::F32},  // first row count for SpMM
    // Batch 1 on the sliced kernel: partial last slice, partial last window of
    // 256 rows split between threads, an all-zero matrix, fewer rows than a slice.
    KernelCase{1000, 1000, 1, 0.02, DType::F16},
    KernelCase{4100, 64, 1, 0.3, DType::F32},
    KernelCase{40, 16, 1, 0.0, DType::F32},
    KernelCase{5, 9, 1, 0.5, DType::F16},
    // Batch 2 to 4 on the sliced gather kernel (under 30% density), both threads.
    KernelCase{700, 200, 4, 0.1, DType::F32},
    KernelCase{300, 900, 2, 0.05, DType::F16},
    // Larger batches on the sliced block kernel: one partial block, several
    // blocks over two windows, F16 values.
    KernelCase{40, 50, 5, 0.2, DType::F32},
    KernelCase{600, 130, 40, 0.1, DType::F16},
    // AVX2's 8-lane shapes. A sliced block of 16 activation rows with its second half partial,
    // over a partial last tile of 8 columns; the CSR SpMM (over 30% dense) with batch blocks of 2,
    // 4 and 8 vectors (4, 2 and 1 accumulator sets), a partial last tile of 8 rows, and a second
    // batch block of 6 columns, padded to 8.
    KernelCase{300, 77, 13, 0.1, DType::F32},
    KernelCase{100, 64, 9, 0.5, DType::F32},
    KernelCase{45, 70, 27, 0.5, DType::F16},
    KernelCase{33, 40, 70, 0.6, DType::F16},
};

INSTANTIATE_TEST_SUITE_P(ShortAndLongRowsSpmvAndSpmm, SparseLinearKernel,
                         ::testing::Combine(::testing::ValuesIn(kKernelCases), ::testing::ValuesIn(kCsrPaths)),
                         [](const ::testing::TestParamInfo<std::tuple<KernelCase, CsrPath>>& info) {
                           return "case" + std::to_string(info.index / std::size(kCsrPaths)) + "_" +
                                  path_tag(std::get<1>(info.param));
                         });

const cpu::SlicedHalfValues kHalfValuesWays[] = {cpu::SlicedHalfValues::kHalf, cpu::SlicedHalfValues::kWidened};

// F32 values, then F16 held each way in the sliced layout (csr_path.h): the test matrices are small
// enough that the default widens them all, and the float16 kernels must be tested too.
struct ValueCase {
  DType values;
  cpu::SlicedHalfValues half_values;
};
const ValueCase kValueCases[] = {{DType::F32, cpu::SlicedHalfValues::kAuto},
                                 {DType::F16, cpu::SlicedHalfValues::kHalf},
                                 {DType::F16, cpu::SlicedHalfValues::kWidened}};

// Row r holds exactly r non-zeros (0 .. 40), so every remainder of the four- and eight-accumulator
// loops (rows below and from 16 entries) and of the two- and four-chain SpMMs appears, for both
// index and value types and every batch layout (SpMV, SpMM, SpMV per activation row).
TEST_P(SparseLinearPath, EveryRowLengthIndexTypeValueTypeAndBatchLayout) {
  const int64_t rows = 41, cols = 64;
  Generator generator(21);
  Tensor dense = randn({rows, cols}, generator);
  float* w = dense.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r; c < cols; ++c) w[r * cols + c] = 0.0f;  // row r keeps columns 0 .. r-1
  for (const auto [values, half_values] : kValueCases)
    for (DType indices : {DType::U16, DType::I32})
      // All rows; then fewer than 16 (SpMV per activation row at batch > 1), long and short.
      for (const auto& [first_row, used_rows] : {std::pair<int64_t, int64_t>{0, rows}, {26, 15}, {0, 3}})
        for (int64_t batch : {1, 2, 3, 5, 9, 17, 40}) {
          const HalfValuesWay way(half_values);
          const Tensor part = narrow(dense, 0, first_row, used_rows);
          CsrMatrix csr = csr_from_dense(part, values);
          csr.col_idx = csr.col_idx.to(indices);
          const Tensor reference_weight = csr_to_dense(csr);
          const Tensor x = randn({batch, cols}, generator);
          const Tensor bias = randn({used_rows}, generator);
          const std::vector<float> got = sparse_linear(x, csr, bias).to_vector<float>();
          const std::vector<double> expected = reference_linear(reference_weight, x, bias);
          ASSERT_TRUE(near_reference(got, expected))
              << dtype_name(values) << " values (" << cpu::sliced_half_values_name(half_values) << "), "
              << dtype_name(indices) << " indices, rows " << first_row << " +"
              << used_rows << ", batch " << batch;
        }
}

// The batch-1 kernel derives its layout from the arrays on first use and keeps it with the
// matrix: a copy given other arrays must compute with those, and the original still with its own.
TEST_P(SparseLinearPath, DerivedLayoutFollowsTheArrays) {
  Generator generator(8);
  const CsrMatrix first = csr_from_dense(random_sparse_matrix(300, 50, 0.2, 1));
  const Tensor x = randn({1, 50}, generator);
  const std::vector<float> first_before = sparse_linear(x, first).to_vector<float>();
  CsrMatrix second = first;  // shares the derived layout...
  const CsrMatrix other = csr_from_dense(random_sparse_matrix(300, 50, 0.2, 2));
  second.row_ptr = other.row_ptr;  // ...until its arrays are replaced
  second.col_idx = other.col_idx;
  second.values = other.values;
  const std::vector<double> expected = reference_linear(csr_to_dense(other), x, zeros({300}));
  const std::vector<float> got = sparse_linear(x, second).to_vector<float>();
  ASSERT_TRUE(near_reference(got, expected));
  EXPECT_EQ(sparse_linear(x, first).to_vector<float>(), first_before);
}

// The sliced kernels with I32 column indices (U16 above), at batch 1, 3 (gathers) and 21 (blocks).
TEST_P(SparseLinearPath, SlicedKernelsWithInt32Indices) {
  Generator generator(12);
  const Tensor dense = random_sparse_matrix(270, 80, 0.15, 13);
  CsrMatrix csr = csr_from_dense(dense, DType::F16);
  csr.col_idx = csr.col_idx.to(DType::I32);
  const Tensor reference_weight = csr_to_dense(csr);
  for (int64_t batch : {1, 3, 21}) {
    const Tensor x = randn({batch, 80}, generator);
    const Tensor bias = randn({270}, generator);
    const std::vector<float> got = sparse_linear(x, csr, bias).to_vector<float>();
    const std::vector<double> expected = reference_linear(reference_weight, x, bias);
    ASSERT_TRUE(near_reference(got, expected)) << "batch " << batch;
  }
}

TEST_P(SparseLinearPath, WideMatrixWithInt32Indices) {
  Generator generator(3);
  const Tensor dense = random_sparse_matrix(3, 70000, 0.01, 5);
  const CsrMatrix csr = csr_from_dense(dense);
  ASSERT_EQ(csr.col_idx.dtype(), DType::I32);
  const Tensor x = randn({2, 70000}, generator);
  const Tensor bias = zeros({3});
  const std::vector<float> got = sparse_linear(x, csr, bias).to_vector<float>();
  const std::vector<double> expected = reference_linear(dense, x, bias);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-3);
}

// Float16 values widened once into the layout or at every step: the same products bit for bit
// (widening is exact and the sums run in the same order), on the gather kernels (batch 1-4) and the
// block kernels (5 and more, a partial block), U16 and I32 indices, products run on one thread
// (batch 1, under kParallelMultiplyAdds) and on all.
TEST_P(SparseLinearPath, Float16HeldEitherWayGivesTheSameBits) {
  Generator generator(17);
  const Tensor dense = random_sparse_matrix(300, 200, 0.1, 23);
  for (const DType indices : {DType::U16, DType::I32}) {
    CsrMatrix csr = csr_from_dense(dense, DType::F16);
    csr.col_idx = csr.col_idx.to(indices);
    const Tensor reference_weight = csr_to_dense(csr);
    for (int64_t batch : {1, 2, 3, 4, 5, 16, 21, 64}) {
      const Tensor x = randn({batch, 200}, generator);
      const Tensor bias = randn({300}, generator);
      std::vector<float> products[2];
      for (int way = 0; way < 2; ++way) {
        const HalfValuesWay held(kHalfValuesWays[way]);
        products[way] = sparse_linear(x, csr, bias).to_vector<float>();
      }
      const std::vector<double> expected = reference_linear(reference_weight, x, bias);
      ASSERT_TRUE(near_reference(products[0], expected)) << dtype_name(indices) << ", batch " << batch;
      ASSERT_EQ(products[0], products[1]) << dtype_name(indices) << ", batch " << batch;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryInstructionSet, SparseLinearPath, ::testing::ValuesIn(kCsrPaths), path_param_name);

TEST(SlicedHalfValues, SetAndRestored) {
  EXPECT_EQ(cpu::sliced_half_values(), cpu::SlicedHalfValues::kAuto);
  {
    const HalfValuesWay held(cpu::SlicedHalfValues::kHalf);
    EXPECT_EQ(cpu::sliced_half_values(), cpu::SlicedHalfValues::kHalf);
  }
  EXPECT_EQ(cpu::sliced_half_values(), cpu::SlicedHalfValues::kAuto);
}

// kAuto widens while the float32 layout, nnz x (index bytes + 4), takes at most half the cache.
TEST(SlicedHalfValues, AutoWidensLayoutsUpToHalfTheCache) {
  const int64_t cache = int64_t{32} << 20;  // 32 MiB: half is 16 MiB
  EXPECT_TRUE(cpu::sliced_layout_widens_half((int64_t{16} << 20) / 6, 2, cache));       // 2 796 202 x 6 bytes
  EXPECT_FALSE(cpu::sliced_layout_widens_half((int64_t{16} << 20) / 6 + 1, 2, cache));  // 1 byte over
  EXPECT_TRUE(cpu::sliced_layout_widens_half(int64_t{2} << 20, 4, cache));              // 2 Mi x 8 bytes: exactly half
  EXPECT_FALSE(cpu::sliced_layout_widens_half((int64_t{2} << 20) + 1, 4, cache));
  EXPECT_TRUE(cpu::sliced_layout_widens_half(0, 2, cache));
}

TEST(SlicedGather, SetAndRestored) {
  const cpu::SlicedGather initial = cpu::sliced_gather();
  EXPECT_NE(initial, cpu::SlicedGather::kAuto);
  cpu::set_sliced_gather(cpu::SlicedGather::kHardwareGather);
  EXPECT_EQ(cpu::sliced_gather(), cpu::SlicedGather::kHardwareGather);
  cpu::set_sliced_gather(cpu::SlicedGather::kScalarLoads);
  EXPECT_EQ(cpu::sliced_gather(), cpu::SlicedGather::kScalarLoads);
  cpu::set_sliced_gather(cpu::SlicedGather::kAuto);
  EXPECT_EQ(cpu::sliced_gather(), initial);
}

// Both ways on the AVX-512 path, whichever this CPU uses by default: batch 1 to 4 (the gather
// kernels), F16 and F32 values, U16 and I32 indices, a partial last slice, both threads.
TEST(SlicedGather, BothWaysMatchTheDenseProductOnAvx512) {
  if (!cpu::csr_path_available(CsrPath::kAvx512))
    GTEST_SKIP() << "this CPU has no AVX-512: its sliced gather kernels are tested only where they can run";
  const KernelPath avx512(CsrPath::kAvx512);
  Generator generator(31);
  for (const cpu::SlicedGather gather : {cpu::SlicedGather::kHardwareGather, cpu::SlicedGather::kScalarLoads}) {
    const GatherWay way(gather);
    for (const DType values : {DType::F32, DType::F16})
      for (const bool wide_indices : {false, true}) {
        CsrMatrix csr = csr_from_dense(random_sparse_matrix(1000, 900, 0.05, 32), values);
        if (wide_indices) csr.col_idx = csr.col_idx.to(DType::I32);
        const Tensor reference_weight = csr_to_dense(csr);
        for (int64_t batch = 1; batch <= 4; ++batch) {
          const Tensor x = randn({batch, 900}, generator);
          const Tensor bias = randn({1000}, generator);
          const std::vector<float> got = sparse_linear(x, csr, bias).to_vector<float>();
          const std::vector<double> expected = reference_linear(reference_weight, x, bias);
          ASSERT_TRUE(near_reference(got, expected))
              << cpu::sliced_gather_name(gather) << ", " << dtype_name(values) << (wide_indices ? ", I32" : ", U16")
              << ", batch " << batch;
        }
      }
  }
}

TEST(SparseLinear, KeepsLeadingDimensionsAndRefusesGradients) {
  Generator generator(4);
  const Tensor dense = random_sparse_matrix(6, 5, 0.5, 9);
  const CsrMatrix csr = csr_from_dense(dense);
  const Tensor x = randn({2, 3, 5}, generator);
  const Tensor out = sparse_linear(x, csr);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 6}));
  const std::vector<float> expected = linear(x, dense).to_vector<float>(), got = out.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5);
  Tensor trainable = x.clone();
  trainable.set_requires_grad(true);
  EXPECT_THROW(sparse_linear(trainable, csr), Error);
  NoGradGuard no_grad;
  EXPECT_NO_THROW(sparse_linear(trainable, csr));
  EXPECT_THROW(sparse_linear(randn({2, 4}, generator), csr), Error);
}

TEST(SparseEmbedding, GathersRowsFromCsr) {
  const Tensor table = random_sparse_matrix(10, 7, 0.4, 2);
  const Tensor index = from_vector<int64_t>({3, 0, 9, 3}, {2, 2});
  const WeightHandle handle(std::make_shared<const CsrMatrix>(csr_from_dense(table, DType::F32)));
  const Tensor got = embedding(handle, index);
  EXPECT_EQ(got.shape(), (Shape{2, 2, 7}));
  EXPECT_EQ(got.to_vector<float>(), sparsecap::embedding(table, index).to_vector<float>());
  EXPECT_THROW(embedding(handle, from_vector<int64_t>({10}, {1})), Error);
  const WeightHandle dense_handle(table);
  EXPECT_FALSE(dense_handle.is_sparse());
  EXPECT_EQ(embedding(dense_handle, index).to_vector<float>(), got.to_vector<float>());
}

}  // namespace
}  // namespace sparsecap::sparse
