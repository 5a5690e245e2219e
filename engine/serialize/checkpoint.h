#pragma once
// Checkpoints: a safetensors file of named tensors plus a string -> string metadata map. This
// layer is deliberately generic: modules store their parameters under their dotted names,
// optimizers their state under names they choose (e.g. "optim.adam.exp_avg.decoder.lstm.w_ih"),
// and scalars (step, RNG state) go into the metadata as decimal text, which keeps the file
// readable by safetensors.safe_open in Python.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace sparsecap {

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;
  // The file this checkpoint was loaded from (empty when built in memory); errors of the lookups
  // below name it.
  std::filesystem::path source_path;

  // The tensor called `name`; nullptr when there is none.
  const Tensor* find_tensor(const std::string& name) const;
  // The tensor called `name`; throws naming the file and the name when there is none.
  const Tensor& tensor(const std::string& name) const;
  // Appends a tensor; throws when the name is already taken.
  void add_tensor(const std::string& name, const Tensor& tensor);
};

// Atomic write (temp file, fsync, rename): a crash never leaves a half-written checkpoint.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Validated read into CPU tensors; sets source_path.
Checkpoint load_checkpoint(const std::filesystem::path& path);

// Throws naming the file and the tensor when a floating-point tensor holds NaN or infinity (a run
// that diverged): evaluating, captioning or exporting such weights gives silently wrong results.
// `hint` is appended to the message (e.g. how to load the file anyway).
void require_finite_tensors(const Checkpoint& checkpoint, const std::string& hint = "");
// The same for one tensor; `where` names its file.
void require_finite_tensor(const Tensor& tensor, const std::string& name, const std::string& where,
                           const std::string& hint = "");

// Metadata values as unsigned 64-bit integers (steps, counters), stored as decimal text.
void set_metadata_uint64(Checkpoint& checkpoint, const std::string& key, uint64_t value);
// Throws naming the file and key when the key is missing or its value is not a decimal uint64.
uint64_t get_metadata_uint64(const Checkpoint& checkpoint, const std::string& key);

// A Generator's state under "<prefix>.seed", "<prefix>.stream", "<prefix>.offset".
void set_generator_state(Checkpoint& checkpoint, const std::string& prefix, const Generator& generator);
// A Generator with the saved seed, stream and offset: its next draws continue the saved run's.
// Throws naming the file and key for a missing or garbled value.
Generator get_generator_state(const Checkpoint& checkpoint, const std::string& prefix);

}  // namespace sparsecap
