#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "eval/coco_results.h"
#include "tests/eval/fixture.h"

namespace sparsecap::eval {
namespace {

std::filesystem::path write_temporary(const std::string& name, const std::string& content) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sparsecap_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(CocoResults, WriterRoundTripsThroughReader) {
  const CandidateCaptions candidates{{"42", "a dog"}, {"7", "a cat"}, {"img_3", "a bird"}};
  const std::filesystem::path path = write_temporary("results.json", "");
  write_coco_results(candidates, path);
  std::ifstream in(path);
  const nlohmann::json written = nlohmann::json::parse(in);
  EXPECT_TRUE(written[0]["image_id"].is_number_integer());  // numeric ids stay integers for COCO
  EXPECT_TRUE(written[2]["image_id"].is_string());
  EXPECT_EQ(read_candidate_captions(path), candidates);
  std::filesystem::remove(path);
}

TEST(CocoResults, ReadsCocoAnnotations) {
  const auto path = write_temporary("annotations.json",
                                    R"({"annotations": [{"image_id": 1, "caption": "A dog."},
                                        {"image_id": 1, "caption": "A puppy."},
                                        {"image_id": 2, "caption": "A cat."}]})");
  const ReferenceCaptions references = read_reference_captions(path);
  EXPECT_EQ(references.at("1"), (std::vector<std::string>{"A dog.", "A puppy."}));
  EXPECT_EQ(references.at("2").size(), 1u);
  std::filesystem::remove(path);
}

TEST(CocoResults, ReadsKarpathySplitChoosingTheSplit) {
  const auto path = write_temporary("karpathy.json", R"({"images": [
      {"split": "test", "cocoid": 10, "sentences": [{"raw": "A dog.", "tokens": ["a", "dog"]}]},
      {"split": "val", "cocoid": 11, "sentences": [{"tokens": ["a", "cat"]}]}]})");
  EXPECT_EQ(read_reference_captions(path, "test"), (ReferenceCaptions{{"10", {"A dog."}}}));
  EXPECT_EQ(read_reference_captions(path, "val"), (ReferenceCaptions{{"11", {"a cat"}}}));
  EXPECT_THROW(read_reference_captions(path, "train"), std::runtime_error);
  std::filesystem::remove(path);
}

TEST(CocoResults, ReadsFixtureFiles) {
  const auto dir = testing::metrics_fixture_dir("tiny");
  EXPECT_EQ(read_reference_captions(dir / "input.json").size(), 12u);
  EXPECT_EQ(read_candidate_captions(dir / "input.json").at("img08"), "bat");
}

}  // namespace
}  // namespace sparsecap::eval
