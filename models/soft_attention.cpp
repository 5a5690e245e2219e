#include "models/soft_attention.h"

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"
#include "models/captioner_registry.h"
#include "models/recurrent_captioner_parts.h"
#include "engine/json_fields.h"

namespace sparsecap::models {

// ---- config ------------------------------------------------------------------

void SoftAttentionConfig::validate_options() const {
  encoder.validate();
  const SoftAttentionDecoderConfig& d = decoder;
  SPARSECAP_CHECK(d.hidden_size > 0, "decoder.hidden_size must be positive, got ", d.hidden_size);
  SPARSECAP_CHECK(d.embedding_size > 0, "decoder.embedding_size must be positive, got ", d.embedding_size);
  SPARSECAP_CHECK(d.attention_size > 0, "decoder.attention_size must be positive, got ", d.attention_size);
  SPARSECAP_CHECK(d.dropout >= 0.0 && d.dropout < 1.0, "decoder.dropout ", d.dropout, " outside [0, 1)");
  SPARSECAP_CHECK(decoding.beam_size >= 1, "decoding.beam_size must be >= 1, got ", decoding.beam_size);
  SPARSECAP_CHECK(decoding.max_words >= 0, "decoding.max_words must be >= 0, got ", decoding.max_words);
}

void SoftAttentionConfig::validate() const {
  validate_options();
  const SoftAttentionDecoderConfig& d = decoder;
  SPARSECAP_CHECK(d.vocabulary_size > 0, "decoder.vocabulary_size must be set (> 0), got ", d.vocabulary_size);
  const std::pair<const char*, int64_t> special[] = {{"pad", tokens.pad}, {"bos", tokens.bos}, {"eos", tokens.eos}};
  for (const auto& [name, token] : special)
    SPARSECAP_CHECK(token >= 0 && token < d.vocabulary_size, "tokens.", name, " = ", token, " outside [0, ",
                    d.vocabulary_size, ")");
}

void to_json(nlohmann::json& json, const SoftAttentionConfig& config) {
  const SoftAttentionDecoderConfig& d = config.decoder;
  json = {{"encoder", config.encoder},
          {"decoder",
           {{"vocabulary_size", d.vocabulary_size},
            {"cell", cell_type_name(d.cell)},
            {"hidden_size", d.hidden_size},
            {"embedding_size", d.embedding_size},
            {"attention_size", d.attention_size},
            {"dropout", d.dropout},
            {"forget_bias", d.forget_bias},
            {"coordinate_channels", d.coordinate_channels},
            {"coverage", d.coverage},
            {"context_in_output", d.context_in_output},
            {"word_in_query", d.word_in_query}}},
          {"decoding", {{"beam_size", config.decoding.beam_size}, {"max_words", config.decoding.max_words}}},
          {"tokens", {{"pad", config.tokens.pad}, {"bos", config.tokens.bos}, {"eos", config.tokens.eos}}}};
}

void from_json(const nlohmann::json& json, SoftAttentionConfig& config) {
  check_known_keys(json, {"encoder", "decoder", "decoding", "tokens"}, "model");
  if (json.contains("encoder")) from_json(json.at("encoder"), config.encoder);
  if (json.contains("decoder")) {
    const nlohmann::json& d = json.at("decoder");
    check_known_keys(d,
                     {"vocabulary_size", "cell", "hidden_size", "embedding_size", "attention_size", "dropout",
                      "forget_bias", "coordinate_channels", "coverage", "context_in_output", "word_in_query"},
                     "decoder");
    read_field(d, "vocabulary_size", config.decoder.vocabulary_size, "decoder");
    if (d.contains("cell")) {
      std::string cell;
      read_field(d, "cell", cell, "decoder");
      config.decoder.cell = parse_cell_type(cell);
    }
    read_field(d, "hidden_size", config.decoder.hidden_size, "decoder");
    read_field(d, "embedding_size", config.decoder.embedding_size, "decoder");
    read_field(d, "attention_size", config.decoder.attention_size, "decoder");
    read_field(d, "dropout", config.decoder.dropout, "decoder");
    read_field(d, "forget_bias", config.decoder.forget_bias, "decoder");
    read_field(d, "coordinate_channels", config.decoder.coordinate_channels, "decoder");
    read_field(d, "coverage", config.decoder.coverage, "decoder");
    read_field(d, "context_in_output", config.decoder.context_in_output, "decoder");
    read_field(d, "word_in_query", config.decoder.word_in_query, "decoder");
  }
  if (json.contains("decoding")) {
    const nlohmann::json& d = json.at("decoding");
    check_known_keys(d, {"beam_size", "max_words"}, "decoding");
    read_field(d, "beam_size", config.decoding.beam_size, "decoding");
    read_field(d, "max_words", config.decoding.max_words, "decoding");
  }
  if (json.contains("tokens")) {
    const nlohmann::json& t = json.at("tokens");
    check_known_keys(t, {"pad", "bos", "eos"}, "tokens");
    read_field(t, "pad", config.tokens.pad, "tokens");
    read_field(t, "bos", config.tokens.bos, "tokens");
    read_field(t, "eos", config.tokens.eos, "tokens");
  }
}

// ---- decoder -----------------------------------------------------------------


SoftAttentionDecoder::SoftAttentionDecoder(const SoftAttentionDecoderConfig& config, int64_t memory_channels,
                                           Generator& generator, std::shared_ptr<Generator> dropout_generator)
    : config_(config), memory_channels_(memory_channels), dropout_generator_(std::move(dropout_generator)) {
  SPARSECAP_CHECK(dropout_generator_ != nullptr, "SoftAttentionDecoder needs a dropout generator");
  const int64_t vocabulary = config.vocabulary_size, hidden = config.hidden_size;
  embedding_ = register_module("embedding", std::make_shared<nn::Embedding>(vocabulary, config.embedding_size, generator));
  nn::init::xavier_uniform_(embedding_->weight()->value(), generator);
  att_key_ = register_module("att_key", xavier_linear(memory_channels, config.attention_size, generator));
  att_query_ = register_module("att_query", xavier_linear(hidden, config.attention_size, generator));
  att_qk_ = register_module("att_qk", xavier_linear(config.attention_size, 1, generator));
  if (config.coverage) {
    // No bias: att_query's already shifts every energy's argument.
    att_coverage_ = register_module("att_coverage", xavier_linear_without_bias(1, config.attention_size, generator));
  }
  if (config.word_in_query) {
    // No bias either, for the same reason.
    att_word_ = register_module("att_word",
                                xavier_linear_without_bias(config.embedding_size, config.attention_size, generator));
  }
  CellOptions cell_options;
  cell_options.forget_bias = config.forget_bias;
  cell_ = register_module(cell_type_name(config.cell),
                          make_recurrent_cell(config.cell, config.embedding_size + memory_channels, hidden, generator,
                                              cell_options));
  init_h_ = register_module("init_h", xavier_linear(memory_channels, hidden, generator));
  if (config.cell == CellType::Lstm)
    init_c_ = register_module("init_c", xavier_linear(memory_channels, hidden, generator));
  logit_ = register_module("logit", xavier_linear(hidden + (config.context_in_output ? memory_channels : 0),
                                                  vocabulary, generator));
}

void SoftAttentionDecoder::check_memory(const Tensor& memory) const {
  SPARSECAP_CHECK(memory.dim() == 3 && memory.size(2) == memory_channels_, "expected memory [B, P, ",
                  memory_channels_, "], got ", shape_str(memory.shape()), " in ", module_display_name(*this, "decoder"));
}

std::vector<nn::ParameterPtr> SoftAttentionDecoder::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = {embedding_->weight(), att_key_->weight(), att_query_->weight(),
                                            att_qk_->weight(),    init_h_->weight(),  logit_->weight(),
                                            cell_->w_ih(),        cell_->w_hh()};
  if (init_c_) matrices.push_back(init_c_->weight());
  if (att_coverage_) matrices.push_back(att_coverage_->weight());
  if (att_word_) matrices.push_back(att_word_->weight());
  return matrices;
}

