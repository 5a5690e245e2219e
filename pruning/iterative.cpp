#include "pruning/iterative.h"

#include <cmath>

#include "engine/json_fields.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

void to_json(nlohmann::json& json, const IterativePruningOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"rounds", options.rounds},
          {"dense_fraction", options.dense_fraction},
          {"scope", mask_scope_name(options.scope)},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, IterativePruningOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json, {"target_sparsity", "rounds", "dense_fraction", "scope", "tolerance"}, section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  read_field(json, "rounds", options.rounds, section);
  read_field(json, "dense_fraction", options.dense_fraction, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.rounds >= 1, "pruning.rounds ", options.rounds, " must be >= 1");
  SPARSECAP_CHECK(options.dense_fraction >= 0 && options.dense_fraction < 1, "pruning.dense_fraction ",
                  options.dense_fraction, " outside [0, 1)");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

IterativePruning::IterativePruning(IterativePruningOptions options, int64_t total_steps)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance), options_(options), total_steps_(total_steps) {}

int64_t IterativePruning::round_step(int64_t round) const {
  const double d = options_.dense_fraction;
  const double fraction = d + (1 - d) * static_cast<double>(round - 1) / static_cast<double>(options_.rounds);
  return static_cast<int64_t>(std::floor(fraction * static_cast<double>(total_steps_))) + 1;
}

double IterativePruning::scheduled_sparsity(int64_t step) const {
  int64_t done = 0;
  for (int64_t round = 1; round <= options_.rounds && round_step(round) <= step; ++round) done = round;
  return 1.0 - std::pow(1.0 - options_.target_sparsity, static_cast<double>(done) / static_cast<double>(options_.rounds));
}

bool IterativePruning::updates_masks_at(int64_t step) const {
  for (int64_t round = 1; round <= options_.rounds; ++round)
    if (round_step(round) == step) return true;
  return false;
}

std::vector<Tensor> IterativePruning::compute_masks(double sparsity, int64_t) {
  return shrinking_magnitude_masks(sparsity, options_.scope);
}

PruningMethodRegistration iterative_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         IterativePruningOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo& run) {
                                     IterativePruningOptions options;
                                     from_json(section, options);
                                     return std::unique_ptr<PruningMethod>(
                                         std::make_unique<IterativePruning>(options, run.total_steps));
                                   }};
}

}  // namespace sparsecap::pruning
