// The "cuda-emulated" device: every host entry point of cuda/kernels/kernels.h and fused.h runs
// the project's own kernel source on the emulated CUDA grid (cuda/emulation/), on host memory,
// and is compared with the CPU backend (backend_for(Device::cpu())) on the same inputs.
//
// Exactness: bit for bit where the design promises it (Philox fills and Bernoulli/dropout masks,
// gated-weight masks and outputs, the deterministic index_add, and everything that only moves or
// converts values); the elementwise functors, Adam and the LSTM/GRU cells are the same code
// compiled with the same flags, so they are exact too. Reductions differ from the CPU's sequential
// loops in summation order only: within kReductionTolerance (float accumulations: tree vs loop)
// or the tighter kDoubleAccumulationTolerance where both accumulate in double. Softmax and
// cross-entropy use libm's expf on the device side and the engine's polynomial exp on the CPU:
// within kTranscendentalTolerance.
//
// Sizes hit the edge cases: rows shorter than a warp, of non-multiples of 32, longer than a block
// (1024 threads), and a grid smaller than the data (the 8192-block cap of grid_for, so threads
// take a second turn of their grid-stride loops).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/kernels/attention.h"
#include "cuda/kernels/decoding.h"
#include "cuda/kernels/fused.h"
#include "cuda/kernels/kernels.h"
#include "cuda/kernels/launch.cuh"
#include "cuda/kernels/sparse.h"
#include "engine/backend.h"
#include "engine/sparse/csr_matrix.h"
#include "engine/tensor.h"

namespace sparsecap::testing {
namespace {

namespace launchers = sparsecap::cuda::launchers;
namespace emulation = sparsecap::cuda::emulation;
constexpr cudaStream_t kStream = nullptr;  // the emulated default stream

struct Tolerance {
  double relative, absolute;
};
constexpr Tolerance kExact{0.0, 0.0};
constexpr Tolerance kDoubleAccumulationTolerance{1e-6, 1e-7};
constexpr Tolerance kReductionTolerance{2e-5, 2e-6};
constexpr Tolerance kTranscendentalTolerance{2e-5, 2e-6};

Backend& cpu() { return backend_for(Device::cpu()); }

// ---- coverage: which host entry points ran and matched, and the __global__ kernels they launch ----
struct Entry {
  const char* name;
  std::vector<std::string> kernels;  // the __global__ kernels the entry launches
};
const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {"fill_pattern", {"fill_kernel", "fill_vector_kernel"}},
      {"cast", {"cast_kernel"}},
      {"random_fill", {"random_kernel"}},
      {"arange", {"arange_kernel"}},
      {"unary", {"unary_kernel", "unary_vector_kernel"}},
      {"binary", {"binary_kernel", "binary_vector_kernel"}},
      {"adam_step", {"adam_kernel"}},
      {"adam_step_chunks", {"adam_chunks_kernel"}},
      {"unary_chunks", {"unary_chunks_kernel"}},
      {"transpose", {"transpose_kernel"}},
      {"index_select_rows", {"index_select_kernel"}},
      {"find_out_of_range", {"find_out_of_range_kernel"}},
      {"index_add_rows_atomic", {"index_add_atomic_kernel"}},
      {"index_add_rows_sorted", {"index_add_sorted_kernel"}},
      {"gather_columns", {"gather_columns_kernel"}},
      {"scatter_add_columns", {"scatter_add_columns_kernel"}},
      {"sum_along", {"sum_rows_kernel", "sum_strided_kernel", "sum_strided_tiled_kernel"}},
      {"max_along", {"max_rows_kernel", "max_strided_kernel"}},
      {"top_k_rows", {"top_k_rows_kernel"}},
      {"double_to_float", {"double_to_float_kernel"}},
      {"softmax", {"softmax_kernel"}},
      {"softmax_backward", {"softmax_backward_kernel"}},
      {"cross_entropy", {"cross_entropy_kernel"}},
      {"cross_entropy_backward", {"cross_entropy_backward_kernel"}},
      {"layer_norm", {"layer_norm_kernel"}},
      {"layer_norm_backward", {"layer_norm_backward_input_kernel", "layer_norm_backward_params_kernel"}},
      {"batch_norm", {"batch_norm_kernel"}},
      {"batch_norm_backward", {"batch_norm_backward_kernel"}},
      {"im2col", {"im2col_kernel"}},
      {"col2im", {"col2im_kernel"}},
      {"max_pool2d", {"max_pool_kernel"}},
      {"avg_pool2d", {"avg_pool_kernel"}},
      {"max_pool2d_backward", {"max_pool_backward_kernel"}},
      {"avg_pool2d_backward", {"avg_pool_backward_kernel"}},
      {"gated_weight", {"gated_weight_kernel", "gated_weight_vector_kernel"}},
      {"gated_weight_backward", {"gated_weight_backward_kernel", "gated_weight_backward_vector_kernel"}},
      {"lstm_cell", {"lstm_cell_kernel"}},
      {"lstm_cell_backward", {"lstm_cell_backward_kernel"}},
      {"gru_cell", {"gru_cell_kernel"}},
      {"gru_cell_backward", {"gru_cell_backward_kernel"}},
      {"additive_attention", {"additive_attention_kernel"}},
      {"additive_attention_backward", {"additive_attention_backward_kernel"}},
      {"beam_search_step", {"beam_search_step_kernel"}},
      {"csr_linear_warp_rows", {"csr_warp_rows_kernel"}},
  };
  return table;
}

std::set<std::string>& covered_entries() {
  static std::set<std::string> covered;
  return covered;
}

// Called at the end of an entry's test: the entry counts as covered when every comparison passed.
void cover(const char* entry) {
  ASSERT_TRUE(std::any_of(entries().begin(), entries().end(), [&](const Entry& e) { return e.name == std::string(entry); }))
      << entry << " is not in the entry table";
  if (!::testing::Test::HasFailure()) covered_entries().insert(entry);
}

// ---- inputs and comparisons ----
std::vector<float> uniform(size_t n, float low, float high, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(n);
  for (float& v : values) v = distribution(generator);
  return values;
}

std::vector<int64_t> random_indices(size_t n, int64_t bound, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int64_t> distribution(0, bound - 1);
  std::vector<int64_t> values(n);
  for (int64_t& v : values) v = distribution(generator);
  return values;
}

// Floats placed `misalignment` elements (0-3) past a 16-byte boundary: 0 lets the entry points
// take their vector kernels (16-byte loads), 1-3 sends them to the scalar ones.
class PlacedFloats {
 public:
  PlacedFloats(const std::vector<float>& values, int misalignment) : storage_(values.size() + 8), size_(values.size()) {
    const auto address = reinterpret_cast<uintptr_t>(storage_.data());
    begin_ = storage_.data() + (16 - address % 16) % 16 / sizeof(float) + misalignment;
    std::copy(values.begin(), values.end(), begin_);
  }
  float* data() { return begin_; }
  std::vector<float> values() const { return {begin_, begin_ + size_}; }

 private:
  std::vector<float> storage_;
  size_t size_;
  float* begin_;
};

Tensor tensor_of(const std::vector<float>& values, const Shape& shape) { return from_vector(values, shape); }
Tensor tensor_of(const std::vector<int64_t>& values, const Shape& shape) { return from_vector(values, shape); }

template <typename T>
std::vector<T> values_of(const Tensor& tensor) {
  std::vector<T> values(static_cast<size_t>(tensor.numel()));
  std::memcpy(values.data(), tensor.raw_data(), values.size() * sizeof(T));
  return values;
}

// Compares element by element; NaN matches NaN and an infinity itself.
template <typename T>
void expect_close(const std::vector<T>& expected, const std::vector<T>& actual, Tolerance tolerance,
                  const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < expected.size() && reported < 5; ++i) {
    const double e = static_cast<double>(expected[i]), a = static_cast<double>(actual[i]);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (std::isinf(e) && e == a) continue;
    const double bound = tolerance.absolute + tolerance.relative * std::fabs(e);
    if (!(std::fabs(e - a) <= bound)) {
      ADD_FAILURE() << what << " element " << i << " of " << expected.size() << ": cpu " << e << ", emulated "
                    << a << " (difference " << std::fabs(e - a) << ", allowed " << bound << ")";
      ++reported;
    }
  }
}

template <typename T>
void expect_bitwise_equal(const std::vector<T>& expected, const std::vector<T>& actual, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < expected.size() && reported < 5; ++i)
    if (std::memcmp(&expected[i], &actual[i], sizeof(T)) != 0) {
      ADD_FAILURE() << what << " element " << i << " of " << expected.size() << ": cpu " << +expected[i]
                    << ", emulated " << +actual[i] << " (bits differ)";
      ++reported;
    }
}

void expect_matches_cpu(const Tensor& cpu_result, const std::vector<float>& emulated, Tolerance tolerance,
                        const std::string& what) {
  if (tolerance.relative == 0.0 && tolerance.absolute == 0.0)
    expect_bitwise_equal(values_of<float>(cpu_result), emulated, what);
  else
    expect_close(values_of<float>(cpu_result), emulated, tolerance, what);
}

// ---- fills, casts, random ----

