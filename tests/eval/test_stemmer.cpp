#include <gtest/gtest.h>

#include "eval/english_stemmer.h"

namespace sparsecap::eval {
namespace {

// Pairs from the Snowball English stemmer's published vocabulary/output lists.
TEST(EnglishStemmer, PublishedExamples) {
  const std::vector<std::pair<std::string, std::string>> examples{
      {"consign", "consign"},     {"consigned", "consign"},   {"consigning", "consign"},
      {"consignment", "consign"}, {"consist", "consist"},     {"consisted", "consist"},
      {"consistency", "consist"}, {"consistent", "consist"},  {"consistently", "consist"},
      {"consisting", "consist"},  {"consists", "consist"},    {"consolation", "consol"},
      {"knack", "knack"},         {"knackeries", "knackeri"}, {"knaves", "knave"},
      {"knavish", "knavish"},     {"kneaded", "knead"},       {"kneel", "kneel"},
      {"knelt", "knelt"},         {"knights", "knight"},      {"generously", "generous"},
      {"running", "run"},         {"hopping", "hop"},         {"hoping", "hope"},
      {"skies", "sky"},           {"dying", "die"},           {"news", "news"},
      {"cries", "cri"},           {"ties", "tie"},            {"happily", "happili"},
      {"sitting", "sit"},         {"riding", "ride"},         {"horses", "hors"},
      {"große", "große"},  // ß is one letter, as for the Java stemmer METEOR runs (a byte-wise stemmer gives "groß")
      {"playing", "play"},        {"plays", "play"},          {"by", "by"},
      {"cry", "cri"},             {"succeeding", "succeed"},  {"agreed", "agre"},
      {"feed", "feed"},           {"communication", "communic"},
  };
  for (const auto& [word, stem] : examples) EXPECT_EQ(english_stem(word), stem) << word;
}

}  // namespace
}  // namespace sparsecap::eval
