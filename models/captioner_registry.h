#pragma once
// The one place that builds captioners: make_captioner(model_json, vocabulary, generator), keyed
// by the model section's "type". Training, evaluation, captioning, export, loading an export and
// the benchmarks build their models here; nothing else names a concrete captioner class.
//
// Adding a captioner: its own files (a class implementing models::Captioner and a function
// returning its CaptionerRegistration) and one line in captioner_registry.cpp's table; tests may
// register more types at run time with register_captioner.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/rng.h"
#include "models/captioner.h"

namespace sparsecap::models {

// What a model needs of the vocabulary: its size (words and special tokens) and the special ids.
struct CaptionerVocabulary {
  int64_t size = 0;
  SpecialTokens tokens;
};

struct CaptionerRegistration {
  // The model section (without "type") with every default filled in; throws naming the key for
  // unknown keys, wrong types and out-of-range values. Values that follow from the vocabulary
  // (its size, the special tokens) are not part of it.
  std::function<nlohmann::json(const nlohmann::json& section)> resolve;
  // A captioner initialised from `generator`, for a resolved section.
  std::function<std::unique_ptr<Captioner>(const nlohmann::json& section, const CaptionerVocabulary& vocabulary,
                                           Generator& generator)>
      make;
};

inline constexpr const char* kDefaultCaptionerType = "soft_attention";

// The entry of a captioner `Model` built from a `Config` that reads and writes JSON
// (from_json/to_json), checks itself without the vocabulary (validate_options()) and holds the
// special `tokens`. `vocabulary_size(config)` is the config's vocabulary size field and
// `vocabulary_key` its place in the JSON ("/decoder/vocabulary_size"): resolving leaves it and
// the tokens out, building fills both from the vocabulary.
template <typename Model, typename Config, typename VocabularySize>
CaptionerRegistration config_registration(VocabularySize vocabulary_size, const char* vocabulary_key) {
  const nlohmann::json::json_pointer key(vocabulary_key);
  return CaptionerRegistration{
      .resolve =
          [key](const nlohmann::json& section) {
            Config config;
            from_json(section, config);
            config.validate_options();
            nlohmann::json resolved = config;
            resolved[key.parent_pointer()].erase(key.back());
            resolved.erase("tokens");
            return resolved;
          },
      .make =
          [vocabulary_size](const nlohmann::json& section, const CaptionerVocabulary& vocabulary, Generator& generator) {
            Config config;
            from_json(section, config);
            vocabulary_size(config) = vocabulary.size;
            config.tokens = vocabulary.tokens;
            return std::unique_ptr<Captioner>(std::make_unique<Model>(config, generator));
          }};
}

// The model section with "type" (default kDefaultCaptionerType) and every default filled in.
// Errors name the key; an unknown type lists the known ones.
nlohmann::json resolve_captioner_config(const nlohmann::json& model);

std::unique_ptr<Captioner> make_captioner(const nlohmann::json& model, const CaptionerVocabulary& vocabulary,
                                          Generator& generator);

// Adds (or replaces) a type; for models that live outside models/, such as tests'.
void register_captioner(const std::string& type, CaptionerRegistration registration);
std::vector<std::string> captioner_types();

}  // namespace sparsecap::models
