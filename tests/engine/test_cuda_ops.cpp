// The CUDA backend against the CPU backend: every op-table entry forward and backward in float32,
// Philox fills bit for bit, the deterministic embedding backward, the allocator's cache and the
// argument checks. Every test skips with "no CUDA device" where there is no GPU (or no CUDA in
// the build), so the suite exists and reports itself everywhere.
//
// The kernel-emulation build compiles this file once more against the emulated CUDA side
// (tests/cuda_emulation/, device "cuda-emulated"): the same CudaBackend runs our kernels on the
// CPU's emulated grid, and the ops that need cuBLAS, cuSPARSE, cuDNN or CUB, which are not
// emulated, skip with the failing call as the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_runtime_info.h"
#include "engine/backend.h"
#include "engine/nn/parameter.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/rng.h"
#include "engine/sparse/csr_matrix.h"
#include "engine/testing/op_table.h"

namespace sparsecap::testing {
namespace {

bool have_cuda_device() { return cuda::built_with_cuda() && !cuda::devices().empty(); }

#define SKIP_WITHOUT_CUDA()                                         \
  do {                                                              \
    if (!have_cuda_device()) GTEST_SKIP() << "no CUDA device";      \
  } while (0)

// Runs `statement`; an error from a vendor library that the kernel-emulation build does not
// emulate skips the test with that error as the reason. Any other error propagates.
#define SKIP_IF_NOT_EMULATED(statement)                                                       \
  do {                                                                                        \
    try {                                                                                     \
      statement;                                                                              \
    } catch (const Error& error) {                                                            \
      if (std::string(error.what()).find(SPARSECAP_NOT_EMULATED_PHRASE) == std::string::npos) \
        throw;                                                                                \
      GTEST_SKIP() << error.what();                                                           \
    }                                                                                         \
  } while (0)

// Tolerances for float32 CUDA vs float32 CPU: both follow the same functors, but summation order
// (tree reductions, cuBLAS/cuDNN blocking) and device libm differ by a few ulps per operation.
constexpr double kRelativeTolerance = 2e-4;
constexpr double kAbsoluteTolerance = 2e-5;

// Restores the process-wide CUDA options at the end of a test.
class OptionsGuard {
 public:
  OptionsGuard() : saved_(cuda::options()) {}
  ~OptionsGuard() { cuda::set_options(saved_); }

