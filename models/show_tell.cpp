#include "models/show_tell.h"

#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "models/captioner_registry.h"
#include "models/soft_attention.h"  // caption_cross_entropy

namespace sparsecap::models {

// ---- config ------------------------------------------------------------------

void ShowTellConfig::validate_options() const {
  encoder.validate();
  const ShowTellDecoderConfig& d = decoder;
  SPARSECAP_CHECK(d.hidden_size > 0, "decoder.hidden_size must be positive, got ", d.hidden_size);
  SPARSECAP_CHECK(d.embedding_size > 0, "decoder.embedding_size must be positive, got ", d.embedding_size);
  SPARSECAP_CHECK(d.dropout >= 0.0 && d.dropout < 1.0, "decoder.dropout ", d.dropout, " outside [0, 1)");
  validate_decoding_options(decoding);
}

void ShowTellConfig::validate() const {
  validate_options();
  validate_vocabulary(decoder.vocabulary_size, tokens, "decoder.vocabulary_size");
}

void to_json(nlohmann::json& json, const ShowTellConfig& config) {
  const ShowTellDecoderConfig& d = config.decoder;
  json = {{"encoder", config.encoder},
          {"decoder",
           {{"vocabulary_size", d.vocabulary_size},
            {"cell", cell_type_name(d.cell)},
            {"hidden_size", d.hidden_size},
            {"embedding_size", d.embedding_size},
            {"dropout", d.dropout},
            {"forget_bias", d.forget_bias},
            {"image_batch_norm", d.image_batch_norm},
            {"image_initial_state", d.image_initial_state}}},
          {"decoding", decoding_options_json(config.decoding)},
          {"tokens", special_tokens_json(config.tokens)}};
}

void from_json(const nlohmann::json& json, ShowTellConfig& config) {
  check_known_keys(json, {"encoder", "decoder", "decoding", "tokens"}, "model");
  if (json.contains("encoder")) from_json(json.at("encoder"), config.encoder);
  if (json.contains("decoder")) {
    const nlohmann::json& d = json.at("decoder");
    check_known_keys(d,
                     {"vocabulary_size", "cell", "hidden_size", "embedding_size", "dropout", "forget_bias",
                      "image_batch_norm", "image_initial_state"},
                     "decoder");
    read_field(d, "vocabulary_size", config.decoder.vocabulary_size, "decoder");
    if (d.contains("cell")) {
      std::string cell;
      read_field(d, "cell", cell, "decoder");
      config.decoder.cell = parse_cell_type(cell);
    }
    read_field(d, "hidden_size", config.decoder.hidden_size, "decoder");
    read_field(d, "embedding_size", config.decoder.embedding_size, "decoder");
    read_field(d, "dropout", config.decoder.dropout, "decoder");
    read_field(d, "forget_bias", config.decoder.forget_bias, "decoder");
    read_field(d, "image_batch_norm", config.decoder.image_batch_norm, "decoder");
    read_field(d, "image_initial_state", config.decoder.image_initial_state, "decoder");
  }
  if (json.contains("decoding")) read_decoding_options(json.at("decoding"), config.decoding);
  if (json.contains("tokens")) read_special_tokens(json.at("tokens"), config.tokens);
}

// ---- decoder -----------------------------------------------------------------

ShowTellDecoder::ShowTellDecoder(const ShowTellDecoderConfig& config, int64_t image_channels, Generator& generator,
                                 std::shared_ptr<Generator> dropout_generator)
    : config_(config), image_channels_(image_channels), dropout_generator_(std::move(dropout_generator)) {
  SPARSECAP_CHECK(dropout_generator_ != nullptr, "ShowTellDecoder needs a dropout generator");
  image_embed_ = register_module("image_embed", xavier_linear(image_channels, config.embedding_size, generator));
  if (config.image_batch_norm)
    image_norm_ = register_module("image_norm", std::make_shared<nn::BatchNorm2d>(config.embedding_size));
  if (config.image_initial_state) {
    const int64_t state_size = config.cell == CellType::Lstm ? 2 * config.hidden_size : config.hidden_size;  // h, c
    init_state_ = register_module("init_state", xavier_linear(config.embedding_size, state_size, generator));
  }
  embedding_ = register_module("embedding", xavier_embedding(config.vocabulary_size, config.embedding_size, generator));
  CellOptions cell_options;
  cell_options.forget_bias = config.forget_bias;
  cell_ = register_module(cell_type_name(config.cell), make_recurrent_cell(config.cell, config.embedding_size,
                                                                           config.hidden_size, generator, cell_options));
  logit_ = register_module("logit", xavier_linear(config.hidden_size, config.vocabulary_size, generator));
}

std::vector<nn::ParameterPtr> ShowTellDecoder::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = {image_embed_->weight()};
  if (init_state_) matrices.push_back(init_state_->weight());
  for (const nn::ParameterPtr& matrix : {embedding_->weight(), cell_->w_ih(), cell_->w_hh(), logit_->weight()})
    matrices.push_back(matrix);
  return matrices;
}

