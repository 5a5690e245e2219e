#include "models/captioner_registry.h"

#include <map>
#include <mutex>

#include "engine/error.h"
#include "models/soft_attention.h"

namespace sparsecap::models {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, CaptionerRegistration> types;
};

Registry& registry() {
  // The built-in captioners: one line each.
  static Registry instance{.mutex = {},
                           .types = {
                               {"soft_attention", soft_attention_registration()},
                           }};
  return instance;
}

CaptionerRegistration find_registration(const std::string& type) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  const auto found = r.types.find(type);
  if (found != r.types.end()) return found->second;
  std::string known;
  for (const auto& [name, registration] : r.types) known += (known.empty() ? "" : ", ") + name;
  throw Error("model.type: unknown captioner \"" + type + "\" (known: " + known + ")");
}

// The section's type and the section without it.
std::pair<std::string, nlohmann::json> split_type(const nlohmann::json& model) {
  SPARSECAP_CHECK(model.is_object(), "model must be a JSON object, got a ", model.type_name());
  nlohmann::json section = model;
  std::string type = kDefaultCaptionerType;
  if (section.contains("type")) {
    SPARSECAP_CHECK(section.at("type").is_string(), "model.type must be a string, got ", section.at("type").dump());
    type = section.at("type").get<std::string>();
    section.erase("type");
  }
  return {type, section};
}

}  // namespace

nlohmann::json resolve_captioner_config(const nlohmann::json& model) {
  const auto [type, section] = split_type(model);
  nlohmann::json resolved = {{"type", type}};
  resolved.update(find_registration(type).resolve(section));
  return resolved;
}

std::unique_ptr<Captioner> make_captioner(const nlohmann::json& model, const CaptionerVocabulary& vocabulary,
                                          Generator& generator) {
  const auto [type, section] = split_type(model);
  const CaptionerRegistration registration = find_registration(type);
  return registration.make(registration.resolve(section), vocabulary, generator);
}

void register_captioner(const std::string& type, CaptionerRegistration registration) {
  SPARSECAP_CHECK(registration.resolve && registration.make, "register_captioner: \"", type,
                  "\" needs both resolve and make");
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.types[type] = std::move(registration);
}

std::vector<std::string> captioner_types() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> types;
  for (const auto& [name, registration] : r.types) types.push_back(name);
  return types;
}

}  // namespace sparsecap::models