 private:
  cuda::CudaOptions saved_;
};

void expect_close(const Tensor& cpu, const Tensor& gpu, const std::string& what) {
  ASSERT_EQ(shape_str(cpu.shape()), shape_str(gpu.shape())) << what;
  const std::vector<double> expected = cpu.to_vector<double>(), actual = gpu.to_vector<double>();
  size_t failures = 0;
  for (size_t i = 0; i < expected.size() && failures < 5; ++i) {
    const double bound = kAbsoluteTolerance + kRelativeTolerance * std::fabs(expected[i]);
    const bool both_nan = std::isnan(expected[i]) && std::isnan(actual[i]);
    const bool same_infinity = std::isinf(expected[i]) && expected[i] == actual[i];
    if (both_nan || same_infinity) continue;
    if (!(std::fabs(expected[i] - actual[i]) <= bound)) {
      ADD_FAILURE() << what << " element " << i << ": cpu " << expected[i] << ", cuda " << actual[i];
      ++failures;
    }
  }
}

// Runs one op-table case on `device` in float32: the output and the gradient of
// sum(output * weights) with respect to each differentiable input.
struct CaseResult {
  Tensor output;
  std::vector<Tensor> gradients;  // undefined for non-differentiable inputs
};

CaseResult run_case(const OpCase& op, Device device) {
  std::vector<Tensor> inputs = make_inputs(op, 42, DType::F32, device);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (op.inputs[i].differentiable()) inputs[i].set_requires_grad(true);
  CaseResult result;
  result.output = op.run(inputs);
  Generator generator(12345);
  const Tensor weights = randn(result.output.shape(), generator, DType::F32, device);
  // The gradient of sum(output * weights), seeded directly with `weights` (a sum over all
  // elements would add a CUB reduction to every case, which the emulation build lacks).
  if (result.output.requires_grad()) result.output.backward(weights);
  for (size_t i = 0; i < inputs.size(); ++i)
    result.gradients.push_back(op.inputs[i].differentiable() ? inputs[i].grad() : Tensor());
  return result;
}

void compare_case_on_cpu_and_cuda(const OpCase& op) {
  const CaseResult cpu = run_case(op, Device::cpu());
  const CaseResult gpu = run_case(op, Device::cuda(0));
  expect_close(cpu.output, gpu.output, op.name + " forward");
  for (size_t i = 0; i < cpu.gradients.size(); ++i) {
    if (!cpu.gradients[i].defined()) continue;
    ASSERT_TRUE(gpu.gradients[i].defined()) << op.name << ": no CUDA gradient for input " << i;
    expect_close(cpu.gradients[i], gpu.gradients[i], op.name + " gradient of input " + std::to_string(i));
  }
}

class CudaMatchesCpu : public ::testing::TestWithParam<size_t> {};

TEST_P(CudaMatchesCpu, ForwardAndGradients) {
  SKIP_WITHOUT_CUDA();
  SKIP_IF_NOT_EMULATED(compare_case_on_cpu_and_cuda(op_table()[GetParam()]));
}

// The same comparison on the alternative paths: convolutions through im2col + cuBLAS instead of
// cuDNN, and the deterministic (sort-based) embedding backward and cuDNN algorithms.
TEST_P(CudaMatchesCpu, ForwardAndGradientsOnAlternativePaths) {
  SKIP_WITHOUT_CUDA();
  OptionsGuard restore;
  cuda::CudaOptions options = cuda::options();
  options.use_cudnn = false;
  options.deterministic = true;
  cuda::set_options(options);
  SKIP_IF_NOT_EMULATED(compare_case_on_cpu_and_cuda(op_table()[GetParam()]));
}

INSTANTIATE_TEST_SUITE_P(OpTable, CudaMatchesCpu, ::testing::Range<size_t>(0, op_table().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return op_table()[info.param].name; });

// ---- Philox: the same counters give the same bits on both devices ----

std::vector<uint32_t> float_bits(const Tensor& t) {
  const std::vector<float> values = t.to_vector<float>();
  std::vector<uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

TEST(CudaPhilox, UniformIsBitIdenticalToCpu) {
  SKIP_WITHOUT_CUDA();
  // 1027 elements from a non-zero offset: several blocks, a partial last Philox block.
  Generator cpu_generator(2024, 3), gpu_generator(2024, 3);
  cpu_generator.set_offset(40);
  gpu_generator.set_offset(40);
  const Tensor cpu = rand({1027}, cpu_generator, DType::F32, Device::cpu());
  const Tensor gpu = rand({1027}, gpu_generator, DType::F32, Device::cuda(0));
  EXPECT_EQ(float_bits(cpu), float_bits(gpu));
  EXPECT_EQ(cpu_generator.offset(), gpu_generator.offset());
}

TEST(CudaPhilox, BernoulliIsBitIdenticalToCpu) {
  SKIP_WITHOUT_CUDA();
  for (double p : {0.0, 0.1, 0.5, 0.93, 1.0}) {
    Generator cpu_generator(77, 1), gpu_generator(77, 1);
    const Tensor cpu = bernoulli({64, 33}, p, cpu_generator, DType::F32, Device::cpu());
    const Tensor gpu = bernoulli({64, 33}, p, gpu_generator, DType::F32, Device::cuda(0));
    EXPECT_EQ(float_bits(cpu), float_bits(gpu)) << "p = " << p;
  }
}

TEST(CudaPhilox, NormalMatchesCpuWithinOneUlp) {
  SKIP_WITHOUT_CUDA();
  // Box-Muller runs in double and rounds to float; host and device libm may differ by an ulp of
  // double, which reaches the float only at rounding ties.
  Generator cpu_generator(5), gpu_generator(5);
  const std::vector<float> cpu = randn({4096}, cpu_generator, DType::F32, Device::cpu()).to_vector<float>();
  const std::vector<float> gpu = randn({4096}, gpu_generator, DType::F32, Device::cuda(0)).to_vector<float>();
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_LE(std::fabs(cpu[i] - gpu[i]), std::fabs(cpu[i]) * 1.2e-7f + 1e-30f) << "element " << i;
}

// ---- embedding backward: the deterministic path is the CPU's sum, bit for bit ----

TEST(CudaIndexAdd, DeterministicPathIsBitIdenticalToCpu) {
  SKIP_WITHOUT_CUDA();
  OptionsGuard restore;
  cuda::CudaOptions options = cuda::options();
  options.deterministic = true;
  cuda::set_options(options);
  Generator generator(9);
  const int64_t rows = 7, width = 37, count = 300;  // many repeats per row, width not a multiple of 32
  const Tensor src = randn({count, width}, generator);
  std::vector<int64_t> index(static_cast<size_t>(count));
  for (int64_t& i : index) i = static_cast<int64_t>(generator.next_below(rows));
  const Tensor index_cpu = from_vector(index, {count});
  Tensor table_cpu = zeros({rows, width});
  backend_for(Device::cpu()).index_add_rows(src, index_cpu, table_cpu, width);
  Tensor table_gpu = zeros({rows, width}, DType::F32, Device::cuda(0));
  SKIP_IF_NOT_EMULATED(backend_for(Device::cuda(0))
                           .index_add_rows(src.to(Device::cuda(0)), index_cpu.to(Device::cuda(0)), table_gpu, width));
  EXPECT_EQ(float_bits(table_cpu), float_bits(table_gpu));
}

// ---- top_k (beam search's per-row choice): the CPU's values and indices, ties included ----

TEST(CudaTopK, MatchesTheCpuIncludingTies) {
  SKIP_WITHOUT_CUDA();
  Generator generator(5);
  std::vector<float> values(7 * 50);
  for (float& v : values) v = static_cast<float>(generator.next_below(6)) - 3.0f;  // many equal values
  values[3] = -std::numeric_limits<float>::infinity();
  const Tensor x = from_vector(values, {7, 50});
  const auto [cpu_values, cpu_indices] = top_k(x, 6);
  std::pair<Tensor, Tensor> gpu;
  SKIP_IF_NOT_EMULATED(gpu = top_k(x.to(Device::cuda(0)), 6));
  EXPECT_EQ(gpu.first.device(), Device::cuda(0));
  EXPECT_EQ(cpu_values.to_vector<float>(), gpu.first.to(Device::cpu()).to_vector<float>());
  EXPECT_EQ(cpu_indices.to_vector<int64_t>(), gpu.second.to(Device::cpu()).to_vector<int64_t>());
}

// ---- Adam and clipping: one launch for every parameter, the CPU's updates ----

// The same parameters (values from `generator`) on the CPU and on `gpu`.
struct ParametersOnBoth {
  std::vector<nn::ParameterPtr> on_cpu, on_gpu;
};
ParametersOnBoth parameters_on_both(const std::vector<Shape>& shapes, Generator& generator, Device gpu) {
  ParametersOnBoth both;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Tensor value = randn(shapes[i], generator);
    const std::string name = "p" + std::to_string(i);
    both.on_cpu.push_back(std::make_shared<nn::Parameter>(name, nn::ParameterKind::Weight, value.clone()));
    both.on_gpu.push_back(std::make_shared<nn::Parameter>(name, nn::ParameterKind::Weight, value.to(gpu)));
  }
  return both;
}

TEST(CudaAdam, OneLaunchForAllParametersUpdatesEachAsTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda(0);
  Generator generator(21);
  // Two groups (their own learning rates and weight decay); one parameter over two chunks.
  const std::vector<Shape> shapes = {{70000}, {3, 5}, {1}};
  const auto [on_cpu, on_gpu] = parameters_on_both(shapes, generator, gpu);
  auto make = [](const std::vector<nn::ParameterPtr>& p) {
    return optim::Adam({optim::ParameterGroup{.name = "a", .parameters = {p[0], p[1]}, .schedule = optim::constant_schedule(1e-2)},
                        optim::ParameterGroup{.name = "b", .parameters = {p[2]}, .schedule = optim::constant_schedule(3e-3),
                                              .weight_decay = 0.1}},
                       optim::AdamOptions{});
  };
  optim::Adam cpu_adam = make(on_cpu), gpu_adam = make(on_gpu);
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const Tensor grad = randn(shapes[i], generator);
      on_cpu[i]->value().set_grad(grad.clone());
      on_gpu[i]->value().set_grad(grad.to(gpu));
    }
    cpu_adam.step();
    SKIP_IF_NOT_EMULATED(gpu_adam.step());
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::vector<float> expected = on_cpu[i]->value().to_vector<float>();
    const std::vector<float> actual = on_gpu[i]->value().to(Device::cpu()).to_vector<float>();
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t j = 0; j < expected.size(); ++j) ASSERT_EQ(expected[j], actual[j]) << "parameter " << i << " element " << j;
  }
}