void ShowTellDecoder::use_sparse_weights(const SparseWeights& weights) {
  sparse_weights_.install(weights, weight_matrices(), module_display_name(*this, "decoder"));
}

ShowTellStepWeights ShowTellDecoder::step_weights() const {
  // Each effective() once: a pruning gate draws one mask per fetch.
  const CellWeights cell{sparse_weights_.handle(cell_->w_ih()), sparse_weights_.handle(cell_->w_hh()),
                         cell_->b_ih()->effective(), cell_->b_hh()->effective()};
  return ShowTellStepWeights{sparse_weights_.handle(image_embed_->weight()),
                             image_embed_->bias()->effective(),
                             init_state_ ? sparse_weights_.handle(init_state_->weight()) : sparse::WeightHandle(),
                             init_state_ ? init_state_->bias()->effective() : Tensor(),
                             sparse_weights_.handle(embedding_->weight()),
                             cell,
                             sparse_weights_.handle(logit_->weight()),
                             logit_->bias()->effective()};
}

Tensor ShowTellDecoder::image_vector(const Tensor& pooled, const ShowTellStepWeights& weights) const {
  SPARSECAP_CHECK(pooled.dim() == 2 && pooled.size(1) == image_channels_, "expected pooled image features [B, ",
                  image_channels_, "], got ", shape_str(pooled.shape()), " in ", module_display_name(*this, "decoder"));
  const Tensor image = sparse::linear(pooled, weights.image_embed_weight, weights.image_embed_bias);  // [B, E]
  if (!image_norm_) return image;
  const int64_t images = image.size(0), size = image.size(1);
  return image_norm_->forward(image.reshape({images, size, 1, 1})).reshape({images, size});
}

RecurrentState ShowTellDecoder::initial_state(const Tensor& image, const ShowTellStepWeights& weights) const {
  const int64_t hidden = config_.hidden_size;
  const bool lstm = config_.cell == CellType::Lstm;
  if (!init_state_) {
    const Tensor zero = zeros({image.size(0), hidden}, image.dtype(), image.device());
    return RecurrentState{zero, lstm ? zero : Tensor()};
  }
  const Tensor state = sparse::linear(image, weights.init_state_weight, weights.init_state_bias);  // [B, 2H or H]
  if (!lstm) return RecurrentState{tanh(state), Tensor()};
  // c starts as a linear function of v, unsquashed, as Show, Attend and Tell's initial cell state.
  return RecurrentState{tanh(narrow(state, 1, 0, hidden)), narrow(state, 1, hidden, hidden)};
}

RecurrentState ShowTellDecoder::image_step(const Tensor& pooled, const ShowTellStepWeights& weights) const {
  const Tensor image = image_vector(pooled, weights);
  return step(image, initial_state(image, weights), weights);
}

RecurrentState ShowTellDecoder::step(const Tensor& words, const RecurrentState& state,
                                     const ShowTellStepWeights& weights) const {
  return cell_->step(words, state, weights.cell);
}

Tensor ShowTellDecoder::logits(const Tensor& h, const ShowTellStepWeights& weights) {
  const Tensor output = dropout(h, config_.dropout, is_training(), *dropout_generator_);
  return sparse::linear(output, weights.logit_weight, weights.logit_bias);
}

Tensor ShowTellDecoder::forward_teacher_forced(const Tensor& pooled, const Tensor& captions, int64_t seq_per_img) {
  check_caption_rows(captions, pooled.size(0), seq_per_img);
  const ShowTellStepWeights weights = step_weights();
  // The image step once per image, then its state once per caption.
  const RecurrentState after_image = image_step(pooled, weights);
  RecurrentState state{repeat_rows(after_image.h, seq_per_img),
                       after_image.c.defined() ? repeat_rows(after_image.c, seq_per_img) : Tensor()};
  const Tensor words = sparse::embedding(weights.embedding, time_major_inputs(captions));  // [L - 1, N, E]
  std::vector<Tensor> outputs;
  outputs.reserve(static_cast<size_t>(words.size(0)));
  for (int64_t t = 0; t < words.size(0); ++t) {
    state = step(words.row(t), state, weights);
    outputs.push_back(state.h);
  }
  return logits(stack(outputs, 1), weights);  // [N, L - 1, V]
}

