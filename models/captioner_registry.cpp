#include "models/captioner_registry.h"

#include "engine/registry.h"
#include "models/relation_transformer.h"
#include "models/show_tell.h"
#include "models/soft_attention.h"
#include "models/up_down.h"

namespace sparsecap::models {

namespace {

Registry<CaptionerRegistration>& registry() {
  // The built-in captioners: one line each.
  static Registry<CaptionerRegistration> instance("model.type", {
                                                                    {"soft_attention", soft_attention_registration()},
                                                                    {"show_tell", show_tell_registration()},
                                                                    {"up_down", up_down_registration()},
                                                                    {"relation_transformer", relation_transformer_registration()},
                                                                });
  return instance;
}

std::pair<std::string, nlohmann::json> split_type(const nlohmann::json& model) {
  return split_registry_key(model, "type", kDefaultCaptionerType, "model");
}

}  // namespace

nlohmann::json resolve_captioner_config(const nlohmann::json& model) {
  const auto [type, section] = split_type(model);
  nlohmann::json resolved = {{"type", type}};
  resolved.update(registry().find(type).resolve(section));
  return resolved;
}

std::unique_ptr<Captioner> make_captioner(const nlohmann::json& model, const CaptionerVocabulary& vocabulary,
                                          Generator& generator) {
  const auto [type, section] = split_type(model);
  const CaptionerRegistration registration = registry().find(type);
  return registration.make(registration.resolve(section), vocabulary, generator);
}

void register_captioner(const std::string& type, CaptionerRegistration registration) {
  SPARSECAP_CHECK(registration.resolve && registration.make, "register_captioner: \"", type,
                  "\" needs both resolve and make");
  registry().add(type, std::move(registration));
}

std::vector<std::string> captioner_types() { return registry().names(); }

}  // namespace sparsecap::models
