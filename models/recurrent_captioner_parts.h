#pragma once
// Pieces the recurrent captioners built on region features or pooled images share (Show-and-Tell,
// Up-Down): reference-style layer initialisation, the caption tensors of teacher forcing, and the
// table of CSR weights a model loaded from a sparse export computes with. Soft-Attention keeps its
// own copies for now; these are the same rules.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "engine/rng.h"
#include "engine/sparse/sparse_ops.h"
#include "models/captioner.h"

namespace sparsecap::models {

// A Linear layer initialised as the references: xavier-uniform weight, zero bias.
std::shared_ptr<nn::Linear> xavier_linear(int64_t in, int64_t out, Generator& generator);
// The same without a bias, for a term added to another layer's output that has one already.
std::shared_ptr<nn::Linear> xavier_linear_without_bias(int64_t in, int64_t out, Generator& generator);
// An embedding table initialised xavier-uniform.
std::shared_ptr<nn::Embedding> xavier_embedding(int64_t count, int64_t size, Generator& generator);

// "decoder.att." -> "decoder.att" for error messages; `fallback` for a module used as the root.
std::string module_display_name(const nn::Module& module, const char* fallback);

// Row r of the result is x's row r / repeats (each image's row once per caption).
Tensor repeat_rows(const Tensor& x, int64_t repeats);

// captions[:, 0 .. L - 2] as time-major indices [L - 1, N]: the input word of every step.
Tensor time_major_inputs(const Tensor& captions);

// Throws unless captions are I64 [images * seq_per_img, L >= 2].
void check_caption_rows(const Tensor& captions, int64_t images, int64_t seq_per_img);

// captions without the trailing columns that are `pad` in every row (at least two columns kept):
// those steps only predict PAD, which the loss ignores, so dropping them changes nothing but time.
Tensor trim_padding_columns(const Tensor& captions, int64_t pad);

// The "decoding" and "tokens" sections every captioner's config has: {"beam_size", "max_words"}
// and {"pad", "bos", "eos"}. Reading keeps defaults for missing keys and throws for unknown ones.
nlohmann::json decoding_options_json(const DecodingOptions& options);
void read_decoding_options(const nlohmann::json& json, DecodingOptions& options);
nlohmann::json special_tokens_json(const SpecialTokens& tokens);
void read_special_tokens(const nlohmann::json& json, SpecialTokens& tokens);
// Throws naming decoding.beam_size or decoding.max_words when out of range.
void validate_decoding_options(const DecodingOptions& options);
// Throws unless the vocabulary size (named `key` in the message) is set and holds every special token.
void validate_vocabulary(int64_t vocabulary_size, const SpecialTokens& tokens, const char* key);

// The CSR matrices installed in a model loaded from a sparse export, by parameter. A layer asks
// handle(parameter) for the weight to compute with: the CSR matrix when one is installed, else the
// parameter's effective (possibly gated) dense value.
class SparseWeightTable {
 public:
  // Installs `weights`; each name must be one of `allowed` and the CSR shape the parameter's.
  // `owner` names the model in errors.
  void install(const SparseWeights& weights, const std::vector<nn::ParameterPtr>& allowed, const std::string& owner);
  sparse::WeightHandle handle(const nn::ParameterPtr& parameter) const;
  bool empty() const { return matrices_.empty(); }
  size_t size() const { return matrices_.size(); }

 private:
  std::map<const nn::Parameter*, std::shared_ptr<const sparse::CsrMatrix>> matrices_;
};

}  // namespace sparsecap::models
