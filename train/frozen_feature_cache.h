// The output of a frozen CNN encoder per training image, computed once and reused in later epochs.
// With optim.freeze_encoder the encoder is a fixed function (evaluation mode, weights never
// change) and without data.augment an image's pixels are the same in every epoch, so its feature
// map is too: the cache is a memo of that function, keyed by image id. It saves the encoder's
// forward pass (a quarter or more of a training step of the demo) from the second epoch on, and
// has nothing to save in a checkpoint: a resumed run fills it again with the same values.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "data/caption_batch.h"
#include "models/captioner.h"
#include "models/captioner_inputs.h"
#include "models/mobilenet.h"
#include "train/run_config.h"

namespace sparsecap::train {

// Whether training on `model` with `config` uses a FrozenFeatureCache: the model sees pixels, its
// encoder is a MobileNetV1Encoder (the one whose output encoder_features holds) and frozen,
// data.augment is off (augmentation changes the pixels every epoch) and
// optim.frozen_feature_cache_mb > 0.
bool uses_frozen_feature_cache(const models::Captioner& model, const RunConfig& config);

class FrozenFeatureCache {
 public:
  // Caches the output of `model`'s encoder (train/frozen_encoder.h encoder_of; throws unless it is
  // a MobileNetV1Encoder) up to `capacity_bytes`. The model must outlive the cache.
  FrozenFeatureCache(const models::Captioner& model, int64_t capacity_bytes);

  // `inputs` (the pixels of `batch`) with encoder_features [B, C, h, w] filled in batch order, on
  // the encoder's device: the rows of images seen before from the cache, the others computed by
  // the encoder in evaluation mode without gradient, and stored while the bound allows. The
  // pixels stay in the result (blank_inputs needs them).
  models::CaptionerInputs fill(const data::CaptionBatch& batch, models::CaptionerInputs inputs);

  int64_t capacity_bytes() const { return capacity_bytes_; }
  int64_t stored_bytes() const { return stored_bytes_; }
  int64_t stored_images() const { return static_cast<int64_t>(features_.size()); }
  // Images run through the encoder so far (misses, and images beyond the bound each time).
  int64_t computed_images() const { return computed_images_; }
  // Whether the features of image `image_id` are stored.
  bool contains(int64_t image_id) const { return features_.count(image_id) != 0; }

 private:
  std::shared_ptr<models::MobileNetV1Encoder> encoder_;
  int64_t capacity_bytes_;
  int64_t stored_bytes_ = 0;
  int64_t computed_images_ = 0;
  std::unordered_map<int64_t, Tensor> features_;  // image id -> [C, h, w], a copy of its own
};

}  // namespace sparsecap::train
