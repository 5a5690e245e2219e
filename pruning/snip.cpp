#include "pruning/snip.h"

#include "engine/autograd.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "pruning/mask_thresholds.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

void to_json(nlohmann::json& json, const SnipOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"batches", options.batches},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, SnipOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json, {"target_sparsity", "batches", "tolerance"}, section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  read_field(json, "batches", options.batches, section);
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.batches >= 1, "pruning.batches ", options.batches, " must be >= 1");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

SnipPruning::SnipPruning(SnipOptions options)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance), options_(options) {}

void SnipPruning::observe_initial_gradients() {
  NoGradGuard no_grad;
  const std::vector<nn::ParameterPtr>& weights = masked_weights().weights();
  for (size_t i = 0; i < weights.size(); ++i) {
    const Tensor grad = weights[i]->grad();
    SPARSECAP_CHECK(grad.defined(), "snip: ", weights[i]->name(), " has no gradient after the backward pass");
    const Tensor mask_gradient = mul(grad, weights[i]->value());
    if (i < mask_gradients_.size())
      mask_gradients_[i] = add(mask_gradients_[i], mask_gradient);
    else
      mask_gradients_.push_back(mask_gradient);
  }
  ++observed_batches_;
}

std::vector<Tensor> SnipPruning::saliency() const {
  NoGradGuard no_grad;
  SPARSECAP_CHECK(!mask_gradients_.empty(), "snip: no gradients observed yet (the trainer runs ", options_.batches,
                  " batches before step 1)");
  std::vector<Tensor> scores;
  double total = 0;
  for (const Tensor& gradient : mask_gradients_) {
    scores.push_back(abs(gradient));
    total += sum(scores.back()).item();
  }
  SPARSECAP_CHECK(total > 0, "snip: every saliency is zero");
  for (Tensor& score : scores) score = mul_scalar(score, 1.0 / total);
  return scores;
}

std::vector<Tensor> SnipPruning::compute_masks(double sparsity, int64_t) {
  std::vector<Tensor> masks = masks_from_scores(saliency(), sparsity, true);
  mask_gradients_.clear();  // needed once
  return masks;
}

PruningMethodRegistration snip_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         SnipOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo&) {
                                     SnipOptions options;
                                     from_json(section, options);
                                     return std::unique_ptr<PruningMethod>(std::make_unique<SnipPruning>(options));
                                   }};
}

}  // namespace sparsecap::pruning
