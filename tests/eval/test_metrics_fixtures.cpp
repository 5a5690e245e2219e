// BLEU-1..4, ROUGE-L and CIDEr-D against the MS-COCO toolkit's numbers, corpus and per image,
// on each fixture: once from the toolkit's tokenisation (scorers alone) and once from raw
// captions (our tokenizer + scorers, end to end).
#include <gtest/gtest.h>

#include <algorithm>

#include "eval/score.h"
#include "tests/eval/fixture.h"

namespace sparsecap::eval {
namespace {

constexpr double kRelativeTolerance = 1e-6;
const std::vector<std::string> kExactMetrics{"BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "ROUGE_L", "CIDEr_D"};

ScoreOptions without_meteor() {
  ScoreOptions options;
  options.meteor = false;
  return options;
}

void expect_matches_toolkit(const CaptionScores& scores, const nlohmann::json& expected) {
  const auto ids = expected.at("ids").get<std::vector<std::string>>();
  ASSERT_EQ(scores.image_ids, ids);
  for (const std::string& name : kExactMetrics) {
    const MetricScores& metric = scores.metric(name);
    EXPECT_TRUE(testing::relatively_near(metric.corpus, expected.at(name).get<double>(), kRelativeTolerance))
        << name << " corpus";
    const auto per_image = expected.at("per_image").at(name).get<std::vector<double>>();
    ASSERT_EQ(metric.per_image.size(), per_image.size()) << name;
    for (std::size_t i = 0; i < per_image.size(); ++i) {
      EXPECT_TRUE(testing::relatively_near(metric.per_image[i], per_image[i], kRelativeTolerance))
          << name << " image " << ids[i];
    }
  }
  const nlohmann::json& stats = expected.at("bleu_stats");
  EXPECT_EQ(scores.bleu_statistics.test_length, stats.at("testlen").get<long>());
  EXPECT_EQ(scores.bleu_statistics.reference_length, stats.at("reflen").get<long>());
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(scores.bleu_statistics.guess[k], stats.at("guess")[k].get<long>()) << "order " << k + 1;
    EXPECT_EQ(scores.bleu_statistics.correct[k], stats.at("correct")[k].get<long>()) << "order " << k + 1;
  }
}

CaptionScores in_order(const CaptionScores& scores, const std::vector<std::string>& ids) {
  CaptionScores ordered = scores;
  ordered.image_ids = ids;
  for (auto& [name, metric] : ordered.metrics) {
    const MetricScores& original = scores.metric(name);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto position = std::find(scores.image_ids.begin(), scores.image_ids.end(), ids[i]) - scores.image_ids.begin();
      metric.per_image[i] = original.per_image[static_cast<std::size_t>(position)];
    }
  }
  return ordered;
}

class MetricsMatchToolkit : public ::testing::TestWithParam<std::string> {};

TEST_P(MetricsMatchToolkit, FromToolkitTokens) {
  const testing::MetricsFixture fixture = testing::load_metrics_fixture(GetParam());
  expect_matches_toolkit(score_tokenized_captions(fixture.tokenized, without_meteor()), fixture.scores);
}

TEST_P(MetricsMatchToolkit, FromRawCaptions) {
  const testing::MetricsFixture fixture = testing::load_metrics_fixture(GetParam());
  // score_captions orders images by id; put them back in the fixture's order to compare.
  expect_matches_toolkit(in_order(score_captions(fixture.raw_references, fixture.raw_candidates, without_meteor()),
                                  fixture.tokenized.image_ids),
                         fixture.scores);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MetricsMatchToolkit, ::testing::Values("tiny", "synthetic", "coco_debug10"));

TEST(Metrics, EmptyCandidateScoresZeroEverywhere) {
  const ReferenceCaptions references{{"1", {"a dog runs", "a brown dog running"}}, {"2", {"a cat sleeps"}}};
  const CandidateCaptions candidates{{"1", ""}, {"2", "a cat sleeps"}};
  const CaptionScores scores = score_captions(references, candidates);
  for (const auto& [name, metric] : scores.metrics) EXPECT_EQ(metric.per_image[0], 0.0) << name;
  EXPECT_DOUBLE_EQ(scores.meteor().per_image[1], 1.0);
  EXPECT_DOUBLE_EQ(scores.metric("ROUGE_L").per_image[1], 1.0);
}

TEST(Metrics, CandidateEqualToOnlyReferenceHasBleuOne) {
  const ReferenceCaptions references{{"7", {"two dogs play in the park"}}};
  const CandidateCaptions candidates{{"7", "Two dogs play in the park."}};
  const CaptionScores scores = score_captions(references, candidates, without_meteor());
  for (int n = 1; n <= 4; ++n) EXPECT_NEAR(scores.metric("BLEU_" + std::to_string(n)).corpus, 1.0, 1e-8);
}

}  // namespace
}  // namespace sparsecap::eval
