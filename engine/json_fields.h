#pragma once
// Reading config structs from JSON with errors that name the offending key and value: a missing
// key keeps the struct's default, an unknown key throws (a typo in `--set decoder.cel=gru` must
// not be silently ignored), a value of the wrong type throws.
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_input.h"

namespace sparsecap {

inline void check_known_keys(const nlohmann::json& json, std::initializer_list<const char*> known,
                             const std::string& section) {
  SPARSECAP_CHECK(json.is_object(), section, " must be a JSON object, got ", json_excerpt(json));
  for (const auto& [key, value] : json.items()) {
    bool found = false;
    for (const char* name : known) found = found || key == name;
    if (found) continue;
    std::string choices;
    for (const char* name : known) choices += (choices.empty() ? "" : ", ") + std::string(name);
    throw Error("unknown key " + section + "." + key + " (known: " + choices + ")");
  }
}

template <typename T>
void read_field(const nlohmann::json& json, const char* key, T& value, const std::string& section) {
  if (!json.contains(key)) return;
  const nlohmann::json& field = json.at(key);
  try {
    value = field.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(section + "." + key + ": value " + json_excerpt(field) + " has the wrong type");
  }
  // An integer field given a fractional number (nlohmann truncates silently).
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    SPARSECAP_CHECK(field.is_number_integer(), section, ".", key, ": expected an integer, got ", json_excerpt(field));
}

}  // namespace sparsecap
