#pragma once
// Iterative magnitude pruning (Han et al., "Learning both weights and connections", 2015): train,
// prune, retrain, and again, for `rounds` rounds to the target. The dense model trains for the
// first ⌊dense_fraction·T⌋ steps; the remaining steps are split into equal retraining periods,
// each opened by a pruning round. Each round keeps the same share of the surviving weights, so
// after round r of R the sparsity is 1 − (1 − s)^(r/R). Han et al. prune each layer below
// quality · std of its weights; the default scope "distribution" is that criterion with one global
// quality factor chosen to hit the round's sparsity. Pruned weights never come back.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "pruning/mask_thresholds.h"
#include "pruning/scheduled_mask_pruning.h"

namespace sparsecap::pruning {

struct IterativePruningOptions {
  double target_sparsity = 0.9;
  int64_t rounds = 3;
  double dense_fraction = 0.25;
  MaskScope scope = MaskScope::Distribution;
  double tolerance = 0.001;
};

// JSON: {"target_sparsity", "rounds", "dense_fraction", "scope", "tolerance"}; unknown keys and
// out-of-range values throw naming the key.
void to_json(nlohmann::json& json, const IterativePruningOptions& options);
void from_json(const nlohmann::json& json, IterativePruningOptions& options);

class IterativePruning : public ScheduledMaskPruning {
 public:
  IterativePruning(IterativePruningOptions options, int64_t total_steps);

  std::string name() const override { return "iterative"; }
  double scheduled_sparsity(int64_t step) const override;
  bool updates_masks_at(int64_t step) const override;

  // The step before which round r (1-based) prunes: ⌊(d + (1 − d)(r − 1)/R)·T⌋ + 1.
  int64_t round_step(int64_t round) const;

 protected:
  std::vector<Tensor> compute_masks(double sparsity, int64_t step) override;

 private:
  IterativePruningOptions options_;
  int64_t total_steps_;
};

struct PruningMethodRegistration;
PruningMethodRegistration iterative_registration();

}  // namespace sparsecap::pruning
