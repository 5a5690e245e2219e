#include "pruning/lottery.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

void to_json(nlohmann::json& json, const LotteryOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"scope", mask_scope_name(options.scope)},
          {"reset_fraction", options.reset_fraction},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, LotteryOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json, {"target_sparsity", "scope", "reset_fraction", "tolerance"}, section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "reset_fraction", options.reset_fraction, section);
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.reset_fraction > 0 && options.reset_fraction < 1, "pruning.reset_fraction ",
                  options.reset_fraction, " outside (0, 1)");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

LotteryPruning::LotteryPruning(LotteryOptions options, int64_t total_steps)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance),
      options_(options),
      reset_step_(static_cast<int64_t>(std::floor(options.reset_fraction * static_cast<double>(total_steps))) + 1) {}

void LotteryPruning::begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) {
  attach(weights);
  NoGradGuard no_grad;
  parameters_ = optimizer.parameters();
  for (const nn::ParameterPtr& parameter : parameters_) initial_.push_back(parameter->value().detach().clone());
}

void LotteryPruning::before_step(int64_t step) {
  if (step != reset_step_) return;
  const std::vector<Tensor> masks = compute_masks(options_.target_sparsity, step);
  reset_to_initialisation();
  masked().set_masks(masks);
}

double LotteryPruning::scheduled_sparsity(int64_t step) const {
  return step >= reset_step_ ? options_.target_sparsity : 0.0;
}

std::vector<Tensor> LotteryPruning::compute_masks(double sparsity, int64_t) {
  return magnitude_masks(masked_weights().weights(), sparsity, options_.scope);
}

void LotteryPruning::reset_to_initialisation() {
  SPARSECAP_CHECK(!initial_.empty(), "lottery: no saved initialisation (begin() was not called)");
  NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) parameters_[i]->value().copy_(initial_[i]);
}

std::vector<std::pair<std::string, Tensor>> LotteryPruning::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out = ScheduledMaskPruning::state_tensors();
  for (size_t i = 0; i < parameters_.size(); ++i) out.emplace_back(parameters_[i]->name() + ".initial", initial_[i]);
  return out;
}

void LotteryPruning::load_state(const std::map<std::string, Tensor>& tensors,
                                const std::map<std::string, std::string>& metadata) {
  ScheduledMaskPruning::load_state(tensors, metadata);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto found = tensors.find(parameters_[i]->name() + ".initial");
    SPARSECAP_CHECK(found != tensors.end(), "lottery: checkpoint has no saved initialisation of ",
                    parameters_[i]->name());
    check_shape(found->second, parameters_[i]->shape(), "lottery initialisation of " + parameters_[i]->name());
    initial_[i] = found->second.to(parameters_[i]->value().device()).clone();
  }
}

PruningMethodRegistration lottery_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         LotteryOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo& run) {
                                     LotteryOptions options;
                                     from_json(section, options);
                                     return std::unique_ptr<PruningMethod>(
                                         std::make_unique<LotteryPruning>(options, run.total_steps));
                                   }};
}

}  // namespace sparsecap::pruning
