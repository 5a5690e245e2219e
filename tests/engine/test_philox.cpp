// Philox4x32-10 against the published known-answer vectors (Random123 kat_vectors), and the
// properties of the fills built on it.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/kernels/philox.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap {
namespace {

using kernels::Philox4x32;

void expect_block(Philox4x32 counter, uint32_t k0, uint32_t k1, Philox4x32 expected) {
  const Philox4x32 got = kernels::philox4x32_10(counter, k0, k1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], expected.v[i]) << "word " << i;
}

TEST(Philox, KnownAnswerZeros) {
  expect_block({{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}});
}

TEST(Philox, KnownAnswerOnes) {
  expect_block({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
               {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}});
}

TEST(Philox, KnownAnswerPi) {
  expect_block({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
               {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}});
}

TEST(Philox, CounterMappingPlacesOffsetAndStream) {
  // seed = key, offset / 4 = low counter words, stream = high counter words.
  const uint64_t seed = 0x299f31d0a4093822ull;
  const uint64_t block = 0x85a308d3243f6a88ull, stream = 0x0370734413198a2eull;
  EXPECT_EQ(kernels::philox_block(seed, stream, block).v[2], 0x5001e420u);
  // Element `offset` is lane offset % 4 of block offset / 4.
  const Philox4x32 third = kernels::philox_block(seed, stream, 3);
  EXPECT_EQ(kernels::philox_bits(seed, stream, 13), third.v[1]);
}

TEST(Philox, UniformFillIsAPureFunctionOfCounters) {
  Generator a(99), b(99);
  const std::vector<float> first = rand({1000}, a).to_vector<float>();
  const std::vector<float> second = rand({1000}, b).to_vector<float>();
  EXPECT_EQ(first, second);
  EXPECT_EQ(a.offset(), 1000u);
  // Element i equals the single-element draw at offset i.
  for (uint64_t i : {0ull, 1ull, 5ull, 999ull}) EXPECT_EQ(first[i], kernels::philox_uniform(99, 0, i));
  for (float v : first) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1.0f);
  }
}

TEST(Philox, NormalMomentsAndBernoulliRate) {
  Generator generator(3);
  const std::vector<double> z = randn({200000}, generator, DType::F64).to_vector<double>();
  double mean_z = 0, var_z = 0;
  for (double v : z) mean_z += v;
  mean_z /= static_cast<double>(z.size());
  for (double v : z) var_z += (v - mean_z) * (v - mean_z);
  var_z /= static_cast<double>(z.size());
  EXPECT_NEAR(mean_z, 0.0, 0.01);  // standard error 0.0022
  EXPECT_NEAR(var_z, 1.0, 0.015);
  const std::vector<float> b = bernoulli({200000}, 0.3, generator).to_vector<float>();
  double ones_count = 0;
  for (float v : b) {
    EXPECT_TRUE(v == 0.0f || v == 1.0f);
    ones_count += v;
  }
  EXPECT_NEAR(ones_count / 200000.0, 0.3, 0.005);
}

TEST(Philox, FillsStartOnBlockBoundaries) {
  Generator generator(5);
  generator.next_u32();  // offset 1: the next fill must start at 4
  const std::vector<float> v = rand({3}, generator).to_vector<float>();
  EXPECT_EQ(v[0], kernels::philox_uniform(5, 0, 4));
  EXPECT_EQ(generator.offset(), 7u);
}

}  // namespace
}  // namespace sparsecap
