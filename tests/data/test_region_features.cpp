#include <gtest/gtest.h>

#include "data/caption_batch.h"
#include "data/data_error.h"
#include "data/file_io.h"
#include "data/npy.h"
#include "data/region_features.h"
#include "npy_fixtures.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

namespace fs = std::filesystem;
using testing_support::make_float32_npy;
using testing_support::make_zip;
using testing_support::TemporaryDirectory;

TEST(RegionFeatures, ReadsAttFromNpzWithTheFeatArray) {
  // The widely shared bottom-up dumps: cocobu_att/<cocoid>.npz holding "feat", fc and box as .npy.
  TemporaryDirectory dir;
  fs::create_directories(dir / "cocobu_att");
  fs::create_directories(dir / "cocobu_box");
  write_file_bytes(dir / "cocobu_att" / "391895.npz",
                   make_zip({{"feat.npy", make_float32_npy("(2, 3)", {1, 2, 3, 5, 6, 7}), true}}));
  write_npy_float32(dir / "cocobu_box" / "391895.npy", {2, 4}, std::vector<float>{0, 0, 10, 10, 5, 5, 20, 30});
  const RegionFeatureLayout layout = RegionFeatureLayout::under_root(dir.path());
  EXPECT_TRUE(layout.fc_dir.empty());
  const RegionFeatures features = load_region_features(layout, 391895);
  EXPECT_EQ(features.region_count, 2);
  EXPECT_EQ(features.feature_dim, 3);
  EXPECT_EQ(features.att, (std::vector<float>{1, 2, 3, 5, 6, 7}));
  EXPECT_EQ(features.fc, (std::vector<float>{3, 4, 5}));  // mean of the regions without a cocobu_fc folder
  EXPECT_EQ(features.boxes[7], 30.0f);
  EXPECT_EQ(read_region_count(layout, 391895), 2);
}

TEST(RegionFeatures, NpzWithSeveralUnknownArraysIsAnError) {
  TemporaryDirectory dir;
  fs::create_directories(dir / "cocobu_att");
  write_file_bytes(dir / "cocobu_att" / "1.npz", make_zip({{"a.npy", make_float32_npy("(1, 1)", {1}), false},
                                                           {"b.npy", make_float32_npy("(1, 1)", {2}), false}}));
  try {
    load_region_features(RegionFeatureLayout::under_root(dir.path()), 1);
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("1.npz: cannot tell which array holds the features"), std::string::npos)
        << error.what();
  }
}

TEST(RegionFeatures, WrongRankAndFcSizeAreErrors) {
  TemporaryDirectory dir;
  fs::create_directories(dir / "cocobu_att");
  fs::create_directories(dir / "cocobu_fc");
  write_npy_float32(dir / "cocobu_att" / "1.npy", {4}, std::vector<float>(4, 1.0f));
  const RegionFeatureLayout layout = RegionFeatureLayout::under_root(dir.path());
  EXPECT_THROW(load_region_features(layout, 1), DataError);
  write_npy_float32(dir / "cocobu_att" / "1.npy", {2, 4}, std::vector<float>(8, 1.0f));
  write_npy_float32(dir / "cocobu_fc" / "1.npy", {3}, std::vector<float>(3, 1.0f));
  try {
    load_region_features(layout, 1);
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("fc feature must have shape [4]"), std::string::npos) << error.what();
  }
  write_npy_float32(dir / "cocobu_fc" / "1.npy", {1, 4}, std::vector<float>(4, 2.0f));  // [1, D] is accepted
  EXPECT_EQ(load_region_features(layout, 1).fc, std::vector<float>(4, 2.0f));
}

TEST(RegionFeatures, RelativeBoxesUseTheImageHeaderWhenTheSplitFileHasNoSize) {
  TemporaryDirectory dir;
  fs::create_directories(dir / "cocobu_att");
  fs::create_directories(dir / "cocobu_box");
  fs::create_directories(dir / "val2014");
  write_npy_float32(dir / "cocobu_att" / "9.npy", {1, 2}, std::vector<float>{1, 1});
  write_npy_float32(dir / "cocobu_box" / "9.npy", {1, 4}, std::vector<float>{10, 5, 50, 25});
  write_png_file(dir / "val2014" / "x.png", RgbImage(100, 50));
  KarpathyDataset dataset;
  KarpathyImage image;
  image.filepath = "val2014";
  image.filename = "x.png";
  image.imgid = 0;
  image.cocoid = 9;
  image.sentences.push_back({{"a"}, "a"});
  dataset.images.push_back(image);
  CaptionBatchOptions options;
  options.region_features = RegionFeatureLayout::under_root(dir.path());
  {
    CaptionBatchLoader without_root(dataset, Vocabulary(), options);
    EXPECT_THROW(without_root.next_batch(), DataError);  // no size anywhere: a clear error
  }
  options.image_root = dir.path();  // sizes from the PNG header; pixels are not loaded
  CaptionBatchLoader loader(dataset, Vocabulary(), options);
  const auto batch = loader.next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->relative_boxes, (std::vector<float>{0.1f, 0.1f, 0.5f, 0.5f}));
  EXPECT_TRUE(batch->pixels.empty());
  options.load_pixels = true;
  options.image_root.reset();
  EXPECT_THROW(CaptionBatchLoader(dataset, Vocabulary(), options), std::invalid_argument);
}

}  // namespace
}  // namespace sparsecap::data