void SoftAttentionDecoder::use_sparse_weights(const SparseWeights& weights) {
  std::map<std::string, nn::ParameterPtr> matrices;
  for (const nn::ParameterPtr& p : weight_matrices()) matrices[p->name()] = p;
  for (const auto& [name, matrix] : weights) {
    const auto it = matrices.find(name);
    SPARSECAP_CHECK(it != matrices.end(), "use_sparse_weights: '", name, "' is not a weight matrix of ",
                    module_display_name(*this, "decoder"));
    SPARSECAP_CHECK(matrix != nullptr, "use_sparse_weights: '", name, "' has no CSR matrix");
    const Shape expected = it->second->shape();
    SPARSECAP_CHECK(expected == (Shape{matrix->rows, matrix->cols}), "use_sparse_weights: '", name, "' is ",
                    shape_str(expected), ", the CSR matrix is [", matrix->rows, ", ", matrix->cols, "]");
    sparse_weights_[it->second.get()] = matrix;
  }
}

sparse::WeightHandle SoftAttentionDecoder::weight_handle(const nn::ParameterPtr& parameter) const {
  const auto it = sparse_weights_.find(parameter.get());
  if (it != sparse_weights_.end()) return sparse::WeightHandle(it->second);
  return sparse::WeightHandle(parameter->effective());
}

