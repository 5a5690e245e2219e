#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data/data_error.h"
#include "data/karpathy.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::TemporaryDirectory;

nlohmann::json coco_like() {
  return nlohmann::json::parse(R"({
    "dataset": "coco",
    "images": [
      {"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg", "split": "train", "imgid": 0,
       "cocoid": 391895, "sentids": [0, 1],
       "sentences": [{"tokens": ["a", "man", "riding"], "raw": "A man riding.", "imgid": 0, "sentid": 0},
                     {"tokens": ["a", "bike"], "raw": "A bike", "imgid": 0, "sentid": 1}]},
      {"filepath": "val2014", "filename": "b.jpg", "split": "restval", "imgid": 1, "cocoid": 7,
       "sentences": [{"tokens": ["x"], "raw": "x"}]},
      {"filepath": "val2014", "filename": "c.jpg", "split": "val", "imgid": 2, "cocoid": 8,
       "sentences": [{"tokens": ["y"], "raw": "y"}, {"tokens": ["z"], "raw": "z"}, {"tokens": ["w"], "raw": "w"}]},
      {"filepath": "", "filename": "d.jpg", "split": "test", "imgid": 3,
       "sentences": [{"raw": "Two Dogs, running!"}]}
    ]})");
}

void expect_error(const nlohmann::json& document, const std::string& words) {
  try {
    parse_karpathy_json(document, "dataset_test.json");
    ADD_FAILURE() << "no error; expected '" << words << "'";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("dataset_test.json"), std::string::npos) << message;
    EXPECT_NE(message.find(words), std::string::npos) << message;
  }
}

TEST(Karpathy, ParsesImagesAndCountsSplitsWithRestvalInTrain) {
  const KarpathyDataset dataset = parse_karpathy_json(coco_like(), "dataset_coco.json");
  EXPECT_EQ(dataset.dataset_name, "coco");
  ASSERT_EQ(dataset.images.size(), 4u);
  const KarpathyImage& first = dataset.images[0];
  EXPECT_EQ(first.relative_image_path(), std::filesystem::path("val2014/COCO_val2014_000000391895.jpg"));
  EXPECT_EQ(first.feature_id(), 391895);
  EXPECT_EQ(first.sentences[0].tokens, (std::vector<std::string>{"a", "man", "riding"}));
  EXPECT_EQ(first.sentences[0].raw, "A man riding.");
  EXPECT_EQ(dataset.images[1].split, Split::Train);
  EXPECT_TRUE(dataset.images[1].from_restval);
  const auto counts = dataset.split_counts();
  EXPECT_EQ(counts.at(Split::Train).images, 2);
  EXPECT_EQ(counts.at(Split::Train).captions, 3);
  EXPECT_EQ(counts.at(Split::Val).images, 1);
  EXPECT_EQ(counts.at(Split::Val).captions, 3);
  EXPECT_EQ(counts.at(Split::Test).captions, 1);
  EXPECT_EQ(dataset.describe_split_counts(),
            "train: 2 images, 3 captions; val: 1 images, 3 captions; test: 1 images, 1 captions");
  EXPECT_EQ(dataset.indices_of_split(Split::Train), (std::vector<size_t>{0, 1}));
}

TEST(Karpathy, RestvalStaysSeparateWhenAsked) {
  const KarpathyDataset dataset = parse_karpathy_json(coco_like(), "d.json", {.merge_restval_into_train = false});
  EXPECT_EQ(dataset.images[1].split, Split::Restval);
  EXPECT_EQ(dataset.split_counts().at(Split::Train).images, 1);
}

TEST(Karpathy, FeatureIdFallsBackToImgidAndRawIsTokenised) {
  const KarpathyDataset dataset = parse_karpathy_json(coco_like(), "d.json");
  const KarpathyImage& flickr_style = dataset.images[3];
  EXPECT_EQ(flickr_style.feature_id(), 3);
  EXPECT_EQ(flickr_style.relative_image_path(), std::filesystem::path("d.jpg"));
  EXPECT_EQ(flickr_style.sentences[0].tokens, (std::vector<std::string>{"two", "dogs", "running"}));
}

TEST(Karpathy, WriteAndLoadRoundTrip) {
  TemporaryDirectory dir;
  const KarpathyDataset dataset = parse_karpathy_json(coco_like(), "d.json");
  write_karpathy_json(dataset, dir / "dataset_coco.json");
  const KarpathyDataset loaded = load_karpathy_json(dir / "dataset_coco.json");
  ASSERT_EQ(loaded.images.size(), dataset.images.size());
  EXPECT_TRUE(loaded.images[1].from_restval);  // written back as "restval"
  EXPECT_EQ(loaded.images[0].cocoid, dataset.images[0].cocoid);
  EXPECT_FALSE(loaded.images[3].cocoid.has_value());
  EXPECT_EQ(loaded.images[2].sentences[2].tokens, dataset.images[2].sentences[2].tokens);
  EXPECT_EQ(loaded.describe_split_counts(), dataset.describe_split_counts());
}

TEST(KarpathyErrors, CorruptJsonNamesTheFile) {
  TemporaryDirectory dir;
  std::ofstream(dir / "dataset_coco.json") << R"({"images": [{"filename": "a.jpg", "split": "tra)";
  try {
    load_karpathy_json(dir / "dataset_coco.json");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("dataset_coco.json: corrupt JSON"), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_karpathy_json(dir / "dataset_missing.json"), DataError);
}

TEST(KarpathyErrors, LayoutProblemsNameTheEntry) {
  expect_error(nlohmann::json::array(), "expected a JSON object");
  expect_error({{"annotations", 1}}, "no \"images\" array");
  auto document = coco_like();
  document["images"][2]["split"] = "training";
  expect_error(document, "images[2] (imgid 2): unknown split \"training\"");
  document = coco_like();
  document["images"][1].erase("filename");
  expect_error(document, "images[1] (imgid 1): missing or empty string \"filename\"");
  document = coco_like();
  document["images"][3]["imgid"] = 0;
  expect_error(document, "imgid 0 appears more than once");
  document = coco_like();
  document["images"][0]["sentences"][1]["tokens"] = {"ok", 3};
  expect_error(document, "images[0] (imgid 0) sentences[1]: non-string token 3");
  document = coco_like();
  document["images"][0]["sentences"][0] = {{"imgid", 0}};
  expect_error(document, "needs \"tokens\" or \"raw\"");
  document = coco_like();
  document["images"][0]["imgid"] = "zero";
  expect_error(document, "missing integer \"imgid\"");
}

}  // namespace
}  // namespace sparsecap::data
