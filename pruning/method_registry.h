#pragma once
// The one place that builds pruning methods: make_pruning_method(pruning_json, run), keyed by the
// section's "method". The trainer, loading a trained run and export build methods here; nothing
// else names a concrete method class.
//
// Adding a method: its own files (a class implementing PruningMethod and a function returning its
// PruningMethodRegistration) and one line in method_registry.cpp's table; tests may register more
// methods at run time with register_pruning_method.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pruning/method.h"

namespace sparsecap::pruning {

// What a method may need of the run besides its own section.
struct PruningRunInfo {
  int64_t total_steps = 1;  // optimizer steps of the whole run (schedules, annealing)
  uint64_t seed = 0;        // the run's seed (Philox mask draws)
  int64_t steps_per_epoch = 0;  // optimizer steps of one epoch (0: unknown, e.g. loading a trained run)
};

struct PruningMethodRegistration {
  // The section (without "method") with every default filled in; throws naming the key for
  // unknown keys, wrong types and out-of-range values.
  std::function<nlohmann::json(const nlohmann::json& section)> resolve;
  // The method for a resolved section.
  std::function<std::unique_ptr<PruningMethod>(const nlohmann::json& section, const PruningRunInfo& run)> make;
};

// The section with "method" (default "none") and every default filled in. Errors name the key;
// an unknown method lists the known ones.
nlohmann::json resolve_pruning_config(const nlohmann::json& pruning);

std::unique_ptr<PruningMethod> make_pruning_method(const nlohmann::json& pruning, const PruningRunInfo& run);

// Adds (or replaces) a method; for methods that live outside pruning/, such as tests'.
void register_pruning_method(const std::string& name, PruningMethodRegistration registration);
std::vector<std::string> pruning_method_names();

}  // namespace sparsecap::pruning
