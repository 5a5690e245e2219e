#include "pruning/gradual.h"

#include <algorithm>

#include "engine/json_fields.h"
#include "pruning/method_registry.h"

namespace sparsecap::pruning {

void to_json(nlohmann::json& json, const GradualPruningOptions& options) {
  json = {{"target_sparsity", options.target_sparsity},
          {"initial_sparsity", options.initial_sparsity},
          {"start_step", options.start_step ? nlohmann::json(*options.start_step) : nlohmann::json()},
          {"update_every", options.update_every},
          {"end_fraction", options.end_fraction},
          {"exponent", options.exponent},
          {"scope", mask_scope_name(options.scope)},
          {"tolerance", options.tolerance}};
}

void from_json(const nlohmann::json& json, GradualPruningOptions& options) {
  const std::string section = "pruning";
  check_known_keys(json,
                   {"target_sparsity", "initial_sparsity", "start_step", "update_every", "end_fraction", "exponent",
                    "scope", "tolerance"},
                   section);
  read_field(json, "target_sparsity", options.target_sparsity, section);
  read_field(json, "initial_sparsity", options.initial_sparsity, section);
  if (json.contains("start_step")) {
    if (json.at("start_step").is_null()) {
      options.start_step.reset();
    } else {
      int64_t start = 0;
      read_field(json, "start_step", start, section);
      SPARSECAP_CHECK(start >= 1, "pruning.start_step ", start, " must be >= 1");
      options.start_step = start;
    }
  }
  read_field(json, "update_every", options.update_every, section);
  read_field(json, "end_fraction", options.end_fraction, section);
  read_field(json, "exponent", options.exponent, section);
  std::string scope = mask_scope_name(options.scope);
  read_field(json, "scope", scope, section);
  options.scope = parse_mask_scope(scope, "pruning.scope");
  read_field(json, "tolerance", options.tolerance, section);
  SPARSECAP_CHECK(options.target_sparsity >= 0 && options.target_sparsity < 1, "pruning.target_sparsity ",
                  options.target_sparsity, " outside [0, 1)");
  SPARSECAP_CHECK(options.initial_sparsity >= 0 && options.initial_sparsity <= options.target_sparsity,
                  "pruning.initial_sparsity ", options.initial_sparsity, " outside [0, target_sparsity ",
                  options.target_sparsity, "]");
  SPARSECAP_CHECK(options.update_every >= 1, "pruning.update_every ", options.update_every, " must be >= 1");
  SPARSECAP_CHECK(options.end_fraction > 0 && options.end_fraction <= 1, "pruning.end_fraction ",
                  options.end_fraction, " outside (0, 1]");
  SPARSECAP_CHECK(options.exponent > 0, "pruning.exponent ", options.exponent, " must be positive");
  SPARSECAP_CHECK(options.tolerance >= 0, "pruning.tolerance ", options.tolerance, " is negative");
}

PolynomialSparsitySchedule gradual_schedule(const GradualPruningOptions& options, const PruningRunInfo& run) {
  // The reference's t0 = steps per epoch counts finished steps (TensorFlow's global step); here
  // steps are 1-based, so the first step of epoch 2 is steps_per_epoch + 1.
  const int64_t start = options.start_step.value_or(run.steps_per_epoch + 1);
  return zhu_gupta_schedule(options.initial_sparsity, options.target_sparsity, start, options.update_every,
                            options.end_fraction, options.exponent, run.total_steps);
}

GradualPruning::GradualPruning(GradualPruningOptions options, PolynomialSparsitySchedule schedule)
    : ScheduledMaskPruning(options.target_sparsity, options.tolerance), options_(options), schedule_(schedule) {}

std::vector<Tensor> GradualPruning::compute_masks(double sparsity, int64_t) {
  return shrinking_magnitude_masks(sparsity, options_.scope);  // Zhu & Gupta's masks only shrink
}

PruningMethodRegistration gradual_registration() {
  return PruningMethodRegistration{.resolve =
                                       [](const nlohmann::json& section) {
                                         GradualPruningOptions options;
                                         from_json(section, options);
                                         return nlohmann::json(options);
                                       },
                                   .make = [](const nlohmann::json& section, const PruningRunInfo& run) {
                                     GradualPruningOptions options;
                                     from_json(section, options);
                                     return std::unique_ptr<PruningMethod>(
                                         std::make_unique<GradualPruning>(options, gradual_schedule(options, run)));
                                   }};
}

}  // namespace sparsecap::pruning
