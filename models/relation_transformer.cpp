#include "models/relation_transformer.h"

#include <cmath>
#include <limits>
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

void RelationTransformerConfig::validate_options() const {
  const std::pair<const char*, int64_t> sizes[] = {{"feature_size", feature_size},     {"model_size", model_size},
                                                   {"feed_forward_size", feed_forward_size}, {"encoder_layers", encoder_layers},
                                                   {"decoder_layers", decoder_layers}, {"heads", heads}};
  for (const auto& [name, size] : sizes) SPARSECAP_CHECK(size > 0, name, " must be positive, got ", size);
  SPARSECAP_CHECK(model_size % heads == 0, "model_size ", model_size, " is not a multiple of heads ", heads);
  SPARSECAP_CHECK(dropout >= 0.0 && dropout < 1.0, "dropout ", dropout, " outside [0, 1)");
  SPARSECAP_CHECK(box_frequencies >= 0 && box_frequencies <= 16, "box_frequencies must be in [0, 16], got ",
                  box_frequencies);
  SPARSECAP_CHECK(box_frequencies == 0 || box_features, "box_frequencies needs box_features");
  SPARSECAP_CHECK(!coverage || decoder_layers >= 2, "coverage needs decoder_layers >= 2 (the first layer's attention ",
                  "feeds the second's), got ", decoder_layers);
  validate_decoding_options(decoding);
}

void RelationTransformerConfig::validate() const {
  validate_options();
  validate_vocabulary(vocabulary_size, tokens, "vocabulary_size");
}

void to_json(nlohmann::json& json, const RelationTransformerConfig& config) {
  json = {{"vocabulary_size", config.vocabulary_size},
          {"feature_size", config.feature_size},
          {"model_size", config.model_size},
          {"feed_forward_size", config.feed_forward_size},
          {"encoder_layers", config.encoder_layers},
          {"decoder_layers", config.decoder_layers},
          {"heads", config.heads},
          {"dropout", config.dropout},
          {"box_relation", config.box_relation},
          {"box_features", config.box_features},
          {"box_frequencies", config.box_frequencies},
          {"standardize_features", config.standardize_features},
          {"coverage", config.coverage},
          {"region_sum", config.region_sum},
          {"decoding", decoding_options_json(config.decoding)},
          {"tokens", special_tokens_json(config.tokens)}};
}

void from_json(const nlohmann::json& json, RelationTransformerConfig& config) {
  check_known_keys(json,
                   {"vocabulary_size", "feature_size", "model_size", "feed_forward_size", "encoder_layers",
                    "decoder_layers", "heads", "dropout", "box_relation", "box_features", "box_frequencies",
                    "standardize_features", "coverage", "region_sum", "decoding", "tokens"},
                   "model");
  read_field(json, "vocabulary_size", config.vocabulary_size, "model");
  read_field(json, "feature_size", config.feature_size, "model");
  read_field(json, "model_size", config.model_size, "model");
  read_field(json, "feed_forward_size", config.feed_forward_size, "model");
  read_field(json, "encoder_layers", config.encoder_layers, "model");
  read_field(json, "decoder_layers", config.decoder_layers, "model");
  read_field(json, "heads", config.heads, "model");
  read_field(json, "dropout", config.dropout, "model");
  read_field(json, "box_relation", config.box_relation, "model");
  read_field(json, "box_features", config.box_features, "model");
  read_field(json, "box_frequencies", config.box_frequencies, "model");
  read_field(json, "standardize_features", config.standardize_features, "model");
  read_field(json, "coverage", config.coverage, "model");
  read_field(json, "region_sum", config.region_sum, "model");
  if (json.contains("decoding")) read_decoding_options(json.at("decoding"), config.decoding);
  if (json.contains("tokens")) read_special_tokens(json.at("tokens"), config.tokens);
}

// ---- geometry and positions ------------------------------------------------------

