#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "eval/cider.h"
#include "eval/score.h"
#include "tests/eval/fixture.h"

namespace sparsecap::eval {
namespace {

std::filesystem::path temporary_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("sparsecap_test_" + std::to_string(::getpid()) + "_" + name);
}

TEST(CiderDocumentFrequency, CountsImagesNotCaptions) {
  const DocumentFrequency df = document_frequency_of({{{"a", "dog"}, {"a", "dog", "runs"}}, {{"a", "cat"}}});
  EXPECT_EQ(df.num_documents, 2u);
  EXPECT_EQ(df.counts.at("a"), 2u);
  EXPECT_EQ(df.counts.at("a dog"), 1u);
  EXPECT_EQ(df.counts.at("a dog runs"), 1u);
  EXPECT_FALSE(df.counts.contains("dog cat"));
}

TEST(CiderDocumentFrequency, SavedFileFromTheScoredReferencesReproducesToolkitScores) {
  // With df taken from the same references, the file path must give the toolkit's numbers.
  const testing::MetricsFixture fixture = testing::load_metrics_fixture("coco_debug10");
  const std::filesystem::path path = temporary_path("df.json");
  save_document_frequency(document_frequency_of(fixture.tokenized.references), path);
  const DocumentFrequency loaded = load_document_frequency(path);
  std::filesystem::remove(path);
  ScoreOptions options;
  options.meteor = false;
  options.cider_document_frequency = &loaded;
  const CaptionScores scores = score_tokenized_captions(fixture.tokenized, options);
  EXPECT_TRUE(testing::relatively_near(scores.metric("CIDEr_D").corpus, fixture.scores.at("CIDEr_D").get<double>(), 1e-6));
  const auto per_image = fixture.scores.at("per_image").at("CIDEr_D").get<std::vector<double>>();
  for (std::size_t i = 0; i < per_image.size(); ++i) {
    EXPECT_TRUE(testing::relatively_near(scores.metric("CIDEr_D").per_image[i], per_image[i], 1e-6)) << i;
  }
}

TEST(CiderDocumentFrequency, TrainingFrequenciesChangeTheScore) {
  // A corpus where "a" is everywhere gives it zero idf; unseen n-grams get the full ln(N).
  DocumentFrequency df;
  df.num_documents = 100;
  df.counts = {{"a", 100}, {"dog", 5}};
  Vocabulary vocabulary;
  TokenizedCaptionSet set{{"1"}, {{{"a", "dog"}}}, {{"a", "dog"}}};
  const EncodedCaptionSet encoded = encode_caption_set(set, vocabulary);
  const CiderScores scores = compute_cider_d(encoded, df, vocabulary);
  // Orders 1..2 are identical vectors (similarity 1 each; unigram vector is [0, ln 20] but still
  // cosine 1); orders 3, 4 are empty (0). Mean over orders = 0.5, x10 = 5.
  EXPECT_NEAR(scores.corpus, 5.0, 1e-12);
}

TEST(CiderDocumentFrequency, LoadRejectsMissingAndMalformedFiles) {
  EXPECT_THROW(load_document_frequency("/nonexistent/df.json"), std::runtime_error);
  const std::filesystem::path path = temporary_path("bad_df.json");
  std::ofstream(path) << R"({"format": "something-else"})";
  try {
    load_document_frequency(path);
    ADD_FAILURE() << "expected an exception";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sparsecap::eval
