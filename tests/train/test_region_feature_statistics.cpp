// The statistics of a RegionFeatureStandardizer: the mean and population std of the training
// split's regions against hand-computed values, the evenly spaced subset, the width check, and a
// fresh training run setting them (and a resumed one keeping them from its checkpoint).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "data/data_error.h"
#include "data/npy.h"
#include "models/captioner_registry.h"
#include "models/region_feature_standardizer.h"
#include "tests/data/temporary_directory.h"
#include "tests/train/tiny_shapes_set.h"
#include "train/region_feature_statistics.h"
#include "train/trainer.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;
using data::testing_support::TemporaryDirectory;

// Images 0-2 train, image 3 val; 2-d features: image 0 [[1, 2], [3, 4]], image 1 [[5, 6]],
// image 2 [[7, 8]], image 3 [[100, 100]].
class RegionFeatureStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::vector<float>> features = {{1, 2, 3, 4}, {5, 6}, {7, 8}, {100, 100}};
    fs::create_directories(folder_ / "cocobu_att");
    for (int64_t id = 0; id < 4; ++id) {
      const std::vector<float>& values = features[static_cast<size_t>(id)];
      data::write_npy_float32(folder_ / "cocobu_att" / (std::to_string(id) + ".npy"),
                              {static_cast<int64_t>(values.size() / 2), 2}, values);
      data::KarpathyImage image;
      image.filename = std::to_string(id) + ".png";
      image.imgid = id;
      image.split = id == 3 ? data::Split::Val : data::Split::Train;
      dataset_.images.push_back(image);
    }
    layout_ = data::RegionFeatureLayout::under_root(folder_.path());
  }

  TemporaryDirectory folder_;
  data::KarpathyDataset dataset_;
  data::RegionFeatureLayout layout_;
};

TEST_F(RegionFeatureStatisticsTest, MeanAndPopulationStdOverTheTrainingRegions) {
  const RegionFeatureMoments moments = measure_region_features(dataset_, layout_, 100);
  EXPECT_EQ(moments.images, 3);
  EXPECT_EQ(moments.regions, 4);
  // Dimension 0: 1, 3, 5, 7 -> mean 4, variance (9 + 1 + 1 + 9) / 4 = 5; dimension 1: 2, 4, 6, 8.
  ASSERT_EQ(moments.mean.size(), 2u);
  EXPECT_DOUBLE_EQ(moments.mean[0], 4.0);
  EXPECT_DOUBLE_EQ(moments.mean[1], 5.0);
  EXPECT_NEAR(moments.std[0], std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(moments.std[1], std::sqrt(5.0), 1e-12);
}

TEST_F(RegionFeatureStatisticsTest, AtMostMaxImagesSpreadOverTheSplit) {
  // Two of three: positions 0 and 3 / 2 = 1 -> images 0 and 1: 1, 3, 5 and 2, 4, 6.
  const RegionFeatureMoments two = measure_region_features(dataset_, layout_, 2);
  EXPECT_EQ(two.images, 2);
  EXPECT_DOUBLE_EQ(two.mean[0], 3.0);
  EXPECT_NEAR(two.std[1], std::sqrt(8.0 / 3.0), 1e-12);
  EXPECT_THROW(measure_region_features(dataset_, layout_, 0), Error);
}

TEST_F(RegionFeatureStatisticsTest, AnImageOfAnotherWidthIsNamed) {
  data::write_npy_float32(folder_ / "cocobu_att" / "1.npy", {1, 3}, std::vector<float>{5, 6, 7});
  try {
    measure_region_features(dataset_, layout_, 100);
    FAIL() << "no error";
  } catch (const data::DataError& error) {
    EXPECT_NE(std::string(error.what()).find("image id 1 has 3-d features"), std::string::npos) << error.what();
  }
}

TEST_F(RegionFeatureStatisticsTest, AModelOfAnotherFeatureSizeIsToldTheFolderAndTheWidths) {
  RunConfig config;
  config.model = {{"type", "up_down"},   {"feature_size", 3},  {"hidden_size", 4},
                  {"embedding_size", 4}, {"attention_size", 2}, {"standardize_features", true}};
  Generator generator(1);
  const std::unique_ptr<models::Captioner> model =
      models::make_captioner(config.model, models::CaptionerVocabulary{.size = 10, .tokens = {}}, generator);
  try {
    standardize_region_features(*model, dataset_, layout_, 100);
    FAIL() << "no error";
  } catch (const data::DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(layout_.att_dir.string()), std::string::npos) << message;
    EXPECT_NE(message.find("the region features are 2-d and model.feature_size is 3"), std::string::npos) << message;
  }
}