Tensor box_relation_geometry(const Tensor& boxes) {
  SPARSECAP_CHECK(boxes.dim() == 3 && boxes.size(2) == 4, "expected boxes [B, R, 4], got ", shape_str(boxes.shape()));
  constexpr int kFrequencies = 8;
  constexpr double kScale = 100.0, kWaveLength = 1000.0, kMinSize = 1e-6, kMinOffset = 1e-3;
  const int64_t images = boxes.size(0), regions = boxes.size(1);
  const std::vector<double> b = boxes.to_vector<double>();
  std::vector<double> out(static_cast<size_t>(images * regions * regions * 64));
  for (int64_t n = 0; n < images; ++n)
    for (int64_t i = 0; i < regions; ++i)
      for (int64_t j = 0; j < regions; ++j) {
        const double* bi = b.data() + (n * regions + i) * 4;
        const double* bj = b.data() + (n * regions + j) * 4;
        const double wi = std::max(bi[2] - bi[0], kMinSize), hi = std::max(bi[3] - bi[1], kMinSize);
        const double wj = std::max(bj[2] - bj[0], kMinSize), hj = std::max(bj[3] - bj[1], kMinSize);
        const double dx = std::abs((bi[0] + bi[2]) - (bj[0] + bj[2])) / 2, dy = std::abs((bi[1] + bi[3]) - (bj[1] + bj[3])) / 2;
        const double position[4] = {std::log(std::max(dx / wi, kMinOffset)), std::log(std::max(dy / hi, kMinOffset)),
                                    std::log(wi / wj), std::log(hi / hj)};
        double* row = out.data() + ((n * regions + i) * regions + j) * 64;
        for (int c = 0; c < 4; ++c)
          for (int k = 0; k < kFrequencies; ++k) {
            const double angle = kScale * position[c] * std::pow(kWaveLength, -static_cast<double>(k) / kFrequencies);
            row[c * kFrequencies + k] = std::sin(angle);
            row[32 + c * kFrequencies + k] = std::cos(angle);
          }
      }
  return from_vector(out, {images, regions, regions, 64}).to(boxes.dtype()).to(boxes.device());
}

Tensor sinusoidal_positions(int64_t start, int64_t count, int64_t size, DType dtype) {
  std::vector<double> table(static_cast<size_t>(count * size));
  for (int64_t p = 0; p < count; ++p)
    for (int64_t i = 0; i < size; i += 2) {
      const double angle = static_cast<double>(start + p) / std::pow(10000.0, static_cast<double>(i) / size);
      table[static_cast<size_t>(p * size + i)] = std::sin(angle);
      if (i + 1 < size) table[static_cast<size_t>(p * size + i + 1)] = std::cos(angle);
    }
  return from_vector(table, {count, size}).to(dtype);
}

namespace {

// [B * H * T, S] for masked_softmax: query t of this call (its position past + t) sees keys 0 .. past + t.
Tensor causal_mask(int64_t batch_heads, int64_t queries, int64_t keys, DType dtype, Device device) {
  const int64_t past = keys - queries;
  std::vector<double> mask(static_cast<size_t>(batch_heads * queries * keys), 0.0);
  for (int64_t g = 0; g < batch_heads; ++g)
    for (int64_t t = 0; t < queries; ++t)
      for (int64_t s = 0; s <= past + t; ++s) mask[static_cast<size_t>((g * queries + t) * keys + s)] = 1.0;
  return from_vector(mask, {batch_heads * queries, keys}).to(dtype).to(device);
}

Tensor linear_layer(const nn::Linear& layer, const Tensor& x, const SparseWeightTable& weights) {
  return sparse::linear(x, weights.handle(layer.weight()), layer.bias()->effective());
}

}  // namespace

// ---- layers ------------------------------------------------------------------

ReferenceLayerNorm::ReferenceLayerNorm(int64_t size, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", nn::ParameterKind::Norm, full({size}, 1.0));
  bias_ = register_parameter("bias", nn::ParameterKind::Norm, zeros({size}));
}

Tensor ReferenceLayerNorm::forward(const Tensor& x) const {
  return reference_layer_norm(x, weight_->effective(), bias_->effective(), eps_);
}

MultiHeadAttention::MultiHeadAttention(int64_t model_size, int64_t heads, Generator& generator) : heads_(heads) {
  query_ = register_module("query", xavier_linear(model_size, model_size, generator));
  key_ = register_module("key", xavier_linear(model_size, model_size, generator));
  value_ = register_module("value", xavier_linear(model_size, model_size, generator));
  output_ = register_module("output", xavier_linear(model_size, model_size, generator));
}

