// Bad input gives a std::runtime_error whose message names the file or the ids at fault.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "eval/coco_results.h"
#include "eval/score.h"

namespace sparsecap::eval {
namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "<no exception>";
}

std::filesystem::path write_temporary(const std::string& name, const std::string& content) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sparsecap_bad_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

ScoreOptions fast_options() {
  ScoreOptions options;
  options.meteor = false;
  return options;
}

TEST(BadInput, ImageWithoutCandidateIsNamed) {
  const ReferenceCaptions references{{"1", {"a dog"}}, {"2", {"a cat"}}, {"3", {"a cow"}}};
  const CandidateCaptions candidates{{"1", "a dog"}};
  const std::string message = error_of([&] { score_captions(references, candidates, fast_options()); });
  EXPECT_NE(message.find("no candidate"), std::string::npos) << message;
  EXPECT_NE(message.find("2, 3"), std::string::npos) << message;
}

TEST(BadInput, CandidateWithoutReferencesIsNamed) {
  const ReferenceCaptions references{{"1", {"a dog"}}};
  const CandidateCaptions candidates{{"1", "a dog"}, {"99", "a fish"}};
  const std::string message = error_of([&] { score_captions(references, candidates, fast_options()); });
  EXPECT_NE(message.find("99"), std::string::npos) << message;
}

TEST(BadInput, ImageWithEmptyReferenceListIsNamed) {
  const ReferenceCaptions references{{"5", {}}};
  const CandidateCaptions candidates{{"5", "a dog"}};
  const std::string message = error_of([&] { score_captions(references, candidates, fast_options()); });
  EXPECT_NE(message.find("image 5"), std::string::npos) << message;
}

TEST(BadInput, NonUtf8CaptionNamesImage) {
  const ReferenceCaptions references{{"8", {"a dog"}}};
  const CandidateCaptions candidates{{"8", std::string("a d\xC3og")}};
  const std::string message = error_of([&] { score_captions(references, candidates, fast_options()); });
  EXPECT_NE(message.find("candidate of image 8"), std::string::npos) << message;
  EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;
}

TEST(BadInput, NonUtf8FileNamesFile) {
  const auto path = write_temporary("latin1.json", std::string("[{\"image_id\": 1, \"caption\": \"caf\xE9\"}]"));
  const std::string message = error_of([&] { read_candidate_captions(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  std::filesystem::remove(path);
}

TEST(BadInput, DuplicateResultIdIsNamed) {
  const auto path = write_temporary("duplicate.json", R"([{"image_id": 4, "caption": "a"}, {"image_id": 4, "caption": "b"}])");
  const std::string message = error_of([&] { read_candidate_captions(path); });
  EXPECT_NE(message.find("duplicate image_id 4"), std::string::npos) << message;
  std::filesystem::remove(path);
}

TEST(BadInput, MissingFileAndWrongShapeAreNamed) {
  EXPECT_NE(error_of([] { read_candidate_captions("/nonexistent/results.json"); }).find("/nonexistent/results.json"),
            std::string::npos);
  const auto path = write_temporary("object.json", R"({"something": 1})");
  EXPECT_NE(error_of([&] { read_reference_captions(path); }).find("not a reference file"), std::string::npos);
  EXPECT_NE(error_of([&] { read_candidate_captions(path); }).find("not a COCO results file"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(BadInput, ResultWithoutCaptionIsNamed) {
  const auto path = write_temporary("nocaption.json", R"([{"image_id": 3}])");
  EXPECT_NE(error_of([&] { read_candidate_captions(path); }).find("without image_id or caption"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(BadInput, MismatchedTokenizedSetIsRejected) {
  TokenizedCaptionSet set{{"1", "2"}, {{{"a"}}}, {{"a"}}};
  EXPECT_THROW(score_tokenized_captions(set, fast_options()), std::runtime_error);
}

}  // namespace
}  // namespace sparsecap::eval
