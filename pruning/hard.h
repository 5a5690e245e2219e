#pragma once
// Hard (one-shot) magnitude pruning as the reference runs it: the dense model trains, is pruned
// once to the target by |w| (scope blind, uniform or distribution; pruning/mask_thresholds.h), and
// fine-tunes with the masks fixed and a restarted learning-rate schedule. In one run: dense for
// the first ⌊prune_fraction·T⌋ steps, pruned before the next one, fine-tuned to the end.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"

namespace sparsecap::pruning {

struct HardPruningOptions {
  double target_sparsity = 0.9;
  MaskScope scope = MaskScope::Blind;
  double prune_fraction = 0.75;  // of the run trained dense (30 of 40 epochs in the reference)
  bool restart_schedule = true;  // fresh optimizer moments and learning-rate schedule after pruning
  double tolerance = 0.001;      // |sparsity − target| that counts as reached (0.1 pp)
};

// JSON: {"target_sparsity", "scope", "prune_fraction", "restart_schedule", "tolerance"}; unknown
// keys and out-of-range values throw naming the key.
void to_json(nlohmann::json& json, const HardPruningOptions& options);
void from_json(const nlohmann::json& json, HardPruningOptions& options);

class HardPruning : public ScheduledMaskPruning {
 public:
  HardPruning(HardPruningOptions options, int64_t total_steps);

  std::string name() const override { return "hard"; }
  int64_t restart_step() const override { return options_.restart_schedule ? prune_step_ : 0; }
  double scheduled_sparsity(int64_t step) const override;
  bool updates_masks_at(int64_t step) const override { return step == prune_step_; }

  int64_t prune_step() const { return prune_step_; }  // ⌊prune_fraction·T⌋ + 1

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  HardPruningOptions options_;
  int64_t prune_step_;
};

struct PruningMethodRegistration;
PruningMethodRegistration hard_registration();

}  // namespace sparsecap::pruning
