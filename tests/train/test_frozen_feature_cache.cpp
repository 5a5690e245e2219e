// The frozen encoder's feature cache: the rows it returns are the encoder's output of each image,
// in batch order, whether stored or computed; a stored image is not encoded again; the bound in
// bytes caps what is stored, never what is returned; a blank-image control does not take the
// features of the real images; and when a run uses the cache at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cuda/cuda_runtime_info.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "models/soft_attention.h"
#include "train/batch_tensors.h"
#include "train/frozen_feature_cache.h"

namespace sparsecap::train {
namespace {

models::SoftAttentionConfig tiny_model_config() {
  models::SoftAttentionConfig config;
  config.encoder.width_multiplier = 0.25;
  config.encoder.blocks = {{32, 2}, {64, 2}};  // 16x16 images -> 2x2 feature maps of 16 channels
  config.decoder.vocabulary_size = 12;
  config.decoder.hidden_size = 8;
  config.decoder.embedding_size = 4;
  config.decoder.attention_size = 4;
  return config;
}

class FrozenFeatureCacheTest : public ::testing::Test {
 protected:
  FrozenFeatureCacheTest() : generator_(5), model_(tiny_model_config(), generator_) {
    model_.train();
    model_.encoder().eval();  // frozen, as the trainer keeps it
  }

  // The pixels of image `id`: a function of the id alone, as a loader without augmentation gives.
  static Tensor image_of(int64_t id) {
    Generator pixels(1000 + static_cast<uint64_t>(id));
    return randn({3, 16, 16}, pixels);
  }

  // A batch of `ids` and its inputs (pixels only).
  static std::pair<data::CaptionBatch, models::CaptionerInputs> batch_of(const std::vector<int64_t>& ids) {
    data::CaptionBatch batch;
    batch.image_count = static_cast<int64_t>(ids.size());
    batch.image_ids = ids;
    std::vector<Tensor> images;
    for (const int64_t id : ids) images.push_back(image_of(id));
    return {batch, models::CaptionerInputs(stack(images, 0))};
  }

  // The encoder's output for image `id` alone, [C, h, w].
  Tensor expected_features(int64_t id) {
    NoGradGuard no_grad;
    return model_.encoder().feature_map(unsqueeze(image_of(id), 0)).row(0);
  }

