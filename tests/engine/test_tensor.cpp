// Tensor creation, views, conversion and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {
namespace {

TEST(Tensor, CreationFillsValues) {
  EXPECT_EQ(zeros({2, 3}).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({4}, DType::F64).to_vector<double>(), std::vector<double>(4, 1.0));
  EXPECT_EQ(full({2}, 2.5).to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(arange(2, 6).to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(arange(0, 3, DType::F32).to_vector<float>(), (std::vector<float>{0, 1, 2}));
  const Tensor t = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_DOUBLE_EQ(scalar_tensor(4.25).item(), 4.25);
}

TEST(Tensor, ItemNeedsOneElement) {
  try {
    zeros({2, 2}).item();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
}

TEST(Tensor, ViewsAlongLeadingDimShareStorage) {
  Tensor t = from_vector<float>({0, 1, 2, 3, 4, 5}, {3, 2});
  Tensor middle = t.narrow_rows(1, 1);
  EXPECT_EQ(middle.to_vector<float>(), (std::vector<float>{2, 3}));
  middle.fill_(9);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 9, 9, 4, 5}));
  EXPECT_EQ(t.row(2).shape(), (Shape{2}));
  EXPECT_EQ(t.row(2).to_vector<float>(), (std::vector<float>{4, 5}));
  EXPECT_EQ(t.reshape({-1}).shape(), (Shape{6}));
}

TEST(Tensor, ShapeErrorsNameBothShapes) {
  const Tensor a = zeros({2, 3}), b = zeros({4, 5});
  try {
    add(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("[2, 3]"), std::string::npos) << message;
    EXPECT_NE(message.find("[4, 5]"), std::string::npos) << message;
  }
  try {
    matmul(zeros({32, 512}), zeros({256, 8}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[32, 512]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[256, 8]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(a.reshape({4, 2}), Error);
}

TEST(Tensor, DTypeConversionsRoundTrip) {
  const Tensor t = from_vector<float>({1.5f, -2.25f, 65504.0f, 1e-3f}, {4});
  EXPECT_EQ(t.to(DType::F64).to_vector<double>(), (std::vector<double>{1.5, -2.25, 65504.0, static_cast<double>(1e-3f)}));
  const std::vector<float> half_back = t.to(DType::F16).to(DType::F32).to_vector<float>();
  EXPECT_EQ(half_back[0], 1.5f);
  EXPECT_EQ(half_back[1], -2.25f);
  EXPECT_EQ(half_back[2], 65504.0f);                   // largest finite half
  EXPECT_NEAR(half_back[3], 1e-3f, 1e-3f * 1e-3f);     // 11-bit mantissa
  EXPECT_EQ(t.to(DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 65504, 0}));
}

TEST(Tensor, HalfConversionRoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048.0f), 0x3C00);  // halfway, rounds to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048.0f), 0x3C02);  // halfway, rounds to even (up)
  EXPECT_EQ(float_to_half(1e6f), 0x7C00);                   // overflow to infinity
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));   // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
}

TEST(Tensor, CudaDeviceFailsClearlyWithoutAGpuBackend) {
  try {
    zeros({2}, DType::F32, Device::cuda(0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sparsecap
