#include "models/up_down.h"

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/json_fields.h"
#include "engine/ops.h"
#include "models/captioner_registry.h"
#include "models/region_box_features.h"
#include "models/soft_attention.h"  // caption_cross_entropy

namespace sparsecap::models {

// ---- config ------------------------------------------------------------------

void UpDownConfig::validate_options() const {
  const std::pair<const char*, int64_t> sizes[] = {{"feature_size", feature_size},
                                                   {"embedding_size", embedding_size},
                                                   {"hidden_size", hidden_size},
                                                   {"attention_size", attention_size}};
  for (const auto& [name, size] : sizes) SPARSECAP_CHECK(size > 0, name, " must be positive, got ", size);
  SPARSECAP_CHECK(dropout >= 0.0 && dropout < 1.0, "dropout ", dropout, " outside [0, 1)");
  SPARSECAP_CHECK(box_frequencies >= 0 && box_frequencies <= 16, "box_frequencies must be in [0, 16], got ",
                  box_frequencies);
  SPARSECAP_CHECK(box_frequencies == 0 || box_features, "box_frequencies needs box_features");
  validate_decoding_options(decoding);
}

void UpDownConfig::validate() const {
  validate_options();
  validate_vocabulary(vocabulary_size, tokens, "vocabulary_size");
}

void to_json(nlohmann::json& json, const UpDownConfig& config) {
  json = {{"vocabulary_size", config.vocabulary_size},
          {"feature_size", config.feature_size},
          {"embedding_size", config.embedding_size},
          {"hidden_size", config.hidden_size},
          {"attention_size", config.attention_size},
          {"dropout", config.dropout},
          {"forget_bias", config.forget_bias},
          {"box_features", config.box_features},
          {"box_frequencies", config.box_frequencies},
          {"standardize_features", config.standardize_features},
          {"coverage", config.coverage},
          {"region_sum", config.region_sum},
          {"decoding", decoding_options_json(config.decoding)},
          {"tokens", special_tokens_json(config.tokens)}};
}

void from_json(const nlohmann::json& json, UpDownConfig& config) {
  check_known_keys(json,
                   {"vocabulary_size", "feature_size", "embedding_size", "hidden_size", "attention_size", "dropout",
                    "forget_bias", "box_features", "box_frequencies", "standardize_features", "coverage",
                    "region_sum", "decoding", "tokens"},
                   "model");
  read_field(json, "vocabulary_size", config.vocabulary_size, "model");
  read_field(json, "feature_size", config.feature_size, "model");
  read_field(json, "embedding_size", config.embedding_size, "model");
  read_field(json, "hidden_size", config.hidden_size, "model");
  read_field(json, "attention_size", config.attention_size, "model");
  read_field(json, "dropout", config.dropout, "model");
  read_field(json, "forget_bias", config.forget_bias, "model");
  read_field(json, "box_features", config.box_features, "model");
  read_field(json, "box_frequencies", config.box_frequencies, "model");
  read_field(json, "standardize_features", config.standardize_features, "model");
  read_field(json, "coverage", config.coverage, "model");
  read_field(json, "region_sum", config.region_sum, "model");
  if (json.contains("decoding")) read_decoding_options(json.at("decoding"), config.decoding);
  if (json.contains("tokens")) read_special_tokens(json.at("tokens"), config.tokens);
}

// ---- memory ------------------------------------------------------------------

UpDownMemory UpDownMemory::repeated(int64_t times) const {
  return UpDownMemory{repeat_rows(fc, times), repeat_rows(regions, times), repeat_rows(keys, times),
                      repeat_rows(mask, times)};
}

void UpDownMemory::select_rows(const Tensor& index) {
  fc = index_select(fc, index);
  regions = index_select(regions, index);
  keys = index_select(keys, index);
  mask = index_select(mask, index);
}

// ---- captioner -----------------------------------------------------------------

namespace {
constexpr double kRegionSumScale = 1.0 / 8.0;  // UpDownConfig::region_sum
}  // namespace

UpDownCaptioner::UpDownCaptioner(const UpDownConfig& config, Generator& generator)
    : config_(config), dropout_generator_(std::make_shared<Generator>(generator.seed(), generator.stream() + 1)) {
  config_.validate();
  const int64_t hidden = config_.hidden_size, features = config_.feature_size, embedding = config_.embedding_size;
  if (config_.standardize_features)
    standardizer_ = register_module("feature_standardizer", std::make_shared<RegionFeatureStandardizer>(features));
  embedding_ = register_module("embedding", xavier_embedding(config_.vocabulary_size, embedding, generator));
  fc_embed_ = register_module("fc_embed", xavier_linear(features, hidden, generator));
  const int64_t box_values = config_.box_features ? region_box_feature_count(config_.box_frequencies) : 0;
  const int64_t region_width = features + box_values;
  att_embed_ = register_module("att_embed", xavier_linear(region_width, hidden, generator));
  ctx2att_ = register_module("ctx2att", xavier_linear(hidden, config_.attention_size, generator));
  CellOptions cell_options;
  cell_options.forget_bias = config_.forget_bias;
  // Attention LSTM input [h2, v_fc, x_t]; language LSTM input [a_t, h1].
  attention_lstm_ = register_module("attention_lstm", make_recurrent_cell(CellType::Lstm, 2 * hidden + embedding, hidden,
                                                                          generator, cell_options));
  h2att_ = register_module("h2att", xavier_linear(hidden, config_.attention_size, generator));
  alpha_net_ = register_module("alpha_net", xavier_linear(config_.attention_size, 1, generator));
  if (config_.coverage) {
    // No bias: h2att's already shifts every energy's argument.
    att_coverage_ = register_module("att_coverage", xavier_linear_without_bias(1, config_.attention_size, generator));
  }
  if (config_.region_sum)
    region_sum_ = register_module("region_sum", xavier_linear_without_bias(hidden, hidden, generator));
  language_lstm_ = register_module("language_lstm",
                                   make_recurrent_cell(CellType::Lstm, 2 * hidden, hidden, generator, cell_options));
  logit_ = register_module("logit", xavier_linear(hidden, config_.vocabulary_size, generator));
}

std::vector<nn::ParameterPtr> UpDownCaptioner::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = {embedding_->weight(),    fc_embed_->weight(),     att_embed_->weight(),
                                            ctx2att_->weight(),      attention_lstm_->w_ih(), attention_lstm_->w_hh(),
                                            h2att_->weight(),        alpha_net_->weight(),    language_lstm_->w_ih(),
                                            language_lstm_->w_hh(),  logit_->weight()};
  if (att_coverage_) matrices.push_back(att_coverage_->weight());
  if (region_sum_) matrices.push_back(region_sum_->weight());
  return matrices;
}