TEST(EmulatedKernels, FillPatternWritesEveryWidthAsTheCpu) {
  struct Case {
    DType dtype;
    double value;
  };
  // 2^21 + 1000 one-byte elements: more than grid_for's 8192 blocks of 256 threads cover, so
  // the grid is smaller than the data and every thread takes a second turn of its loop. (Not
  // under ThreadSanitizer, where 8192 blocks take minutes and a loop without shared memory has no
  // race for it to find.)
#ifdef SPARSECAP_EMULATION_TSAN
  const int64_t large = 5000;
#else
  const int64_t large = (int64_t{1} << 21) + 1000;
#endif
  for (const Case c : {Case{DType::U8, 7}, Case{DType::F16, -1.5}, Case{DType::F32, 0.25}, Case{DType::F64, -3.75}}) {
    // 1003: the vector kernel's 16-byte stores leave a tail of 1 to 11 elements at every width.
    const int64_t n = c.dtype == DType::U8 ? large : 1003;
    Tensor expected = Tensor::empty({n}, c.dtype);
    cpu().fill(expected, c.value);
    // The bit pattern the CUDA backend passes: the value's bits in the storage dtype.
    const size_t width = dtype_size(c.dtype);
    uint64_t bits = 0;
    std::memcpy(&bits, expected.raw_data(), width);
    const size_t bytes = static_cast<size_t>(n) * width;
    // Aligned (the vector kernel) and one element past a 16-byte boundary (the scalar kernel), with
    // 16 guard bytes after the end that must stay untouched.
    std::vector<unsigned char> storage(bytes + 64, 0xAB);
    unsigned char* aligned = storage.data() + (16 - reinterpret_cast<uintptr_t>(storage.data()) % 16) % 16;
    for (unsigned char* out : {aligned, aligned + width}) {
      std::fill(storage.begin(), storage.end(), 0xAB);
      launchers::fill_pattern(out, n, width, bits, kStream);
      ASSERT_EQ(cudaGetLastError(), cudaSuccess);
      EXPECT_EQ(0, std::memcmp(out, expected.raw_data(), bytes)) << dtype_name(c.dtype);
      for (size_t k = 0; k < 16; ++k) EXPECT_EQ(out[bytes + k], 0xAB) << dtype_name(c.dtype) << ": guard byte " << k;
    }
  }
  cover("fill_pattern");
}


