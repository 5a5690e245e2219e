#include "pruning/method_registry.h"

#include "engine/registry.h"
#include "pruning/gradual.h"
#include "pruning/hard.h"
#include "pruning/iterative.h"
#include "pruning/lottery.h"
#include "pruning/lstm_policy.h"
#include "pruning/no_pruning.h"
#include "pruning/snip.h"
#include "pruning/supermask.h"

namespace sparsecap::pruning {

namespace {

PruningMethodRegistration no_pruning_registration() {
  return PruningMethodRegistration{
      .resolve =
          [](const nlohmann::json& section) {
            SPARSECAP_CHECK(section.empty(), "pruning: method \"none\" takes no options, got ", section.dump());
            return nlohmann::json::object();
          },
      .make = [](const nlohmann::json&, const PruningRunInfo&) {
        return std::unique_ptr<PruningMethod>(std::make_unique<NoPruning>());
      }};
}

Registry<PruningMethodRegistration>& registry() {
  // The built-in methods: one line each.
  static Registry<PruningMethodRegistration> instance("pruning.method", {
                                                                            {"none", no_pruning_registration()},
                                                                            {"supermask", supermask_registration()},
                                                                            {"hard", hard_registration()},
                                                                            {"gradual", gradual_registration()},
                                                                            {"snip", snip_registration()},
                                                                            {"lottery", lottery_registration()},
                                                                            {"lstm_policy", lstm_policy_registration()},
                                                                            {"iterative", iterative_registration()},
                                                                        });
  return instance;
}

std::pair<std::string, nlohmann::json> split_method(const nlohmann::json& pruning) {
  return split_registry_key(pruning, "method", "none", "pruning");
}

}  // namespace

nlohmann::json resolve_pruning_config(const nlohmann::json& pruning) {
  const auto [method, section] = split_method(pruning);
  nlohmann::json resolved = {{"method", method}};
  resolved.update(registry().find(method).resolve(section));
  return resolved;
}

std::unique_ptr<PruningMethod> make_pruning_method(const nlohmann::json& pruning, const PruningRunInfo& run) {
  const auto [method, section] = split_method(pruning);
  const PruningMethodRegistration registration = registry().find(method);
  return registration.make(registration.resolve(section), run);
}

void register_pruning_method(const std::string& name, PruningMethodRegistration registration) {
  SPARSECAP_CHECK(registration.resolve && registration.make, "register_pruning_method: \"", name,
                  "\" needs both resolve and make");
  registry().add(name, std::move(registration));
}

std::vector<std::string> pruning_method_names() { return registry().names(); }

}  // namespace sparsecap::pruning
