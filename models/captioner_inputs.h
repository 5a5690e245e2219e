#pragma once
// The images of a batch as a captioner sees them: pixels (or what a frozen encoder made of them), or
// detector-style region features with their boxes and mask. Training builds them from data
// batches, decoding passes them to encode().
#include <cstdint>
#include <utility>

#include "engine/tensor.h"

namespace sparsecap::models {

// What a captioner reads from the data; the loader assembles only these.
struct CaptionerInputKinds {
  bool pixels = false;           // images [B, 3, H, W]
  bool region_features = false;  // region features, their mask, the mean (fc) feature and boxes
};

// One batch of images as the model sees them. A captioner reads the fields its input_kinds()
// asks for; the others stay undefined.
struct CaptionerInputs {
  CaptionerInputs() = default;
  // A batch of pixels alone, the input of models that see images (implicit, so pixel-only call
  // sites read `beam_search(model, images)`).
  CaptionerInputs(Tensor images) : images(std::move(images)) {}  // NOLINT(google-explicit-constructor)

  Tensor images;           // [B, 3, H, W] normalised pixels
  Tensor region_features;  // [B, R, D]
  Tensor region_mask;      // [B, R]: 1 on real regions, 0 on padding
  Tensor fc_features;      // [B, D]
  // [B, R, 4] x0 y0 x1 y1 divided by the image width and height. The models compute the box code
  // and the box-pair geometry from them on the host, so they may stay there on a GPU run.
  Tensor boxes;
  // [B, C, h, w]: the output of a frozen encoder (MobileNetV1Encoder::feature_map) of these images,
  // given in place of images (train/frozen_feature_cache.h), on the model's device. A captioner
  // that sees pixels reads it instead of running its encoder when it is defined; `images` may
  // still be there (blank_inputs needs them).
  Tensor encoder_features;

  // B, from whichever field is defined; throws when none is.
  int64_t batch_size() const;
};

}  // namespace sparsecap::models
