#include "pruning/lottery.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

namespace {

std::string source_name(LotteryMaskSource source) { return source == LotteryMaskSource::Hard ? "hard" : "gradual"; }

LotteryMaskSource parse_source(const std::string& name) {
  if (name == "hard") return LotteryMaskSource::Hard;
  if (name == "gradual") return LotteryMaskSource::Gradual;
  throw Error("pruning.masks_from: unknown source \"" + name + "\" (known: hard, gradual)");
}

}  // namespace

void to_json(nlohmann::json& json, const LotteryOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"masks_from", source_name(options.masks_from)},
          {"update_every", options.update_every},
          {"scope", mask_scope_name(options.scope)},
          {"reset_fraction", options.reset_fraction},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, LotteryOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json, {"target_sparsity", "masks_from", "update_every", "scope", "reset_fraction", "tolerance"},
                   section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  std::string source = source_name(options.masks_from);
  read_field(json, "masks_from", source, section);
  options.masks_from = parse_source(source);
  read_field(json, "update_every", options.update_every, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "reset_fraction", options.reset_fraction, section);
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.reset_fraction > 0 && options.reset_fraction < 1, "pruning.reset_fraction ",
                  options.reset_fraction, " outside (0, 1)");
  SPARSECAP_CHECK(options.update_every >= 1, "pruning.update_every ", options.update_every, " must be >= 1");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

LotteryPruning::LotteryPruning(LotteryOptions options, int64_t total_steps, int64_t steps_per_epoch)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance),
      options_(options),
      reset_step_(static_cast<int64_t>(std::floor(options.reset_fraction * static_cast<double>(total_steps))) + 1),
      first_phase_(zhu_gupta_schedule(0.0, options.target_sparsity, steps_per_epoch + 1, options.update_every, 0.5,
                                      3.0, reset_step_ - 1)) {}

bool LotteryPruning::updates_masks_at(int64_t step) const {
  if (step == reset_step_) return true;
  return options_.masks_from == LotteryMaskSource::Gradual && step < reset_step_ && first_phase_.is_update_step(step);
}

void LotteryPruning::begin(const std::vector<nn::ParameterPtr>& weights, optim::Optimizer& optimizer) {
  attach(weights);
  NoGradGuard no_grad;
  parameters_ = optimizer.parameters();
  for (const nn::ParameterPtr& parameter : parameters_) initial_.push_back(parameter->value().detach().clone());
}

void LotteryPruning::before_step(int64_t step) {
  if (step != reset_step_) {
    ScheduledMaskPruning::before_step(step);  // the gradual variant's first phase
    return;
  }
  const std::vector<Tensor> masks = compute_masks(options_.target_sparsity, step);
  reset_to_initialisation();
  masked().set_masks(masks);
}

double LotteryPruning::scheduled_sparsity(int64_t step) const {
  if (step >= reset_step_) return options_.target_sparsity;
  return options_.masks_from == LotteryMaskSource::Gradual ? first_phase_.value(step) : 0.0;
}

std::vector<Tensor> LotteryPruning::compute_masks(double sparsity, int64_t) {
  if (options_.masks_from == LotteryMaskSource::Hard)
    return magnitude_masks(masked_weights().weights(), sparsity, options_.scope);
  // The gradual run's masks; at the reset they are already at the target unless the first phase
  // was too short to reach it, and then this is its final update.
  return shrinking_magnitude_masks(sparsity, options_.scope);
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
                                         std::make_unique<LotteryPruning>(options, run.total_steps, run.steps_per_epoch));
                                   }};
}

}  // namespace sparsecap::pruning