// ---- csr_linear: our warp-per-row kernel up to batch 16 (cuSPARSE above, not emulated) ----

TEST(CudaCsrLinear, SmallBatchesMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda(0);
  Generator generator(31);
  Tensor dense = randn({40, 90}, generator);
  dense = mul(dense, greater_than(rand({40, 90}, generator), 0.8));  // about 80% zeros
  const sparse::CsrMatrix on_cpu = sparse::csr_from_dense(dense);
  const sparse::CsrMatrix on_gpu = on_cpu.to(gpu);
  const Tensor bias = randn({40}, generator);
  for (const int64_t batch : {1, 7, 16}) {
    const Tensor x = randn({batch, 90}, generator);
    Tensor expected = Tensor::empty({batch, 40});
    backend_for(Device::cpu()).csr_linear(on_cpu, x, bias, expected, batch);
    Tensor actual = Tensor::empty({batch, 40}, DType::F32, gpu);
    SKIP_IF_NOT_EMULATED(backend_for(gpu).csr_linear(on_gpu, x.to(gpu), bias.to(gpu), actual, batch));
    const std::vector<float> e = expected.to_vector<float>(), a = actual.to(Device::cpu()).to_vector<float>();
    for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(a[i], e[i], 1e-4) << "batch " << batch << " element " << i;
  }
}

