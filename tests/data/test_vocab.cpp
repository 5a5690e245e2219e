#include <gtest/gtest.h>

#include <fstream>

#include "data/data_error.h"
#include "data/vocab.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::TemporaryDirectory;
using Words = std::vector<std::string>;

std::vector<Words> training_captions() {
  // counts: a 6, red 5, circle 3, blue 2, star 1
  return {{"a", "red", "circle"}, {"a", "red", "circle"}, {"a", "red", "circle"}, {"a", "red", "blue"},
          {"a", "red", "blue"},   {"a", "star"}};
}

TEST(Vocabulary, SpecialTokensHaveFixedIndices) {
  const Vocabulary vocabulary;
  EXPECT_EQ(vocabulary.size(), 4);
  EXPECT_EQ(Vocabulary::kPad, 0);
  EXPECT_EQ(vocabulary.word_at(Vocabulary::kPad), "<pad>");
  EXPECT_EQ(vocabulary.word_at(Vocabulary::kUnknown), "<unk>");
  EXPECT_EQ(vocabulary.word_at(Vocabulary::kBegin), "<bos>");
  EXPECT_EQ(vocabulary.word_at(Vocabulary::kEnd), "<eos>");
}

TEST(Vocabulary, KeepsWordsWithMinimumCountOrderedByCount) {
  const Vocabulary vocabulary = Vocabulary::build(training_captions(), {.min_count = 2, .max_size = 0});
  ASSERT_EQ(vocabulary.size(), 4 + 4);
  EXPECT_EQ(vocabulary.index_of("a"), 4);
  EXPECT_EQ(vocabulary.index_of("red"), 5);
  EXPECT_EQ(vocabulary.index_of("circle"), 6);
  EXPECT_EQ(vocabulary.index_of("blue"), 7);
  EXPECT_EQ(vocabulary.index_of("star"), Vocabulary::kUnknown);  // seen once
  EXPECT_FALSE(vocabulary.contains("star"));
}

TEST(Vocabulary, DefaultMinimumCountIsFive) {
  const Vocabulary vocabulary = Vocabulary::build(training_captions());
  EXPECT_EQ(vocabulary.size(), 4 + 2);  // "a" (6) and "red" (5)
  EXPECT_TRUE(vocabulary.contains("red"));
  EXPECT_FALSE(vocabulary.contains("circle"));
}

TEST(Vocabulary, MaxSizeKeepsTheMostFrequentAndTiesBreakAlphabetically) {
  const std::vector<Words> captions = {{"zebra", "apple", "mango"}, {"zebra", "apple", "mango"}, {"kiwi"}};
  const Vocabulary vocabulary = Vocabulary::build(captions, {.min_count = 1, .max_size = 2});
  ASSERT_EQ(vocabulary.size(), 6);
  EXPECT_EQ(vocabulary.word_at(4), "apple");
  EXPECT_EQ(vocabulary.word_at(5), "mango");
}

TEST(Vocabulary, EncodeAddsBeginAndEndAndMapsUnknownWords) {
  const Vocabulary vocabulary = Vocabulary::from_words({"a", "red", "circle"});
  EXPECT_EQ(vocabulary.encode({"a", "red", "square"}), (std::vector<int64_t>{2, 4, 5, 1, 3}));
  EXPECT_EQ(vocabulary.encode({}), (std::vector<int64_t>{2, 3}));
}

TEST(Vocabulary, TruncationKeepsEnd) {
  const Vocabulary vocabulary = Vocabulary::from_words({"w"});
  const Words twenty(20, "w");
  const auto encoded = vocabulary.encode(twenty, {.max_words = 16});
  ASSERT_EQ(encoded.size(), 18u);
  EXPECT_EQ(encoded.front(), Vocabulary::kBegin);
  EXPECT_EQ(encoded.back(), Vocabulary::kEnd);
  EXPECT_EQ(encoded[16], 4);
  EXPECT_THROW(vocabulary.encode(twenty, {.max_words = 0}), std::invalid_argument);
}

TEST(Vocabulary, DecodeStopsAtEndAndSkipsBeginAndPad) {
  const Vocabulary vocabulary = Vocabulary::from_words({"a", "red", "circle"});
  EXPECT_EQ(vocabulary.decode({2, 4, 0, 5, 6, 3, 4, 4}), (Words{"a", "red", "circle"}));
  EXPECT_EQ(vocabulary.decode({4, 1}), (Words{"a", "<unk>"}));
  EXPECT_THROW(vocabulary.decode({4, 99}), std::out_of_range);
}

TEST(Vocabulary, SaveAndLoadRoundTrip) {
  TemporaryDirectory dir;
  const Vocabulary vocabulary = Vocabulary::build(training_captions(), {.min_count = 1, .max_size = 0});
  vocabulary.save_json(dir / "vocab.json");
  const Vocabulary loaded = Vocabulary::load_json(dir / "vocab.json");
  ASSERT_EQ(loaded.size(), vocabulary.size());
  for (int64_t i = 0; i < vocabulary.size(); ++i) EXPECT_EQ(loaded.word_at(i), vocabulary.word_at(i));
  EXPECT_FALSE(std::filesystem::exists(dir / "vocab.json.tmp"));
}

TEST(Vocabulary, LoadRejectsCorruptAndForeignFiles) {
  TemporaryDirectory dir;
  std::ofstream(dir / "broken.json") << "{\"format\": \"sparsecap-vocabulary\", \"words\": [";
  std::ofstream(dir / "foreign.json") << R"({"idx_to_word": {"1": "a"}})";
  std::ofstream(dir / "duplicate.json")
      << R"({"format": "sparsecap-vocabulary", "version": 1, "special_tokens": ["<pad>", "<unk>", "<bos>", "<eos>"], "words": ["a", "a"]})";
  for (const char* name : {"broken.json", "foreign.json", "duplicate.json", "missing.json"}) {
    try {
      Vocabulary::load_json(dir / name);
      ADD_FAILURE() << name << " loaded";
    } catch (const DataError& error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace sparsecap::data