std::vector<std::string> UpDownCaptioner::sparse_compute_weight_names() const {
  std::vector<std::string> names;
  for (const nn::ParameterPtr& parameter : weight_matrices()) names.push_back(parameter->name());
  return names;
}

void UpDownCaptioner::use_sparse_weights(const SparseWeights& weights) {
  sparse_weights_.install(weights, weight_matrices(), "up_down");
}

UpDownStepWeights UpDownCaptioner::step_weights() const {
  // Each effective() once: a pruning gate draws one mask per fetch.
  const auto cell_weights = [this](const RecurrentCell& cell) {
    return CellWeights{sparse_weights_.handle(cell.w_ih()), sparse_weights_.handle(cell.w_hh()),
                       cell.b_ih()->effective(), cell.b_hh()->effective()};
  };
  return UpDownStepWeights{sparse_weights_.handle(embedding_->weight()),
                           cell_weights(*attention_lstm_),
                           sparse_weights_.handle(h2att_->weight()),
                           h2att_->bias()->effective(),
                           sparse_weights_.handle(alpha_net_->weight()),
                           alpha_net_->bias()->effective(),
                           att_coverage_ ? sparse_weights_.handle(att_coverage_->weight()) : sparse::WeightHandle(),
                           cell_weights(*language_lstm_),
                           sparse_weights_.handle(logit_->weight()),
                           logit_->bias()->effective()};
}

