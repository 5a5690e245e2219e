#include "pruning/lstm_policy.h"

#include <algorithm>

#include "engine/json_fields.h"
#include "pruning/method_registry.h"
#include "pruning/threshold_policy.h"

namespace sparsecap::pruning {

namespace {

// A key that may be null (the default: unset).
template <typename T>
void read_optional_field(const nlohmann::json& json, const char* key, std::optional<T>& value,
                         const std::string& section) {
  if (!json.contains(key)) return;
  if (json.at(key).is_null()) {
    value.reset();
    return;
  }
  T read{};
  read_field(json, key, read, section);
  value = read;
}

std::string type_name(LstmPolicyType type) {
  switch (type) {
    case LstmPolicyType::I: return "I";
    case LstmPolicyType::II: return "II";
    case LstmPolicyType::III: return "III";
    case LstmPolicyType::IV: return "IV";
  }
  return "?";
}

LstmPolicyType parse_type(const std::string& name) {
  if (name == "I") return LstmPolicyType::I;
  if (name == "II") return LstmPolicyType::II;
  if (name == "III") return LstmPolicyType::III;
  if (name == "IV") return LstmPolicyType::IV;
  throw Error("pruning.type: unknown policy \"" + name + "\" (known: I, II, III, IV)");
}

}  // namespace

void to_json(nlohmann::json& json, const LstmPolicyOptions& options) {
  json = {{"type", type_name(options.type)},
          {"target_sparsity", options.target_sparsity},
          {"increase_every", options.increase_every},
          {"stop_epoch", options.stop_epoch},
          {"update_every", options.update_every},
          {"start_iteration", options.start_iteration},
          {"end_iteration", options.end_iteration ? nlohmann::json(*options.end_iteration) : nlohmann::json()},
          {"slope", options.slope ? nlohmann::json(*options.slope) : nlohmann::json()},
          {"scope", mask_scope_name(options.scope)},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, LstmPolicyOptions& options) {
  const std::string section = "pruning";
  check_known_keys(
      json,
      {"type", "target_sparsity", "increase_every", "stop_epoch", "update_every", "start_iteration", "end_iteration",
       "slope", "scope", "tolerance"},
      section);
  std::string type = type_name(options.type);
  read_field(json, "type", type, section);
  options.type = parse_type(type);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  read_field(json, "increase_every", options.increase_every, section);
  read_field(json, "stop_epoch", options.stop_epoch, section);
  read_field(json, "update_every", options.update_every, section);
  read_field(json, "start_iteration", options.start_iteration, section);
  read_optional_field(json, "end_iteration", options.end_iteration, section);
  read_optional_field(json, "slope", options.slope, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.increase_every >= 1, "pruning.increase_every ", options.increase_every, " must be >= 1");
  SPARSECAP_CHECK(options.stop_epoch >= 2, "pruning.stop_epoch ", options.stop_epoch,
                  " must be >= 2 (Type III starts in epoch 2)");
  SPARSECAP_CHECK(options.update_every >= 1, "pruning.update_every ", options.update_every, " must be >= 1");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
  SPARSECAP_CHECK(options.start_iteration >= 1, "pruning.start_iteration ", options.start_iteration, " must be >= 1");
  SPARSECAP_CHECK(!options.end_iteration || *options.end_iteration >= options.start_iteration,
                  "pruning.end_iteration ", options.end_iteration.value_or(0), " is before start_iteration ",
                  options.start_iteration);
  SPARSECAP_CHECK(!options.slope || *options.slope > 0, "pruning.slope ", options.slope.value_or(0),
                  " must be positive");
  SPARSECAP_CHECK(options.type != LstmPolicyType::IV || options.slope, "pruning.slope is required for type IV");
}

ThresholdPolicySchedule threshold_policy_schedule(const LstmPolicyOptions& options, int64_t total_steps) {
  return ThresholdPolicySchedule{
      .start_step = options.start_iteration,
      .end_step = options.end_iteration.value_or(std::max(options.start_iteration, total_steps / 2)),
      .update_every = options.update_every,
      .slope = options.slope.value_or(0.0)};
}

LstmPolicyPruning::LstmPolicyPruning(LstmPolicyOptions options, int64_t steps_per_epoch)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance),
      options_(options),
      start_step_(options.type == LstmPolicyType::I ? 2 : steps_per_epoch + 1) {
  SPARSECAP_CHECK(options_.type != LstmPolicyType::IV,
                  "lstm_policy: type IV is the threshold policy (ThresholdPolicyPruning), not a sort-based one");
  if (options_.type == LstmPolicyType::III) {
    const int64_t stop_step = (options_.stop_epoch - 1) * steps_per_epoch + 1;
    increases_ = std::max<int64_t>(stop_step - start_step_, 0) / options_.increase_every + 1;
  }
}

double LstmPolicyPruning::scheduled_sparsity(int64_t step) const {
  if (step < start_step_) return 0.0;
  if (options_.type != LstmPolicyType::III) return options_.target_sparsity;
  const int64_t reached = std::min((step - start_step_) / options_.increase_every + 1, increases_);
  return options_.target_sparsity * static_cast<double>(reached) / static_cast<double>(increases_);
}

bool LstmPolicyPruning::updates_masks_at(int64_t step) const {
  if (step < start_step_) return false;
  // Every update_every steps from the start, and at every increase of Type III.
  const bool periodic = (step - start_step_) % options_.update_every == 0;
  const bool increase = options_.type == LstmPolicyType::III && (step - start_step_) % options_.increase_every == 0 &&
                        (step - start_step_) / options_.increase_every < increases_;
  return periodic || increase;
}

std::vector<Tensor> LstmPolicyPruning::compute_masks(double sparsity, int64_t) {
  return shrinking_magnitude_masks(sparsity, options_.scope);
}

PruningMethodRegistration lstm_policy_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         LstmPolicyOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo& run) {
                                     LstmPolicyOptions options;
                                     from_json(section, options);
                                     if (options.type == LstmPolicyType::IV)
                                       return std::unique_ptr<PruningMethod>(std::make_unique<ThresholdPolicyPruning>(
                                           threshold_policy_schedule(options, run.total_steps)));
                                     return std::unique_ptr<PruningMethod>(
                                         std::make_unique<LstmPolicyPruning>(options, run.steps_per_epoch));
                                   }};
}

}  // namespace sparsecap::pruning
