#pragma once
// A table of named entries (captioner types, pruning methods) that built-in code fills once and
// tests may extend at run time, with errors that list the known names. The two assembly points,
// models/captioner_registry.cpp and pruning/method_registry.cpp, are built on it.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace sparsecap {

template <typename Entry>
class Registry {
 public:
  // `key` names the config key entries are chosen by ("model.type"), for errors.
  Registry(std::string key, std::map<std::string, Entry> entries) : key_(std::move(key)), entries_(std::move(entries)) {}

  Entry find(const std::string& name) const {
    const std::lock_guard lock(mutex_);
    const auto found = entries_.find(name);
    if (found != entries_.end()) return found->second;
    std::string known;
    for (const auto& [entry_name, entry] : entries_) known += (known.empty() ? "" : ", ") + entry_name;
    throw Error(key_ + ": unknown \"" + name + "\" (known: " + known + ")");
  }
  void add(const std::string& name, Entry entry) {
    const std::lock_guard lock(mutex_);
    entries_[name] = std::move(entry);
  }
  std::vector<std::string> names() const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

 private:
  std::string key_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// A config section split into the name of its registry entry (the string at `key`, `fallback`
// when absent) and the rest of the section. `section_name` ("model") appears in errors.
inline std::pair<std::string, nlohmann::json> split_registry_key(const nlohmann::json& section, const char* key,
                                                                 const std::string& fallback,
                                                                 const std::string& section_name) {
  SPARSECAP_CHECK(section.is_object(), section_name, " must be a JSON object, got a ", section.type_name());
  nlohmann::json rest = section;
  std::string name = fallback;
  if (rest.contains(key)) {
    SPARSECAP_CHECK(rest.at(key).is_string(), section_name, ".", key, " must be a string, got ", rest.at(key).dump());
    name = rest.at(key).get<std::string>();
    rest.erase(key);
  }
  return {name, rest};
}

}  // namespace sparsecap