// ---- gradient clipping on the device ----

TEST(CudaClip, ByValueClampsEveryGradientAsTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda(0);
  Generator generator(23);
  // One launch for all three gradients; the first spans three chunks.
  const std::vector<Shape> shapes = {{70000}, {3, 5}, {1}};
  const auto [on_cpu, on_gpu] = parameters_on_both(shapes, generator, gpu);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Tensor grad = mul_scalar(randn(shapes[i], generator), 0.2);
    on_cpu[i]->value().set_grad(grad.clone());
    on_gpu[i]->value().set_grad(grad.to(gpu));
  }
  optim::clip_grad_value(on_cpu, 0.1);
  SKIP_IF_NOT_EMULATED(optim::clip_grad_value(on_gpu, 0.1));
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::vector<float> expected = on_cpu[i]->grad().to_vector<float>();
    const std::vector<float> actual = on_gpu[i]->grad().to(Device::cpu()).to_vector<float>();
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t j = 0; j < expected.size(); ++j) ASSERT_EQ(expected[j], actual[j]) << "gradient " << i << " element " << j;
    EXPECT_LE(*std::max_element(expected.begin(), expected.end()), 0.1f);
  }
}

TEST(CudaClip, GlobalNormMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Device gpu = Device::cuda(0);
  auto parameter = [&](const std::string& name, const std::vector<float>& grad) {
    auto p = std::make_shared<nn::Parameter>(name, nn::ParameterKind::Weight, zeros({static_cast<int64_t>(grad.size())}, DType::F32, gpu));
    p->value().set_grad(from_vector(grad, {static_cast<int64_t>(grad.size())}).to(gpu));
    return p;
  };
  const auto a = parameter("a", {3.0f, 4.0f}), b = parameter("b", {12.0f});
  double norm = 0;
  SKIP_IF_NOT_EMULATED(norm = optim::clip_grad_norm({a, b}, 6.5));  // sqrt(9 + 16 + 144) = 13
  EXPECT_NEAR(norm, 13.0, 1e-6);
  const double scale = 6.5 / (13.0 + 1e-6);
  const std::vector<float> ga = a->grad().to(Device::cpu()).to_vector<float>();
  EXPECT_NEAR(ga[0], 3.0 * scale, 1e-6);
  EXPECT_NEAR(ga[1], 4.0 * scale, 1e-6);
  EXPECT_NEAR(b->grad().to(Device::cpu()).to_vector<float>()[0], 12.0 * scale, 1e-6);
  // The version that reads nothing back: the same clipping from 13 again, norm left on the GPU.
  a->value().set_grad(from_vector<float>({3.0f, 4.0f}, {2}).to(gpu));
  b->value().set_grad(from_vector<float>({12.0f}, {1}).to(gpu));
  Tensor device_norm;
  SKIP_IF_NOT_EMULATED(device_norm = optim::clip_grad_norm_on_device({a, b}, 6.5));
  EXPECT_EQ(device_norm.device(), gpu);
  EXPECT_NEAR(device_norm.to(Device::cpu()).item(), 13.0, 1e-5);
  EXPECT_NEAR(a->grad().to(Device::cpu()).to_vector<float>()[1], 4.0 * scale, 1e-6);
}

// ---- host indices for device data: checked on the host, no device check to wait for ----