Tensor SoftAttentionDecoder::linear_layer(const nn::Linear& layer, const Tensor& x) const {
  return sparse::linear(x, weight_handle(layer.weight()), layer.bias()->effective());
}

SoftAttentionStepWeights SoftAttentionDecoder::step_weights() const {
  // Each effective() once: a pruning gate draws one mask per fetch.
  const CellWeights cell{weight_handle(cell_->w_ih()), weight_handle(cell_->w_hh()), cell_->b_ih()->effective(),
                         cell_->b_hh()->effective()};
  return SoftAttentionStepWeights{weight_handle(embedding_->weight()),
                                  weight_handle(att_query_->weight()),
                                  att_query_->bias()->effective(),
                                  weight_handle(att_qk_->weight()),
                                  att_qk_->bias()->effective(),
                                  att_coverage_ ? weight_handle(att_coverage_->weight()) : sparse::WeightHandle(),
                                  att_word_ ? weight_handle(att_word_->weight()) : sparse::WeightHandle(),
                                  cell,
                                  weight_handle(logit_->weight()),
                                  logit_->bias()->effective()};
}

Tensor SoftAttentionDecoder::attention_keys(const Tensor& memory) const {
  check_memory(memory);
  return linear_layer(*att_key_, memory);
}

SoftAttentionState SoftAttentionDecoder::initial_state(const Tensor& memory) const {
  check_memory(memory);
  const Tensor mean_memory = mean(memory, 1);  // [B, C]
  SoftAttentionState state;
  state.cell.h = tanh(linear_layer(*init_h_, mean_memory));
  if (init_c_) state.cell.c = tanh(linear_layer(*init_c_, mean_memory));
  if (config_.coverage) state.coverage = zeros({memory.size(0), memory.size(1)}, memory.dtype(), memory.device());
  return state;
}

Tensor SoftAttentionDecoder::attention_weights(const Tensor& words, const Tensor& keys, const SoftAttentionState& state,
                                               const SoftAttentionStepWeights& weights) const {
  const int64_t rows = keys.size(0), positions = keys.size(1);
  Tensor query = sparse::linear(state.cell.h, weights.query_weight, weights.query_bias);  // [N, A]
  if (config_.word_in_query) query = add(query, sparse::linear(words, weights.word_query_weight));
  // One fused pass over the keys where the energies are keys + query alone and att_qk is dense;
  // a coverage term or a CSR att_qk takes the composed ops below.
  if (!config_.coverage && !weights.qk_weight.is_sparse())
    return softmax(additive_attention(keys, query, weights.qk_weight.dense(), weights.qk_bias));
  Tensor energies = add(keys, unsqueeze(query, 1));                                             // [N, P, A]
  if (config_.coverage)
    energies = add(energies, sparse::linear(unsqueeze(state.coverage, 2), weights.coverage_weight));
  const Tensor scores = sparse::linear(tanh(energies), weights.qk_weight, weights.qk_bias).reshape({rows, positions});
  return softmax(scores);
}

SoftAttentionState SoftAttentionDecoder::step(const Tensor& words, const Tensor& memory, const Tensor& keys,
                                              const SoftAttentionState& state, const SoftAttentionStepWeights& weights) {
  const Tensor alpha = attention_weights(words, keys, state, weights);                          // [N, P]
  // sum_p alpha[n, p] memory[n, p, :] as one broadcast multiply and one reduction: a batched
  // matmul would run `rows` separate [1, P] x [P, C] GEMM calls, and their per-call threading
  // overhead was most of a decoder step at batch 50.
  const Tensor context = sum(mul(unsqueeze(alpha, 2), memory), 1);                     // [N, C]
  const Tensor input = dropout(concat({words, context}, 1), config_.dropout, is_training(), *dropout_generator_);
  SoftAttentionState next;
  next.cell = cell_->step(input, state.cell, weights.cell);
  next.context = context;
  if (config_.coverage) next.coverage = add(state.coverage, alpha);
  return next;
}

Tensor SoftAttentionDecoder::output_features(const SoftAttentionState& state) const {
  return config_.context_in_output ? concat({state.cell.h, state.context}, 1) : state.cell.h;
}