TEST(EmulatedKernels, CastMatchesTheCpuForEveryPairOfDtypes) {
  // Values every dtype holds (0..250, halves and quarters for the floating types), so no cast is
  // out of range; 300 of them: a partial second block.
  std::vector<double> values(300);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>((i * 37) % 251) + (i % 4) * 0.25;
  const DType dtypes[] = {DType::F16, DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::U16, DType::Bool};
  for (DType from : dtypes) {
    Tensor source = Tensor::empty({static_cast<int64_t>(values.size())}, from);
    cpu().cast(from_vector(values, {static_cast<int64_t>(values.size())}), source);
    for (DType to : dtypes) {
      Tensor expected = Tensor::empty(source.shape(), to);
      cpu().cast(source, expected);
      std::vector<unsigned char> actual(expected.nbytes());
      launchers::cast(source.raw_data(), launchers::element_type(from), actual.data(), launchers::element_type(to), source.numel(), kStream);
      EXPECT_EQ(0, std::memcmp(actual.data(), expected.raw_data(), actual.size()))
          << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
  // float -> half at the edges: rounding ties, subnormals, overflow, infinities (bit for bit) and
  // NaN (a NaN: the GPU writes the canonical 0x7FFF, the CPU keeps a quiet NaN of the sign).
  const std::vector<float> edges = {65504.0f, 65520.0f, 1e9f, -1e9f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-10f, -0.0f,
                                    1.0009765625f, 1.00048828125f, 1.00146484375f,
                                    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                    std::numeric_limits<float>::quiet_NaN()};
  Tensor expected = Tensor::empty({static_cast<int64_t>(edges.size())}, DType::F16);
  cpu().cast(tensor_of(edges, {static_cast<int64_t>(edges.size())}), expected);
  std::vector<uint16_t> actual(edges.size());
  launchers::cast(edges.data(), launchers::ElementType::F32, actual.data(), launchers::ElementType::F16,
                static_cast<int64_t>(edges.size()), kStream);
  const std::vector<uint16_t> cpu_bits = values_of<uint16_t>(expected);
  for (size_t i = 0; i < edges.size(); ++i) {
    if (std::isnan(edges[i]))
      EXPECT_TRUE((actual[i] & 0x7C00u) == 0x7C00u && (actual[i] & 0x3FFu) != 0) << "NaN -> half " << actual[i];
    else
      EXPECT_EQ(cpu_bits[i], actual[i]) << "float " << edges[i] << " -> half";
  }
  cover("cast");
}

TEST(EmulatedKernels, PhiloxFillsAreBitIdenticalToTheCpu) {
  const int64_t n = 3000;
  struct Case {
    RandomKind kind;
    launchers::RandomDistribution distribution;
    double p;
  };
  for (const Case c : {Case{RandomKind::Uniform, launchers::RandomDistribution::Uniform, 0.0},
                       Case{RandomKind::Normal, launchers::RandomDistribution::Normal, 0.0},
                       Case{RandomKind::Bernoulli, launchers::RandomDistribution::Bernoulli, 0.3}}) {
    for (const DType dtype : {DType::F32, DType::F64}) {
      Tensor expected = Tensor::empty({n}, dtype);
      cpu().random_fill(expected, c.kind, 987654321, 17, 4096 + 3, c.p);
      std::vector<unsigned char> actual(expected.nbytes());
      launchers::random_fill(actual.data(), dtype == DType::F64, n, c.distribution, 987654321, 17, 4096 + 3,
                           static_cast<float>(c.p), kStream);
      EXPECT_EQ(0, std::memcmp(actual.data(), expected.raw_data(), actual.size()))
          << "distribution " << static_cast<int>(c.distribution) << " " << dtype_name(dtype);
    }
  }
  cover("random_fill");
}

TEST(EmulatedKernels, ArangeCountsFromZero) {
  const int64_t n = 777;
  std::vector<int64_t> actual(n, -1);
  launchers::arange(actual.data(), n, kStream);
  expect_bitwise_equal(values_of<int64_t>(arange(0, n)), actual, "arange");
  cover("arange");
}

// ---- elementwise ----

TEST(EmulatedKernels, EveryUnaryFunctorMatchesTheCpu) {
  const int64_t n = 1337;
  const std::vector<float> x = uniform(n, -4.0f, 4.0f, 1);
  const Tensor x_cpu = tensor_of(x, {n});
  const kernels::ScalarParams params{0.5, 1.25};
  const kernels::UnaryOp ops[] = {
#define SPARSECAP_ENTRY(name) kernels::UnaryOp::name,
      SPARSECAP_UNARY_OPS(SPARSECAP_ENTRY)
#undef SPARSECAP_ENTRY
  };
  // (x, y) misalignments: both aligned (vector kernel, 1337 = 4 * 334 + a tail of 1), neither,
  // and only x (both scalar kernel).
  const std::pair<int, int> placements[] = {{0, 0}, {1, 1}, {0, 2}};
  for (const kernels::UnaryOp op : ops) {
    Tensor expected = Tensor::empty({n});
    cpu().unary(op, x_cpu, expected, params);
    for (const auto& [x_misalignment, y_misalignment] : placements) {
      PlacedFloats x_placed(x, x_misalignment), actual(std::vector<float>(n), y_misalignment);
      launchers::unary(op, x_placed.data(), actual.data(), n, params, kStream);
      expect_matches_cpu(expected, actual.values(), kExact,
                         "unary op " + std::to_string(static_cast<int>(op)) + ", misalignments " +
                             std::to_string(x_misalignment) + ", " + std::to_string(y_misalignment));
    }
  }
  cover("unary");
}

TEST(EmulatedKernels, EveryBinaryFunctorMatchesTheCpuWithBroadcasting) {
  // a [4, 1, 37] and b [1, 5, 37] broadcast to [4, 5, 37], the layout the CUDA backend plans.
  const std::vector<float> a = uniform(4 * 37, 0.2f, 3.0f, 2), b = uniform(5 * 37, -2.0f, 2.0f, 3);
  launchers::BroadcastLayout layout;
  layout.rank = 3;
  const int64_t sizes[] = {4, 5, 37}, a_strides[] = {37, 0, 1}, b_strides[] = {0, 37, 1};
  std::copy(sizes, sizes + 3, layout.sizes);
  std::copy(a_strides, a_strides + 3, layout.a_strides);
  std::copy(b_strides, b_strides + 3, layout.b_strides);
  const int64_t n = 4 * 5 * 37;
  const kernels::ScalarParams params{1.5, -0.5};
  const kernels::BinaryOp ops[] = {
#define SPARSECAP_ENTRY(name) kernels::BinaryOp::name,
      SPARSECAP_BINARY_OPS(SPARSECAP_ENTRY)
#undef SPARSECAP_ENTRY
  };
  for (const kernels::BinaryOp op : ops) {
    Tensor expected = Tensor::empty({4, 5, 37});
    cpu().binary(op, tensor_of(a, {4, 1, 37}), tensor_of(b, {1, 5, 37}), expected, params);
    std::vector<float> actual(n);
    launchers::binary(op, a.data(), b.data(), actual.data(), n, layout, params, kStream);
    expect_matches_cpu(expected, actual, kExact, "binary op " + std::to_string(static_cast<int>(op)));
  }
  cover("binary");
}

// The layouts the vector kernel takes (innermost dimension a multiple of 4, or the only one), each
// also misaligned, where the scalar kernel takes it.
TEST(EmulatedKernels, EveryBinaryFunctorMatchesTheCpuInFourElementGroups) {
  struct Case {
    const char* name;
    Shape a, b, out;
    std::vector<int64_t> sizes, a_strides, b_strides;  // the merged layout the backend plans
  };
  const Case cases[] = {
      {"same shape, 1337 = 4 * 334 + 1", {1337}, {1337}, {1337}, {1337}, {1}, {1}},
      {"scalar b", {1003}, {1}, {1003}, {1003}, {1}, {0}},
      {"scalar a", {1}, {1002}, {1002}, {1002}, {0}, {1}},
      {"row broadcast (a bias)", {6, 40}, {40}, {6, 40}, {6, 40}, {40, 1}, {0, 1}},
      {"column broadcast", {6, 40}, {6, 1}, {6, 40}, {6, 40}, {40, 1}, {1, 0}},
      {"both broadcast", {3, 1, 8}, {1, 5, 1}, {3, 5, 8}, {3, 5, 8}, {8, 0, 1}, {0, 1, 0}},
  };
  const kernels::ScalarParams params{1.5, -0.5};
  const kernels::BinaryOp ops[] = {
#define SPARSECAP_ENTRY(name) kernels::BinaryOp::name,
      SPARSECAP_BINARY_OPS(SPARSECAP_ENTRY)
#undef SPARSECAP_ENTRY
  };
  for (const Case& c : cases) {
    launchers::BroadcastLayout layout;
    layout.rank = static_cast<int>(c.sizes.size());
    std::copy(c.sizes.begin(), c.sizes.end(), layout.sizes);
    std::copy(c.a_strides.begin(), c.a_strides.end(), layout.a_strides);
    std::copy(c.b_strides.begin(), c.b_strides.end(), layout.b_strides);
    const int64_t n = numel_of(c.out);
    const std::vector<float> a = uniform(static_cast<size_t>(numel_of(c.a)), 0.2f, 3.0f, 12),
                             b = uniform(static_cast<size_t>(numel_of(c.b)), -2.0f, 2.0f, 13);
    for (const kernels::BinaryOp op : ops) {
      Tensor expected = Tensor::empty(c.out);
      cpu().binary(op, tensor_of(a, c.a), tensor_of(b, c.b), expected, params);
      for (const int misalignment : {0, 1}) {
        PlacedFloats a_placed(a, misalignment), b_placed(b, misalignment), actual(std::vector<float>(n), 0);
        launchers::binary(op, a_placed.data(), b_placed.data(), actual.data(), n, layout, params, kStream);
        expect_matches_cpu(expected, actual.values(), kExact,
                           std::string("binary op ") + std::to_string(static_cast<int>(op)) + ", " + c.name +
                               (misalignment ? ", misaligned" : ""));
      }
    }
  }
  cover("binary");
}

TEST(EmulatedKernels, UnaryChunksUpdateEveryArrayInPlaceAsTheCpu) {
  // Three arrays, one over two chunks and one of a single element, all in one launch.
  const std::vector<int64_t> sizes = {launchers::kUnaryChunkElements + 1000, 37, 1};
  const kernels::ScalarParams params{-0.1, 0.1};
  const kernels::UnaryOp ops[] = {
#define SPARSECAP_ENTRY(name) kernels::UnaryOp::name,
      SPARSECAP_UNARY_OPS(SPARSECAP_ENTRY)
#undef SPARSECAP_ENTRY
  };
  for (const kernels::UnaryOp op : ops) {
    std::vector<std::vector<float>> arrays;
    std::vector<launchers::UnaryChunk> chunks;
    for (size_t a = 0; a < sizes.size(); ++a) arrays.push_back(uniform(sizes[a], -4.0f, 4.0f, 60 + a));
    const std::vector<std::vector<float>> inputs = arrays;
    for (std::vector<float>& array : arrays)
      for (int64_t begin = 0; begin < static_cast<int64_t>(array.size()); begin += launchers::kUnaryChunkElements)
        chunks.push_back({array.data(), begin,
                          std::min<int64_t>(static_cast<int64_t>(array.size()), begin + launchers::kUnaryChunkElements)});
    launchers::unary_chunks(op, chunks.data(), static_cast<int64_t>(chunks.size()), params, kStream);
    for (size_t a = 0; a < sizes.size(); ++a) {
      Tensor expected = Tensor::empty({sizes[a]});
      cpu().unary(op, tensor_of(inputs[a], {sizes[a]}), expected, params);
      expect_matches_cpu(expected, arrays[a], kExact,
                         "unary op " + std::to_string(static_cast<int>(op)) + " in chunks, array " + std::to_string(a));
    }
  }
  cover("unary_chunks");
}

TEST(EmulatedKernels, AdamStepMatchesTheCpu) {
  const int64_t n = 2049;
  for (const bool decoupled : {false, true}) {
    AdamStep step;
    step.lr = 3e-3;
    step.weight_decay = 0.01;
    step.decoupled_weight_decay = decoupled;
    step.step = 7;
    std::vector<float> param = uniform(n, -1, 1, 4), m = uniform(n, -0.1f, 0.1f, 6), v = uniform(n, 0, 0.01f, 7);
    const std::vector<float> grad = uniform(n, -1, 1, 5);
    Tensor param_cpu = tensor_of(param, {n}), m_cpu = tensor_of(m, {n}), v_cpu = tensor_of(v, {n});
    cpu().adam_step(param_cpu, tensor_of(grad, {n}), m_cpu, v_cpu, step);
    launchers::adam_step(param.data(), grad.data(), m.data(), v.data(), n, adam_coefficients(step), kStream);
    expect_matches_cpu(param_cpu, param, kExact, "adam param");
    expect_matches_cpu(m_cpu, m, kExact, "adam m");
    expect_matches_cpu(v_cpu, v, kExact, "adam v");
  }
  cover("adam_step");
}

TEST(EmulatedKernels, AdamChunksUpdateEveryParameterAsAdamStepDoes) {
  // Three parameters in one launch: one over three chunks (a partial last one), one of a single
  // element, one small; each with its own step count and learning rate.
  const std::vector<int64_t> sizes = {2 * launchers::kAdamChunkElements + 123, 1, 300};
  std::vector<std::vector<float>> params, grads, ms, vs;
  std::vector<Tensor> params_cpu, ms_cpu, vs_cpu;
  std::vector<launchers::AdamChunk> chunks;
  for (size_t p = 0; p < sizes.size(); ++p) {
    const int64_t n = sizes[p];
    const uint32_t seed = 70 + 4 * static_cast<uint32_t>(p);
    params.push_back(uniform(n, -1, 1, seed));
    grads.push_back(uniform(n, -1, 1, seed + 1));
    ms.push_back(uniform(n, -0.1f, 0.1f, seed + 2));
    vs.push_back(uniform(n, 0, 0.01f, seed + 3));
    AdamStep step;
    step.lr = 1e-3 * static_cast<double>(p + 1);
    step.step = static_cast<int64_t>(p) + 2;
    step.weight_decay = p == 1 ? 0.01 : 0.0;
    params_cpu.push_back(tensor_of(params[p], {n}));
    ms_cpu.push_back(tensor_of(ms[p], {n}));
    vs_cpu.push_back(tensor_of(vs[p], {n}));
    cpu().adam_step(params_cpu[p], tensor_of(grads[p], {n}), ms_cpu[p], vs_cpu[p], step);
    for (int64_t begin = 0; begin < n; begin += launchers::kAdamChunkElements)
      chunks.push_back({params[p].data(), grads[p].data(), ms[p].data(), vs[p].data(), begin,
                        std::min(n, begin + launchers::kAdamChunkElements), adam_coefficients(step)});
  }
  ASSERT_EQ(chunks.size(), 5u);
  launchers::adam_step_chunks(chunks.data(), static_cast<int64_t>(chunks.size()), kStream);
  for (size_t p = 0; p < sizes.size(); ++p) {
    expect_matches_cpu(params_cpu[p], params[p], kExact, "adam chunks param " + std::to_string(p));
    expect_matches_cpu(ms_cpu[p], ms[p], kExact, "adam chunks m " + std::to_string(p));
    expect_matches_cpu(vs_cpu[p], vs[p], kExact, "adam chunks v " + std::to_string(p));
  }
  cover("adam_step_chunks");
}

// ---- layout and indexing ----

TEST(EmulatedKernels, TransposeMovesEveryWidthAsTheCpu) {
  const int64_t outer = 2, d0 = 3, middle = 5, d1 = 7, inner = 4, n = outer * d0 * middle * d1 * inner;
  for (const DType dtype : {DType::U8, DType::F16, DType::F32, DType::I64}) {
    Tensor in = Tensor::empty({n}, dtype);
    cpu().cast(tensor_of(uniform(n, 0, 200, 8), {n}), in);
    Tensor expected = Tensor::empty({n}, dtype);
    cpu().transpose(in, expected, outer, d0, middle, d1, inner);
    std::vector<unsigned char> actual(expected.nbytes());
    launchers::transpose(in.raw_data(), actual.data(), dtype_size(dtype), outer, d0, middle, d1, inner, kStream);
    EXPECT_EQ(0, std::memcmp(actual.data(), expected.raw_data(), actual.size())) << dtype_name(dtype);
  }
  cover("transpose");
}

TEST(EmulatedKernels, IndexSelectRowsMatchesTheCpu) {
  const int64_t rows = 50, width = 33, count = 70;
  const std::vector<int64_t> index = random_indices(count, rows, 9);
  for (const DType dtype : {DType::F32, DType::F64}) {
    Tensor table = Tensor::empty({rows, width}, dtype);
    cpu().cast(tensor_of(uniform(rows * width, -5, 5, 10), {rows, width}), table);
    Tensor expected = Tensor::empty({count, width}, dtype);
    cpu().index_select_rows(table, tensor_of(index, {count}), expected, width);
    std::vector<unsigned char> actual(expected.nbytes());
    launchers::index_select_rows(table.raw_data(), index.data(), actual.data(), dtype_size(dtype), count, width,
                               kStream);
    EXPECT_EQ(0, std::memcmp(actual.data(), expected.raw_data(), actual.size())) << dtype_name(dtype);
  }
  cover("index_select_rows");
}

TEST(EmulatedKernels, FindOutOfRangeReportsTheFirstBadPosition) {
  // The CPU backend throws on the first bad index; the kernel reports its position (atomicMin).
  const int64_t n = 1000, bound = 40, ignore = -100;
  std::vector<int64_t> index = random_indices(n, bound, 11);
  index[100] = ignore;  // ignored, not bad
  index[930] = bound;
  index[700] = -1;
  index[701] = 1000;
  unsigned long long first_bad = std::numeric_limits<unsigned long long>::max();
  launchers::find_out_of_range(index.data(), n, bound, ignore, &first_bad, kStream);
  EXPECT_EQ(first_bad, 700u);
  index[700] = index[701] = index[930] = 0;
  first_bad = std::numeric_limits<unsigned long long>::max();
  launchers::find_out_of_range(index.data(), n, bound, ignore, &first_bad, kStream);
  EXPECT_EQ(first_bad, std::numeric_limits<unsigned long long>::max());
  Tensor table = zeros({bound, 1});
  EXPECT_THROW(cpu().index_add_rows(ones({1, 1}), tensor_of(std::vector<int64_t>{bound}, {1}), table, 1), Error);
  cover("find_out_of_range");
}

struct IndexAddCase {
  int64_t rows = 40, width = 37, count = 600;
  std::vector<float> src = uniform(600 * 37, -1, 1, 12), table = uniform(40 * 37, -1, 1, 13);
  std::vector<int64_t> index = random_indices(600, 40, 14);  // many repeats per row
  Tensor cpu_result() const {
    Tensor result = tensor_of(table, {rows, width});
    cpu().index_add_rows(tensor_of(src, {count, width}), tensor_of(index, {count}), result, width);
    return result;
  }
};

TEST(EmulatedKernels, AtomicIndexAddMatchesTheCpuUpToSummationOrder) {
  IndexAddCase c;
  std::vector<float> actual = c.table;
  launchers::index_add_rows_atomic(c.src.data(), c.index.data(), actual.data(), c.count, c.width, kStream);
  expect_matches_cpu(c.cpu_result(), actual, kReductionTolerance, "index_add atomic");
  cover("index_add_rows_atomic");
}

TEST(EmulatedKernels, DeterministicIndexAddIsBitIdenticalToTheCpu) {
  IndexAddCase c;
  // The CUDA backend sorts (index, position) pairs stably with CUB; the same order here.
  std::vector<int64_t> position(c.count);
  std::iota(position.begin(), position.end(), 0);
  std::stable_sort(position.begin(), position.end(), [&](int64_t a, int64_t b) { return c.index[a] < c.index[b]; });
  std::vector<int64_t> sorted_index(c.count);
  for (int64_t i = 0; i < c.count; ++i) sorted_index[i] = c.index[position[i]];
  std::vector<float> actual = c.table;
  launchers::index_add_rows_sorted(c.src.data(), sorted_index.data(), position.data(), actual.data(), c.count, c.width,
                                 kStream);
  expect_matches_cpu(c.cpu_result(), actual, kExact, "index_add sorted");
  cover("index_add_rows_sorted");
}

TEST(EmulatedKernels, GatherAndScatterAddColumnsMatchTheCpu) {
  const int64_t rows = 70, n = 50, k = 9;
  const std::vector<float> in = uniform(rows * n, -3, 3, 15), grad_out = uniform(rows * k, -1, 1, 16);
  const std::vector<int64_t> index = random_indices(rows * k, n, 17);  // repeats within rows
  Tensor gathered = Tensor::empty({rows, k});
  cpu().gather_columns(tensor_of(in, {rows, n}), tensor_of(index, {rows, k}), gathered, rows, n, k);
  std::vector<float> actual(rows * k);
  launchers::gather_columns(in.data(), index.data(), actual.data(), rows, n, k, kStream);
  expect_matches_cpu(gathered, actual, kExact, "gather_columns");
  cover("gather_columns");

  const std::vector<float> grad_in = uniform(rows * n, -1, 1, 18);
  Tensor scattered = tensor_of(grad_in, {rows, n});
  cpu().scatter_add_columns(tensor_of(grad_out, {rows, k}), tensor_of(index, {rows, k}), scattered, rows, n, k);
  std::vector<float> scattered_actual = grad_in;
  launchers::scatter_add_columns(grad_out.data(), index.data(), scattered_actual.data(), rows, n, k, kStream);
  expect_matches_cpu(scattered, scattered_actual, kExact, "scatter_add_columns");
  cover("scatter_add_columns");
}

// ---- reductions ----

// Row lengths: shorter than a warp, a non-multiple of 32, a partial block, longer than a block.
const int64_t kRowLengths[] = {5, 33, 300, 1500};

TEST(EmulatedKernels, SumAlongMatchesTheCpuOnRowsAndStrides) {
  for (const int64_t n : kRowLengths) {
    const int64_t outer = 6;
    const std::vector<float> in = uniform(outer * n, -2, 2, 19);
    Tensor expected = Tensor::empty({outer}), unused;
    cpu().reduce(ReduceOp::Sum, tensor_of(in, {outer, n}), expected, unused, outer, n, 1);
    std::vector<float> actual(outer);
    launchers::sum_along(in.data(), actual.data(), outer, n, 1, kStream);
    expect_matches_cpu(expected, actual, kDoubleAccumulationTolerance, "sum rows of " + std::to_string(n));
  }
  // Strided: few rows (a thread per output) and many (row lanes per block, the bias gradients'
  // case), with a partial last tile of 32 outputs.
  for (const int64_t n : {17, 300}) {
    const int64_t outer = 3, inner = 45;
    const std::vector<float> in = uniform(outer * n * inner, -2, 2, 20);
    Tensor expected = Tensor::empty({outer, inner}), unused;
    cpu().reduce(ReduceOp::Sum, tensor_of(in, {outer, n, inner}), expected, unused, outer, n, inner);
    std::vector<float> actual(outer * inner);
    launchers::sum_along(in.data(), actual.data(), outer, n, inner, kStream);
    expect_matches_cpu(expected, actual, kDoubleAccumulationTolerance, "sum strided over " + std::to_string(n));
  }
  cover("sum_along");
}

TEST(EmulatedKernels, MaxAlongMatchesTheCpuIncludingTiesAndNaN) {
  for (const int64_t n : kRowLengths) {
    const int64_t outer = 5;
    // Few distinct values: many ties, where the smallest index must win.
    std::vector<float> in = uniform(outer * n, 0, 4, 21);
    for (float& v : in) v = std::floor(v);
    in[2 * n + n / 2] = std::numeric_limits<float>::quiet_NaN();  // row 2: the NaN wins
    for (int64_t i = 0; i < n; ++i) in[4 * n + i] = -std::numeric_limits<float>::infinity();  // row 4: all -inf
    Tensor expected = Tensor::empty({outer}), expected_argmax = Tensor::empty({outer}, DType::I64);
    cpu().reduce(ReduceOp::Max, tensor_of(in, {outer, n}), expected, expected_argmax, outer, n, 1);
    std::vector<float> actual(outer);
    std::vector<int64_t> argmax(outer);
    launchers::max_along(in.data(), actual.data(), argmax.data(), outer, n, 1, kStream);
    expect_matches_cpu(expected, actual, kExact, "max rows of " + std::to_string(n));
    expect_bitwise_equal(values_of<int64_t>(expected_argmax), argmax, "argmax rows of " + std::to_string(n));
  }
  const int64_t outer = 3, n = 17, inner = 45;
  std::vector<float> in = uniform(outer * n * inner, 0, 5, 22);
  for (float& v : in) v = std::floor(v);
  in[7] = std::numeric_limits<float>::quiet_NaN();
  Tensor expected = Tensor::empty({outer, inner}), expected_argmax = Tensor::empty({outer, inner}, DType::I64);
  cpu().reduce(ReduceOp::Max, tensor_of(in, {outer, n, inner}), expected, expected_argmax, outer, n, inner);
  std::vector<float> actual(outer * inner);
  std::vector<int64_t> argmax(outer * inner);
  launchers::max_along(in.data(), actual.data(), argmax.data(), outer, n, inner, kStream);
  expect_matches_cpu(expected, actual, kExact, "max strided");
  expect_bitwise_equal(values_of<int64_t>(expected_argmax), argmax, "argmax strided");
  cover("max_along");
}

TEST(EmulatedKernels, TopKMatchesTheCpuIncludingTiesNaNAndInfinities) {
  for (const int64_t n : kRowLengths) {
    const int64_t rows = 5, k = std::min<int64_t>(n, 7);
    // Few distinct values: many ties, taken in index order.
    std::vector<float> in = uniform(rows * n, 0, 4, 23);
    for (float& v : in) v = std::floor(v);
    in[1 * n + n / 3] = std::numeric_limits<float>::quiet_NaN();  // row 1: two NaNs come first
    in[1 * n + n - 1] = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 0; i < n; ++i) in[3 * n + i] = -std::numeric_limits<float>::infinity();  // row 3: all -inf
    in[3 * n + n - 1] = 1.0f;
    Tensor expected_values = Tensor::empty({rows, k}), expected_indices = Tensor::empty({rows, k}, DType::I64);
    cpu().top_k_rows(tensor_of(in, {rows, n}), expected_values, expected_indices, rows, n, k);
    std::vector<float> values(rows * k);
    std::vector<int64_t> indices(rows * k);
    launchers::top_k_rows(in.data(), values.data(), indices.data(), rows, n, k, kStream);
    expect_matches_cpu(expected_values, values, kExact, "top_k values, rows of " + std::to_string(n));
    expect_bitwise_equal(values_of<int64_t>(expected_indices), indices, "top_k indices, rows of " + std::to_string(n));
  }
  cover("top_k_rows");
}

TEST(EmulatedKernels, DoubleToFloatRoundsAsTheCpu) {
  for (const double total : {1.0 / 3.0, -1e40, 123456789.123456789, 0.0}) {
    float actual = 0;
    launchers::double_to_float(&total, &actual, kStream);
    const float rounded = static_cast<float>(total);
    EXPECT_EQ(std::memcmp(&actual, &rounded, sizeof actual), 0) << total;
    Tensor expected = Tensor::empty({1});
    cpu().cast(from_vector(std::vector<double>{total}, {1}), expected);
    EXPECT_EQ(values_of<float>(expected)[0], actual) << total;
  }
  cover("double_to_float");
}

// ---- softmax and cross-entropy ----

TEST(EmulatedKernels, SoftmaxAndLogSoftmaxMatchTheCpuWithAndWithoutMask) {
  for (const int64_t cols : kRowLengths) {
    const int64_t rows = 6, mask_rows = 3;  // mask row r / 2 for row r
    const std::vector<float> x = uniform(rows * cols, -6, 6, 23);
    std::vector<float> mask = uniform(mask_rows * cols, 0, 1, 24);
    for (float& m : mask) m = m < 0.3f ? 0.0f : 1.0f;
    for (int64_t c = 0; c < cols; ++c) mask[2 * cols + c] = 0.0f;  // rows 4 and 5: everything masked
    for (const bool log_output : {false, true})
      for (const bool masked : {false, true}) {
        Tensor expected = Tensor::empty({rows, cols});
        cpu().softmax(tensor_of(x, {rows, cols}), masked ? tensor_of(mask, {mask_rows, cols}) : Tensor(), expected,
                      rows, cols, log_output);
        std::vector<float> actual(rows * cols);
        launchers::softmax(x.data(), masked ? mask.data() : nullptr, rows / mask_rows, actual.data(), rows, cols,
                         log_output, kStream);
        expect_matches_cpu(expected, actual, kTranscendentalTolerance,
                           std::string(log_output ? "log-softmax" : "softmax") + (masked ? " masked" : "") +
                               " cols " + std::to_string(cols));
      }
  }
  cover("softmax");
}

TEST(EmulatedKernels, SoftmaxBackwardMatchesTheCpu) {
  for (const int64_t cols : kRowLengths) {
    const int64_t rows = 5;
    const std::vector<float> x = uniform(rows * cols, -3, 3, 25), dy = uniform(rows * cols, -1, 1, 26);
    for (const bool log_output : {false, true}) {
      Tensor y = Tensor::empty({rows, cols});
      cpu().softmax(tensor_of(x, {rows, cols}), Tensor(), y, rows, cols, log_output);
      Tensor expected = Tensor::empty({rows, cols});
      cpu().softmax_backward(y, tensor_of(dy, {rows, cols}), expected, rows, cols, log_output);
      const std::vector<float> y_values = values_of<float>(y);
      std::vector<float> actual(rows * cols);
      launchers::softmax_backward(y_values.data(), dy.data(), actual.data(), rows, cols, log_output, kStream);
      expect_matches_cpu(expected, actual, kReductionTolerance,
                         std::string(log_output ? "log-softmax" : "softmax") + " backward cols " + std::to_string(cols));
    }
  }
  cover("softmax_backward");
}

TEST(EmulatedKernels, CrossEntropyForwardAndBackwardMatchTheCpu) {
  const int64_t ignore_index = -1;
  for (const int64_t cols : kRowLengths) {
    const int64_t rows = 7;
    const std::vector<float> logits = uniform(rows * cols, -5, 5, 27);
    std::vector<int64_t> targets = random_indices(rows, cols, 28);
    targets[3] = ignore_index;
    Tensor losses = Tensor::empty({rows}), lse = Tensor::empty({rows});
    cpu().cross_entropy(tensor_of(logits, {rows, cols}), tensor_of(targets, {rows}), losses, lse, rows, cols,
                        ignore_index);
    std::vector<float> actual_losses(rows), actual_lse(rows);
    launchers::cross_entropy(logits.data(), targets.data(), actual_losses.data(), actual_lse.data(), rows, cols,
                           ignore_index, kStream);
    const std::string size = " cols " + std::to_string(cols);
    expect_matches_cpu(losses, actual_losses, kTranscendentalTolerance, "cross-entropy losses" + size);
    // The ignored row's lse is not part of the interface's promise beyond the backward's use.
    expect_matches_cpu(lse, actual_lse, kTranscendentalTolerance, "cross-entropy lse" + size);

    const double scale = 1.0 / 6.0;
    Tensor dlogits = Tensor::empty({rows, cols});
    cpu().cross_entropy_backward(tensor_of(logits, {rows, cols}), tensor_of(targets, {rows}), lse, dlogits, rows, cols,
                                 ignore_index, scale);
    const std::vector<float> lse_values = values_of<float>(lse);
    std::vector<float> actual_dlogits(rows * cols);
    launchers::cross_entropy_backward(logits.data(), targets.data(), lse_values.data(), actual_dlogits.data(), rows,
                                    cols, ignore_index, static_cast<float>(scale), kStream);
    expect_matches_cpu(dlogits, actual_dlogits, kTranscendentalTolerance, "cross-entropy backward" + size);
  }
  cover("cross_entropy");
  cover("cross_entropy_backward");
}

// ---- normalisation ----

TEST(EmulatedKernels, LayerNormForwardAndBackwardMatchTheCpu) {
  const double eps = 1e-5;
  for (const int64_t cols : kRowLengths) {
    const int64_t rows = 6;
    const std::vector<float> x = uniform(rows * cols, -3, 5, 29), gamma = uniform(cols, 0.5f, 1.5f, 30),
                             beta = uniform(cols, -0.5f, 0.5f, 31), dy = uniform(rows * cols, -1, 1, 32);
    Tensor out = Tensor::empty({rows, cols}), mean = Tensor::empty({rows}), rstd = Tensor::empty({rows});
    cpu().layer_norm(tensor_of(x, {rows, cols}), tensor_of(gamma, {cols}), tensor_of(beta, {cols}), out, mean, rstd,
                     rows, cols, eps);
    std::vector<float> actual_out(rows * cols), actual_mean(rows), actual_rstd(rows);
    launchers::layer_norm(x.data(), gamma.data(), beta.data(), actual_out.data(), actual_mean.data(), actual_rstd.data(),
                        rows, cols, eps, kStream);
    const std::string size = " cols " + std::to_string(cols);
    expect_matches_cpu(out, actual_out, kDoubleAccumulationTolerance, "layer norm" + size);
    expect_matches_cpu(mean, actual_mean, kDoubleAccumulationTolerance, "layer norm mean" + size);
    expect_matches_cpu(rstd, actual_rstd, kDoubleAccumulationTolerance, "layer norm rstd" + size);

    Tensor dx = Tensor::empty({rows, cols}), dgamma = Tensor::empty({cols}), dbeta = Tensor::empty({cols});
    cpu().layer_norm_backward(tensor_of(x, {rows, cols}), tensor_of(gamma, {cols}), mean, rstd,
                              tensor_of(dy, {rows, cols}), dx, dgamma, dbeta, rows, cols);
    const std::vector<float> mean_values = values_of<float>(mean), rstd_values = values_of<float>(rstd);
    std::vector<float> actual_dx(rows * cols), actual_dgamma(cols), actual_dbeta(cols);
    launchers::layer_norm_backward(x.data(), gamma.data(), mean_values.data(), rstd_values.data(), dy.data(),
                                 actual_dx.data(), actual_dgamma.data(), actual_dbeta.data(), rows, cols, kStream);
    expect_matches_cpu(dx, actual_dx, kReductionTolerance, "layer norm dx" + size);
    expect_matches_cpu(dgamma, actual_dgamma, kDoubleAccumulationTolerance, "layer norm dgamma" + size);
    expect_matches_cpu(dbeta, actual_dbeta, kDoubleAccumulationTolerance, "layer norm dbeta" + size);
  }
  cover("layer_norm");
  cover("layer_norm_backward");
}

TEST(EmulatedKernels, BatchNormForwardAndBackwardMatchTheCpu) {
  const double momentum = 0.1, eps = 1e-5;
  // batch * spatial per channel: 3 * 1 (a partial warp), 4 * 25, 2 * 700 (longer than a block).
  const int64_t shapes[][2] = {{3, 1}, {4, 25}, {2, 700}};
  for (const auto& shape : shapes) {
    const int64_t batch = shape[0], spatial = shape[1], channels = 5, n = batch * channels * spatial;
    const std::vector<float> x = uniform(n, -2, 4, 33), gamma = uniform(channels, 0.5f, 1.5f, 34),
                             beta = uniform(channels, -0.5f, 0.5f, 35), dy = uniform(n, -1, 1, 36);
    const std::vector<float> running_mean = uniform(channels, -0.1f, 0.1f, 37),
                             running_var = uniform(channels, 0.9f, 1.1f, 38);
    const std::string size = " batch " + std::to_string(batch) + " spatial " + std::to_string(spatial);
    for (const bool training : {true, false}) {
      Tensor rm = tensor_of(running_mean, {channels}), rv = tensor_of(running_var, {channels});
      Tensor out = Tensor::empty({batch, channels, spatial}), mean = Tensor::empty({channels}),
             invstd = Tensor::empty({channels});
      cpu().batch_norm(tensor_of(x, {batch, channels, spatial}), tensor_of(gamma, {channels}),
                       tensor_of(beta, {channels}), rm, rv, out, mean, invstd, batch, channels, spatial, training,
                       momentum, eps);
      std::vector<float> actual_rm = running_mean, actual_rv = running_var, actual_out(n), actual_mean(channels),
                         actual_invstd(channels);
      launchers::batch_norm(x.data(), gamma.data(), beta.data(), actual_rm.data(), actual_rv.data(), actual_out.data(),
                          actual_mean.data(), actual_invstd.data(), batch, channels, spatial, training, momentum, eps,
                          kStream);
      const std::string mode = (training ? " training" : " evaluation") + size;
      expect_matches_cpu(out, actual_out, kDoubleAccumulationTolerance, "batch norm" + mode);
      expect_matches_cpu(mean, actual_mean, kDoubleAccumulationTolerance, "batch norm mean" + mode);
      expect_matches_cpu(invstd, actual_invstd, kDoubleAccumulationTolerance, "batch norm invstd" + mode);
      expect_matches_cpu(rm, actual_rm, kDoubleAccumulationTolerance, "running mean" + mode);
      expect_matches_cpu(rv, actual_rv, kDoubleAccumulationTolerance, "running var" + mode);
      if (!training) continue;

      Tensor dx = Tensor::empty({batch, channels, spatial}), dgamma = Tensor::empty({channels}),
             dbeta = Tensor::empty({channels});
      cpu().batch_norm_backward(tensor_of(x, {batch, channels, spatial}), tensor_of(gamma, {channels}), mean, invstd,
                                tensor_of(dy, {batch, channels, spatial}), dx, dgamma, dbeta, batch, channels,
                                spatial);
      std::vector<float> actual_dx(n), actual_dgamma(channels), actual_dbeta(channels);
      launchers::batch_norm_backward(x.data(), gamma.data(), actual_mean.data(), actual_invstd.data(), dy.data(),
                                   actual_dx.data(), actual_dgamma.data(), actual_dbeta.data(), batch, channels,
                                   spatial, kStream);
      expect_matches_cpu(dx, actual_dx, kReductionTolerance, "batch norm dx" + size);
      expect_matches_cpu(dgamma, actual_dgamma, kDoubleAccumulationTolerance, "batch norm dgamma" + size);
      expect_matches_cpu(dbeta, actual_dbeta, kDoubleAccumulationTolerance, "batch norm dbeta" + size);
    }
  }
  cover("batch_norm");
  cover("batch_norm_backward");
}

// ---- images ----

// The columns of im2col times the weights are the CPU backend's convolution, and col2im of the
// weights' transpose times dy is its input gradient: both checked with padding and stride 2.
TEST(EmulatedKernels, Im2colAndCol2imReproduceTheCpuConvolution) {
  Conv2dShape shape;
  shape.batch = 1;
  shape.in_channels = 3;
  shape.out_channels = 4;
  shape.in_h = 11;
  shape.in_w = 9;
  shape.kernel_h = 3;
  shape.kernel_w = 2;
  shape.stride = 2;
  shape.padding = 1;
  shape.out_h = (shape.in_h + 2 * shape.padding - shape.kernel_h) / shape.stride + 1;
  shape.out_w = (shape.in_w + 2 * shape.padding - shape.kernel_w) / shape.stride + 1;
  const launchers::ConvGeometry g{shape.in_channels, shape.in_h, shape.in_w, shape.out_h, shape.out_w,
                                shape.kernel_h, shape.kernel_w, shape.stride, shape.padding};
  const int64_t patch = shape.in_channels * shape.kernel_h * shape.kernel_w, pixels = shape.out_h * shape.out_w;
  const std::vector<float> image = uniform(shape.in_channels * shape.in_h * shape.in_w, -1, 1, 39),
                           weight = uniform(shape.out_channels * patch, -1, 1, 40),
                           dy = uniform(shape.out_channels * pixels, -1, 1, 41);
  const Tensor weight_cpu = tensor_of(weight, {shape.out_channels, shape.in_channels, shape.kernel_h, shape.kernel_w});

  std::vector<float> columns(patch * pixels);
  launchers::im2col(image.data(), columns.data(), g, kStream);
  Tensor conv = Tensor::empty({1, shape.out_channels, shape.out_h, shape.out_w});
  cpu().conv2d(tensor_of(image, {1, shape.in_channels, shape.in_h, shape.in_w}), weight_cpu, conv, shape);
  std::vector<float> via_columns(shape.out_channels * pixels);
  for (int64_t o = 0; o < shape.out_channels; ++o)
    for (int64_t p = 0; p < pixels; ++p) {
      double total = 0;
      for (int64_t r = 0; r < patch; ++r) total += double(weight[o * patch + r]) * columns[r * pixels + p];
      via_columns[o * pixels + p] = static_cast<float>(total);
    }
  expect_matches_cpu(conv, via_columns, kReductionTolerance, "weights x im2col vs conv2d");
  cover("im2col");

  std::vector<float> weighted_dy(patch * pixels);  // Wᵀ dy
  for (int64_t r = 0; r < patch; ++r)
    for (int64_t p = 0; p < pixels; ++p) {
      double total = 0;
      for (int64_t o = 0; o < shape.out_channels; ++o) total += double(weight[o * patch + r]) * dy[o * pixels + p];
      weighted_dy[r * pixels + p] = static_cast<float>(total);
    }
  std::vector<float> dx(image.size(), std::numeric_limits<float>::quiet_NaN());  // col2im overwrites
  launchers::col2im(weighted_dy.data(), dx.data(), g, kStream);
  Tensor expected_dx = Tensor::empty({1, shape.in_channels, shape.in_h, shape.in_w});
  cpu().conv2d_backward_input(tensor_of(dy, {1, shape.out_channels, shape.out_h, shape.out_w}), weight_cpu,
                              expected_dx, shape);
  expect_matches_cpu(expected_dx, dx, kReductionTolerance, "col2im(Wᵀ dy) vs conv2d_backward_input");
  cover("col2im");
}

TEST(EmulatedKernels, PoolingForwardAndBackwardMatchTheCpu) {
  Pool2dShape shape;
  shape.batch = 2;
  shape.channels = 3;
  shape.in_h = 13;
  shape.in_w = 11;
  shape.kernel = 3;
  shape.stride = 2;
  shape.padding = 1;
  shape.out_h = (shape.in_h + 2 * shape.padding - shape.kernel) / shape.stride + 1;
  shape.out_w = (shape.in_w + 2 * shape.padding - shape.kernel) / shape.stride + 1;
  const launchers::PoolGeometry g{shape.batch * shape.channels, shape.in_h, shape.in_w, shape.out_h, shape.out_w,
                                shape.kernel, shape.stride, shape.padding};
  const Shape in_shape{shape.batch, shape.channels, shape.in_h, shape.in_w},
      out_shape{shape.batch, shape.channels, shape.out_h, shape.out_w};
  std::vector<float> x = uniform(numel_of(in_shape), 0, 6, 42);
  for (float& v : x) v = std::floor(v);  // ties inside windows: the first index must win
  const std::vector<float> dy = uniform(numel_of(out_shape), -1, 1, 43);
  const size_t in_count = static_cast<size_t>(numel_of(in_shape)), out_count = static_cast<size_t>(numel_of(out_shape));

  Tensor out = Tensor::empty(out_shape), argmax = Tensor::empty(out_shape, DType::I64);
  cpu().pool2d(PoolKind::Max, tensor_of(x, in_shape), out, argmax, shape);
  std::vector<float> actual_out(out_count);
  std::vector<int64_t> actual_argmax(out_count);
  launchers::max_pool2d(x.data(), actual_out.data(), actual_argmax.data(), g, kStream);
  expect_matches_cpu(out, actual_out, kExact, "max pool");
  expect_bitwise_equal(values_of<int64_t>(argmax), actual_argmax, "max pool argmax");
  cover("max_pool2d");

  Tensor dx = Tensor::empty(in_shape);
  cpu().pool2d_backward(PoolKind::Max, Tensor(), Tensor(), tensor_of(dy, out_shape), argmax, dx, shape);
  std::vector<float> actual_dx(in_count);
  launchers::max_pool2d_backward(dy.data(), actual_argmax.data(), actual_dx.data(), g, kStream);
  expect_matches_cpu(dx, actual_dx, kReductionTolerance, "max pool backward");
  cover("max_pool2d_backward");

  Tensor average = Tensor::empty(out_shape), no_argmax;
  cpu().pool2d(PoolKind::Average, tensor_of(x, in_shape), average, no_argmax, shape);
  std::vector<float> actual_average(out_count);
  launchers::avg_pool2d(x.data(), actual_average.data(), g, kStream);
  expect_matches_cpu(average, actual_average, kReductionTolerance, "average pool");
  cover("avg_pool2d");

  Tensor average_dx = Tensor::empty(in_shape);
  cpu().pool2d_backward(PoolKind::Average, Tensor(), Tensor(), tensor_of(dy, out_shape), no_argmax, average_dx,
                        shape);
  std::vector<float> actual_average_dx(in_count);
  launchers::avg_pool2d_backward(dy.data(), actual_average_dx.data(), g, kStream);
  expect_matches_cpu(average_dx, actual_average_dx, kReductionTolerance, "average pool backward");
  cover("avg_pool2d_backward");
}

// ---- fused: Supermask's gated weight, LSTM and GRU cells ----

TEST(EmulatedKernels, GatedWeightMasksAndGradientsAreBitIdenticalToTheCpu) {
  const int64_t n = 5003;  // the vector kernels' tail: 3 weights
  const std::vector<float> weight = uniform(n, -1, 1, 44), gate = uniform(n, -3, 3, 45),
                           grad_out = uniform(n, -1, 1, 46);
  struct Placement {
    int misalignment;      // of every array: 0 takes the vector kernels, 1 the scalar ones
    uint64_t offset;       // of the draw: one not on a Philox block also takes the scalar ones
    const char* name;
  };
  const Placement placements[] = {{0, 1u << 20, "vector kernel"},
                                  {1, 1u << 20, "scalar kernel, misaligned"},
                                  {0, (1u << 20) + 2, "scalar kernel, draw mid-block"}};
  for (const bool sample : {true, false}) {
    for (const Placement& placement : placements) {
      sparsecap::kernels::GateDraw draw;
      draw.seed = 2024;
      draw.stream = 3;
      draw.offset = placement.offset;
      draw.sample = sample;
      const std::string mode =
          std::string(sample ? " (Bernoulli draw, " : " (deterministic mask, ") + placement.name + ")";
      PlacedFloats weight_at(weight, placement.misalignment), gate_at(gate, placement.misalignment),
          grad_out_at(grad_out, placement.misalignment);
      Tensor out = Tensor::empty({n});
      cpu().gated_weight(tensor_of(weight, {n}), tensor_of(gate, {n}), out, draw);
      PlacedFloats actual(std::vector<float>(n), placement.misalignment);
      launchers::gated_weight(weight_at.data(), gate_at.data(), actual.data(), n, draw, kStream);
      expect_matches_cpu(out, actual.values(), kExact, "gated weight" + mode);

      Tensor grad_weight = Tensor::empty({n}), grad_gate = Tensor::empty({n});
      cpu().gated_weight_backward(tensor_of(grad_out, {n}), tensor_of(weight, {n}), tensor_of(gate, {n}), grad_weight,
                                  grad_gate, draw);
      PlacedFloats actual_grad_weight(std::vector<float>(n), placement.misalignment),
          actual_grad_gate(std::vector<float>(n), placement.misalignment);
      launchers::gated_weight_backward(grad_out_at.data(), weight_at.data(), gate_at.data(), actual_grad_weight.data(),
                                       actual_grad_gate.data(), n, draw, kStream);
      expect_matches_cpu(grad_weight, actual_grad_weight.values(), kExact, "gated weight dW" + mode);
      expect_matches_cpu(grad_gate, actual_grad_gate.values(), kExact, "gated weight dG" + mode);
    }
  }
  cover("gated_weight");
  cover("gated_weight_backward");
}

TEST(EmulatedKernels, LstmCellForwardAndBackwardMatchTheCpu) {
  const int64_t batch = 3, hidden = 37;
  const std::vector<float> input_gates = uniform(batch * 4 * hidden, -2, 2, 47),
                           hidden_gates = uniform(batch * 4 * hidden, -2, 2, 48),
                           c_prev = uniform(batch * hidden, -1, 1, 49), grad_state = uniform(2 * batch * hidden, -1, 1, 50);
  Tensor state = Tensor::empty({2, batch, hidden}), activated = Tensor::empty({batch, 4 * hidden});
  cpu().lstm_cell(tensor_of(input_gates, {batch, 4 * hidden}), tensor_of(hidden_gates, {batch, 4 * hidden}),
                  tensor_of(c_prev, {batch, hidden}), state, activated, batch, hidden);
  std::vector<float> actual_state(2 * batch * hidden), actual_activated(batch * 4 * hidden);
  launchers::lstm_cell(input_gates.data(), hidden_gates.data(), c_prev.data(), actual_state.data(),
                     actual_activated.data(), batch, hidden, kStream);
  expect_matches_cpu(state, actual_state, kExact, "lstm state");
  expect_matches_cpu(activated, actual_activated, kExact, "lstm activated gates");
  cover("lstm_cell");

  Tensor grad_gates = Tensor::empty({batch, 4 * hidden}), grad_c_prev = Tensor::empty({batch, hidden});
  cpu().lstm_cell_backward(activated, tensor_of(c_prev, {batch, hidden}), state,
                           tensor_of(grad_state, {2, batch, hidden}), grad_gates, grad_c_prev, batch, hidden);
  std::vector<float> actual_grad_gates(batch * 4 * hidden), actual_grad_c_prev(batch * hidden);
  launchers::lstm_cell_backward(actual_activated.data(), c_prev.data(), actual_state.data(), grad_state.data(),
                              actual_grad_gates.data(), actual_grad_c_prev.data(), batch, hidden, kStream);
  expect_matches_cpu(grad_gates, actual_grad_gates, kExact, "lstm grad gates");
  expect_matches_cpu(grad_c_prev, actual_grad_c_prev, kExact, "lstm grad c_prev");
  cover("lstm_cell_backward");
}

TEST(EmulatedKernels, GruCellForwardAndBackwardMatchTheCpu) {
  const int64_t batch = 4, hidden = 45;
  const std::vector<float> input_gates = uniform(batch * 3 * hidden, -2, 2, 51),
                           hidden_gates = uniform(batch * 3 * hidden, -2, 2, 52),
                           h_prev = uniform(batch * hidden, -1, 1, 53), grad_h = uniform(batch * hidden, -1, 1, 54);
  Tensor h = Tensor::empty({batch, hidden}), workspace = Tensor::empty({batch, 4 * hidden});
  cpu().gru_cell(tensor_of(input_gates, {batch, 3 * hidden}), tensor_of(hidden_gates, {batch, 3 * hidden}),
                 tensor_of(h_prev, {batch, hidden}), h, workspace, batch, hidden);
  std::vector<float> actual_h(batch * hidden), actual_workspace(batch * 4 * hidden);
  launchers::gru_cell(input_gates.data(), hidden_gates.data(), h_prev.data(), actual_h.data(), actual_workspace.data(),
                    batch, hidden, kStream);
  expect_matches_cpu(h, actual_h, kExact, "gru h");
  expect_matches_cpu(workspace, actual_workspace, kExact, "gru workspace");
  cover("gru_cell");

  Tensor grad_input = Tensor::empty({batch, 3 * hidden}), grad_hidden = Tensor::empty({batch, 3 * hidden}),
         grad_h_prev = Tensor::empty({batch, hidden});
  cpu().gru_cell_backward(workspace, tensor_of(h_prev, {batch, hidden}), tensor_of(grad_h, {batch, hidden}),
                          grad_input, grad_hidden, grad_h_prev, batch, hidden);
  std::vector<float> actual_grad_input(batch * 3 * hidden), actual_grad_hidden(batch * 3 * hidden),
      actual_grad_h_prev(batch * hidden);
  launchers::gru_cell_backward(actual_workspace.data(), h_prev.data(), grad_h.data(), actual_grad_input.data(),
                             actual_grad_hidden.data(), actual_grad_h_prev.data(), batch, hidden, kStream);
  expect_matches_cpu(grad_input, actual_grad_input, kExact, "gru grad input gates");
  expect_matches_cpu(grad_hidden, actual_grad_hidden, kExact, "gru grad hidden gates");
  expect_matches_cpu(grad_h_prev, actual_grad_h_prev, kExact, "gru grad h_prev");
  cover("gru_cell_backward");
}

// ---- fused additive attention ----

// Exact where the kernels follow the CPU loop's order: the keys' gradient (one functor call per
// element, added to the running sum in the same way) and the query's (positions summed in order).
// The scores (lanes and a butterfly vs the CPU's SIMD reduction) and the weight's gradient (per-row
// partials vs the CPU's four-row tasks) are sums in another order.
TEST(EmulatedKernels, AdditiveAttentionForwardAndBackwardMatchTheCpu) {
  struct AttentionShape {
    int64_t rows, positions, width;
  };
  // Widths shorter than a warp, of one unit (the weight's sum runs the row kernel), a multiple of
  // 32 and not (37, 300: lanes take several turns); one position; 70 rows (the weight's sum runs
  // the tiled column kernel); more scores than a block has warps.
  const AttentionShape shapes[] = {{4, 1, 5}, {3, 7, 37}, {2, 5, 1}, {5, 3, 64}, {70, 2, 300}};
  uint32_t seed = 130;
  for (const AttentionShape& shape : shapes) {
    const int64_t rows = shape.rows, positions = shape.positions, width = shape.width;
    const int64_t key_count = rows * positions * width;
    const std::vector<float> keys = uniform(key_count, -2, 2, seed++), query = uniform(rows * width, -1, 1, seed++),
                             weight = uniform(width, -1, 1, seed++), bias = uniform(1, -1, 1, seed++),
                             grad_scores = uniform(rows * positions, -1, 1, seed++),
                             running_keys = uniform(key_count, -1, 1, seed++);
    const Tensor keys_tensor = tensor_of(keys, {rows, positions, width});
    const Tensor query_tensor = tensor_of(query, {rows, width}), weight_tensor = tensor_of(weight, {width});
    const std::string size = " [" + std::to_string(rows) + ", " + std::to_string(positions) + ", " +
                             std::to_string(width) + "]";
    for (const bool with_bias : {true, false}) {
      Tensor scores = Tensor::empty({rows, positions});
      cpu().additive_attention(keys_tensor, query_tensor, weight_tensor, with_bias ? tensor_of(bias, {1}) : Tensor(),
                               scores, rows, positions, width);
      std::vector<float> actual_scores(rows * positions);
      launchers::additive_attention(keys.data(), query.data(), weight.data(), with_bias ? bias.data() : nullptr,
                                    actual_scores.data(), rows, positions, width, kStream);
      expect_matches_cpu(scores, actual_scores, kReductionTolerance,
                         "attention scores" + size + (with_bias ? " with bias" : ""));
    }
    for (const bool add_to_grad_keys : {false, true}) {
      // Written whole: both sides start from NaN, so an element the kernel skips cannot match.
      const std::vector<float> grad_keys_before =
          add_to_grad_keys ? running_keys : std::vector<float>(key_count, std::numeric_limits<float>::quiet_NaN());
      Tensor grad_keys = tensor_of(grad_keys_before, {rows, positions, width});
      Tensor grad_query = Tensor::empty({rows, width}), grad_weight = Tensor::empty({width});
      cpu().additive_attention_backward(keys_tensor, query_tensor, weight_tensor,
                                        tensor_of(grad_scores, {rows, positions}), grad_keys, add_to_grad_keys,
                                        grad_query, grad_weight, rows, positions, width);
      std::vector<float> actual_grad_keys = grad_keys_before, actual_grad_query(rows * width),
                         actual_grad_weight(width), weight_partials(rows * width);
      launchers::additive_attention_backward(keys.data(), query.data(), weight.data(), grad_scores.data(),
                                             actual_grad_keys.data(), add_to_grad_keys, actual_grad_query.data(),
                                             actual_grad_weight.data(), weight_partials.data(), rows, positions,
                                             width, kStream);
      const std::string mode = size + (add_to_grad_keys ? " added to the running keys' gradient" : "");
      expect_matches_cpu(grad_keys, actual_grad_keys, kExact, "attention grad keys" + mode);
      expect_matches_cpu(grad_query, actual_grad_query, kExact, "attention grad query" + mode);
      expect_matches_cpu(grad_weight, actual_grad_weight, kReductionTolerance, "attention grad weight" + mode);
    }
  }
  cover("additive_attention");
  cover("additive_attention_backward");
}

// ---- the launcher's own checks ----

TEST(EmulatedLauncher, RejectsLaunchesAGpuWouldReject) {
  // 2048 threads per row block is over the hardware's 1024: the launch fails and launch() throws
  // with the configuration, exactly as on a GPU.
  std::vector<float> x(8, 1.0f), y(8);
  EXPECT_THROW(sparsecap::cuda::launch(
                   +[](const float*, float*) {}, dim3(1), dim3(2048), 0, kStream, x.data(), y.data()),
               Error);
  EXPECT_THROW(sparsecap::cuda::launch(
                   +[](const float*, float*) {}, dim3(1), dim3(32), 64 * 1024, kStream, x.data(), y.data()),
               Error);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "launch() consumes the error it reports";
}

// One step's top_k of every row, as top_k gives it: k distinct tokens (EOS among them in about half
// the rows), values falling, with ties and an impossible (-inf) tail in some rows.
void random_top_k(int64_t rows, int64_t k, int64_t vocabulary, int64_t eos, std::mt19937& generator,
                  std::vector<float>& values, std::vector<int64_t>& tokens) {
  std::uniform_real_distribution<float> log_probability(-6.0f, 0.0f);
  values.assign(static_cast<size_t>(rows * k), 0.0f);
  tokens.assign(static_cast<size_t>(rows * k), 0);
  std::vector<int64_t> vocabulary_order(static_cast<size_t>(vocabulary));
  for (int64_t row = 0; row < rows; ++row) {
    std::iota(vocabulary_order.begin(), vocabulary_order.end(), 0);
    std::shuffle(vocabulary_order.begin(), vocabulary_order.end(), generator);
    if (generator() % 2 == 0)
      std::iter_swap(vocabulary_order.begin() + static_cast<std::ptrdiff_t>(generator() % k),
                     std::find(vocabulary_order.begin(), vocabulary_order.end(), eos));
    std::vector<float> row_values(static_cast<size_t>(k));
    for (float& v : row_values) v = log_probability(generator);
    if (generator() % 4 == 0) row_values[1] = row_values[0];  // a tie
    std::sort(row_values.begin(), row_values.end(), std::greater<>());
    if (generator() % 5 == 0) row_values.back() = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < k; ++j) {
      values[static_cast<size_t>(row * k + j)] = row_values[static_cast<size_t>(j)];
      tokens[static_cast<size_t>(row * k + j)] = vocabulary_order[static_cast<size_t>(j)];
    }
  }
}

