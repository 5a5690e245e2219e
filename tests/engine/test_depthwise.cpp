// Depthwise convolution (groups == channels) on the CPU: forward, input gradient and weight
// gradient through the conv2d op against direct float64 loops, for the specialised 3x3 path
// (padding 1, stride 1 and 2) and for the generic loops (other kernels, strides and paddings);
// the specialised path against the generic one on the same shape; and the weight gradient's
// independence from the thread count. Finite differences: the conv2d_depthwise* cases of the op
// table (test_gradcheck.cpp).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cpu/depthwise.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {
namespace {

struct Case {
  int64_t batch, channels, height, width, kernel, stride, padding;
  int64_t out_h() const { return (height + 2 * padding - kernel) / stride + 1; }
  int64_t out_w() const { return (width + 2 * padding - kernel) / stride + 1; }
  std::string name() const {
    return "N" + std::to_string(batch) + " C" + std::to_string(channels) + " " + std::to_string(height) + "x" +
           std::to_string(width) + " k" + std::to_string(kernel) + " s" + std::to_string(stride) + " p" +
           std::to_string(padding);
  }
  Conv2dShape shape() const {
    Conv2dShape s;
    s.batch = batch;
    s.in_channels = s.out_channels = s.groups = channels;
    s.in_h = height;
    s.in_w = width;
    s.out_h = out_h();
    s.out_w = out_w();
    s.kernel_h = s.kernel_w = kernel;
    s.stride = stride;
    s.padding = padding;
    return s;
  }
};

// A value of the reference and the sum of the magnitudes of its terms (what float32 rounding
// error scales with).
struct Reference {
  std::vector<double> value, magnitude;
};

// The three direct loops in float64, written from the definition y[n,c,oy,ox] = sum over ky, kx of
// x[n, c, oy*s - p + ky, ox*s - p + kx] * w[c, ky, kx] (zero outside the image), and its adjoints.
struct DirectDepthwise {
  Case c;
  Reference forward, input_grad, weight_grad;

  DirectDepthwise(const Case& shape, const std::vector<double>& x, const std::vector<double>& w,
                  const std::vector<double>& g)
      : c(shape) {
    const int64_t oh = c.out_h(), ow = c.out_w(), k = c.kernel;
    const size_t in_size = static_cast<size_t>(c.batch * c.channels * c.height * c.width);
    forward = {std::vector<double>(static_cast<size_t>(c.batch * c.channels * oh * ow), 0.0), {}};
    forward.magnitude = forward.value;
    input_grad = {std::vector<double>(in_size, 0.0), std::vector<double>(in_size, 0.0)};
    weight_grad = {std::vector<double>(static_cast<size_t>(c.channels * k * k), 0.0), {}};
    weight_grad.magnitude = weight_grad.value;
    for (int64_t n = 0; n < c.batch; ++n)
      for (int64_t ch = 0; ch < c.channels; ++ch)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t iy = oy * c.stride - c.padding + ky, ix = ox * c.stride - c.padding + kx;
                if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
                const size_t at_x = static_cast<size_t>(((n * c.channels + ch) * c.height + iy) * c.width + ix);
                const size_t at_y = static_cast<size_t>(((n * c.channels + ch) * oh + oy) * ow + ox);
                const size_t at_w = static_cast<size_t>((ch * k + ky) * k + kx);
                forward.value[at_y] += x[at_x] * w[at_w];
                forward.magnitude[at_y] += std::abs(x[at_x] * w[at_w]);
                input_grad.value[at_x] += g[at_y] * w[at_w];
                input_grad.magnitude[at_x] += std::abs(g[at_y] * w[at_w]);
                weight_grad.value[at_w] += g[at_y] * x[at_x];
                weight_grad.magnitude[at_w] += std::abs(g[at_y] * x[at_x]);
              }
  }
};

void expect_close(const std::vector<double>& got, const Reference& want, double relative, const std::string& what) {
  ASSERT_EQ(got.size(), want.value.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tolerance = relative * want.magnitude[i] + 1e-30;
    if (std::abs(got[i] - want.value[i]) > tolerance && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", direct loops give " << want.value[i]
                    << " (tolerance " << tolerance << ")";
  }
  EXPECT_EQ(reported, 0) << what << ": elements off";
}

struct OpRun {
  std::vector<double> y, dx, dw;
};

// y = conv2d(x, w) through the op, then the gradients of sum(y * g). Fresh leaves each call (to()
// returns the tensor itself when the dtype matches), so gradients do not accumulate across calls.
OpRun run_op(const Case& c, const Tensor& x_in, const Tensor& w_in, const Tensor& g_in, DType dtype) {
  Tensor x = x_in.to(dtype).detach(), w = w_in.to(dtype).detach();
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  const Tensor y = conv2d(x, w, Tensor(), c.stride, c.padding, c.channels);
  sum(mul(y, g_in.to(dtype))).backward();
  return {y.to_vector<double>(), x.grad().to_vector<double>(), w.grad().to_vector<double>()};
}

void check_against_direct_loops(const Case& c, uint64_t seed) {
  SCOPED_TRACE(c.name());
  Generator generator(seed);
  const Tensor x = randn({c.batch, c.channels, c.height, c.width}, generator, DType::F64);
  const Tensor w = randn({c.channels, 1, c.kernel, c.kernel}, generator, DType::F64);
  const Tensor g = randn({c.batch, c.channels, c.out_h(), c.out_w()}, generator, DType::F64);
  const DirectDepthwise direct(c, x.to_vector<double>(), w.to_vector<double>(), g.to_vector<double>());
  const OpRun single = run_op(c, x, w, g, DType::F32);
  expect_close(single.y, direct.forward, 1e-6, "float32 forward");
  expect_close(single.dx, direct.input_grad, 1e-6, "float32 input gradient");
  expect_close(single.dw, direct.weight_grad, 1e-6, "float32 weight gradient");
  const OpRun twice = run_op(c, x, w, g, DType::F64);
  expect_close(twice.y, direct.forward, 1e-14, "float64 forward");
  expect_close(twice.dx, direct.input_grad, 1e-14, "float64 input gradient");
  expect_close(twice.dw, direct.weight_grad, 1e-14, "float64 weight gradient");
}

// 3x3, padding 1, stride 1 and 2: odd and even sizes, planes smaller than the kernel, MobileNet's
// 32x32 and 8x8, several channel counts, batch 1 to 16.
std::vector<Case> fast_path_cases() {
  std::vector<Case> cases;
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 7},
                                                          {7, 5}, {6, 6}, {8, 8}, {1, 9}, {32, 32}};
  for (int64_t stride : {1, 2})
    for (size_t i = 0; i < sizes.size(); ++i) {
      const int64_t channels = std::vector<int64_t>{2, 3, 5, 16}[i % 4];
      const int64_t batch = 1 + static_cast<int64_t>((i + 1) % 3);
      cases.push_back({batch, channels, sizes[i].first, sizes[i].second, 3, stride, 1});
    }
  // Batches the weight gradient splits into stacks of 3 + 1 (stride 1) and 14 + 2 (stride 2) images.
  cases.push_back({4, 2, 32, 32, 3, 1, 1});
  cases.push_back({16, 2, 32, 32, 3, 2, 1});
  return cases;
}

