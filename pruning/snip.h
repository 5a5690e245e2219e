#pragma once
// SNIP (Lee et al. 2019) as the Supermask paper's baseline runs it: at the initialisation, the
// saliency of weight j is |∂L/∂m_j| for a multiplicative mask m of ones, i.e. |(∂L/∂W') ⊙ W|,
// over the loss summed across the first `batches` training batches, normalised by its sum over
// every prunable weight; the smallest are pruned (one global threshold) before step 1 and the
// masks stay fixed. The absolute value is taken (the TensorFlow reference; the PyTorch one forgot
// it). The trainer supplies the gradients through PruningMethod::initial_gradient_batches().
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pruning/scheduled_mask_pruning.h"

namespace sparsecap::pruning {

struct SnipOptions {
  double target_sparsity = 0.9;
  int64_t batches = 1;        // N: batches whose summed loss the saliency is taken of
  double tolerance = 0.001;
};

// JSON: {"target_sparsity", "batches", "tolerance"}; unknown keys and out-of-range values throw.
void to_json(nlohmann::json& json, const SnipOptions& options);
void from_json(const nlohmann::json& json, SnipOptions& options);

class SnipPruning : public ScheduledMaskPruning {
 public:
  explicit SnipPruning(SnipOptions options);

  std::string name() const override { return "snip"; }
  int64_t initial_gradient_batches() const override { return options_.batches; }
  // Adds this batch's ∂L/∂m = (∂L/∂W') ⊙ W (the masks are all ones, so W's gradient is ∂L/∂W').
  void observe_initial_gradients() override;
  double scheduled_sparsity(int64_t) const override { return options_.target_sparsity; }
  bool updates_masks_at(int64_t step) const override { return step == 1; }

  // |Σ_batches ∂L/∂m| / Σ over all weights, per weight (after observe_initial_gradients).
  std::vector<Tensor> saliency() const;
  int64_t observed_batches() const { return observed_batches_; }

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  SnipOptions options_;
  std::vector<Tensor> mask_gradients_;  // Σ_batches ∂L/∂m per weight
  int64_t observed_batches_ = 0;
};

struct PruningMethodRegistration;
PruningMethodRegistration snip_registration();

}  // namespace sparsecap::pruning
