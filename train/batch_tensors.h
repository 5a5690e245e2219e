#pragma once
// A data batch as the engine tensors a captioner reads: the inputs its input_kinds() asked the
// loader for, and the encoded captions.
#include <memory>
#include <vector>

#include "data/caption_batch.h"
#include "engine/backend.h"
#include "models/captioner_inputs.h"

namespace sparsecap::train {

// Pixels and/or region features (with mask, fc features and relative boxes), whichever the batch
// holds, on `device`; the boxes stay on the host, where the models read them.
models::CaptionerInputs captioner_inputs(const data::CaptionBatch& batch, Device device = Device::cpu());

// The same batch with nothing to see: pixels all zero (the mean colour after normalisation), region
// and fc features and boxes zero; region masks kept, so the model still attends where regions are.
// Encoder features (of the real pixels) are dropped, so the model encodes the zeroed pixels; inputs
// with encoder features but no pixels throw.
models::CaptionerInputs blank_inputs(const models::CaptionerInputs& inputs);

// I64 [image_count * seq_per_img, sequence_length]: BOS w.. EOS PAD.. per row, on `device`.
Tensor caption_tensor(const data::CaptionBatch& batch, Device device = Device::cpu());

// A training batch with its inputs on the run's device. The trainer makes these on the prefetch
// thread; on a GPU the inputs are copied on a stream of their own (Backend::copy_from_host_beside)
// while the steps before compute. The captions stay on the host: the models read their lengths
// there and copy what they compute with.
struct DeviceBatch {
  // The copies of `inputs`, none where they were complete on return (the CPU); wait_for_inputs
  // before the first use of `inputs`.
  std::vector<std::shared_ptr<CopyFence>> copies;
  Device device = Device::cpu();
  data::CaptionBatch host;  // image ids and counts (the frozen feature cache reads the ids)
  models::CaptionerInputs inputs;
  Tensor captions;  // on the host
};

DeviceBatch device_batch(data::CaptionBatch batch, Device device);

// Makes the device's later work wait for the batch's input copies (no host wait).
void wait_for_inputs(const DeviceBatch& batch);

}  // namespace sparsecap::train
