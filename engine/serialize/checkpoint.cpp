#include "engine/serialize/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "engine/error.h"
#include "engine/serialize/safetensors.h"

namespace sparsecap {

namespace {

std::string source_text(const Checkpoint& checkpoint) {
  return checkpoint.source_path.empty() ? std::string("checkpoint (in memory)")
                                        : "checkpoint '" + checkpoint.source_path.string() + "'";
}

}  // namespace

const Tensor* Checkpoint::find_tensor(const std::string& name) const {
  for (const auto& [tensor_name, tensor] : tensors) {
    if (tensor_name == name) return &tensor;
  }
  return nullptr;
}

const Tensor& Checkpoint::tensor(const std::string& name) const {
  const Tensor* found = find_tensor(name);
  SPARSECAP_CHECK(found != nullptr, source_text(*this), ": no tensor '", name, "' (it holds ", tensors.size(),
                  " tensors)");
  return *found;
}

void Checkpoint::add_tensor(const std::string& name, const Tensor& tensor) {
  SPARSECAP_CHECK(find_tensor(name) == nullptr, source_text(*this), ": tensor '", name, "' added twice");
  tensors.emplace_back(name, tensor);
}

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  write_safetensors(path, checkpoint.tensors, checkpoint.metadata);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  SafetensorsContents contents = read_safetensors(path);
  Checkpoint checkpoint;
  checkpoint.tensors = std::move(contents.tensors);
  checkpoint.metadata = std::move(contents.metadata);
  checkpoint.source_path = path;
  return checkpoint;
}

void require_finite_tensor(const Tensor& tensor, const std::string& name, const std::string& where,
                           const std::string& hint) {
  if (!is_floating(tensor.dtype())) return;
  const std::vector<double> values = tensor.to_vector<double>();
  int64_t non_finite = 0, first = -1;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    if (first < 0) first = static_cast<int64_t>(i);
    ++non_finite;
  }
  SPARSECAP_CHECK(non_finite == 0, where, ": tensor '", name, "' holds ", non_finite, " non-finite value(s) (first at element ",
                  first, ": ", values[static_cast<size_t>(std::max<int64_t>(first, 0))], ")", hint);
}

void require_finite_tensors(const Checkpoint& checkpoint, const std::string& hint) {
  for (const auto& [name, tensor] : checkpoint.tensors) require_finite_tensor(tensor, name, source_text(checkpoint), hint);
}

void set_metadata_uint64(Checkpoint& checkpoint, const std::string& key, uint64_t value) {
  checkpoint.metadata[key] = std::to_string(value);
}

uint64_t get_metadata_uint64(const Checkpoint& checkpoint, const std::string& key) {
  const auto found = checkpoint.metadata.find(key);
  SPARSECAP_CHECK(found != checkpoint.metadata.end(), source_text(checkpoint), ": metadata key '", key,
                  "' is missing");
  const std::string& text = found->second;
  uint64_t value = 0;
  // from_chars accepts no sign, spaces or prefix; the whole string must be consumed.
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  SPARSECAP_CHECK(!text.empty() && error == std::errc() && end == text.data() + text.size(), source_text(checkpoint),
                  ": metadata key '", key, "' holds '", text, "', not an unsigned 64-bit decimal integer");
  return value;
}

void set_generator_state(Checkpoint& checkpoint, const std::string& prefix, const Generator& generator) {
  set_metadata_uint64(checkpoint, prefix + ".seed", generator.seed());
  set_metadata_uint64(checkpoint, prefix + ".stream", generator.stream());
  set_metadata_uint64(checkpoint, prefix + ".offset", generator.offset());
}

Generator get_generator_state(const Checkpoint& checkpoint, const std::string& prefix) {
  Generator generator(get_metadata_uint64(checkpoint, prefix + ".seed"),
                      get_metadata_uint64(checkpoint, prefix + ".stream"));
  generator.set_offset(get_metadata_uint64(checkpoint, prefix + ".offset"));
  return generator;
}

}  // namespace sparsecap