void expect_same_buffers(const BeamSearchBuffers& cpu_buffers, const BeamSearchBuffers& emulated, const std::string& what) {
  expect_bitwise_equal(values_of<double>(cpu_buffers.scores), values_of<double>(emulated.scores), what + " scores");
  expect_bitwise_equal(values_of<int64_t>(cpu_buffers.parents), values_of<int64_t>(emulated.parents), what + " parents");
  expect_bitwise_equal(values_of<int64_t>(cpu_buffers.tokens), values_of<int64_t>(emulated.tokens), what + " tokens");
  expect_bitwise_equal(values_of<uint8_t>(cpu_buffers.done), values_of<uint8_t>(emulated.done), what + " done");
  expect_bitwise_equal(values_of<uint8_t>(cpu_buffers.finished), values_of<uint8_t>(emulated.finished),
                       what + " finished");
  expect_bitwise_equal(values_of<double>(cpu_buffers.result_scores), values_of<double>(emulated.result_scores),
                       what + " result scores");
  expect_bitwise_equal(values_of<int64_t>(cpu_buffers.result_lengths), values_of<int64_t>(emulated.result_lengths),
                       what + " result lengths");
  // Words past a result's length or a slot's step are never read: compare the ones that count.
  const std::vector<int64_t> lengths = values_of<int64_t>(cpu_buffers.result_lengths);
  const std::vector<int64_t> cpu_words = values_of<int64_t>(cpu_buffers.result_words),
                             emulated_words = values_of<int64_t>(emulated.result_words);
  for (size_t image = 0; image < lengths.size(); ++image)
    for (int64_t w = 0; w < lengths[image]; ++w) {
      const size_t at = image * static_cast<size_t>(cpu_buffers.max_words) + static_cast<size_t>(w);
      ASSERT_EQ(cpu_words[at], emulated_words[at]) << what << " result word " << w << " of image " << image;
    }
}

