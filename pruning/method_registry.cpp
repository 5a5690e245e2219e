#include "pruning/method_registry.h"

#include <map>
#include <mutex>

#include "engine/error.h"
#include "pruning/no_pruning.h"
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

struct Registry {
  std::mutex mutex;
  std::map<std::string, PruningMethodRegistration> methods;
};

Registry& registry() {
  // The built-in methods: one line each.
  static Registry instance{.mutex = {},
                           .methods = {
                               {"none", no_pruning_registration()},
                               {"supermask", supermask_registration()},
                           }};
  return instance;
}

PruningMethodRegistration find_registration(const std::string& name) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  const auto found = r.methods.find(name);
  if (found != r.methods.end()) return found->second;
  std::string known;
  for (const auto& [method, registration] : r.methods) known += (known.empty() ? "" : ", ") + method;
  throw Error("pruning.method: unknown method \"" + name + "\" (known: " + known + ")");
}

std::pair<std::string, nlohmann::json> split_method(const nlohmann::json& pruning) {
  SPARSECAP_CHECK(pruning.is_object(), "pruning must be a JSON object, got a ", pruning.type_name());
  nlohmann::json section = pruning;
  std::string method = "none";
  if (section.contains("method")) {
    SPARSECAP_CHECK(section.at("method").is_string(), "pruning.method must be a string, got ",
                    section.at("method").dump());
    method = section.at("method").get<std::string>();
    section.erase("method");
  }
  return {method, section};
}

}  // namespace

nlohmann::json resolve_pruning_config(const nlohmann::json& pruning) {
  const auto [method, section] = split_method(pruning);
  nlohmann::json resolved = {{"method", method}};
  resolved.update(find_registration(method).resolve(section));
  return resolved;
}

std::unique_ptr<PruningMethod> make_pruning_method(const nlohmann::json& pruning, const PruningRunInfo& run) {
  const auto [method, section] = split_method(pruning);
  const PruningMethodRegistration registration = find_registration(method);
  return registration.make(registration.resolve(section), run);
}

void register_pruning_method(const std::string& name, PruningMethodRegistration registration) {
  SPARSECAP_CHECK(registration.resolve && registration.make, "register_pruning_method: \"", name,
                  "\" needs both resolve and make");
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.methods[name] = std::move(registration);
}

std::vector<std::string> pruning_method_names() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [method, registration] : r.methods) names.push_back(method);
  return names;
}

}  // namespace sparsecap::pruning