Tensor SoftAttentionDecoder::logits(const Tensor& features, const SoftAttentionStepWeights& weights) {
  const Tensor output = dropout(features, config_.dropout, is_training(), *dropout_generator_);
  return sparse::linear(output, weights.logit_weight, weights.logit_bias);
}

Tensor SoftAttentionDecoder::forward_teacher_forced(const Tensor& memory, const Tensor& captions, int64_t seq_per_img) {
  check_memory(memory);
  SPARSECAP_CHECK(seq_per_img >= 1, "seq_per_img must be >= 1, got ", seq_per_img);
  SPARSECAP_CHECK(captions.dtype() == DType::I64 && captions.dim() == 2 && captions.size(1) >= 2,
                  "expected captions int64 [B * seq_per_img, L >= 2], got ", dtype_name(captions.dtype()), " ",
                  shape_str(captions.shape()));
  SPARSECAP_CHECK(captions.size(0) == memory.size(0) * seq_per_img, "expected ", memory.size(0), " images x ",
                  seq_per_img, " captions = ", memory.size(0) * seq_per_img, " caption rows, got ", captions.size(0));
  const SoftAttentionStepWeights weights = step_weights();
  // Keys and initial states per image, then repeated for each of its captions.
  const Tensor keys = repeat_rows(attention_keys(memory), seq_per_img);
  const SoftAttentionState initial = initial_state(memory);
  SoftAttentionState state;
  state.cell.h = repeat_rows(initial.cell.h, seq_per_img);
  if (initial.cell.c.defined()) state.cell.c = repeat_rows(initial.cell.c, seq_per_img);
  if (initial.coverage.defined()) state.coverage = repeat_rows(initial.coverage, seq_per_img);
  const Tensor expanded_memory = repeat_rows(memory, seq_per_img);
  const Tensor words = sparse::embedding(weights.embedding, time_major_inputs(captions));  // [L - 1, N, E]
  std::vector<Tensor> outputs;
  outputs.reserve(static_cast<size_t>(words.size(0)));
  for (int64_t t = 0; t < words.size(0); ++t) {
    state = step(words.row(t), expanded_memory, keys, state, weights);
    outputs.push_back(output_features(state));
  }
  return logits(stack(outputs, 1), weights);  // [N, L - 1, V]
}

// ---- captioner -----------------------------------------------------------------

namespace {

// Per hypothesis: the memory, its keys and the recurrent state; shared: the step weights.
class SoftAttentionDecodingState : public DecodingState {
 public:
  SoftAttentionDecodingState(Tensor memory, Tensor keys, SoftAttentionState state, SoftAttentionStepWeights weights)
      : memory(std::move(memory)), keys(std::move(keys)), state(std::move(state)), weights(std::move(weights)) {}

  int64_t rows() const override { return memory.size(0); }

  // The search builds indices and tokens on the host; index_select and the embedding check and copy
  // them to the model's device.
  void select_rows(const Tensor& index) override {
    memory = index_select(memory, index);
    keys = index_select(keys, index);
    state.cell.h = index_select(state.cell.h, index);
    if (state.cell.c.defined()) state.cell.c = index_select(state.cell.c, index);
    if (state.context.defined()) state.context = index_select(state.context, index);
    if (state.coverage.defined()) state.coverage = index_select(state.coverage, index);
  }

  Tensor memory, keys;
  SoftAttentionState state;
  SoftAttentionStepWeights weights;
};

}  // namespace

SoftAttentionCaptioner::SoftAttentionCaptioner(const SoftAttentionConfig& config, Generator& generator)
    : config_(config), dropout_generator_(std::make_shared<Generator>(generator.seed(), generator.stream() + 1)) {
  config_.validate();
  encoder_ = register_module("encoder", std::make_shared<MobileNetV1Encoder>(config_.encoder, generator));
  const int64_t memory_channels = encoder_->output_channels() + (config_.decoder.coordinate_channels ? 2 : 0);
  decoder_ = register_module("decoder", std::make_shared<SoftAttentionDecoder>(config_.decoder, memory_channels,
                                                                               generator, dropout_generator_));
}

Tensor SoftAttentionCaptioner::encoder_output(const CaptionerInputs& inputs) {
  if (inputs.encoder_features.defined()) return inputs.encoder_features;
  SPARSECAP_CHECK(inputs.images.defined(), "soft_attention captions images; the batch has no pixels");
  return encoder_->feature_map(inputs.images);
}

Tensor SoftAttentionCaptioner::memory(const CaptionerInputs& inputs) {
  const Tensor feature_map = encoder_output(inputs);
  return feature_map_to_memory(config_.decoder.coordinate_channels ? append_coordinate_channels(feature_map)
                                                                   : feature_map);
}

