#include "train/batch_tensors.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::train {

models::CaptionerInputs captioner_inputs(const data::CaptionBatch& batch) {
  models::CaptionerInputs inputs;
  const int64_t images = batch.image_count;
  if (!batch.pixels.empty())
    inputs.images = from_vector(batch.pixels, {images, 3, batch.image_height, batch.image_width});
  if (!batch.region_features.empty()) {
    inputs.region_features = from_vector(batch.region_features, {images, batch.max_regions, batch.feature_dim});
    inputs.region_mask = from_vector(batch.region_mask, {images, batch.max_regions});
    inputs.fc_features = from_vector(batch.fc_features, {images, batch.feature_dim});
    if (!batch.relative_boxes.empty())
      inputs.boxes = from_vector(batch.relative_boxes, {images, batch.max_regions, 4});
  }
  return inputs;
}

models::CaptionerInputs blank_inputs(const models::CaptionerInputs& inputs) {
  // Encoder features are those of the real pixels: a blank control computes its own from the
  // zeroed pixels, and cannot be made without them.
  SPARSECAP_CHECK(!inputs.encoder_features.defined() || inputs.images.defined(),
                  "blank_inputs: the inputs hold encoder features without their images; the features of a blank "
                  "image cannot be made from them");
  models::CaptionerInputs blank = inputs;
  blank.encoder_features = Tensor();
  for (Tensor* field : {&blank.images, &blank.region_features, &blank.fc_features, &blank.boxes})
    if (field->defined()) *field = zeros(field->shape());
  return blank;
}

Tensor caption_tensor(const data::CaptionBatch& batch) {
  return from_vector(batch.captions, {batch.image_count * batch.seq_per_img, batch.sequence_length});
}

}  // namespace sparsecap::train