TEST(Depthwise, Conv3x3MatchesDirectLoops) {
  uint64_t seed = 100;
  for (const Case& c : fast_path_cases()) {
    ASSERT_TRUE(cpu::depthwise_has_fast_path(c.shape())) << c.name();
    check_against_direct_loops(c, seed++);
  }
}

// Shapes the specialised path does not take: other kernels, paddings and strides.
TEST(Depthwise, GenericLoopsMatchDirectLoops) {
  const std::vector<Case> cases = {{2, 3, 6, 6, 5, 1, 2}, {1, 4, 7, 5, 5, 2, 2}, {2, 3, 6, 7, 2, 2, 0},
                                   {2, 2, 5, 5, 3, 1, 0}, {1, 3, 9, 8, 3, 3, 1}, {2, 4, 4, 4, 1, 1, 0},
                                   {1, 2, 6, 5, 3, 2, 2}};
  uint64_t seed = 200;
  for (const Case& c : cases) {
    ASSERT_FALSE(cpu::depthwise_has_fast_path(c.shape())) << c.name();
    check_against_direct_loops(c, seed++);
  }
}

// The specialised forward and input gradient add the same terms in the same order as the generic
// loops, so they agree exactly (== treats the zeros of either sign as equal); the weight gradient
// sums in another order (lanes, float64 partials) and agrees to rounding.
TEST(Depthwise, SpecialisedPathAgreesWithGenericLoops) {
  const std::vector<Case> cases = {{3, 5, 9, 10, 3, 1, 1}, {3, 5, 9, 10, 3, 2, 1}, {2, 16, 32, 32, 3, 2, 1},
                                   {4, 8, 8, 8, 3, 1, 1},  {2, 3, 2, 2, 3, 2, 1}, {2, 3, 7, 4, 3, 2, 1}};
  uint64_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name());
    Generator generator(seed++);
    const Tensor x = randn({c.batch, c.channels, c.height, c.width}, generator);
    const Tensor w = randn({c.channels, 1, 3, 3}, generator);
    const Tensor g = randn({c.batch, c.channels, c.out_h(), c.out_w()}, generator, DType::F64);
    const OpRun fast = run_op(c, x, w, g, DType::F32);
    cpu::depthwise_force_generic(true);
    const OpRun generic = run_op(c, x, w, g, DType::F32);
    cpu::depthwise_force_generic(false);
    EXPECT_EQ(fast.y, generic.y);
    EXPECT_EQ(fast.dx, generic.dx);
    ASSERT_EQ(fast.dw.size(), generic.dw.size());
    for (size_t i = 0; i < fast.dw.size(); ++i)
      EXPECT_NEAR(fast.dw[i], generic.dw[i], 1e-4 * (1 + std::abs(generic.dw[i]))) << "weight gradient " << i;
  }
}

// Every (image, channel) plane is its own task and the batch sum runs in image order, so the
// weight gradient has the same bits for any thread count.
TEST(Depthwise, WeightGradientIsTheSameForAnyThreadCount) {
  const int threads_before = omp_get_max_threads();
  for (const Case& c : {Case{5, 7, 12, 12, 3, 1, 1}, Case{5, 7, 26, 24, 3, 2, 1}}) {
    SCOPED_TRACE(c.name());
    Generator generator(400);
    const Tensor x = randn({c.batch, c.channels, c.height, c.width}, generator);
    const Tensor w = randn({c.channels, 1, 3, 3}, generator);
    const Tensor g = randn({c.batch, c.channels, c.out_h(), c.out_w()}, generator);
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2, 3, 4}) {
      omp_set_num_threads(threads);
      results.push_back(run_op(c, x, w, g, DType::F32).dw);
    }
    omp_set_num_threads(threads_before);
    for (size_t i = 1; i < results.size(); ++i) EXPECT_EQ(results[i], results[0]) << "thread count " << i + 1;
  }
}

}  // namespace
}  // namespace sparsecap
