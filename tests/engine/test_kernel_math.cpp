// The float exp and tanh of engine/kernels/math.h against the library functions in double.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/kernels/math.h"

namespace sparsecap::kernels {
namespace {

// Relative error in units of float epsilon, over a dense sweep of [low, high].
double worst_error_in_epsilons(float (*approx)(float), double (*exact)(double), float low, float high) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = low + (high - low) * static_cast<float>(i) / 200000.0f;
    const double want = exact(x);
    const double error = std::abs(static_cast<double>(approx(x)) - want) / std::max(std::abs(want), 1e-30);
    worst = std::max(worst, error / std::numeric_limits<float>::epsilon());
  }
  return worst;
}

float float_exp(float x) { return kernels::exp(x); }
float float_tanh(float x) { return kernels::tanh(x); }
double double_exp(double x) { return std::exp(x); }
double double_tanh(double x) { return std::tanh(x); }

TEST(KernelMath, FloatExpIsWithinTwoUlps) {
  EXPECT_LT(worst_error_in_epsilons(float_exp, double_exp, -86.0f, 88.0f), 2.0);
  EXPECT_EQ(kernels::exp(0.0f), 1.0f);
}

TEST(KernelMath, FloatTanhIsWithinTwoUlps) {
  EXPECT_LT(worst_error_in_epsilons(float_tanh, double_tanh, -12.0f, 12.0f), 2.0);
  EXPECT_LT(worst_error_in_epsilons(float_tanh, double_tanh, -1e-3f, 1e-3f), 2.0);
}

TEST(KernelMath, EdgeValues) {
  EXPECT_EQ(kernels::exp(-100.0f), 0.0f);
  EXPECT_EQ(kernels::exp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isfinite(kernels::exp(88.5f)));  // 2.7e38 < FLT_MAX
  EXPECT_NEAR(kernels::exp(88.5f) / std::exp(88.5), 1.0, 1e-6);
  EXPECT_TRUE(std::isnan(kernels::exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(kernels::tanh(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(kernels::tanh(50.0f), 1.0f);
  EXPECT_EQ(kernels::tanh(-50.0f), -1.0f);
  EXPECT_EQ(kernels::tanh(std::numeric_limits<float>::infinity()), 1.0f);
}

}  // namespace
}  // namespace sparsecap::kernels
