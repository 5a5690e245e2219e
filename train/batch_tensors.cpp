#include "train/batch_tensors.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::train {

models::CaptionerInputs captioner_inputs(const data::CaptionBatch& batch, Device device) {
  models::CaptionerInputs inputs;
  const int64_t images = batch.image_count;
  if (!batch.pixels.empty())
    inputs.images = from_vector(batch.pixels, {images, 3, batch.image_height, batch.image_width}, device);
  if (!batch.region_features.empty()) {
    inputs.region_features = from_vector(batch.region_features, {images, batch.max_regions, batch.feature_dim}, device);
    inputs.region_mask = from_vector(batch.region_mask, {images, batch.max_regions}, device);
    inputs.fc_features = from_vector(batch.fc_features, {images, batch.feature_dim}, device);
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
    if (field->defined()) *field = zeros(field->shape(), field->dtype(), field->device());
  return blank;
}

Tensor caption_tensor(const data::CaptionBatch& batch, Device device) {
  return from_vector(batch.captions, {batch.image_count * batch.seq_per_img, batch.sequence_length}, device);
}

namespace {

// `host` copied to a new tensor on `device` beside the compute; the copy's fence joins `fences`.
// (Each fence is kept until the batch is used: dropping one would make the compute stream wait
// for its copy at once.)
Tensor copied_beside(const Tensor& host, Device device, std::vector<std::shared_ptr<CopyFence>>& fences) {
  Tensor out = Tensor::empty(host.shape(), host.dtype(), device);
  std::shared_ptr<CopyFence> fence =
      backend_for(device).copy_from_host_beside(out.raw_data(), host.raw_data(), host.nbytes());
  if (fence) fences.push_back(std::move(fence));
  return out;
}

}  // namespace

DeviceBatch device_batch(data::CaptionBatch batch, Device device) {
  DeviceBatch out;
  out.device = device;
  out.inputs = captioner_inputs(batch);  // on the host; the boxes stay there
  for (Tensor* field : {&out.inputs.images, &out.inputs.region_features, &out.inputs.region_mask,
                        &out.inputs.fc_features})
    if (field->defined() && !device.is_cpu()) *field = copied_beside(*field, device, out.copies);
  out.captions = caption_tensor(batch);
  // The pixels and features now live in the tensors; the host copies would only hold memory.
  batch.pixels = {};
  batch.region_features = {};
  batch.fc_features = {};
  out.host = std::move(batch);
  return out;
}

void wait_for_inputs(const DeviceBatch& batch) {
  for (const std::shared_ptr<CopyFence>& fence : batch.copies) backend_for(batch.device).wait_for_copies(*fence);
}

}  // namespace sparsecap::train