TEST(CudaHostIndices, IndexSelectTakesHostIndicesAndChecksThemThere) {
  SKIP_WITHOUT_CUDA();
  Generator generator(12);
  const Tensor table = randn({5, 3}, generator);
  const Tensor host_index = from_vector<int64_t>({4, 0, 4, 2}, {4});
  Tensor gpu_rows;
  SKIP_IF_NOT_EMULATED(gpu_rows = index_select(table.to(Device::cuda(0)), host_index));
  EXPECT_EQ(gpu_rows.device(), Device::cuda(0));
  EXPECT_EQ(gpu_rows.to(Device::cpu()).to_vector<float>(), index_select(table, host_index).to_vector<float>());
  // The same message as the CPU's and the device check's.
  for (const Tensor& data : {table, table.to(Device::cuda(0))}) {
    try {
      index_select(data, from_vector<int64_t>({1, 7}, {2}));
      ADD_FAILURE() << "expected an error on " << data.device().str();
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("index 7 out of range [0, 5)"), std::string::npos) << error.what();
    }
  }
}

TEST(CudaHostIndices, CrossEntropyTakesHostTargets) {
  SKIP_WITHOUT_CUDA();
  Generator generator(13);
  // Host targets (one ignored) against the CPU, loss and gradient.
  const Tensor logits = randn({4, 6}, generator);
  const Tensor targets = from_vector<int64_t>({5, -100, 0, 3}, {4});
  Tensor cpu_logits = logits.clone().set_requires_grad(true), gpu_logits = logits.to(Device::cuda(0)).set_requires_grad(true);
  const Tensor cpu_loss = cross_entropy(cpu_logits, targets);
  Tensor gpu_loss;
  SKIP_IF_NOT_EMULATED(gpu_loss = cross_entropy(gpu_logits, targets));
  EXPECT_NEAR(gpu_loss.item(), cpu_loss.item(), 1e-6);
  mul_scalar(cpu_loss, 3.0).backward();
  mul_scalar(gpu_loss, 3.0).backward();  // the upstream gradient scales the GPU's on the device
  const std::vector<float> a = cpu_logits.grad().to_vector<float>(), b = gpu_logits.grad().to(Device::cpu()).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << i;
  EXPECT_THROW(cross_entropy(gpu_logits, from_vector<int64_t>({5, 6, 0, 3}, {4})), Error);
}

// ---- errors are exceptions with the offending values ----

TEST(CudaErrors, OutOfRangeIndexThrowsLikeTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Tensor table = zeros({4, 3}, DType::F32, Device::cuda(0));
  const Tensor index = from_vector<int64_t>({1, 7, 2}, {3}, Device::cuda(0));
  try {
    index_select(table, index);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("index 7 out of range [0, 4)"), std::string::npos) << error.what();
  }
}

TEST(CudaErrors, TensorOnAnotherDeviceIsRejected) {
  SKIP_WITHOUT_CUDA();
  Tensor out = zeros({3}, DType::F32, Device::cuda(0));
  const Tensor host = ones({3});
  EXPECT_THROW(backend_for(Device::cuda(0)).unary(kernels::UnaryOp::Exp, host, out, {}), Error);
}

TEST(CudaErrors, Float64ComputeIsRejectedWithAClearMessage) {
  SKIP_WITHOUT_CUDA();
  const Tensor x = ones({3}, DType::F64, Device::cuda(0));
  try {
    exp(x);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("float64"), std::string::npos) << error.what();
  }
}

// ---- runtime ----

TEST(CudaRuntime, RoundTripThroughTheDevice) {
  SKIP_WITHOUT_CUDA();
  // Larger than the pinned staging slots together (16 x 1 MiB), so one transfer reuses slots.
  const int64_t n = (int64_t{17} << 20) / 4 + 3;
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<float>(i % 1000) * 0.5f;
  const Tensor host = from_vector(values, {n});
  EXPECT_EQ(host.to(Device::cuda(0)).to(Device::cpu()).to_vector<float>(), values);
}

TEST(CudaRuntime, ManySmallCopiesKeepTheirValues) {
  SKIP_WITHOUT_CUDA();
  // More copies than staging slots, all queued before any is read back: a slot overwritten before
  // its copy had left it would show up as another tensor's values.
  std::vector<Tensor> copies;
  for (int i = 0; i < 40; ++i) copies.push_back(full({1000}, i).to(Device::cuda(0)));
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(copies[static_cast<size_t>(i)].to(Device::cpu()).to_vector<float>(), std::vector<float>(1000, static_cast<float>(i)));
}