std::vector<nn::ParameterPtr> MultiHeadAttention::weight_matrices() const {
  return {query_->weight(), key_->weight(), value_->weight(), output_->weight()};
}

Tensor MultiHeadAttention::project_heads(const nn::Linear& layer, const Tensor& x,
                                         const SparseWeightTable& weights) const {
  const int64_t batch = x.size(0), length = x.size(1), model_size = x.size(2);
  const Tensor y = linear_layer(layer, x, weights).reshape({batch, length, heads_, model_size / heads_});
  return transpose(y, 1, 2);
}

Tensor MultiHeadAttention::attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                  const Tensor& relation_log, double dropout_p, bool training,
                                  Generator& dropout_generator, const SparseWeightTable& weights,
                                  Tensor* mean_attention) const {
  const int64_t batch = q.size(0), queries = q.size(2), head_size = q.size(3);
  Tensor scores = mul_scalar(matmul(q, transpose(k)), 1.0 / std::sqrt(static_cast<double>(head_size)));
  if (relation_log.defined()) scores = add(scores, relation_log);
  Tensor attention = mask.defined() ? masked_softmax(scores, mask) : softmax(scores);
  if (mean_attention != nullptr) *mean_attention = mean(attention, 1);
  attention = dropout(attention, dropout_p, training, dropout_generator);
  const Tensor context = transpose(matmul(attention, v), 1, 2).reshape({batch, queries, heads_ * head_size});
  return linear_layer(*output_, context, weights);
}

FeedForward::FeedForward(int64_t model_size, int64_t hidden_size, Generator& generator) {
  w1_ = register_module("w1", xavier_linear(model_size, hidden_size, generator));
  w2_ = register_module("w2", xavier_linear(hidden_size, model_size, generator));
}

Tensor FeedForward::forward(const Tensor& x, double dropout_p, bool training, Generator& dropout_generator,
                            const SparseWeightTable& weights) const {
  const Tensor hidden = dropout(relu(linear_layer(*w1_, x, weights)), dropout_p, training, dropout_generator);
  return linear_layer(*w2_, hidden, weights);
}

std::vector<nn::ParameterPtr> FeedForward::weight_matrices() const { return {w1_->weight(), w2_->weight()}; }

RelationEncoderLayer::RelationEncoderLayer(const RelationTransformerConfig& config, Generator& generator)
    : dropout_(config.dropout) {
  attention_norm_ = register_module("attention_norm", std::make_shared<ReferenceLayerNorm>(config.model_size));
  attention_ = register_module("attention", std::make_shared<MultiHeadAttention>(config.model_size, config.heads, generator));
  if (config.box_relation) relation_ = register_module("relation", xavier_linear(64, config.heads, generator));
  feed_forward_norm_ = register_module("feed_forward_norm", std::make_shared<ReferenceLayerNorm>(config.model_size));
  feed_forward_ = register_module("feed_forward",
                                  std::make_shared<FeedForward>(config.model_size, config.feed_forward_size, generator));
}

std::vector<nn::ParameterPtr> RelationEncoderLayer::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = attention_->weight_matrices();
  if (relation_) matrices.push_back(relation_->weight());
  for (const nn::ParameterPtr& p : feed_forward_->weight_matrices()) matrices.push_back(p);
  return matrices;
}

Tensor RelationEncoderLayer::forward(const Tensor& x, const Tensor& mask, const Tensor& geometry, bool training,
                                     Generator& dropout_generator, const SparseWeightTable& weights) const {
  Tensor relation_log;
  if (relation_ && geometry.defined()) {
    // log(clamp(relu(W_g g), 1e-6)): the clamp's floor above zero makes the relu redundant.
    const Tensor per_head = clamp(linear_layer(*relation_, geometry, weights), 1e-6, std::numeric_limits<double>::infinity());
    relation_log = transpose(transpose(log(per_head), 2, 3), 1, 2);  // [B, R, R, H] -> [B, H, R, R]
  }
  const Tensor normed = attention_norm_->forward(x);
  const Tensor attended = attention_->attend(
      attention_->project_heads(attention_->query(), normed, weights), attention_->project_heads(attention_->key(), normed, weights),
      attention_->project_heads(attention_->value(), normed, weights), mask, relation_log, dropout_, training,
      dropout_generator, weights);
  const Tensor y = add(x, dropout(attended, dropout_, training, dropout_generator));
  const Tensor fed = feed_forward_->forward(feed_forward_norm_->forward(y), dropout_, training, dropout_generator, weights);
  return add(y, dropout(fed, dropout_, training, dropout_generator));
}