Tensor SoftAttentionCaptioner::forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions,
                                                      int64_t seq_per_img) {
  return decoder_->forward_teacher_forced(memory(inputs), captions, seq_per_img);
}

Tensor SoftAttentionCaptioner::loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) {
  SPARSECAP_CHECK(captions.dtype() == DType::I64 && captions.dim() == 2 && captions.size(1) >= 2,
                  "expected captions int64 [B * seq_per_img, L >= 2], got ", dtype_name(captions.dtype()), " ",
                  shape_str(captions.shape()));
  const Tensor trimmed = trim_padding_columns(captions, config_.tokens.pad);
  const int64_t used = trimmed.size(1);
  const Tensor logits = forward_teacher_forced(inputs, trimmed, seq_per_img);
  return caption_cross_entropy(logits, narrow(trimmed, 1, 1, used - 1), config_.tokens.pad);
}

std::vector<std::string> SoftAttentionCaptioner::sparse_compute_weight_names() const {
  std::vector<std::string> names;
  for (const nn::ParameterPtr& parameter : decoder_->weight_matrices()) names.push_back(parameter->name());
  return names;
}

std::unique_ptr<DecodingState> SoftAttentionCaptioner::encode(const CaptionerInputs& inputs) {
  const Tensor memory = this->memory(inputs);
  return std::make_unique<SoftAttentionDecodingState>(memory, decoder_->attention_keys(memory),
                                                      decoder_->initial_state(memory), decoder_->step_weights());
}

Tensor SoftAttentionCaptioner::decode_step(DecodingState& state, const Tensor& tokens) {
  auto* soft_attention_state = dynamic_cast<SoftAttentionDecodingState*>(&state);
  SPARSECAP_CHECK(soft_attention_state != nullptr, "decode_step: the state was not made by this captioner's encode()");
  SoftAttentionDecodingState& s = *soft_attention_state;
  SPARSECAP_CHECK(tokens.dtype() == DType::I64, "decode_step: tokens must be int64, got ", dtype_name(tokens.dtype()));
  check_shape(tokens, {s.rows()}, "decode_step tokens");
  const Tensor words = sparse::embedding(s.weights.embedding, tokens);
  s.state = decoder_->step(words, s.memory, s.keys, s.state, s.weights);
  return log_softmax(decoder_->logits(decoder_->output_features(s.state), s.weights));
}

CaptionerRegistration soft_attention_registration() {
  const auto vocabulary_size = [](SoftAttentionConfig& config) -> int64_t& { return config.decoder.vocabulary_size; };
  return config_registration<SoftAttentionCaptioner, SoftAttentionConfig>(vocabulary_size, "/decoder/vocabulary_size");
}

Tensor append_coordinate_channels(const Tensor& feature_map) {
  SPARSECAP_CHECK(feature_map.dim() == 4, "append_coordinate_channels: expected a feature map [B, C, h, w], got ",
                  shape_str(feature_map.shape()));
  const int64_t batch = feature_map.size(0), height = feature_map.size(2), width = feature_map.size(3);
  // Cell centres: column j of w sits at (2j + 1)/w - 1, so a 1-wide map is at 0.
  std::vector<float> coordinates(static_cast<size_t>(2 * height * width));
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      coordinates[static_cast<size_t>(y * width + x)] = static_cast<float>(2 * x + 1) / static_cast<float>(width) - 1;
      coordinates[static_cast<size_t>((height + y) * width + x)] =
          static_cast<float>(2 * y + 1) / static_cast<float>(height) - 1;
    }
  const Tensor grid = from_vector(coordinates, {1, 2, height, width}).to(feature_map.dtype()).to(feature_map.device());
  return concat({feature_map, broadcast_to(grid, {batch, 2, height, width})}, 1);
}

Tensor caption_cross_entropy(const Tensor& logits, const Tensor& targets, int64_t pad) {
  SPARSECAP_CHECK(logits.dim() == 3, "caption_cross_entropy: logits must be [N, T, V], got ", shape_str(logits.shape()));
  check_shape(targets, {logits.size(0), logits.size(1)}, "caption_cross_entropy targets");
  const int64_t vocabulary = logits.size(2);
  // Targets may come from captions on the host (the trainer keeps them there so that reading
  // their lengths does not wait for the GPU); cross_entropy checks and copies them.
  return cross_entropy(logits.reshape({-1, vocabulary}), targets.reshape({-1}), pad);
}

}  // namespace sparsecap::models
