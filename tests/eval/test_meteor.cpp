// METEOR against METEOR 1.5 (the Java tool the COCO toolkit runs): the fixtures'
// meteor_official.json with and without the paraphrase table, and hand-computed alignments.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "eval/meteor.h"
#include "tests/eval/fixture.h"

namespace sparsecap::eval {
namespace {

std::shared_ptr<const MeteorResources> without_paraphrases() {
  return MeteorResources::shared(SPARSECAP_DEFAULT_WORDNET_DIR);
}

// The official table when installed (SPARSECAP_METEOR_PARAPHRASE or the install script's folder).
std::shared_ptr<const MeteorResources> with_paraphrases() {
  const std::filesystem::path table = default_meteor_paraphrase_table();
  return table.empty() ? nullptr : MeteorResources::shared(SPARSECAP_DEFAULT_WORDNET_DIR, table);
}

constexpr const char* kNoTableMessage =
    "METEOR paraphrase table not found: set SPARSECAP_METEOR_PARAPHRASE=/path/to/paraphrase-en.gz or run "
    "scripts/install_meteor_paraphrase.sh";

struct OfficialMeteor {
  double corpus = 0.0;
  std::map<std::string, double> per_image;
};

OfficialMeteor read_official(const std::string& fixture, const std::string& key) {
  const std::filesystem::path path = testing::metrics_fixture_dir(fixture) / "meteor_official.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing " + path.string());
  const nlohmann::json json = nlohmann::json::parse(in);
  OfficialMeteor official;
  official.corpus = json.at(key).get<double>();
  const auto ids = json.at("ids").get<std::vector<std::string>>();
  const auto scores = json.at("per_image").at(key).get<std::vector<double>>();
  for (std::size_t i = 0; i < ids.size(); ++i) official.per_image[ids[i]] = scores.at(i);
  return official;
}

// Prints the agreement and asserts it: we reproduce the Java tool exactly, so the tolerances are
// floating-point ones (the bar is 0.001 corpus, 0.01 per image).
void expect_equal_to_official(const std::string& fixture, const std::shared_ptr<const MeteorResources>& resources,
                              const std::string& key) {
  const testing::MetricsFixture data = testing::load_metrics_fixture(fixture);
  const OfficialMeteor official = read_official(fixture, key);
  const MeteorScores scores = compute_meteor(data.tokenized, *resources);
  ASSERT_EQ(scores.per_image.size(), official.per_image.size());
  double max_difference = 0.0;
  std::size_t within_001 = 0;
  for (std::size_t i = 0; i < scores.per_image.size(); ++i) {
    const std::string& id = data.tokenized.image_ids[i];
    const double difference = std::fabs(scores.per_image[i] - official.per_image.at(id));
    max_difference = std::max(max_difference, difference);
    within_001 += difference <= 0.01;
    EXPECT_NEAR(scores.per_image[i], official.per_image.at(id), 1e-9) << fixture << " image " << id;
  }
  std::cout << "[" << scores.name << " " << fixture << "] corpus " << scores.corpus << " official " << official.corpus
            << " difference " << scores.corpus - official.corpus << "; per image within 0.01: " << within_001 << "/"
            << scores.per_image.size() << ", max |difference| " << max_difference << "\n";
  EXPECT_NEAR(scores.corpus, official.corpus, 1e-9) << fixture;

  // End to end from the raw captions: our tokenizer, then METEOR, through score_captions.
  ScoreOptions options;
  options.bleu = options.rouge_l = options.cider_d = false;
  options.meteor_resources = resources;
  const CaptionScores end_to_end = score_captions(data.raw_references, data.raw_candidates, options);
  EXPECT_EQ(end_to_end.meteor_name, scores.name);
  EXPECT_NEAR(end_to_end.meteor().corpus, official.corpus, 1e-9) << fixture << " from raw captions";
  for (std::size_t i = 0; i < end_to_end.image_ids.size(); ++i) {
    EXPECT_NEAR(end_to_end.meteor().per_image[i], official.per_image.at(end_to_end.image_ids[i]), 1e-9)
        << fixture << " image " << end_to_end.image_ids[i] << " from raw captions";
  }
}

class MeteorEqualsOfficial : public ::testing::TestWithParam<std::string> {};

TEST_P(MeteorEqualsOfficial, WithoutParaphrases) {
  if (!without_paraphrases()->has_synonyms()) GTEST_SKIP() << "WordNet not found in " << SPARSECAP_DEFAULT_WORDNET_DIR;
  EXPECT_EQ(without_paraphrases()->metric_name(), "METEOR_no_paraphrase");
  expect_equal_to_official(GetParam(), without_paraphrases(), "METEOR_official_exact_stem_synonym");
}

TEST_P(MeteorEqualsOfficial, WithParaphrases) {
  const auto resources = with_paraphrases();
  if (!resources) GTEST_SKIP() << kNoTableMessage;
  if (!resources->has_synonyms()) GTEST_SKIP() << "WordNet not found in " << SPARSECAP_DEFAULT_WORDNET_DIR;
  EXPECT_EQ(resources->metric_name(), "METEOR");
  EXPECT_EQ(resources->modules_description(), "exact+stem+synonym+paraphrase");
  expect_equal_to_official(GetParam(), resources, "METEOR_official");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MeteorEqualsOfficial, ::testing::Values("tiny", "synthetic", "coco_debug10"));

TEST(Meteor, IdenticalSentencesScoreOne) {
  const Tokens words{"a", "man", "rides", "a", "horse"};
  EXPECT_DOUBLE_EQ(meteor_score(meteor_statistics(words, words, *without_paraphrases())), 1.0);
}

TEST(Meteor, OneContentWordAgainstSevenWordReference) {
  // hyp "bat", ref "a baseball player is up to bat" (function words: a, is, up, to):
  // P = 1, R = 0.75 / (0.75*3 + 0.25*4) = 3/13, one chunk over one match: penalty 0.6,
  // score = Fmean * 0.4 (the Java tool gives 0.104347...).
  const MeteorStatistics stats =
      meteor_statistics({"bat"}, {"a", "baseball", "player", "is", "up", "to", "bat"}, *without_paraphrases());
  EXPECT_EQ(stats.chunks, 1);
  EXPECT_EQ(stats.reference_function_words, 4);
  EXPECT_NEAR(meteor_score(stats), 0.10434782608695653, 1e-12);
}

TEST(Meteor, StemMatchCountsWithStemWeight) {
  // Without WordNet "dogs" ~ "dog" is the only match, so it is fixed: weight 0.6 on a content
  // word gives P = R = 0.6, and a full one-chunk alignment has no fragmentation penalty.
  const auto exact_and_stem = MeteorResources::load("/nonexistent/wordnet");
  const MeteorStatistics stats = meteor_statistics({"dogs"}, {"dog"}, *exact_and_stem);
  EXPECT_EQ(stats.test_content_matches[static_cast<int>(MeteorModule::stem)], 1);
  EXPECT_NEAR(meteor_score(stats), 0.6, 1e-12);
}

TEST(Meteor, AmbiguousNonExactMatchLosesToSkippingAsInJava) {
  // With WordNet, "dogs"/"dog" is both a stem and a synonym match, so it is not fixed up front;
  // in the beam search a non-exact match adds (int)0.5 = 0 to the ranking count but one chunk,
  // so skipping it ranks first. The Java tool does the same (see eval/meteor.cpp).
  if (!without_paraphrases()->has_synonyms()) GTEST_SKIP() << "WordNet not installed";
  const MeteorStatistics stats = meteor_statistics({"dogs"}, {"dog"}, *without_paraphrases());
  EXPECT_EQ(stats.test_matches, 0);
}

TEST(Meteor, SynonymsNeedWordNet) {
  if (!without_paraphrases()->has_synonyms()) GTEST_SKIP() << "WordNet not installed";
  const MeteorStatistics stats = meteor_statistics({"puppy"}, {"pup"}, *without_paraphrases());
  EXPECT_EQ(stats.test_content_matches[static_cast<int>(MeteorModule::synonym)], 1);
}

TEST(Meteor, WithoutWordNetRunsExactAndStem) {
  const auto without = MeteorResources::load("/nonexistent/wordnet");
  EXPECT_FALSE(without->has_synonyms());
  EXPECT_FALSE(without->has_paraphrases());
  EXPECT_EQ(without->modules_description(), "exact+stem");
  EXPECT_EQ(without->metric_name(), "METEOR_no_paraphrase");
  const MeteorStatistics stats = meteor_statistics({"puppy"}, {"pup"}, *without);
  EXPECT_EQ(stats.test_matches, 0);
}

TEST(Meteor, CorpusTotalsCountNoChunkForAFullOneChunkSegment) {
  // Image 1 identical ("dog runs"), image 2 "cat" against "black cat"; no function words.
  // Summed: 3 candidate words, 4 reference words, 3 exact matches each side. The Java tool adds
  // 0 chunks for the identical segment and 1 for the other: P = 1, R = 3/4,
  // Fmean = R / (0.85 + 0.15 R), fragmentation 1 / 3, penalty 0.6 (1/3)^0.2.
  TokenizedCaptionSet set;
  set.image_ids = {"1", "2"};
  set.references = {{{"dog", "runs"}}, {{"black", "cat"}}};
  set.candidates = {{"dog", "runs"}, {"cat"}};
  const MeteorScores scores = compute_meteor(set, *MeteorResources::load("/nonexistent/wordnet"));
  const double recall = 0.75;
  const double f_mean = recall / (0.85 + 0.15 * recall);
  const double expected = f_mean * (1.0 - 0.6 * std::pow(1.0 / 3.0, 0.2));
  EXPECT_NEAR(scores.corpus, expected, 1e-12);
  EXPECT_DOUBLE_EQ(scores.per_image[0], 1.0);
}

TEST(MeteorNormalize, SplitsSymbolsAsMteval) {
  EXPECT_EQ(meteor_normalize({"wow", "!!", "a&b", "3.5", "end."}),
            (Tokens{"wow", "!", "!", "a", "&", "b", "3.5", "end", "."}));
}

TEST(MeteorNormalize, ApostrophesAsTheJavaTool) {
  // Each expectation was observed on METEOR 1.5 with -norm.
  EXPECT_EQ(meteor_normalize({"does", "n't", "stove", "'s"}), (Tokens{"does", "n", "'t", "stove", "'", "s"}));
  EXPECT_EQ(meteor_normalize({"o'clock", "rock'n'roll", "dogs'"}),
            (Tokens{"o", "'clock", "rock", "'n'roll", "dogs", "'"}));
  EXPECT_EQ(meteor_normalize({"the", "1990's", "3'4", "'tis"}), (Tokens{"the", "1990", "'s", "3", "'", "4", "'", "tis"}));
  // A character used by one match is not reused by the next: "5' '90s" leaves "'90s" whole.
  EXPECT_EQ(meteor_normalize({"5'", "'90s"}), (Tokens{"5", "'", "'90s"}));
  EXPECT_EQ(meteor_normalize({"'9"}), (Tokens{"'", "9"}));
  EXPECT_EQ(meteor_normalize({"café's", "x''y"}), (Tokens{"café", "'s", "x", "\"", "y"}));
  EXPECT_EQ(meteor_normalize({"a\u2019s", "\u201Chi\u201D"}), (Tokens{"a", "'s", "\"", "hi", "\""}));
}

// A two-line table in memory: "side by side" -> "together" (one direction), "a picture" <->
// "an image" and "ring" <-> "circle" (both directions). One path for every test process, so the
// user's cache holds one index of it; written beside it and renamed into place, because ctest runs
// the tests that use it in parallel and one process read it half-written.
std::shared_ptr<const MeteorResources> with_small_table() {
  static const std::filesystem::path path = [] {
    const std::filesystem::path file = std::filesystem::temp_directory_path() / "sparsecap_test_paraphrase.txt";
    const std::filesystem::path written = file.string() + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(written);
      out << "0.03\nside by side\ntogether\n0.04\na picture\nan image\n0.06\nan image\na picture\n"
             "0.02\ncircle\nring\n0.05\nring\ncircle\n";
    }
    std::filesystem::rename(written, file);
    return file;
  }();
  return MeteorResources::load("/nonexistent/wordnet", path);  // indexed in the user's cache: tiny
}