RelationDecoderLayer::RelationDecoderLayer(const RelationTransformerConfig& config, bool reads_coverage,
                                           Generator& generator)
    : dropout_(config.dropout) {
  self_norm_ = register_module("self_norm", std::make_shared<ReferenceLayerNorm>(config.model_size));
  self_attention_ = register_module("self_attention",
                                    std::make_shared<MultiHeadAttention>(config.model_size, config.heads, generator));
  source_norm_ = register_module("source_norm", std::make_shared<ReferenceLayerNorm>(config.model_size));
  source_attention_ = register_module("source_attention",
                                      std::make_shared<MultiHeadAttention>(config.model_size, config.heads, generator));
  if (reads_coverage) {
    // No bias: a shift of every region's logit, which the softmax ignores.
    source_coverage_ = register_module("source_coverage", xavier_linear_without_bias(1, config.heads, generator));
  }
  feed_forward_norm_ = register_module("feed_forward_norm", std::make_shared<ReferenceLayerNorm>(config.model_size));
  feed_forward_ = register_module("feed_forward",
                                  std::make_shared<FeedForward>(config.model_size, config.feed_forward_size, generator));
}

std::vector<nn::ParameterPtr> RelationDecoderLayer::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = self_attention_->weight_matrices();
  for (const auto& part : {source_attention_->weight_matrices(), feed_forward_->weight_matrices()})
    matrices.insert(matrices.end(), part.begin(), part.end());
  if (source_coverage_) matrices.push_back(source_coverage_->weight());
  return matrices;
}

std::pair<Tensor, Tensor> RelationDecoderLayer::memory_keys_values(const Tensor& memory,
                                                                    const SparseWeightTable& weights) const {
  return {source_attention_->project_heads(source_attention_->key(), memory, weights),
          source_attention_->project_heads(source_attention_->value(), memory, weights)};
}

Tensor RelationDecoderLayer::forward(const Tensor& y, AttentionCache& cache, const Tensor& memory_keys,
                                     const Tensor& memory_values, const Tensor& memory_mask, const Tensor& coverage,
                                     bool training, Generator& dropout_generator, const SparseWeightTable& weights,
                                     Tensor* source_attention) const {
  const int64_t batch = y.size(0), queries = y.size(1), heads = memory_keys.size(1);
  const Tensor normed = self_norm_->forward(y);
  const Tensor keys = self_attention_->project_heads(self_attention_->key(), normed, weights);
  const Tensor values = self_attention_->project_heads(self_attention_->value(), normed, weights);
  cache.keys = cache.keys.defined() ? concat({cache.keys, keys}, 2) : keys;
  cache.values = cache.values.defined() ? concat({cache.values, values}, 2) : values;
  // One new position sees every cached one: no mask needed.
  const Tensor mask = queries > 1 ? causal_mask(batch * heads, queries, cache.keys.size(2), y.dtype(), y.device()) : Tensor();
  const Tensor self_attended =
      self_attention_->attend(self_attention_->project_heads(self_attention_->query(), normed, weights), cache.keys,
                              cache.values, mask, Tensor(), dropout_, training, dropout_generator, weights);
  Tensor x = add(y, dropout(self_attended, dropout_, training, dropout_generator));
  const Tensor source_query = source_attention_->project_heads(source_attention_->query(), source_norm_->forward(x), weights);
  Tensor coverage_logits;
  if (source_coverage_) {
    SPARSECAP_CHECK(coverage.defined(), "relation_transformer decoder layer with coverage got none");
    const Tensor per_head = sparse::linear(unsqueeze(coverage, 3), weights.handle(source_coverage_->weight()));
    coverage_logits = transpose(transpose(per_head, 1, 3), 2, 3);  // [B, T, R, H] -> [B, H, T, R]
  }
  const Tensor source_attended =
      source_attention_->attend(source_query, memory_keys, memory_values, memory_mask, coverage_logits, dropout_,
                                training, dropout_generator, weights, source_attention);
  x = add(x, dropout(source_attended, dropout_, training, dropout_generator));
  const Tensor fed = feed_forward_->forward(feed_forward_norm_->forward(x), dropout_, training, dropout_generator, weights);
  return add(x, dropout(fed, dropout_, training, dropout_generator));
}

