#include "pruning/threshold_policy.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

double ThresholdPolicySchedule::threshold(int64_t step) const {
  if (step < start_step) return 0.0;
  // The threshold in effect: that of the latest update at or before `step`.
  const int64_t latest_update = start_step + (std::min(step, end_step) - start_step) / update_every * update_every;
  return slope * static_cast<double>(latest_update - start_step + 1) / static_cast<double>(update_every);
}

bool ThresholdPolicySchedule::is_update_step(int64_t step) const {
  return step >= start_step && step <= end_step && (step - start_step) % update_every == 0;
}

ThresholdPolicyPruning::ThresholdPolicyPruning(ThresholdPolicySchedule schedule) : schedule_(schedule) {
  SPARSECAP_CHECK(schedule_.start_step >= 1 && schedule_.end_step >= schedule_.start_step &&
                      schedule_.update_every >= 1 && schedule_.slope > 0,
                  "lstm_policy type IV needs 1 <= start_iteration <= end_iteration, update_every >= 1 and slope > 0; "
                  "got ",
                  schedule_.start_step, ", ", schedule_.end_step, ", ", schedule_.update_every, ", ", schedule_.slope);
}

void ThresholdPolicyPruning::before_step(int64_t step) {
  current_step_ = step;
  if (!schedule_.is_update_step(step)) return;
  NoGradGuard no_grad;
  const double threshold = schedule_.threshold(step);
  std::vector<Tensor> masks;
  for (const nn::ParameterPtr& weight : masked_.weights())  // pruned weights are zero: they stay below ε
    masks.push_back(greater_than(abs(weight->value()), threshold));
  masked_.set_masks(masks);
}

void ThresholdPolicyPruning::after_optimizer_step(int64_t) { masked_.zero_pruned_weights(); }

nlohmann::json ThresholdPolicyPruning::statistics_record(int64_t step, double caption_loss) const {
  const SparsityReport report = masked_.report();
  nlohmann::json per_mask = nlohmann::json::object();
  for (const LayerSparsity& layer : report.layers) per_mask[layer.name] = layer.sparsity();
  return {{"step", step},
          {"caption_loss", caption_loss},
          {"threshold", schedule_.threshold(step)},
          {"sparsity", report.sparsity()},
          {"nnz", report.kept},
          {"per_mask_sparsity", per_mask}};
}

void ThresholdPolicyPruning::load_state(const std::map<std::string, Tensor>& tensors,
                                        const std::map<std::string, std::string>&) {
  masked_.load_state(tensors);
}

}  // namespace sparsecap::pruning
