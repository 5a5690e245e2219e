#pragma once
// Fixed 0/1 masks on prunable weights, the transform the non-learned methods share: each weight
// computes with W ⊙ M through Parameter::effective(), so a pruned weight gets zero gradient, and
// its stored value is zeroed whenever the mask changes and after every optimizer step (Adam's
// moments from before the pruning would otherwise keep moving it). finalize() bakes W ← W ⊙ M
// and detaches the transforms.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/parameter.h"
#include "pruning/report.h"

namespace sparsecap::pruning {

// W ⊙ M for one weight; M float32 0/1 of W's shape.
class MaskTransform : public nn::WeightTransform {
 public:
  explicit MaskTransform(Tensor mask) : mask_(std::move(mask)) {}
  Tensor apply(const Tensor& weight, bool training) override;
  std::string description() const override { return "magnitude mask"; }
  const Tensor& mask() const { return mask_; }
  void set_mask(Tensor mask) { mask_ = std::move(mask); }

 private:
  Tensor mask_;
};

class MaskedWeights {
 public:
  // All-ones masks on every weight of `weights` (model order).
  void attach(const std::vector<nn::ParameterPtr>& weights);
  const std::vector<nn::ParameterPtr>& weights() const { return weights_; }
  std::vector<Tensor> masks() const;

  // New masks (one per weight, its shape); pruned weights are zeroed at once.
  void set_masks(const std::vector<Tensor>& masks);
  // W ← W ⊙ M for every weight (after an optimizer step).
  void zero_pruned_weights();
  // W ← W ⊙ M, transforms detached; the object is empty afterwards.
  void finalize();

  // Kept and total per weight, from the masks.
  SparsityReport report() const;
  // The masks keyed "<weight name>.mask", and their restoration (a checkpoint without any keeps
  // the current masks; one with only some is an error).
  std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  void load_state(const std::map<std::string, Tensor>& tensors);

 private:
  std::vector<nn::ParameterPtr> weights_;
  std::vector<std::shared_ptr<MaskTransform>> transforms_;
};

}  // namespace sparsecap::pruning
