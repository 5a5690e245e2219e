#include <gtest/gtest.h>

#include "eval/caption_stats.h"

namespace sparsecap::eval {
namespace {

TEST(CaptionStatistics, CountsUniqueNovelLengthAndVocabulary) {
  const std::vector<Tokens> captions{{"a", "dog"}, {"a", "dog"}, {"a", "red", "cat"}, {"two", "birds"}};
  const std::vector<Tokens> training{{"a", "dog"}, {"a", "bird"}};
  const CaptionStatistics stats = caption_statistics(captions, training, 10);
  EXPECT_EQ(stats.caption_count, 4u);
  EXPECT_DOUBLE_EQ(stats.percent_unique, 75.0);  // 3 distinct of 4
  EXPECT_DOUBLE_EQ(stats.percent_novel, 50.0);   // "a dog" twice is in training
  EXPECT_DOUBLE_EQ(stats.average_length, 9.0 / 4.0);
  EXPECT_EQ(stats.distinct_words, 6u);  // a dog red cat two birds
  EXPECT_DOUBLE_EQ(stats.vocabulary_fraction, 0.6);
}

TEST(CaptionStatistics, EmptyInputAndUnknownVocabulary) {
  const CaptionStatistics none = caption_statistics({}, {}, 0);
  EXPECT_EQ(none.caption_count, 0u);
  EXPECT_EQ(none.percent_unique, 0.0);
  const CaptionStatistics unknown = caption_statistics({{"x"}}, {}, 0);
  EXPECT_EQ(unknown.vocabulary_fraction, 0.0);
  EXPECT_DOUBLE_EQ(unknown.percent_novel, 100.0);
}

}  // namespace
}  // namespace sparsecap::eval