TEST(EmulatedKernels, BeamSearchStepMatchesTheCpu) {
  // 70 images over three blocks of 32 threads; beam 3 (k = 6) over a vocabulary of 9 with EOS 3,
  // up to 5 words, run to the last step so every image ends done.
  const int64_t images = 70, beam = 3, k = 6, vocabulary = 9, eos = 3, max_words = 5;
  BeamSearchBuffers on_cpu = BeamSearchBuffers::start(images, beam, max_words, 2, Device::cpu());
  BeamSearchBuffers emulated = BeamSearchBuffers::start(images, beam, max_words, 2, Device::cpu());
  std::mt19937 generator(61);
  std::vector<float> values;
  std::vector<int64_t> tokens;
  for (int64_t step = 0; step <= max_words; ++step) {
    random_top_k(images * beam, k, vocabulary, eos, generator, values, tokens);
    const kernels::BeamStepShape shape{.beam = beam, .k = k, .max_words = max_words, .eos = eos, .step = step,
                                       .last_step = step == max_words};
    cpu().beam_search_step(on_cpu, tensor_of(values, {images * beam, k}), tensor_of(tokens, {images * beam, k}), shape);
    launchers::beam_search_step(emulated.arrays<float>(tensor_of(values, {images * beam, k}),
                                                       tensor_of(tokens, {images * beam, k})),
                                shape, images, kStream);
    on_cpu.swap_steps();
    emulated.swap_steps();
    expect_same_buffers(on_cpu, emulated, "step " + std::to_string(step));
  }
  const std::vector<uint8_t> done = values_of<uint8_t>(on_cpu.done), finished = values_of<uint8_t>(on_cpu.finished);
  EXPECT_EQ(std::count(done.begin(), done.end(), 1), images);
  // Both endings occur: some images finish with EOS, some are cut at max_words.
  EXPECT_GT(std::count(finished.begin(), finished.end(), 1), 0);
  EXPECT_LT(std::count(finished.begin(), finished.end(), 1), images);
  cover("beam_search_step");
}