TEST(RegionFeatureStandardizer, StandardisesEachDimensionWithAFlooredStd) {
  models::RegionFeatureStandardizer standardizer(3);
  standardizer.set_statistics({1.0, -2.0, 0.5}, {2.0, 0.5, 0.0});  // the last std is floored
  const Tensor x = from_vector<double>({3, -2, 0.5, 1, 0, 0.501}, {2, 3});
  const std::vector<double> y = standardizer.forward(x).to_vector<double>();
  const double floor = models::RegionFeatureStandardizer::kMinimumStd;
  const std::vector<double> expected = {1.0, 0.0, 0.0, 0.0, 4.0, 0.001 / floor};
  // The buffers are float32: 1e-6 is their precision on these values.
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-6) << i;
  const nn::StateDict state = standardizer.state_dict();
  EXPECT_EQ(state.size(), 2u);
  EXPECT_TRUE(state.contains("mean") && state.contains("std"));
  EXPECT_THROW(standardizer.set_statistics({1.0}, {1.0}), Error);
  EXPECT_THROW(standardizer.forward(from_vector<double>({1, 2}, {1, 2})), Error);
}

TEST(RegionFeatureStatistics, AFreshRunSetsThemAndAResumedRunKeepsThem) {
  TemporaryDirectory folder;
  write_tiny_shapes_set(folder / "data", 3);
  RunConfig config;
  config.data.dir = folder / "data";
  config.data.images_per_batch = 8;
  config.data.seq_per_img = 1;
  config.data.min_word_count = 1;
  config.model = {{"type", "up_down"},        {"feature_size", 16}, {"hidden_size", 8},
                  {"embedding_size", 8},      {"attention_size", 4}, {"standardize_features", true},
                  {"decoding", {{"max_words", 8}}}};
  config.optim.max_steps = 2;
  config.schedule.checkpoint_every = 2;
  const RegionFeatureMoments moments = measure_region_features(
      load_run_data(config.data, folder / "vocabulary.json").dataset,
      data::RegionFeatureLayout::under_root(config.data.dir), 2000);
  ASSERT_GT(moments.regions, 0);
  const auto expect_statistics = [&](Trainer& trainer) {
    const nn::StateDict state = trainer.model().state_dict();
    const std::vector<double> mean = state.at("feature_standardizer.mean").to_vector<double>();
    const std::vector<double> std = state.at("feature_standardizer.std").to_vector<double>();
    for (size_t d = 0; d < 16; ++d) {
      EXPECT_NEAR(mean[d], moments.mean[d], 1e-6) << d;
      EXPECT_NEAR(std[d], std::max(moments.std[d], models::RegionFeatureStandardizer::kMinimumStd), 1e-6) << d;
    }
  };
  {
    Trainer trainer(config, TrainOptions{folder / "run"});
    expect_statistics(trainer);
    trainer.run();
  }
  // Resumed: the statistics come from the checkpoint, not from a new measurement of the data
  // (whose features are now all zero).
  for (const auto& entry : fs::directory_iterator(folder / "data" / "cocobu_att")) {
    const data::FloatArray array = data::read_npy_file(entry.path());
    data::write_npy_float32(entry.path(), array.shape, std::vector<float>(array.values.size(), 0.0f));
  }
  Trainer resumed(config, TrainOptions{.run_dir = folder / "run", .resume = true});
  expect_statistics(resumed);
}

}  // namespace
}  // namespace sparsecap::train
