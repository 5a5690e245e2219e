#include "pruning/scheduled_mask_pruning.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

ScheduledMaskPruning::ScheduledMaskPruning(double target, double tolerance) : target_(target), tolerance_(tolerance) {
  SPARSECAP_CHECK(target >= 0 && target < 1, "pruning.target_sparsity ", target, " outside [0, 1)");
  SPARSECAP_CHECK(tolerance >= 0, "pruning.tolerance ", tolerance, " is negative");
}

void ScheduledMaskPruning::before_step(int64_t step) {
  if (updates_masks_at(step)) masked_.set_masks(compute_masks(scheduled_sparsity(step), step));
}

void ScheduledMaskPruning::after_optimizer_step(int64_t) { masked_.zero_pruned_weights(); }

bool ScheduledMaskPruning::target_reached() const {
  return std::abs(masked_.report().sparsity() - target_) <= tolerance_;
}

nlohmann::json ScheduledMaskPruning::statistics_record(int64_t step, double caption_loss) const {
  const SparsityReport report = masked_.report();
  nlohmann::json per_mask = nlohmann::json::object();
  for (const LayerSparsity& layer : report.layers) per_mask[layer.name] = layer.sparsity();
  return {{"step", step},
          {"caption_loss", caption_loss},
          {"scheduled_sparsity", scheduled_sparsity(step)},
          {"sparsity", report.sparsity()},
          {"nnz", report.kept},
          {"per_mask_sparsity", per_mask}};
}

std::vector<Tensor> ScheduledMaskPruning::shrinking_magnitude_masks(double sparsity, MaskScope scope) const {
  NoGradGuard no_grad;
  std::vector<Tensor> scores = magnitude_scores(masked_.weights(), scope);
  const std::vector<Tensor> masks = masked_.masks();
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = mul(scores[i], masks[i]);
  return masks_from_scores(scores, sparsity, scope != MaskScope::Uniform);
}

void ScheduledMaskPruning::load_state(const std::map<std::string, Tensor>& tensors,
                                      const std::map<std::string, std::string>&) {
  masked_.load_state(tensors);
}

}  // namespace sparsecap::pruning