TEST(MeteorParaphrase, MultiWordMatchHandComputed) {
  // hyp "two ducks swimming side by side", ref "two ducks swimming together": exact two, ducks,
  // swimming, paraphrase "side by side" ~ "together"; function words two, by. One chunk covering
  // everything: no penalty. P = (0.75*2 + 0.25 + 0.6*(0.75*2 + 0.25)) / (0.75*4 + 0.25*2) = 0.8,
  // R = (0.75*2 + 0.25 + 0.6*0.75) / (0.75*3 + 0.25) = 0.88; the Java tool gives 0.866995...
  const auto resources = with_small_table();
  const MeteorStatistics stats = meteor_statistics({"two", "ducks", "swimming", "side", "by", "side"},
                                                   {"two", "ducks", "swimming", "together"}, *resources);
  const auto paraphrase = static_cast<int>(MeteorModule::paraphrase);
  EXPECT_EQ(stats.test_content_matches[paraphrase], 2);
  EXPECT_EQ(stats.test_function_matches[paraphrase], 1);
  EXPECT_EQ(stats.reference_content_matches[paraphrase], 1);
  EXPECT_EQ(stats.chunks, 1);
  EXPECT_NEAR(meteor_score(stats), 0.8 * 0.88 / (0.85 * 0.8 + 0.15 * 0.88), 1e-12);
  EXPECT_NEAR(meteor_score(stats), 0.8669950738916257, 1e-12);
}

