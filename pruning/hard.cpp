#include "pruning/hard.h"

#include <cmath>

#include "engine/json_fields.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

void to_json(nlohmann::json& json, const HardPruningOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"scope", mask_scope_name(options.scope)},
          {"prune_fraction", options.prune_fraction},
          {"restart_schedule", options.restart_schedule},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, HardPruningOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json, {"target_sparsity", "scope", "prune_fraction", "restart_schedule", "tolerance"}, section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "prune_fraction", options.prune_fraction, section);
  read_field(json, "restart_schedule", options.restart_schedule, section);
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.prune_fraction >= 0 && options.prune_fraction < 1, "pruning.prune_fraction ",
                  options.prune_fraction, " outside [0, 1)");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

HardPruning::HardPruning(HardPruningOptions options, int64_t total_steps)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance),
      options_(options),
      prune_step_(static_cast<int64_t>(std::floor(options.prune_fraction * static_cast<double>(total_steps))) + 1) {}

double HardPruning::scheduled_sparsity(int64_t step) const {
  return step >= prune_step_ ? options_.target_sparsity : 0.0;
}

std::vector<Tensor> HardPruning::compute_masks(double sparsity, int64_t) {
  return magnitude_masks(masked_weights().weights(), sparsity, options_.scope);
}

PruningMethodRegistration hard_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         HardPruningOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo& run) {
                                     HardPruningOptions options;
                                     from_json(section, options);
                                     return std::unique_ptr<PruningMethod>(
                                         std::make_unique<HardPruning>(options, run.total_steps));
                                   }};
}

}  // namespace sparsecap::pruning