// ---- captioner -----------------------------------------------------------------

namespace {

// Per hypothesis: the recurrent state; shared: the step weights.
class ShowTellDecodingState : public DecodingState {
 public:
  ShowTellDecodingState(RecurrentState state, ShowTellStepWeights weights)
      : state(std::move(state)), weights(std::move(weights)) {}

  int64_t rows() const override { return state.h.size(0); }

  void select_rows(const Tensor& index) override {
    state.h = index_select(state.h, index);
    if (state.c.defined()) state.c = index_select(state.c, index);
  }

  RecurrentState state;
  ShowTellStepWeights weights;
};

}  // namespace

ShowTellCaptioner::ShowTellCaptioner(const ShowTellConfig& config, Generator& generator)
    : config_(config), dropout_generator_(std::make_shared<Generator>(generator.seed(), generator.stream() + 1)) {
  config_.validate();
  encoder_ = register_module("encoder", std::make_shared<MobileNetV1Encoder>(config_.encoder, generator));
  decoder_ = register_module("decoder", std::make_shared<ShowTellDecoder>(config_.decoder, encoder_->output_channels(),
                                                                          generator, dropout_generator_));
}

Tensor ShowTellCaptioner::encoder_output(const CaptionerInputs& inputs) {
  if (inputs.encoder_features.defined()) return inputs.encoder_features;
  SPARSECAP_CHECK(inputs.images.defined(), "show_tell captions images; the batch has no pixels");
  return encoder_->feature_map(inputs.images);
}

Tensor ShowTellCaptioner::pooled_features(const CaptionerInputs& inputs) {
  return mean(feature_map_to_memory(encoder_output(inputs)), 1);
}

Tensor ShowTellCaptioner::forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions,
                                                 int64_t seq_per_img) {
  return decoder_->forward_teacher_forced(pooled_features(inputs), captions, seq_per_img);
}

Tensor ShowTellCaptioner::loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) {
  const Tensor pooled = pooled_features(inputs);
  check_caption_rows(captions, pooled.size(0), seq_per_img);
  const Tensor trimmed = trim_padding_columns(captions, config_.tokens.pad);
  const Tensor logits = decoder_->forward_teacher_forced(pooled, trimmed, seq_per_img);
  return caption_cross_entropy(logits, narrow(trimmed, 1, 1, trimmed.size(1) - 1), config_.tokens.pad);
}

std::vector<std::string> ShowTellCaptioner::sparse_compute_weight_names() const {
  std::vector<std::string> names;
  for (const nn::ParameterPtr& parameter : decoder_->weight_matrices()) names.push_back(parameter->name());
  return names;
}

std::unique_ptr<DecodingState> ShowTellCaptioner::encode(const CaptionerInputs& inputs) {
  ShowTellStepWeights weights = decoder_->step_weights();
  RecurrentState state = decoder_->image_step(pooled_features(inputs), weights);
  return std::make_unique<ShowTellDecodingState>(std::move(state), std::move(weights));
}

Tensor ShowTellCaptioner::decode_step(DecodingState& state, const Tensor& tokens) {
  auto* show_tell_state = dynamic_cast<ShowTellDecodingState*>(&state);
  SPARSECAP_CHECK(show_tell_state != nullptr, "decode_step: the state was not made by this captioner's encode()");
  ShowTellDecodingState& s = *show_tell_state;
  SPARSECAP_CHECK(tokens.dtype() == DType::I64, "decode_step: tokens must be int64, got ", dtype_name(tokens.dtype()));
  check_shape(tokens, {s.rows()}, "decode_step tokens");
  const Tensor words = sparse::embedding(s.weights.embedding, tokens);
  s.state = decoder_->step(words, s.state, s.weights);
  return log_softmax(decoder_->logits(s.state.h, s.weights));
}

CaptionerRegistration show_tell_registration() {
  const auto vocabulary_size = [](ShowTellConfig& config) -> int64_t& { return config.decoder.vocabulary_size; };
  return config_registration<ShowTellCaptioner, ShowTellConfig>(vocabulary_size, "/decoder/vocabulary_size");
}

}  // namespace sparsecap::models
