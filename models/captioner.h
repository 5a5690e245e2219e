#pragma once
// The interface every captioner implements (Soft-Attention, and the captioners to come): a
// teacher-forced loss on a batch, encode/decode_step for greedy and beam search, which parameters
// a pruning method may prune, and which weight matrices an export stores as CSR and a loaded
// export computes through SpMM. Training, evaluation, captioning, export and the benchmarks see
// only this interface; models/captioner_registry.h builds the concrete classes.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/rng.h"
#include "engine/sparse/csr_matrix.h"
#include "models/captioner_inputs.h"
#include "models/decoding.h"

namespace sparsecap::models {

class RegionFeatureStandardizer;  // models/region_feature_standardizer.h

// CSR weights by full parameter name ("decoder.logit.weight").
using SparseWeights = std::map<std::string, std::shared_ptr<const sparse::CsrMatrix>>;

class Captioner : public nn::Module, public StepwiseCaptioner {
 public:
  // The registry key ("soft_attention").
  virtual std::string type() const = 0;
  virtual CaptionerInputKinds input_kinds() const = 0;

  // Mean cross-entropy over the non-PAD targets captions[:, 1:] (EOS included). captions I64
  // [B * seq_per_img, L] hold BOS w.. EOS PAD..; the captions of image b are rows
  // b * seq_per_img .. + seq_per_img - 1. On the host or the model's device: the models read the
  // caption lengths on the host, so host captions spare a GPU run a wait inside the step.
  virtual Tensor loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) = 0;

  // The device of the model's parameters: where it decodes.
  Device decoding_device() const override { return device(); }

  // Beam size and caption length the model decodes with unless told otherwise.
  virtual DecodingOptions decoding_options() const = 0;

  // Dropout draws come from here; checkpoints save and restore it so a resumed run replays.
  virtual Generator& dropout_generator() = 0;

  // The parameters a pruning method may prune, in model order (the order fixes each gate's
  // Philox stream). Default: every weight and embedding, no biases or normalisation parameters.
  virtual std::vector<nn::ParameterPtr> prunable_parameters() const;

  // The names an export stores as CSR: by default the prunable parameters of two or more
  // dimensions (a convolution kernel as its [O, C*kh*kw] matrix view).
  virtual std::vector<std::string> csr_weight_names() const;
  // Of those, the weights this model computes through SpMM once loaded from an export; the
  // others (e.g. convolutions) are loaded back dense.
  virtual std::vector<std::string> sparse_compute_weight_names() const = 0;
  // From now on every layer whose weight is in `weights` computes through the sparse path
  // (inference only). Throws naming a weight not in sparse_compute_weight_names() or whose shape
  // differs from the parameter's.
  virtual void use_sparse_weights(const SparseWeights& weights) = 0;

  // The model's standardizer of region features when it has one (model.standardize_features),
  // whose statistics the trainer measures for a fresh run; nullptr otherwise.
  virtual RegionFeatureStandardizer* region_feature_standardizer() { return nullptr; }
};

}  // namespace sparsecap::models