TEST(EmulatedKernels, CsrWarpRowsMatchTheCpu) {
  // 70 weight rows (nine blocks of 8 warps), 300 columns at about 90%
  // sparsity, row 5 empty; batches within one tile, exactly one, and over two tiles.
  const int64_t rows = 70, cols = 300;
  std::vector<float> dense = uniform(rows * cols, -1, 1, 80);
  const std::vector<float> keep = uniform(rows * cols, 0, 1, 81);
  for (size_t i = 0; i < dense.size(); ++i)
    if (keep[i] > 0.1f || static_cast<int64_t>(i) / cols == 5) dense[i] = 0.0f;
  std::vector<int32_t> row_ptr{0}, col_idx;
  std::vector<float> values;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      if (dense[static_cast<size_t>(r * cols + c)] != 0.0f) {
        col_idx.push_back(static_cast<int32_t>(c));
        values.push_back(dense[static_cast<size_t>(r * cols + c)]);
      }
    row_ptr.push_back(static_cast<int32_t>(values.size()));
  }
  const sparse::CsrMatrix weight = sparse::csr_from_dense(tensor_of(dense, {rows, cols}));
  const std::vector<float> bias = uniform(rows, -1, 1, 82);
  for (const int64_t batch : {1, 5, 16, 37}) {
    const std::vector<float> x = uniform(batch * cols, -1, 1, 83 + static_cast<uint32_t>(batch));
    for (const bool with_bias : {true, false}) {
      Tensor expected = Tensor::empty({batch, rows});
      cpu().csr_linear(weight, tensor_of(x, {batch, cols}), with_bias ? tensor_of(bias, {rows}) : Tensor(), expected,
                       batch);
      std::vector<float> actual(static_cast<size_t>(batch * rows));
      launchers::csr_linear_warp_rows(row_ptr.data(), col_idx.data(), values.data(), x.data(),
                                      with_bias ? bias.data() : nullptr, actual.data(), rows, cols, batch, kStream);
      expect_matches_cpu(expected, actual, kReductionTolerance,
                         "csr batch " + std::to_string(batch) + (with_bias ? " with bias" : ""));
    }
  }
  cover("csr_linear_warp_rows");
}