TEST(CudaRuntime, CopiesBesideTheComputeArriveBeforeTheWorkThatWaitsForThem) {
  SKIP_WITHOUT_CUDA();
  Backend& backend = backend_for(Device::cuda(0));
  const int64_t n = (int64_t{3} << 20) / 4 + 5;  // several staging slots
  std::vector<float> values(static_cast<size_t>(n)), doubled(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(i % 977) - 300.0f;
    doubled[i] = 2 * values[i];
  }
  // Work queued on the compute stream first, whose memory the copy's block may reuse.
  { const Tensor busy = mul_scalar(full({n}, 1.0, DType::F32, Device::cuda(0)), 3.0); }
  Tensor copied = Tensor::empty({n}, DType::F32, Device::cuda(0));
  const std::shared_ptr<CopyFence> fence = backend.copy_from_host_beside(copied.raw_data(), values.data(), values.size() * 4);
  ASSERT_NE(fence, nullptr);
  backend.wait_for_copies(*fence);
  EXPECT_EQ(mul_scalar(copied, 2.0).to(Device::cpu()).to_vector<float>(), doubled);
  // A fence dropped without a wait still orders the device's later work after its copy.
  Tensor dropped = Tensor::empty({n}, DType::F32, Device::cuda(0));
  backend.copy_from_host_beside(dropped.raw_data(), values.data(), values.size() * 4);
  EXPECT_EQ(dropped.to(Device::cpu()).to_vector<float>(), values);
  // The CPU copies at once and gives no fence.
  std::vector<float> host(4);
  const float four[] = {1, 2, 3, 4};
  EXPECT_EQ(backend_for(Device::cpu()).copy_from_host_beside(host.data(), four, sizeof four), nullptr);
  EXPECT_EQ(host, (std::vector<float>{1, 2, 3, 4}));
}

TEST(CudaRuntime, FreedBlocksAreReusedFromTheCache) {
  SKIP_WITHOUT_CUDA();
  { const Tensor warm = Tensor::empty({1000}, DType::F32, Device::cuda(0)); }
  const cuda::AllocatorStats before = cuda::allocator_stats(0);
  { const Tensor again = Tensor::empty({1000}, DType::F32, Device::cuda(0)); }
  const cuda::AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.driver_allocations, before.driver_allocations);
  EXPECT_GE(after.peak_bytes_in_use, size_t{4000});
}

TEST(CudaRuntime, CastsAndFillsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  const Tensor values = from_vector<float>({-2.5f, -0.0f, 0.4f, 1.5f, 70000.0f, 3.0f}, {6});
  for (DType target : {DType::F16, DType::F64, DType::I32, DType::I64, DType::Bool}) {
    const Tensor cpu = values.to(target);
    const Tensor gpu = values.to(Device::cuda(0)).to(target).to(Device::cpu());
    std::vector<unsigned char> cpu_bytes(cpu.nbytes()), gpu_bytes(gpu.nbytes());
    cpu.copy_to_host(cpu_bytes.data(), cpu_bytes.size());
    gpu.copy_to_host(gpu_bytes.data(), gpu_bytes.size());
    EXPECT_EQ(cpu_bytes, gpu_bytes) << "cast to " << dtype_name(target);
  }
  EXPECT_EQ(full({5}, 0.1, DType::F32, Device::cuda(0)).to_vector<float>(), full({5}, 0.1).to_vector<float>());
}

// ---- batch norm and pooling on cuDNN and on our kernels ----

// Sets use_cudnn, keeping the other options.
void use_cudnn(bool on) {
  cuda::CudaOptions options = cuda::options();
  options.use_cudnn = on;
  cuda::set_options(options);
}

// A training step, then an evaluation step with the running statistics it left: the op table
// compares outputs and gradients, not the running statistics.
struct BatchNormSteps {
  Tensor train_out, running_mean, running_var, eval_out;
};

BatchNormSteps batch_norm_steps(const Shape& shape, Device device) {
  Generator generator(31);
  const int64_t channels = shape[1];
  const Tensor x = randn(shape, generator).to(device);
  const Tensor gamma = randn({channels}, generator).to(device), beta = randn({channels}, generator).to(device);
  BatchNormSteps steps;
  steps.running_mean = full({channels}, 0.2, DType::F32, device);
  steps.running_var = full({channels}, 1.5, DType::F32, device);
  steps.train_out = batch_norm(x, gamma, beta, steps.running_mean, steps.running_var, true, 0.3);
  steps.eval_out = batch_norm(x, gamma, beta, steps.running_mean, steps.running_var, false);
  return steps;
}

