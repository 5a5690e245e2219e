// Thresholds and the three scopes of magnitude masks against closed forms on hand-built weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "engine/rng.h"
#include "pruning/mask_thresholds.h"

namespace sparsecap::pruning {
namespace {

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

nn::ParameterPtr weight(const std::string& name, const std::vector<float>& data, const Shape& shape) {
  return std::make_shared<nn::Parameter>(name, nn::ParameterKind::Weight, from_vector(data, shape));
}

// Two layers whose magnitudes order differently globally and per layer.
std::vector<nn::ParameterPtr> hand_built_weights() {
  return {weight("a", {1, -2, 3, -4}, {2, 2}), weight("b", {0.5f, -6, 7, 0.1f, -0.2f, 8, 9, -10}, {2, 4})};
}

TEST(KeepThreshold, IsTheLargestPrunedScoreForDistinctScores) {
  const std::vector<Tensor> scores = {from_vector<float>({0.5f, 0.1f, 0.9f, 0.3f}, {4}),
                                      from_vector<float>({0.7f, 0.2f}, {2})};
  // Sorted: 0.1 0.2 0.3 | 0.5 0.7 0.9: keeping 3 puts the threshold on 0.3 exactly.
  EXPECT_EQ(keep_threshold(scores, 3), static_cast<double>(0.3f));
  EXPECT_EQ(count_above(scores, keep_threshold(scores, 3)), 3);
  for (int64_t keep = 0; keep <= 6; ++keep) EXPECT_EQ(count_above(scores, keep_threshold(scores, keep)), keep);
  EXPECT_EQ(keep_threshold(scores, 0), static_cast<double>(0.9f));
  EXPECT_EQ(keep_threshold(scores, 6), -1.0);
}

TEST(KeepThreshold, PrunesEveryScoreTiedWithTheBoundary) {
  const std::vector<Tensor> scores = {from_vector<float>({1, 1, 1, 2}, {4})};
  EXPECT_EQ(keep_threshold(scores, 2), 1.0);  // one score above 1; the three ties go
  EXPECT_EQ(count_above(scores, keep_threshold(scores, 2)), 1);
  EXPECT_EQ(keep_threshold({from_vector<float>({0, 0, 3}, {3})}, 2), 0.0);
}

TEST(KeptCount, RoundsTheKeptShare) {
  EXPECT_EQ(kept_count(12, 0.5), 6);
  EXPECT_EQ(kept_count(1000, 0.975), 25);
  EXPECT_EQ(kept_count(10, 0.0), 10);
  EXPECT_THROW(kept_count(10, 1.5), Error);
}

TEST(MagnitudeMasks, BlindKeepsTheGloballyLargestMagnitudes) {
  // |w| over both layers: 10 9 8 7 6 4 | 3 2 1 0.5 0.2 0.1; half kept.
  const std::vector<Tensor> masks = magnitude_masks(hand_built_weights(), 0.5, MaskScope::Blind);
  EXPECT_EQ(values(masks[0]), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_EQ(values(masks[1]), (std::vector<float>{0, 1, 1, 0, 0, 1, 1, 1}));
}

TEST(MagnitudeMasks, UniformGivesEveryLayerTheSameSparsity) {
  const std::vector<Tensor> masks = magnitude_masks(hand_built_weights(), 0.5, MaskScope::Uniform);
  EXPECT_EQ(values(masks[0]), (std::vector<float>{0, 0, 1, 1}));
  EXPECT_EQ(values(masks[1]), (std::vector<float>{0, 0, 1, 0, 0, 1, 1, 1}));
  const std::vector<Tensor> quarter = magnitude_masks(hand_built_weights(), 0.75, MaskScope::Uniform);
  EXPECT_EQ(sum(quarter[0]).item(), 1.0);
  EXPECT_EQ(sum(quarter[1]).item(), 2.0);
}

TEST(MagnitudeMasks, DistributionStandardisesEachLayerWithThePopulationStd) {
  const auto weights = hand_built_weights();
  const std::vector<Tensor> scores = magnitude_scores(weights, MaskScope::Distribution);
  // Layer a: mean −0.5, population variance (1.5² + 1.5² + 3.5² + 3.5²) / 4 = 7.25.
  const double std_a = std::sqrt(7.25);
  const std::vector<double> expected_a = {1.5 / std_a, 1.5 / std_a, 3.5 / std_a, 3.5 / std_a};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(values(scores[0])[i], expected_a[i], 1e-6);
  // Layer b: the same closed form in double precision.
  const std::vector<double> b = {0.5, -6, 7, 0.1, -0.2, 8, 9, -10};
  double mean_b = 0, variance_b = 0;
  for (double v : b) mean_b += v / 8;
  for (double v : b) variance_b += (v - mean_b) * (v - mean_b) / 8;
  for (size_t i = 0; i < 8; ++i)
    EXPECT_NEAR(values(scores[1])[i], std::abs(b[i] - mean_b) / std::sqrt(variance_b), 1e-6);
  // z over both layers: 1.743 (b7), 1.300 (a2, a3), 1.254 (b6), 1.112 (b1), 1.096 (b5) | 0.939 ...
  const std::vector<Tensor> masks = magnitude_masks(weights, 0.5, MaskScope::Distribution);
  EXPECT_EQ(values(masks[0]), (std::vector<float>{0, 0, 1, 1}));
  EXPECT_EQ(values(masks[1]), (std::vector<float>{0, 1, 0, 0, 0, 1, 1, 1}));
}

TEST(MagnitudeMasks, ReachTheTargetOnLargeRandomLayers) {
  Generator generator(3);
  std::vector<nn::ParameterPtr> weights = {
      std::make_shared<nn::Parameter>("x", nn::ParameterKind::Weight, randn({64, 33}, generator)),
      std::make_shared<nn::Parameter>("y", nn::ParameterKind::Weight, mul_scalar(randn({17, 100}, generator), 5.0))};
  const int64_t total = 64 * 33 + 17 * 100;
  for (MaskScope scope : {MaskScope::Blind, MaskScope::Uniform, MaskScope::Distribution})
    for (double sparsity : {0.8, 0.9, 0.95, 0.975, 0.99}) {
      const std::vector<Tensor> masks = magnitude_masks(weights, sparsity, scope);
      const double kept = sum(masks[0]).item() + sum(masks[1]).item();
      EXPECT_NEAR(1.0 - kept / total, sparsity, 1e-3) << mask_scope_name(scope) << " " << sparsity;
    }
}

TEST(MaskScope, ParsesTheThreeNamesAndNamesTheKeyOnATypo) {
  EXPECT_EQ(parse_mask_scope("distribution", "k"), MaskScope::Distribution);
  try {
    parse_mask_scope("global", "pruning.scope");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pruning.scope"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sparsecap::pruning