// ---- the coverage report (last in this file, so it runs after every entry's test) ----

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

TEST(EmulatedKernelCoverage, EveryKernelEntryRanOnTheEmulatedDeviceAndMatched) {
  if (GTEST_FLAG_GET(filter) != "*") GTEST_SKIP() << "coverage is reported for a whole run only";
  // The __global__ kernels of cuda/kernels/*.cu, listed by CMake from the sources at configure time.
  const std::vector<std::string> in_sources = split(SPARSECAP_EMULATED_KERNEL_NAMES, ',');
  std::set<std::string> claimed, kernels_covered;
  for (const Entry& entry : entries())
    for (const std::string& kernel : entry.kernels) {
      claimed.insert(kernel);
      if (covered_entries().count(entry.name)) kernels_covered.insert(kernel);
    }
  for (const std::string& kernel : in_sources)
    EXPECT_TRUE(claimed.count(kernel)) << "__global__ " << kernel
                                       << " is launched by no entry of the emulated suite: add its test";
  std::vector<std::string> missing;
  for (const Entry& entry : entries())
    if (!covered_entries().count(entry.name)) missing.push_back(entry.name);
  std::printf("[ cuda-emulated ] host entry points covered: %zu/%zu; __global__ kernels covered: %zu/%zu; "
              "distinct kernel instantiations launched: %zu\n",
              covered_entries().size(), entries().size(), kernels_covered.size(),
              std::set<std::string>(in_sources.begin(), in_sources.end()).size(),
              emulation::distinct_kernels_launched());
  for (const std::string& name : missing) ADD_FAILURE() << "entry not covered (failed or did not run): " << name;
}

}  // namespace
}  // namespace sparsecap::testing
