#include <gtest/gtest.h>

#include "data/tokenize.h"

namespace sparsecap::data {
namespace {

using Words = std::vector<std::string>;

TEST(Tokenize, LowerCasesAndSplitsOnWhitespace) {
  EXPECT_EQ(tokenize_caption("A Man  riding\ta\nHorse"), (Words{"a", "man", "riding", "a", "horse"}));
}

TEST(Tokenize, DeletesPunctuationLikeKarpathyPrepro) {
  // Punctuation is deleted, not turned into a space: "don't" -> "dont", "t-shirt" -> "tshirt".
  EXPECT_EQ(tokenize_caption("A dog, wearing a t-shirt; doesn't bark!"),
            (Words{"a", "dog", "wearing", "a", "tshirt", "doesnt", "bark"}));
  EXPECT_EQ(tokenize_caption("Two red circles."), (Words{"two", "red", "circles"}));
}

TEST(Tokenize, PunctuationOnlyTokensDisappear) {
  EXPECT_EQ(tokenize_caption("a cat - on a mat ..."), (Words{"a", "cat", "on", "a", "mat"}));
  EXPECT_TRUE(tokenize_caption("  ?! ").empty());
  EXPECT_TRUE(tokenize_caption("").empty());
}

TEST(Tokenize, KeepsDigitsAndNonAsciiBytes) {
  EXPECT_EQ(tokenize_caption("2 CATS on a café"), (Words{"2", "cats", "on", "a", "café"}));
}

TEST(Tokenize, JoinTokensUsesSingleSpaces) {
  EXPECT_EQ(join_tokens({"a", "red", "star"}), "a red star");
  EXPECT_EQ(join_tokens({}), "");
}

}  // namespace
}  // namespace sparsecap::data