void UpDownCaptioner::check_inputs(const CaptionerInputs& inputs) const {
  SPARSECAP_CHECK(inputs.region_features.defined() && inputs.region_mask.defined() && inputs.fc_features.defined(),
                  "up_down captions region features; the batch has no region features, mask or fc features");
  const Tensor& regions = inputs.region_features;
  SPARSECAP_CHECK(regions.dim() == 3 && regions.size(2) == config_.feature_size, "expected region features [B, R, ",
                  config_.feature_size, "], got ", shape_str(regions.shape()), " in up_down",
                  " (model.feature_size must be the width of the data's region features)");
  check_shape(inputs.region_mask, {regions.size(0), regions.size(1)}, "up_down region mask");
  check_shape(inputs.fc_features, {regions.size(0), config_.feature_size}, "up_down fc features");
  if (config_.box_features) {
    SPARSECAP_CHECK(inputs.boxes.defined(), "up_down with box_features needs the regions' boxes");
    check_shape(inputs.boxes, {regions.size(0), regions.size(1), 4}, "up_down boxes");
  }
}

Tensor UpDownCaptioner::embedded(const nn::Linear& layer, const Tensor& x) {
  const Tensor y = sparse::linear(x, sparse_weights_.handle(layer.weight()), layer.bias()->effective());
  return dropout(relu(y), config_.dropout, is_training(), *dropout_generator_);
}

UpDownMemory UpDownCaptioner::embed_memory(const CaptionerInputs& inputs) {
  check_inputs(inputs);
  UpDownMemory memory;
  Tensor fc = inputs.fc_features, regions = inputs.region_features;
  if (standardizer_) {
    fc = standardizer_->forward(fc);
    regions = standardizer_->forward(regions);
  }
  if (config_.box_features) regions = append_region_box_features(regions, inputs.boxes, config_.box_frequencies);
  memory.fc = embedded(*fc_embed_, fc);
  memory.regions = embedded(*att_embed_, regions);
  memory.keys = sparse::linear(memory.regions, sparse_weights_.handle(ctx2att_->weight()), ctx2att_->bias()->effective());
  memory.mask = inputs.region_mask.to(memory.regions.dtype()).to(memory.regions.device());
  if (region_sum_) {
    const Tensor summed = mul_scalar(sum(mul(memory.regions, unsqueeze(memory.mask, 2)), 1), kRegionSumScale);
    memory.fc = add(memory.fc, sparse::linear(summed, sparse_weights_.handle(region_sum_->weight())));
  }
  return memory;
}

UpDownState UpDownCaptioner::initial_state(const UpDownMemory& memory) const {
  const Tensor& like = memory.fc;
  const int64_t rows = like.size(0);
  const Tensor zero = zeros({rows, config_.hidden_size}, like.dtype(), like.device());
  UpDownState state{{zero, zero}, {zero, zero}, Tensor()};
  if (config_.coverage) state.coverage = zeros({rows, memory.regions.size(1)}, like.dtype(), like.device());
  return state;
}

Tensor UpDownCaptioner::attention_weights(const UpDownMemory& memory, const Tensor& h1, const Tensor& coverage,
                                          const UpDownStepWeights& weights) const {
  const int64_t rows = memory.keys.size(0), regions = memory.keys.size(1);
  const Tensor query = sparse::linear(h1, weights.h2att_weight, weights.h2att_bias);  // [N, A_h]
  Tensor energies = add(memory.keys, unsqueeze(query, 1));                            // [N, R, A_h]
  if (config_.coverage) energies = add(energies, sparse::linear(unsqueeze(coverage, 2), weights.coverage_weight));
  const Tensor alignment = tanh(energies);
  const Tensor scores = sparse::linear(alignment, weights.alpha_weight, weights.alpha_bias).reshape({rows, regions});
  return masked_softmax(scores, memory.mask);
}

UpDownState UpDownCaptioner::step(const Tensor& words, const UpDownMemory& memory, const UpDownState& state,
                                  const UpDownStepWeights& weights) const {
  const RecurrentState attention =
      attention_lstm_->step(concat({state.language.h, memory.fc, words}, 1), state.attention, weights.attention_lstm);
  const Tensor alpha = attention_weights(memory, attention.h, state.coverage, weights);  // [N, R]
  // One broadcast multiply and one reduction rather than N tiny GEMMs (as Soft-Attention).
  const Tensor attended = sum(mul(unsqueeze(alpha, 2), memory.regions), 1);          // [N, H]
  const RecurrentState language =
      language_lstm_->step(concat({attended, attention.h}, 1), state.language, weights.language_lstm);
  return UpDownState{attention, language, config_.coverage ? add(state.coverage, alpha) : Tensor()};
}

