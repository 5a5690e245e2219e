#include "train/training_checkpoint.h"

#include "engine/json_input.h"
#include "engine/serialize/checkpoint.h"

namespace sparsecap::train {

namespace {
constexpr const char* kModel = "model.";
constexpr const char* kOptim = "optim.";
constexpr const char* kPruning = "pruning.";

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// Dense checkpoints written before every run had a method carry no name: "none".
std::string stored_pruning_method(const Checkpoint& checkpoint) {
  const auto found = checkpoint.metadata.find("pruning.method");
  return found == checkpoint.metadata.end() ? "none" : found->second;
}
}  // namespace

void save_training_checkpoint(const std::filesystem::path& path, const TrainingParts& parts,
                              const RunPosition& position, const nlohmann::json& config) {
  Checkpoint checkpoint;
  for (const auto& [name, tensor] : parts.model->state_dict()) checkpoint.add_tensor(kModel + name, tensor);
  if (parts.optimizer) {
    const optim::OptimizerState state = parts.optimizer->state_tensors();
    for (const auto& [name, tensor] : state.tensors) checkpoint.add_tensor(kOptim + name, tensor);
    checkpoint.metadata.insert(state.metadata.begin(), state.metadata.end());
  }
  if (parts.method) {
    for (const auto& [name, tensor] : parts.method->state_tensors()) checkpoint.add_tensor(kPruning + name, tensor);
    for (const auto& [key, value] : parts.method->state_metadata()) checkpoint.metadata[key] = value;
    checkpoint.metadata["pruning.method"] = parts.method->name();
  }
  set_metadata_uint64(checkpoint, "train.step", static_cast<uint64_t>(position.step));
  set_metadata_uint64(checkpoint, "train.epoch", static_cast<uint64_t>(position.epoch));
  set_metadata_uint64(checkpoint, "train.batch_in_epoch", static_cast<uint64_t>(position.batch_in_epoch));
  checkpoint.metadata["train.best_validation_cider"] = nlohmann::json(position.best_validation_cider).dump();
  if (parts.dropout_generator) set_generator_state(checkpoint, "train.dropout", *parts.dropout_generator);
  checkpoint.metadata["config"] = config.dump();
  save_checkpoint(path, checkpoint);
}

RunPosition load_training_checkpoint(const std::filesystem::path& path, const TrainingParts& parts,
                                     bool allow_non_finite) {
  const Checkpoint checkpoint = load_checkpoint(path);
  if (!allow_non_finite)
    require_finite_tensors(checkpoint, " (the run diverged? --allow-non-finite loads it anyway, for inspection)");
  nn::StateDict weights;
  optim::OptimizerState optimizer_state;
  std::map<std::string, Tensor> method_tensors;
  for (const auto& [name, tensor] : checkpoint.tensors) {
    if (starts_with(name, kModel)) weights[name.substr(6)] = tensor;
    else if (starts_with(name, kOptim)) optimizer_state.tensors[name.substr(6)] = tensor;
    else if (starts_with(name, kPruning)) method_tensors[name.substr(8)] = tensor;
  }
  try {
    parts.model->load_state_dict(weights);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  if (parts.optimizer) {
    for (const auto& [key, value] : checkpoint.metadata)
      if (starts_with(key, "optimizer.")) optimizer_state.metadata[key] = value;
    try {
      parts.optimizer->load_state_tensors(optimizer_state);
    } catch (const Error& e) {
      throw Error(path.string() + ": " + e.what());
    }
  }
  if (parts.method) {
    const std::string stored = stored_pruning_method(checkpoint);
    SPARSECAP_CHECK(stored == parts.method->name(), path.string(), ": checkpoint holds the state of pruning method \"",
                    stored, "\", the run config asks for \"", parts.method->name(), "\"");
    parts.method->load_state(method_tensors, checkpoint.metadata);
  }
  if (parts.dropout_generator) *parts.dropout_generator = get_generator_state(checkpoint, "train.dropout");
  RunPosition position;
  position.step = static_cast<int64_t>(get_metadata_uint64(checkpoint, "train.step"));
  position.epoch = static_cast<int64_t>(get_metadata_uint64(checkpoint, "train.epoch"));
  position.batch_in_epoch = static_cast<int64_t>(get_metadata_uint64(checkpoint, "train.batch_in_epoch"));
  const auto best = checkpoint.metadata.find("train.best_validation_cider");
  if (best != checkpoint.metadata.end()) {
    const nlohmann::json value = nlohmann::json::parse(best->second, nullptr, false);
    SPARSECAP_CHECK(value.is_number(), path.string(), ": metadata train.best_validation_cider is not a number: ",
                    best->second.substr(0, 60));
    position.best_validation_cider = value.get<double>();
  }
  return position;
}

nlohmann::json checkpoint_config(const std::filesystem::path& path) {
  const Checkpoint checkpoint = load_checkpoint(path);
  const auto found = checkpoint.metadata.find("config");
  SPARSECAP_CHECK(found != checkpoint.metadata.end(), path.string(), ": checkpoint has no config");
  check_json_depth(found->second, path.string() + ": the stored config");
  const nlohmann::json config = nlohmann::json::parse(found->second, nullptr, false);
  SPARSECAP_CHECK(!config.is_discarded(), path.string(), ": the stored config is not valid JSON");
  return config;
}

}  // namespace sparsecap::train