TEST(MeteorParaphrase, OneWordPairListedBothWaysLosesToSkipping) {
  // Listed both ways, "ring" ~ "circle" gives two identical matches, so it is not fixed; a
  // one-word non-exact match ranks below skipping (the Java tool scores "ring"/"circle" 0).
  const MeteorStatistics stats = meteor_statistics({"ring"}, {"circle"}, *with_small_table());
  EXPECT_EQ(stats.test_matches, 0);
  EXPECT_EQ(meteor_score(stats), 0.0);
}

TEST(MeteorParaphrase, MultiWordPairListedBothWaysIsMatched) {
  // Two words at weight 0.5 add (int)1.0 = 1 to the ranking count, so the match beats skipping.
  const MeteorStatistics stats = meteor_statistics({"an", "image"}, {"a", "picture"}, *with_small_table());
  EXPECT_EQ(stats.test_matches, 2);
  EXPECT_EQ(stats.reference_matches, 2);
  EXPECT_EQ(stats.reference_function_matches[static_cast<int>(MeteorModule::paraphrase)], 1);  // "a"
}

TEST(MeteorParaphrase, ResourcesNameTheMode) {
  EXPECT_EQ(with_small_table()->metric_name(), "METEOR");
  EXPECT_EQ(with_small_table()->modules_description(), "exact+stem+paraphrase");
}

}  // namespace
}  // namespace sparsecap::eval
