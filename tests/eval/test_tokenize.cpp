#include <gtest/gtest.h>

#include "eval/tokenize.h"
#include "tests/eval/fixture.h"

namespace sparsecap::eval {
namespace {

class TokenizerMatchesToolkit : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerMatchesToolkit, EveryCaptionOfTheFixture) {
  const testing::MetricsFixture fixture = testing::load_metrics_fixture(GetParam());
  std::size_t checked = 0;
  for (std::size_t image = 0; image < fixture.tokenized.image_ids.size(); ++image) {
    const std::string& id = fixture.tokenized.image_ids[image];
    const auto& raw_references = fixture.raw_references.at(id);
    ASSERT_EQ(raw_references.size(), fixture.tokenized.references[image].size());
    for (std::size_t r = 0; r < raw_references.size(); ++r) {
      EXPECT_EQ(tokenize_caption(raw_references[r]), fixture.tokenized.references[image][r])
          << "reference " << r << " of " << id << ": " << raw_references[r];
      ++checked;
    }
    EXPECT_EQ(tokenize_caption(fixture.raw_candidates.at(id)), fixture.tokenized.candidates[image])
        << "candidate of " << id << ": " << fixture.raw_candidates.at(id);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerMatchesToolkit, ::testing::Values("tiny", "synthetic", "coco_debug10"));

TEST(PtbTokenize, SplitsCliticsBracketsAndQuotes) {
  EXPECT_EQ(ptb_tokenize("A dog's (red) ball doesn't \"bounce\"."),
            (Tokens{"A", "dog", "'s", "-LRB-", "red", "-RRB-", "ball", "does", "n't", "``", "bounce", "''", "."}));
}

TEST(PtbTokenize, KeepsNumbersAndRepeatedExclamationsWhole) {
  EXPECT_EQ(ptb_tokenize("1,000 people at 10:30!!"), (Tokens{"1,000", "people", "at", "10:30", "!!"}));
}

TEST(TokenizeCaption, RemovesToolkitPunctuationAfterLowerCasing) {
  EXPECT_EQ(tokenize_caption("A BUS (Red) -- on: the road; ok?"),
            (Tokens{"a", "bus", "-lrb-", "red", "-rrb-", "on", "the", "road", "ok"}));
}

TEST(TokenizeCaption, LowerCasesAccentedCapitals) {
  EXPECT_EQ(tokenize_caption("CRÈME BRÛLÉE"), (Tokens{"crème", "brûlée"}));
}

TEST(TokenizeCaption, EllipsisAloneLeavesNothing) { EXPECT_TRUE(tokenize_caption("...").empty()); }

TEST(TokenizeCaption, RejectsInvalidUtf8) {
  EXPECT_THROW(tokenize_caption(std::string("a \xff\xfe dog")), std::runtime_error);
}

}  // namespace
}  // namespace sparsecap::eval
