#include "train/frozen_feature_cache.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "train/frozen_encoder.h"

namespace sparsecap::train {

namespace {

std::shared_ptr<models::MobileNetV1Encoder> image_encoder_of(const models::Captioner& model) {
  return std::dynamic_pointer_cast<models::MobileNetV1Encoder>(encoder_of(model));
}

}  // namespace

bool uses_frozen_feature_cache(const models::Captioner& model, const RunConfig& config) {
  return model.input_kinds().pixels && config.optim.freeze_encoder && !config.data.augment &&
         config.optim.frozen_feature_cache_mb > 0 && image_encoder_of(model) != nullptr;
}

FrozenFeatureCache::FrozenFeatureCache(const models::Captioner& model, int64_t capacity_bytes)
    : encoder_(image_encoder_of(model)), capacity_bytes_(capacity_bytes) {
  SPARSECAP_CHECK(encoder_ != nullptr, "a frozen feature cache needs a MobileNet image encoder; the ", model.type(),
                  " captioner has none");
  SPARSECAP_CHECK(capacity_bytes >= 0, "frozen feature cache: the bound must be >= 0 bytes, got ", capacity_bytes);
}

models::CaptionerInputs FrozenFeatureCache::fill(const data::CaptionBatch& batch, models::CaptionerInputs inputs) {
  const Tensor& images = inputs.images;
  SPARSECAP_CHECK(images.defined(), "frozen feature cache: the batch has no pixels");
  const int64_t count = images.size(0);
  SPARSECAP_CHECK(static_cast<int64_t>(batch.image_ids.size()) == count, "frozen feature cache: ",
                  batch.image_ids.size(), " image ids for ", count, " images");

  // Batch positions whose images are not stored, encoded together in one pass; computed_row[i] is
  // position i's row of that pass (-1: stored).
  std::vector<int64_t> missing, computed_row(static_cast<size_t>(count), -1);
  for (int64_t i = 0; i < count; ++i)
    if (!contains(batch.image_ids[static_cast<size_t>(i)])) {
      computed_row[static_cast<size_t>(i)] = static_cast<int64_t>(missing.size());
      missing.push_back(i);
    }
  Tensor computed;  // [missing, C, h, w]
  if (!missing.empty()) {
    NoGradGuard no_grad;
    // A frozen encoder is in evaluation mode already while training; the cache does not rely on it.
    const bool was_training = encoder_->is_training();
    encoder_->eval();
    const Tensor selected = static_cast<int64_t>(missing.size()) == count
                                ? images
                                : index_select(images, from_vector(missing, {static_cast<int64_t>(missing.size())}));
    const Device device = encoder_->parameters().front()->value().device();
    computed = encoder_->feature_map(selected.to(device));
    encoder_->train(was_training);
    computed_images_ += static_cast<int64_t>(missing.size());
  }

  std::vector<Tensor> rows;
  rows.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t id = batch.image_ids[static_cast<size_t>(i)];
    if (computed_row[static_cast<size_t>(i)] < 0) {
      rows.push_back(features_.at(id));
      continue;
    }
    const Tensor row = computed.row(computed_row[static_cast<size_t>(i)]);
    rows.push_back(row);
    // A copy of its own, so a stored row does not keep the rest of its batch's output alive.
    const int64_t bytes = static_cast<int64_t>(row.nbytes());
    if (!contains(id) && stored_bytes_ + bytes <= capacity_bytes_) {
      features_.emplace(id, row.clone());
      stored_bytes_ += bytes;
    }
  }
  inputs.encoder_features = stack(rows, 0);
  return inputs;
}

}  // namespace sparsecap::train