TEST(CudaBatchNorm, RunningStatisticsMatchTheCpuOnBothPaths) {
  SKIP_WITHOUT_CUDA();
  OptionsGuard restore;
  for (bool cudnn : {true, false}) {
    use_cudnn(cudnn);
    // {1, 2, 1, 1}: one value per channel, where the unbiased running variance has no n - 1 to
    // divide by (the CPU then takes the biased one) and the CUDA backend keeps to our kernels.
    for (const Shape& shape : {Shape{4, 3, 5, 7}, Shape{1, 2, 1, 1}}) {
      const std::string what = shape_str(shape) + (cudnn ? " with cuDNN" : " without cuDNN");
      const BatchNormSteps cpu = batch_norm_steps(shape, Device::cpu());
      const BatchNormSteps gpu = batch_norm_steps(shape, Device::cuda(0));
      expect_close(cpu.train_out, gpu.train_out, what + ": training output");
      expect_close(cpu.running_mean, gpu.running_mean, what + ": running mean");
      expect_close(cpu.running_var, gpu.running_var, what + ": running variance (unbiased)");
      expect_close(cpu.eval_out, gpu.eval_out, what + ": evaluation output");
    }
  }
}

// cuDNN's max pooling records no argmax; its backward works from x and y. A backward that runs
// after use_cudnn changed must still take the forward's path.
TEST(CudaPooling, MaxPoolBackwardFollowsTheForwardPathAcrossAnOptionChange) {
  SKIP_WITHOUT_CUDA();
  OptionsGuard restore;
  const Shape shape{2, 3, 6, 6};
  const int64_t n = numel_of(shape);
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<float>(i * 37 % n) * 0.01f;  // no ties
  Tensor x_cpu = from_vector(values, shape);
  x_cpu.set_requires_grad(true);
  const Tensor y_cpu = max_pool2d(x_cpu, 3, 2, 1);
  Generator generator(8);
  const Tensor seed = randn(y_cpu.shape(), generator);
  y_cpu.backward(seed);
  for (bool forward_on_cudnn : {true, false}) {
    Tensor x = from_vector(values, shape, Device::cuda(0));
    x.set_requires_grad(true);
    use_cudnn(forward_on_cudnn);
    const Tensor y = max_pool2d(x, 3, 2, 1);
    use_cudnn(!forward_on_cudnn);
    y.backward(seed.to(Device::cuda(0)));
    const std::string what = forward_on_cudnn ? "forward with cuDNN" : "forward without cuDNN";
    expect_close(y_cpu.detach(), y, what + ": output");
    expect_close(x_cpu.grad(), x.grad(), what + ": gradient");
  }
}

// ---- cross-entropy and the fused gated weight at the backend level: the ops above them reduce
// with a sum over all elements (CUB), so these also run on the emulated device ----

struct CrossEntropyResult {
  Tensor losses, lse, dlogits;
};

CrossEntropyResult cross_entropy_on(Device device, const Tensor& logits, const Tensor& targets, int64_t ignore) {
  const int64_t rows = logits.size(0), cols = logits.size(1);
  const Tensor x = logits.to(device), t = targets.to(device);
  CrossEntropyResult result{Tensor::empty({rows}, DType::F32, device), Tensor::empty({rows}, DType::F32, device),
                            Tensor::empty({rows, cols}, DType::F32, device)};
  Backend& backend = backend_for(device);
  backend.cross_entropy(x, t, result.losses, result.lse, rows, cols, ignore);
  backend.cross_entropy_backward(x, t, result.lse, result.dlogits, rows, cols, ignore, 0.25);
  return result;
}

TEST(CudaCrossEntropy, LossesAndGradientsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  // Rows shorter than a warp's multiple, and longer than the largest block (1024 threads).
  for (const int64_t cols : {int64_t{37}, int64_t{1500}}) {
    Generator generator(3);
    const int64_t rows = 5, ignore = -100;
    const Tensor logits = mul_scalar(randn({rows, cols}, generator), 3.0);
    std::vector<int64_t> targets(static_cast<size_t>(rows));
    for (int64_t& t : targets) t = static_cast<int64_t>(generator.next_below(static_cast<uint64_t>(cols)));
    targets[1] = ignore;
    const Tensor target_tensor = from_vector(targets, {rows});
    const CrossEntropyResult cpu = cross_entropy_on(Device::cpu(), logits, target_tensor, ignore);
    const CrossEntropyResult gpu = cross_entropy_on(Device::cuda(0), logits, target_tensor, ignore);
    const std::string what = std::to_string(cols) + " classes: ";
    expect_close(cpu.losses, gpu.losses, what + "losses");
    expect_close(cpu.lse, gpu.lse, what + "log-sum-exp");
    expect_close(cpu.dlogits, gpu.dlogits, what + "gradient");
  }
}

