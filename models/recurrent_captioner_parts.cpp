#include "models/recurrent_captioner_parts.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace sparsecap::models {

std::shared_ptr<nn::Linear> xavier_linear(int64_t in, int64_t out, Generator& generator) {
  auto layer = std::make_shared<nn::Linear>(in, out, generator);
  nn::init::xavier_uniform_(layer->weight()->value(), generator);
  layer->bias()->value().zero_();
  return layer;
}

std::shared_ptr<nn::Linear> xavier_linear_without_bias(int64_t in, int64_t out, Generator& generator) {
  auto layer = std::make_shared<nn::Linear>(in, out, generator, nn::LinearOptions{.bias = false});
  nn::init::xavier_uniform_(layer->weight()->value(), generator);
  return layer;
}

std::shared_ptr<nn::Embedding> xavier_embedding(int64_t count, int64_t size, Generator& generator) {
  auto table = std::make_shared<nn::Embedding>(count, size, generator);
  nn::init::xavier_uniform_(table->weight()->value(), generator);
  return table;
}

std::string module_display_name(const nn::Module& module, const char* fallback) {
  const std::string& prefix = module.prefix();
  return prefix.empty() ? std::string(fallback) : prefix.substr(0, prefix.size() - 1);
}

Tensor repeat_rows(const Tensor& x, int64_t repeats) {
  if (repeats == 1) return x;
  std::vector<int64_t> index(static_cast<size_t>(x.size(0) * repeats));
  for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<int64_t>(i) / repeats;
  return index_select(x, from_vector(index, {static_cast<int64_t>(index.size())}));  // checked on the host
}

Tensor time_major_inputs(const Tensor& captions) {
  const int64_t rows = captions.size(0), length = captions.size(1);
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  std::vector<int64_t> inputs(static_cast<size_t>((length - 1) * rows));
  for (int64_t t = 0; t + 1 < length; ++t)
    for (int64_t r = 0; r < rows; ++r)
      inputs[static_cast<size_t>(t * rows + r)] = tokens[static_cast<size_t>(r * length + t)];
  return from_vector(inputs, {length - 1, rows}, captions.device());
}

void check_caption_rows(const Tensor& captions, int64_t images, int64_t seq_per_img) {
  SPARSECAP_CHECK(seq_per_img >= 1, "seq_per_img must be >= 1, got ", seq_per_img);
  SPARSECAP_CHECK(captions.dtype() == DType::I64 && captions.dim() == 2 && captions.size(1) >= 2,
                  "expected captions int64 [B * seq_per_img, L >= 2], got ", dtype_name(captions.dtype()), " ",
                  shape_str(captions.shape()));
  SPARSECAP_CHECK(captions.size(0) == images * seq_per_img, "expected ", images, " images x ", seq_per_img,
                  " captions = ", images * seq_per_img, " caption rows, got ", captions.size(0));
}

Tensor trim_padding_columns(const Tensor& captions, int64_t pad) {
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  const int64_t length = captions.size(1);
  int64_t used = 2;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] != pad) used = std::max(used, static_cast<int64_t>(i % static_cast<size_t>(length)) + 1);
  return used == length ? captions : narrow(captions, 1, 0, used);
}

nlohmann::json decoding_options_json(const DecodingOptions& options) {
  return {{"beam_size", options.beam_size}, {"max_words", options.max_words}};
}

void read_decoding_options(const nlohmann::json& json, DecodingOptions& options) {
  check_known_keys(json, {"beam_size", "max_words"}, "decoding");
  read_field(json, "beam_size", options.beam_size, "decoding");
  read_field(json, "max_words", options.max_words, "decoding");
}

nlohmann::json special_tokens_json(const SpecialTokens& tokens) {
  return {{"pad", tokens.pad}, {"bos", tokens.bos}, {"eos", tokens.eos}};
}

void read_special_tokens(const nlohmann::json& json, SpecialTokens& tokens) {
  check_known_keys(json, {"pad", "bos", "eos"}, "tokens");
  read_field(json, "pad", tokens.pad, "tokens");
  read_field(json, "bos", tokens.bos, "tokens");
  read_field(json, "eos", tokens.eos, "tokens");
}

void validate_decoding_options(const DecodingOptions& options) {
  SPARSECAP_CHECK(options.beam_size >= 1, "decoding.beam_size must be >= 1, got ", options.beam_size);
  SPARSECAP_CHECK(options.max_words >= 0, "decoding.max_words must be >= 0, got ", options.max_words);
}

void validate_vocabulary(int64_t vocabulary_size, const SpecialTokens& tokens, const char* key) {
  SPARSECAP_CHECK(vocabulary_size > 0, key, " must be set (> 0), got ", vocabulary_size);
  const std::pair<const char*, int64_t> special[] = {{"pad", tokens.pad}, {"bos", tokens.bos}, {"eos", tokens.eos}};
  for (const auto& [name, token] : special)
    SPARSECAP_CHECK(token >= 0 && token < vocabulary_size, "tokens.", name, " = ", token, " outside [0, ",
                    vocabulary_size, ")");
}

void SparseWeightTable::install(const SparseWeights& weights, const std::vector<nn::ParameterPtr>& allowed,
                                const std::string& owner) {
  std::map<std::string, nn::ParameterPtr> by_name;
  for (const nn::ParameterPtr& p : allowed) by_name[p->name()] = p;
  for (const auto& [name, matrix] : weights) {
    const auto it = by_name.find(name);
    SPARSECAP_CHECK(it != by_name.end(), "use_sparse_weights: '", name, "' is not a weight matrix of ", owner);
    SPARSECAP_CHECK(matrix != nullptr, "use_sparse_weights: '", name, "' has no CSR matrix");
    const Shape expected = it->second->shape();
    SPARSECAP_CHECK(expected == (Shape{matrix->rows, matrix->cols}), "use_sparse_weights: '", name, "' is ",
                    shape_str(expected), ", the CSR matrix is [", matrix->rows, ", ", matrix->cols, "]");
    matrices_[it->second.get()] = matrix;
  }
}

sparse::WeightHandle SparseWeightTable::handle(const nn::ParameterPtr& parameter) const {
  const auto it = matrices_.find(parameter.get());
  if (it != matrices_.end()) return sparse::WeightHandle(it->second);
  return sparse::WeightHandle(parameter->effective());
}

}  // namespace sparsecap::models
