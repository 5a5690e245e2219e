#pragma once
// The shared part of the mask methods (hard, gradual, ...): fixed masks on the prunable weights
// (pruning/masked_weights.h), recomputed from a score at the steps a subclass names, to the
// sparsity its schedule gives there. It logs, checkpoints, reports and finalizes like Supermask.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pruning/mask_thresholds.h"
#include "pruning/masked_weights.h"
#include "pruning/method.h"

namespace sparsecap::pruning {

class ScheduledMaskPruning : public PruningMethod {
 public:
  // `tolerance`: the run counts as pruned to `target` once |sparsity − target| <= tolerance.
  ScheduledMaskPruning(double target, double tolerance);

  void attach(const std::vector<nn::ParameterPtr>& weights) override { masked_.attach(weights); }
  // Recomputes the masks when updates_masks_at(step).
  void before_step(int64_t step) override;
  // Keeps pruned weights at zero.
  void after_optimizer_step(int64_t step) override;
  void finalize() override { masked_.finalize(); }

  std::optional<double> target_sparsity() const override { return target_; }
  SparsityReport sparsity() const override { return masked_.report(); }
  bool target_reached() const override;
  // step, caption_loss, scheduled_sparsity (the schedule's value at `step`), sparsity, nnz and
  // per_mask_sparsity (the fields Supermask logs for its masks).
  nlohmann::json statistics_record(int64_t step, double caption_loss) const override;

  std::vector<std::pair<std::string, Tensor>> state_tensors() const override { return masked_.state_tensors(); }
  void load_state(const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) override;

  // The sparsity the schedule asks for at `step` (1-based).
  virtual double scheduled_sparsity(int64_t step) const = 0;
  // Whether the masks are recomputed before `step`.
  virtual bool updates_masks_at(int64_t step) const = 0;

  const MaskedWeights& masked_weights() const { return masked_; }

 protected:
  // The masks for `sparsity` at `step` (the current weights, scores and scope are the subclass's).
  virtual std::vector<Tensor> compute_masks(double sparsity, int64_t step) = 0;
  MaskedWeights& masked() { return masked_; }
  // Masks by the scope's magnitude score in which every pruned weight scores 0, so a weight once
  // pruned stays pruned (under "distribution" a zeroed weight could otherwise score high again).
  std::vector<Tensor> shrinking_magnitude_masks(double sparsity, MaskScope scope) const;

 private:
  double target_;
  double tolerance_;
  MaskedWeights masked_;
};

}  // namespace sparsecap::pruning