TEST(CudaGatedWeight, MasksMatchTheCpuBitForBit) {
  SKIP_WITHOUT_CUDA();
  // 37 x 29 = 1073 weights: not a multiple of 4 (Philox lanes) nor of the block size.
  Generator generator(17);
  const Shape shape{37, 29};
  const Tensor weight = randn(shape, generator), gate = randn(shape, generator), grad_out = randn(shape, generator);
  // A draw from a block boundary, one from inside a block, and the deterministic mask.
  for (const kernels::GateDraw& draw : {kernels::GateDraw{11, 2, 0, true}, kernels::GateDraw{11, 2, 6, true},
                                        kernels::GateDraw{11, 2, 0, false}}) {
    std::vector<Tensor> results[2];
    for (const Device device : {Device::cpu(), Device::cuda(0)}) {
      Tensor out = Tensor::empty(shape, DType::F32, device), grad_weight = Tensor::empty(shape, DType::F32, device),
             grad_gate = Tensor::empty(shape, DType::F32, device);
      const Tensor w = weight.to(device), g = gate.to(device);
      backend_for(device).gated_weight(w, g, out, draw);
      backend_for(device).gated_weight_backward(grad_out.to(device), w, g, grad_weight, grad_gate, draw);
      results[device.is_cuda() ? 1 : 0] = {out, grad_weight, grad_gate};
    }
    const std::string what = "draw at offset " + std::to_string(draw.offset) + (draw.sample ? "" : " (deterministic)");
    // The masks come from integer Philox bits and one comparison: the same on both devices.
    EXPECT_EQ(float_bits(results[0][0]), float_bits(results[1][0])) << what << ": masked weight";
    EXPECT_EQ(float_bits(results[0][1]), float_bits(results[1][1])) << what << ": weight gradient";
    // The gate gradient goes through the sigmoid: a GPU's fused multiply-adds may move an ulp.
    expect_close(results[0][2], results[1][2], what + ": gate gradient");
  }
}

TEST(CudaAdditiveAttention, ScoresAndGradientsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  struct AttentionShape {
    int64_t rows, positions, width;
  };
  // Widths below, not a multiple of and above the warp; one position; 70 rows (the weight's
  // gradient through the tiled column sum).
  for (const AttentionShape& s : {AttentionShape{4, 1, 5}, AttentionShape{3, 7, 37}, AttentionShape{70, 2, 300}}) {
    Generator generator(23);
    const Tensor keys = randn({s.rows, s.positions, s.width}, generator), query = randn({s.rows, s.width}, generator),
                 weight = mul_scalar(randn({1, s.width}, generator), 0.3), bias = randn({1}, generator),
                 grad_scores = randn({s.rows, s.positions}, generator),
                 running = randn({s.rows, s.positions, s.width}, generator);
    const std::string size = "[" + std::to_string(s.rows) + ", " + std::to_string(s.positions) + ", " +
                             std::to_string(s.width) + "]";
    for (const bool with_bias : {true, false}) {
      for (const bool add_to_grad_keys : {false, true}) {
        std::vector<Tensor> results[2];
        for (const Device device : {Device::cpu(), Device::cuda(0)}) {
          const Tensor k = keys.to(device), q = query.to(device), w = weight.to(device);
          Tensor scores = Tensor::empty({s.rows, s.positions}, DType::F32, device),
                 grad_keys = add_to_grad_keys ? running.to(device).clone()
                                              : Tensor::empty(keys.shape(), DType::F32, device),
                 grad_query = Tensor::empty({s.rows, s.width}, DType::F32, device),
                 grad_weight = Tensor::empty({1, s.width}, DType::F32, device);
          Backend& backend = backend_for(device);
          backend.additive_attention(k, q, w, with_bias ? bias.to(device) : Tensor(), scores, s.rows, s.positions,
                                     s.width);
          backend.additive_attention_backward(k, q, w, grad_scores.to(device), grad_keys, add_to_grad_keys,
                                              grad_query, grad_weight, s.rows, s.positions, s.width);
          results[device.is_cuda() ? 1 : 0] = {scores, grad_keys, grad_query, grad_weight};
        }
        const std::string what = size + (with_bias ? " with bias" : "") +
                                 (add_to_grad_keys ? ", keys' gradient added to a running sum" : "") + ": ";
        expect_close(results[0][0], results[1][0], what + "scores");
        expect_close(results[0][1], results[1][1], what + "keys' gradient");
        expect_close(results[0][2], results[1][2], what + "query's gradient");
        expect_close(results[0][3], results[1][3], what + "weight's gradient");
      }
    }
  }
}

}  // namespace
}  // namespace sparsecap::testing