  // The rows of `features` [B, C, h, w] are the encoder's output of `ids`, in that order.
  void expect_rows_of(const Tensor& features, const std::vector<int64_t>& ids) {
    ASSERT_TRUE(features.defined());
    ASSERT_EQ(features.size(0), static_cast<int64_t>(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::vector<float> row = features.row(static_cast<int64_t>(i)).to_vector<float>();
      const std::vector<float> expected = expected_features(ids[i]).to_vector<float>();
      ASSERT_EQ(row.size(), expected.size());
      double worst = 0;
      for (size_t j = 0; j < row.size(); ++j) worst = std::max(worst, static_cast<double>(std::abs(row[j] - expected[j])));
      EXPECT_LT(worst, 1e-5) << "batch position " << i << ", image " << ids[i];
    }
  }

  models::CaptionerInputs fill(FrozenFeatureCache& cache, const std::vector<int64_t>& ids) {
    auto [batch, inputs] = batch_of(ids);
    return cache.fill(batch, inputs);
  }

  int64_t bytes_per_image() { return static_cast<int64_t>(expected_features(0).nbytes()); }

  Generator generator_;
  models::SoftAttentionCaptioner model_;
};

TEST_F(FrozenFeatureCacheTest, FirstRequestEncodesAndStoresEveryImage) {
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  const models::CaptionerInputs inputs = fill(cache, {5, 3, 9});
  expect_rows_of(inputs.encoder_features, {5, 3, 9});
  EXPECT_FALSE(inputs.encoder_features.requires_grad());
  EXPECT_EQ(inputs.encoder_features.device(), Device::cpu());
  EXPECT_TRUE(inputs.images.defined());  // kept for blank_inputs
  EXPECT_EQ(inputs.batch_size(), 3);
  EXPECT_EQ(cache.computed_images(), 3);
  EXPECT_EQ(cache.stored_images(), 3);
  EXPECT_EQ(cache.stored_bytes(), 3 * bytes_per_image());
  EXPECT_FALSE(model_.encoder().is_training());
}

TEST_F(FrozenFeatureCacheTest, SecondRequestForTheSameIdsDoesNotRunTheEncoder) {
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  fill(cache, {5, 3, 9});
  // Other pixels under the same ids: the stored features come back, so the encoder did not run.
  auto [batch, inputs] = batch_of({9, 5, 3});
  inputs.images = zeros(inputs.images.shape());
  const models::CaptionerInputs again = cache.fill(batch, inputs);
  expect_rows_of(again.encoder_features, {9, 5, 3});
  EXPECT_EQ(cache.computed_images(), 3);
  EXPECT_EQ(cache.stored_images(), 3);
}

TEST_F(FrozenFeatureCacheTest, MixedBatchGivesStoredAndNewRowsInBatchOrder) {
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  fill(cache, {1, 2});
  const models::CaptionerInputs mixed = fill(cache, {3, 1, 4, 2, 7});
  expect_rows_of(mixed.encoder_features, {3, 1, 4, 2, 7});
  EXPECT_EQ(cache.computed_images(), 5);  // 1, 2, then 3, 4, 7
  EXPECT_EQ(cache.stored_images(), 5);
  for (const int64_t id : {1, 2, 3, 4, 7}) EXPECT_TRUE(cache.contains(id)) << id;
}

TEST_F(FrozenFeatureCacheTest, BoundCapsWhatIsStoredNotWhatIsReturned) {
  // Room for one and a half images: the first is stored, the others are encoded every time.
  const int64_t capacity = bytes_per_image() * 3 / 2;
  FrozenFeatureCache cache(model_, capacity);
  expect_rows_of(fill(cache, {4, 6, 8}).encoder_features, {4, 6, 8});
  EXPECT_EQ(cache.stored_images(), 1);
  EXPECT_TRUE(cache.contains(4));
  EXPECT_LE(cache.stored_bytes(), capacity);
  expect_rows_of(fill(cache, {8, 4, 6}).encoder_features, {8, 4, 6});
  EXPECT_EQ(cache.computed_images(), 3 + 2);  // 8 and 6 again, not 4
  EXPECT_EQ(cache.stored_images(), 1);
  EXPECT_LE(cache.stored_bytes(), capacity);

  FrozenFeatureCache nothing(model_, 0);
  expect_rows_of(fill(nothing, {2, 1}).encoder_features, {2, 1});
  expect_rows_of(fill(nothing, {1, 2}).encoder_features, {1, 2});
  EXPECT_EQ(nothing.stored_images(), 0);
  EXPECT_EQ(nothing.stored_bytes(), 0);
  EXPECT_EQ(nothing.computed_images(), 4);
}

TEST_F(FrozenFeatureCacheTest, EncodesInEvaluationModeAndLeavesTheModeAsItWas) {
  // Batch norm on its running statistics: each row is that image's output alone, whatever the
  // batch; a training-mode encoder would normalise with the batch's statistics instead.
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  model_.encoder().train();
  const models::CaptionerInputs inputs = fill(cache, {3, 11});
  EXPECT_TRUE(model_.encoder().is_training());
  model_.encoder().eval();
  expect_rows_of(inputs.encoder_features, {3, 11});
}

TEST_F(FrozenFeatureCacheTest, BlankInputsEncodeZeroPixelsNotTheCachedFeatures) {
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  const models::CaptionerInputs inputs = fill(cache, {1, 2});
  const models::CaptionerInputs blank = blank_inputs(inputs);
  EXPECT_FALSE(blank.encoder_features.defined());
  ASSERT_TRUE(blank.images.defined());
  for (const float value : blank.images.to_vector<float>()) ASSERT_EQ(value, 0.0f);
  models::CaptionerInputs features_only;
  features_only.encoder_features = inputs.encoder_features;
  EXPECT_THROW(blank_inputs(features_only), Error);
}

TEST_F(FrozenFeatureCacheTest, ErrorsNameTheProblem) {
  FrozenFeatureCache cache(model_, 1 << 20);
  auto [batch, inputs] = batch_of({1, 2});
  batch.image_ids.pop_back();
  EXPECT_THROW(cache.fill(batch, inputs), Error);
  EXPECT_THROW(cache.fill(batch, models::CaptionerInputs()), Error);
}

TEST_F(FrozenFeatureCacheTest, UsedOnlyForAFrozenEncoderOnFixedPixels) {
  RunConfig config;
  config.optim.freeze_encoder = true;
  EXPECT_TRUE(uses_frozen_feature_cache(model_, config));
  RunConfig trained_encoder = config;
  trained_encoder.optim.freeze_encoder = false;
  EXPECT_FALSE(uses_frozen_feature_cache(model_, trained_encoder));
  RunConfig augmented = config;
  augmented.data.augment = true;  // other pixels every epoch
  EXPECT_FALSE(uses_frozen_feature_cache(model_, augmented));
  RunConfig disabled = config;
  disabled.optim.frozen_feature_cache_mb = 0;
  EXPECT_FALSE(uses_frozen_feature_cache(model_, disabled));
}

TEST_F(FrozenFeatureCacheTest, StoresOnTheModelsDevice) {
  if (!cuda::built_with_cuda() || cuda::devices().empty()) GTEST_SKIP() << "no CUDA device";
  const std::vector<int64_t> ids = {6, 2, 5};
  std::vector<Tensor> expected;
  for (const int64_t id : ids) expected.push_back(expected_features(id));
  model_.to(Device::cuda());
  FrozenFeatureCache cache(model_, int64_t{1} << 20);
  fill(cache, {2});
  const models::CaptionerInputs inputs = fill(cache, ids);  // host pixels, one stored image
  ASSERT_TRUE(inputs.encoder_features.device().is_cuda());
  const Tensor on_host = inputs.encoder_features.to(Device::cpu());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::vector<float> row = on_host.row(static_cast<int64_t>(i)).to_vector<float>();
    const std::vector<float> reference = expected[i].to_vector<float>();
    for (size_t j = 0; j < row.size(); ++j) ASSERT_NEAR(row[j], reference[j], 1e-4) << ids[i];
  }
  EXPECT_EQ(cache.computed_images(), 3);
}

}  // namespace
}  // namespace sparsecap::train
