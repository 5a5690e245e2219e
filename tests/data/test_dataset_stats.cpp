#include <gtest/gtest.h>

#include <fstream>

#include "data/data_error.h"
#include "data/dataset_stats.h"
#include "data/synthetic_shapes.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::TemporaryDirectory;

TEST(DatasetStatistics, CountsASmallSyntheticSet) {
  TemporaryDirectory dir;
  SyntheticShapesOptions options;
  options.image_count = 20;
  options.feature_dim = 16;
  const SynthesisSummary summary = write_synthetic_shapes(dir.path(), options);
  std::filesystem::remove(dir / "cocobu_att" / "19.npy");  // one hole, counted, not fatal
  const DatasetStatistics statistics = compute_dataset_statistics(dir.path(), {.min_count = 1, .max_size = 0});
  EXPECT_EQ(statistics.json_path.filename(), "dataset_shapes.json");
  EXPECT_EQ(statistics.splits.at(Split::Train).images, 16);
  EXPECT_EQ(statistics.splits.at(Split::Val).captions, 10);
  int64_t captions = 0, regions = 0, images_with_features = 0;
  for (const auto& [length, count] : statistics.caption_length_histogram) {
    captions += count;
    EXPECT_GE(length, 1);
    EXPECT_LE(length, 16);
  }
  EXPECT_EQ(captions, 100);
  for (const auto& [count, images] : statistics.region_count_histogram) {
    EXPECT_GE(count, 3);
    EXPECT_LE(count, 8);
    regions += count * images;
    images_with_features += images;
  }
  EXPECT_EQ(images_with_features, 19);
  EXPECT_EQ(statistics.images_without_features, 1);
  EXPECT_LT(regions, summary.regions);
  EXPECT_GT(statistics.vocabulary_size, 20);
  const std::string text = format_dataset_statistics(statistics);
  EXPECT_NE(text.find("images: 20, captions: 100"), std::string::npos) << text;
  EXPECT_NE(text.find("train: 16 images, 80 captions"), std::string::npos) << text;
  EXPECT_NE(text.find("1 images have missing or unreadable features"), std::string::npos) << text;
}

TEST(DatasetStatistics, NeedsExactlyOneSplitFile) {
  TemporaryDirectory dir;
  EXPECT_THROW(find_karpathy_json(dir.path()), DataError);
  std::ofstream(dir / "dataset_coco.json") << "{}";
  EXPECT_EQ(find_karpathy_json(dir.path()).filename(), "dataset_coco.json");
  std::ofstream(dir / "dataset_flickr8k.json") << "{}";
  EXPECT_THROW(find_karpathy_json(dir.path()), DataError);
}

}  // namespace
}  // namespace sparsecap::data