Tensor accumulated_attention(const Tensor& attention, AttentionCache& cache) {
  const int64_t rows = attention.size(0), positions = attention.size(1), regions = attention.size(2);
  // A lower-triangular ones matrix sums each position with the earlier ones in one matmul.
  std::vector<double> lower(static_cast<size_t>(positions * positions), 0.0);
  for (int64_t t = 0; t < positions; ++t)
    for (int64_t s = 0; s <= t; ++s) lower[static_cast<size_t>(t * positions + s)] = 1.0;
  Tensor sums = matmul(from_vector(lower, {positions, positions}).to(attention.dtype()).to(attention.device()), attention);
  if (cache.attention_sum.defined()) sums = add(sums, unsqueeze(cache.attention_sum, 1));
  cache.attention_sum = narrow(sums, 1, positions - 1, 1).reshape({rows, regions});
  return sums;
}

// ---- memory ------------------------------------------------------------------

RelationTransformerMemory RelationTransformerMemory::repeated(int64_t times) const {
  RelationTransformerMemory out;
  for (const Tensor& k : keys) out.keys.push_back(repeat_rows(k, times));
  for (const Tensor& v : values) out.values.push_back(repeat_rows(v, times));
  out.mask = repeat_rows(mask, times);
  if (summed.defined()) out.summed = repeat_rows(summed, times);
  return out;
}

void RelationTransformerMemory::select_rows(const Tensor& index) {
  for (Tensor& k : keys) k = index_select(k, index);
  for (Tensor& v : values) v = index_select(v, index);
  mask = index_select(mask, index);
  if (summed.defined()) summed = index_select(summed, index);
}

// ---- captioner -----------------------------------------------------------------

RelationTransformerCaptioner::RelationTransformerCaptioner(const RelationTransformerConfig& config, Generator& generator)
    : config_(config), dropout_generator_(std::make_shared<Generator>(generator.seed(), generator.stream() + 1)) {
  config_.validate();
  const int64_t d = config_.model_size;
  const int64_t box_values = config_.box_features ? region_box_feature_count(config_.box_frequencies) : 0;
  const int64_t region_width = config_.feature_size + box_values;
  if (config_.standardize_features)
    standardizer_ =
        register_module("feature_standardizer", std::make_shared<RegionFeatureStandardizer>(config_.feature_size));
  att_embed_ = register_module("att_embed", xavier_linear(region_width, d, generator));
  std::vector<std::shared_ptr<RelationEncoderLayer>> encoder_layers;
  for (int64_t l = 0; l < config_.encoder_layers; ++l)
    encoder_layers.push_back(std::make_shared<RelationEncoderLayer>(config_, generator));
  encoder_ = register_module("encoder", std::make_shared<LayerStack<RelationEncoderLayer>>(std::move(encoder_layers)));
  encoder_norm_ = register_module("encoder_norm", std::make_shared<ReferenceLayerNorm>(d));
  embedding_ = register_module("embedding", xavier_embedding(config_.vocabulary_size, d, generator));
  std::vector<std::shared_ptr<RelationDecoderLayer>> decoder_layers;
  for (int64_t l = 0; l < config_.decoder_layers; ++l)
    decoder_layers.push_back(std::make_shared<RelationDecoderLayer>(config_, config_.coverage && l > 0, generator));
  decoder_ = register_module("decoder", std::make_shared<LayerStack<RelationDecoderLayer>>(std::move(decoder_layers)));
  decoder_norm_ = register_module("decoder_norm", std::make_shared<ReferenceLayerNorm>(d));
  logit_ = register_module("logit", xavier_linear(d, config_.vocabulary_size, generator));
  if (config_.region_sum) {
    region_sum_ = register_module("region_sum", xavier_linear_without_bias(d, d, generator));
  }
}