Tensor UpDownCaptioner::word_inputs(const Tensor& tokens, const UpDownStepWeights& weights) {
  return dropout(relu(sparse::embedding(weights.embedding, tokens)), config_.dropout, is_training(),
                 *dropout_generator_);
}

Tensor UpDownCaptioner::logits(const Tensor& h2, const UpDownStepWeights& weights) {
  const Tensor output = dropout(h2, config_.dropout, is_training(), *dropout_generator_);
  return sparse::linear(output, weights.logit_weight, weights.logit_bias);
}

Tensor UpDownCaptioner::forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions,
                                               int64_t seq_per_img) {
  check_inputs(inputs);
  check_caption_rows(captions, inputs.region_features.size(0), seq_per_img);
  const UpDownStepWeights weights = step_weights();
  // The memory once per image, then repeated for each of its captions.
  const UpDownMemory memory = embed_memory(inputs).repeated(seq_per_img);
  UpDownState state = initial_state(memory);
  const Tensor words = word_inputs(time_major_inputs(captions), weights);  // [L - 1, N, E]
  std::vector<Tensor> outputs;
  outputs.reserve(static_cast<size_t>(words.size(0)));
  for (int64_t t = 0; t < words.size(0); ++t) {
    state = step(words.row(t), memory, state, weights);
    outputs.push_back(state.language.h);
  }
  return logits(stack(outputs, 1), weights);  // [N, L - 1, V]
}

Tensor UpDownCaptioner::loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) {
  check_inputs(inputs);
  check_caption_rows(captions, inputs.region_features.size(0), seq_per_img);
  const Tensor trimmed = trim_padding_columns(captions, config_.tokens.pad);
  const Tensor logits = forward_teacher_forced(inputs, trimmed, seq_per_img);
  return caption_cross_entropy(logits, narrow(trimmed, 1, 1, trimmed.size(1) - 1), config_.tokens.pad);
}

namespace {

// Per hypothesis: the embedded memory and both LSTM states; shared: the step weights.
class UpDownDecodingState : public DecodingState {
 public:
  UpDownDecodingState(UpDownMemory memory, UpDownState state, UpDownStepWeights weights)
      : memory(std::move(memory)), state(std::move(state)), weights(std::move(weights)) {}

  int64_t rows() const override { return memory.fc.size(0); }

  void select_rows(const Tensor& index) override {
    memory.select_rows(index);
    for (RecurrentState* s : {&state.attention, &state.language}) {
      s->h = index_select(s->h, index);
      s->c = index_select(s->c, index);
    }
    if (state.coverage.defined()) state.coverage = index_select(state.coverage, index);
  }

  UpDownMemory memory;
  UpDownState state;
  UpDownStepWeights weights;
};

}  // namespace

std::unique_ptr<DecodingState> UpDownCaptioner::encode(const CaptionerInputs& inputs) {
  UpDownStepWeights weights = step_weights();
  UpDownMemory memory = embed_memory(inputs);
  UpDownState state = initial_state(memory);
  return std::make_unique<UpDownDecodingState>(std::move(memory), std::move(state), std::move(weights));
}

Tensor UpDownCaptioner::decode_step(DecodingState& state, const Tensor& tokens) {
  auto* up_down_state = dynamic_cast<UpDownDecodingState*>(&state);
  SPARSECAP_CHECK(up_down_state != nullptr, "decode_step: the state was not made by this captioner's encode()");
  UpDownDecodingState& s = *up_down_state;
  SPARSECAP_CHECK(tokens.dtype() == DType::I64, "decode_step: tokens must be int64, got ", dtype_name(tokens.dtype()));
  check_shape(tokens, {s.rows()}, "decode_step tokens");
  const Tensor words = word_inputs(tokens, s.weights);
  s.state = step(words, s.memory, s.state, s.weights);
  return log_softmax(logits(s.state.language.h, s.weights));
}

CaptionerRegistration up_down_registration() {
  const auto vocabulary_size = [](UpDownConfig& config) -> int64_t& { return config.vocabulary_size; };
  return config_registration<UpDownCaptioner, UpDownConfig>(vocabulary_size, "/vocabulary_size");
}

}  // namespace sparsecap::models
