#include "train/model_info.h"

#include <cstdio>

#include "engine/error.h"
#include "models/captioner_registry.h"

namespace sparsecap::train {

namespace {

// "att_lstm.w_ih" -> "att_lstm"; a parameter of the root module is its own group.
std::string group_of(const std::string& parameter_name) {
  return parameter_name.substr(0, parameter_name.find('.'));
}

ParameterGroupCount& group_named(std::vector<ParameterGroupCount>& groups, const std::string& name) {
  for (ParameterGroupCount& group : groups)
    if (group.name == name) return group;
  groups.push_back(ParameterGroupCount{.name = name});
  return groups.back();
}

std::string count_line(const std::string& name, int64_t parameters, int64_t prunable, int64_t total) {
  char line[160];
  std::snprintf(line, sizeof line, "%-28s %14lld %14lld %7.2f%%\n", name.c_str(), static_cast<long long>(parameters),
                static_cast<long long>(prunable), total > 0 ? 100.0 * static_cast<double>(parameters) / total : 0.0);
  return line;
}

}  // namespace

ModelParameterCounts count_model_parameters(const nlohmann::json& model, int64_t vocabulary_size) {
  SPARSECAP_CHECK(vocabulary_size > 0, "vocabulary size must be positive, got ", vocabulary_size);
  Generator generator(1);
  const std::unique_ptr<models::Captioner> captioner =
      models::make_captioner(model, models::CaptionerVocabulary{.size = vocabulary_size, .tokens = {}}, generator);
  ModelParameterCounts counts;
  counts.type = captioner->type();
  counts.vocabulary_size = vocabulary_size;
  for (const auto& [name, parameter] : captioner->named_parameters()) {
    const int64_t elements = parameter->value().numel();
    const int64_t prunable = nn::is_prunable(parameter->kind()) ? elements : 0;
    ParameterGroupCount& group = group_named(counts.groups, group_of(name));
    group.parameters += elements;
    group.prunable += prunable;
    counts.parameters += elements;
    counts.prunable += prunable;
  }
  return counts;
}

std::string format_parameter_counts(const ModelParameterCounts& counts) {
  std::string text = "model " + counts.type + ", vocabulary " + std::to_string(counts.vocabulary_size) + " tokens\n";
  char header[160];
  std::snprintf(header, sizeof header, "%-28s %14s %14s %8s\n", "group", "parameters", "prunable", "share");
  text += header;
  for (const ParameterGroupCount& group : counts.groups)
    text += count_line(group.name, group.parameters, group.prunable, counts.parameters);
  text += count_line("total", counts.parameters, counts.prunable, counts.parameters);
  return text;
}

}  // namespace sparsecap::train
