#pragma once
// The parameter counts behind `sparsecap info --model CONFIG`: a captioner built from a run
// config's model section for a given vocabulary size, its parameters counted per top-level group
// (the model's direct children, e.g. "embed", "att_lstm", "logit") and in total, with the share a
// pruning method may prune (weights and embeddings, not biases or normalisation parameters).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sparsecap::train {

// The Supermask authors' tokenizer default (--vocab_size 10001): at most 10 001 entries, the
// special tokens (pad, unk, bos, eos) included.
inline constexpr int64_t kReferenceVocabularySize = 10001;

struct ParameterGroupCount {
  std::string name;       // first component of the parameters' dotted names
  int64_t parameters = 0;
  int64_t prunable = 0;
};

struct ModelParameterCounts {
  std::string type;
  int64_t vocabulary_size = 0;
  std::vector<ParameterGroupCount> groups;  // in model order
  int64_t parameters = 0;
  int64_t prunable = 0;
};

// Builds the captioner of the resolved `model` section for `vocabulary_size` tokens (special
// tokens included) and counts its parameters.
ModelParameterCounts count_model_parameters(const nlohmann::json& model, int64_t vocabulary_size);

// One line per group and a total line: name, parameters, prunable parameters, share of the total.
std::string format_parameter_counts(const ModelParameterCounts& counts);

}  // namespace sparsecap::train