std::vector<nn::ParameterPtr> RelationTransformerCaptioner::weight_matrices() const {
  std::vector<nn::ParameterPtr> matrices = {att_embed_->weight()};
  for (const auto& layer : encoder_->layers())
    for (const nn::ParameterPtr& p : layer->weight_matrices()) matrices.push_back(p);
  matrices.push_back(embedding_->weight());
  for (const auto& layer : decoder_->layers())
    for (const nn::ParameterPtr& p : layer->weight_matrices()) matrices.push_back(p);
  matrices.push_back(logit_->weight());
  if (region_sum_) matrices.push_back(region_sum_->weight());
  return matrices;
}

std::vector<std::string> RelationTransformerCaptioner::sparse_compute_weight_names() const {
  std::vector<std::string> names;
  for (const nn::ParameterPtr& parameter : weight_matrices()) names.push_back(parameter->name());
  return names;
}

void RelationTransformerCaptioner::use_sparse_weights(const SparseWeights& weights) {
  sparse_weights_.install(weights, weight_matrices(), "relation_transformer");
}

void RelationTransformerCaptioner::check_inputs(const CaptionerInputs& inputs) const {
  SPARSECAP_CHECK(inputs.region_features.defined() && inputs.region_mask.defined(),
                  "relation_transformer captions region features; the batch has no region features or mask");
  const Tensor& regions = inputs.region_features;
  SPARSECAP_CHECK(regions.dim() == 3 && regions.size(2) == config_.feature_size, "expected region features [B, R, ",
                  config_.feature_size, "], got ", shape_str(regions.shape()), " in relation_transformer",
                  " (model.feature_size must be the width of the data's region features)");
  check_shape(inputs.region_mask, {regions.size(0), regions.size(1)}, "relation_transformer region mask");
  if (config_.box_relation || config_.box_features) {
    SPARSECAP_CHECK(inputs.boxes.defined(),
                    "relation_transformer with box_relation or box_features needs the regions' boxes");
    check_shape(inputs.boxes, {regions.size(0), regions.size(1), 4}, "relation_transformer boxes");
  }
}

RelationTransformerMemory RelationTransformerCaptioner::encode_memory(const CaptionerInputs& inputs) {
  check_inputs(inputs);
  const bool training = is_training();
  Tensor regions = standardizer_ ? standardizer_->forward(inputs.region_features) : inputs.region_features;
  if (config_.box_features) regions = append_region_box_features(regions, inputs.boxes, config_.box_frequencies);
  Tensor x = dropout(relu(linear_layer(*att_embed_, regions, sparse_weights_)), config_.dropout, training,
                     *dropout_generator_);
  const Tensor mask = inputs.region_mask.to(x.dtype());
  const Tensor geometry = config_.box_relation ? box_relation_geometry(inputs.boxes).to(x.dtype()) : Tensor();
  for (const auto& layer : encoder_->layers()) x = layer->forward(x, mask, geometry, training, *dropout_generator_, sparse_weights_);
  const Tensor memory = encoder_norm_->forward(x);
  RelationTransformerMemory out;
  out.mask = mask;
  // Padded regions' memory is not zero: the mask keeps them out of the sum.
  if (region_sum_)
    out.summed = sparse::linear(sum(mul(memory, unsqueeze(mask, 2)), 1), sparse_weights_.handle(region_sum_->weight()));
  for (const auto& layer : decoder_->layers()) {
    auto [keys, values] = layer->memory_keys_values(memory, sparse_weights_);
    out.keys.push_back(keys);
    out.values.push_back(values);
  }
  return out;
}

Tensor RelationTransformerCaptioner::decode(const Tensor& tokens, int64_t start, std::vector<AttentionCache>& caches,
                                            const RelationTransformerMemory& memory) {
  const int64_t d = config_.model_size, length = tokens.size(1);
  const bool training = is_training();
  const Tensor words = sparse::embedding(sparse_weights_.handle(embedding_->weight()), tokens);  // [B, T, d]
  Tensor y = add(mul_scalar(words, std::sqrt(static_cast<double>(d))),
                 sinusoidal_positions(start, length, d, words.dtype()).to(words.device()));
  if (memory.summed.defined()) y = add(y, unsqueeze(memory.summed, 1));
  y = dropout(y, config_.dropout, training, *dropout_generator_);
  const auto& layers = decoder_->layers();
  caches.resize(layers.size());
  Tensor coverage;  // [B, T, R] from the layer below, with the coverage option
  for (size_t l = 0; l < layers.size(); ++l) {
    const bool feeds_coverage = config_.coverage && l + 1 < layers.size();
    Tensor source_attention;
    y = layers[l]->forward(y, caches[l], memory.keys[l], memory.values[l], memory.mask, coverage, training,
                           *dropout_generator_, sparse_weights_, feeds_coverage ? &source_attention : nullptr);
    if (feeds_coverage) coverage = accumulated_attention(source_attention, caches[l]);
  }
  return linear_layer(*logit_, decoder_norm_->forward(y), sparse_weights_);
}

Tensor RelationTransformerCaptioner::forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions,
                                                            int64_t seq_per_img) {
  check_inputs(inputs);
  check_caption_rows(captions, inputs.region_features.size(0), seq_per_img);
  const RelationTransformerMemory memory = encode_memory(inputs).repeated(seq_per_img);
  std::vector<AttentionCache> caches;
  return decode(narrow(captions, 1, 0, captions.size(1) - 1), 0, caches, memory);
}

Tensor RelationTransformerCaptioner::loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) {
  check_inputs(inputs);
  check_caption_rows(captions, inputs.region_features.size(0), seq_per_img);
  const Tensor trimmed = trim_padding_columns(captions, config_.tokens.pad);
  const Tensor logits = forward_teacher_forced(inputs, trimmed, seq_per_img);
  return caption_cross_entropy(logits, narrow(trimmed, 1, 1, trimmed.size(1) - 1), config_.tokens.pad);
}

namespace {

// Per hypothesis: the memory's keys and values, every decoder layer's cache and the position.
class RelationTransformerDecodingState : public DecodingState {
 public:
  explicit RelationTransformerDecodingState(RelationTransformerMemory memory) : memory(std::move(memory)) {}

  int64_t rows() const override { return memory.mask.size(0); }

  void select_rows(const Tensor& index) override {
    memory.select_rows(index);
    for (AttentionCache& cache : caches) {
      if (!cache.keys.defined()) continue;
      cache.keys = index_select(cache.keys, index);
      cache.values = index_select(cache.values, index);
      if (cache.attention_sum.defined()) cache.attention_sum = index_select(cache.attention_sum, index);
    }
  }

  RelationTransformerMemory memory;
  std::vector<AttentionCache> caches;
  int64_t position = 0;
};

}  // namespace

std::unique_ptr<DecodingState> RelationTransformerCaptioner::encode(const CaptionerInputs& inputs) {
  return std::make_unique<RelationTransformerDecodingState>(encode_memory(inputs));
}

Tensor RelationTransformerCaptioner::decode_step(DecodingState& state, const Tensor& tokens) {
  auto* transformer_state = dynamic_cast<RelationTransformerDecodingState*>(&state);
  SPARSECAP_CHECK(transformer_state != nullptr, "decode_step: the state was not made by this captioner's encode()");
  RelationTransformerDecodingState& s = *transformer_state;
  SPARSECAP_CHECK(tokens.dtype() == DType::I64, "decode_step: tokens must be int64, got ", dtype_name(tokens.dtype()));
  check_shape(tokens, {s.rows()}, "decode_step tokens");
  const Tensor logits = decode(tokens.reshape({s.rows(), 1}), s.position, s.caches, s.memory);
  ++s.position;
  return log_softmax(logits.reshape({s.rows(), config_.vocabulary_size}));
}

CaptionerRegistration relation_transformer_registration() {
  const auto vocabulary_size = [](RelationTransformerConfig& config) -> int64_t& { return config.vocabulary_size; };
  return config_registration<RelationTransformerCaptioner, RelationTransformerConfig>(vocabulary_size, "/vocabulary_size");
}

}  // namespace sparsecap::models
