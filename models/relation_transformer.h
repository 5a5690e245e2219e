#pragma once
// The Object Relation Transformer captioner (Herdade et al. 2019, as the Supermask Pruning
// reference builds it) on detector region features and boxes: an encoder-decoder transformer with
// pre-norm sublayers whose encoder self-attention adds a box-relation term to its logits.
//
//   regions  x_0 = dropout(relu(att_embed(V)))                             [R, d]
//            (options off in the reference: V standardised per dimension, standardize_features,
//            then its boxes appended, box_features, with their sinusoidal code, box_frequencies)
//   encoder  x += dropout(MHA(LN(x), LN(x); region mask, relation)); x += dropout(FF(LN(x)))
//            memory = LN(x)
//   decoder  y_0 = dropout(embedding(w) * sqrt(d) + position(t) [+ region_sum(sum_r m_r memory_r)])
//            y += dropout(MHA(LN(y), LN(y); causal)); y += dropout(MHA(LN(y), memory; region mask))
//            y += dropout(FF(LN(y)));  logits = logit(LN(y))
// MHA: per head softmax(q k^T / sqrt(d_k) + log(clamp(relu(W_g^h · g_ij), 1e-6))) v, the relation
// term in the encoder only; g_ij is the 64-d geometry embedding of box pair (i, j)
// (box_relation_geometry). FF = w2(dropout(relu(w1(x)))). LN is the reference's
// a (x − mean) / (std + 1e-6) + b with the unbiased std. Decoding caches every decoder layer's
// keys and values, so a step costs one position, not the whole prefix.
// With "coverage" (off in the reference), decoder layer l >= 1 adds w_l^h · cov_t,r to head h's
// cross-attention logits, where cov_t = sum_{s<=t} (the mean over heads of layer l − 1's
// cross-attention at position s) [R]: the regions the layer below has attended while reading the
// words so far, which name the objects already listed. Layer l − 1 at position t reads w_{t-1},
// so the sum includes t. Teacher forcing stays parallel: no layer reads its own past attention.
//
// Reference sizes (the defaults): d = 512, feed-forward 2048, 6 + 6 layers, 8 heads, 2048-d
// features, dropout 0.1 (0.1/3 in pruned runs, which the Supermask config sets).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/layers.h"
#include "engine/rng.h"
#include "models/captioner.h"
#include "models/decoding.h"
#include "models/recurrent_captioner_parts.h"
#include "models/region_feature_standardizer.h"

namespace sparsecap::models {

struct RelationTransformerConfig {
  int64_t vocabulary_size = 0;  // required: words + PAD, UNK, BOS, EOS
  int64_t feature_size = 2048;
  int64_t model_size = 512;          // d
  int64_t feed_forward_size = 2048;
  int64_t encoder_layers = 6;
  int64_t decoder_layers = 6;
  int64_t heads = 8;
  double dropout = 0.1;
  bool box_relation = true;  // false: a plain transformer (no geometry term)
  // Append each region's box (x0, y0, x1, y1, area; models/region_box_features.h) to its feature
  // before att_embed, which then reads feature_size + 5 values. Off in the reference.
  bool box_features = false;
  // With box_features, also a sinusoidal code of each box: sin and cos of pi 2^k g for its centre,
  // width and height g and k < box_frequencies (models/region_box_features.h), 8 values per
  // frequency. 0: the five raw values only. Off in the reference.
  int64_t box_frequencies = 0;
  // Standardise each feature dimension with the training set's mean and std before att_embed
  // (models/region_feature_standardizer.h). Off in the reference.
  bool standardize_features = false;
  // The coverage term in every decoder layer but the first (see the header): one [H, 1] weight
  // without bias per such layer, "decoder.<l>.source_coverage.weight". Needs two decoder layers.
  bool coverage = false;
  // Every decoder position's input also gets region_sum(sum of the real regions' memory), one
  // [d, d] weight without bias. Softmax attention normalises the number of regions away, and a
  // caption that lists the objects must know when none is left. Off in the reference.
  bool region_sum = false;
  DecodingOptions decoding;
  SpecialTokens tokens;
  void validate_options() const;
  void validate() const;
};

// JSON: every field above by name, "decoding" and "tokens" as the other captioners'.
void to_json(nlohmann::json& json, const RelationTransformerConfig& config);
void from_json(const nlohmann::json& json, RelationTransformerConfig& config);

// Box-pair geometry: boxes [B, R, 4] (x0 y0 x1 y1, any unit) -> [B, R, R, 64]. For boxes i, j with
// centres (cx, cy) and sizes (w, h): (log max(|cx_i − cx_j| / w_i, 1e-3), log max(|cy_i − cy_j| /
// h_i, 1e-3), log(w_i / w_j), log(h_i / h_j)), times 100, times 1000^(−k/8) for k = 0..7: the 32
// sines, then the 32 cosines. Sizes are floored at 1e-6 so padded (empty) boxes stay finite.
// Computed on the host: boxes are data, no gradient flows to them.
Tensor box_relation_geometry(const Tensor& boxes);

// Sinusoidal positions [count, size] from position `start` (sin on even, cos on odd columns).
Tensor sinusoidal_positions(int64_t start, int64_t count, int64_t size, DType dtype);

// The reference's layer norm (the engine op reference_layer_norm): weight (ones) and bias (zeros),
// both of kind norm.
class ReferenceLayerNorm : public nn::Module {
 public:
  explicit ReferenceLayerNorm(int64_t size, double eps = 1e-6);
  Tensor forward(const Tensor& x) const;

 private:
  double eps_;
  nn::ParameterPtr weight_, bias_;
};

// Multi-head attention with query, key, value and output projections.
class MultiHeadAttention : public nn::Module {
 public:
  MultiHeadAttention(int64_t model_size, int64_t heads, Generator& generator);

  // x [B, T, d] -> [B, H, T, d_k] through `layer`.
  Tensor project_heads(const nn::Linear& layer, const Tensor& x, const SparseWeightTable& weights) const;
  // q [B, H, T, d_k], k and v [B, H, S, d_k]; mask for masked_softmax ([B, S] or [B*H*T, S]) or
  // undefined; relation_log [B, H, T, S] or undefined -> [B, T, d] after the output projection.
  // With `mean_attention`, also the attention weights averaged over heads, before dropout [B, T, S].
  Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, const Tensor& relation_log,
                double dropout_p, bool training, Generator& dropout_generator, const SparseWeightTable& weights,
                Tensor* mean_attention = nullptr) const;

  const nn::Linear& query() const { return *query_; }
  const nn::Linear& key() const { return *key_; }
  const nn::Linear& value() const { return *value_; }
  std::vector<nn::ParameterPtr> weight_matrices() const;

 private:
  int64_t heads_;
  std::shared_ptr<nn::Linear> query_, key_, value_, output_;
};

class FeedForward : public nn::Module {
 public:
  FeedForward(int64_t model_size, int64_t hidden_size, Generator& generator);
  Tensor forward(const Tensor& x, double dropout_p, bool training, Generator& dropout_generator,
                 const SparseWeightTable& weights) const;
  std::vector<nn::ParameterPtr> weight_matrices() const;

 private:
  std::shared_ptr<nn::Linear> w1_, w2_;
};

class RelationEncoderLayer : public nn::Module {
 public:
  RelationEncoderLayer(const RelationTransformerConfig& config, Generator& generator);
  // x [B, R, d], mask [B, R], geometry [B, R, R, 64] or undefined -> [B, R, d].
  Tensor forward(const Tensor& x, const Tensor& mask, const Tensor& geometry, bool training, Generator& dropout_generator,
                 const SparseWeightTable& weights) const;
  std::vector<nn::ParameterPtr> weight_matrices() const;

 private:
  double dropout_;
  std::shared_ptr<ReferenceLayerNorm> attention_norm_, feed_forward_norm_;
  std::shared_ptr<MultiHeadAttention> attention_;
  std::shared_ptr<nn::Linear> relation_;  // [H, 64]: one Linear(64 -> 1) per head
  std::shared_ptr<FeedForward> feed_forward_;
};

// One decoder layer's self-attention keys and values so far, [N, H, t, d_k] each; with coverage,
// its cross-attention (mean over heads) summed over the positions so far [N, R].
struct AttentionCache {
  Tensor keys, values, attention_sum;
};

class RelationDecoderLayer : public nn::Module {
 public:
  // reads_coverage: the layer adds the coverage term to its cross-attention logits.
  RelationDecoderLayer(const RelationTransformerConfig& config, bool reads_coverage, Generator& generator);
  // y [B, T, d]; self-attention over `cache` plus y's own positions (a causal mask within y);
  // memory keys/values [B, H, R, d_k] and mask [B, R]; coverage [B, T, R] when the layer reads it.
  // Appends y's keys and values to `cache`. With `source_attention`, also the cross-attention
  // averaged over heads [B, T, R].
  Tensor forward(const Tensor& y, AttentionCache& cache, const Tensor& memory_keys, const Tensor& memory_values,
                 const Tensor& memory_mask, const Tensor& coverage, bool training, Generator& dropout_generator,
                 const SparseWeightTable& weights, Tensor* source_attention = nullptr) const;
  // The memory's keys and values for the cross-attention, computed once per image.
  std::pair<Tensor, Tensor> memory_keys_values(const Tensor& memory, const SparseWeightTable& weights) const;
  std::vector<nn::ParameterPtr> weight_matrices() const;

 private:
  double dropout_;
  std::shared_ptr<ReferenceLayerNorm> self_norm_, source_norm_, feed_forward_norm_;
  std::shared_ptr<MultiHeadAttention> self_attention_, source_attention_;
  std::shared_ptr<nn::Linear> source_coverage_;  // [H, 1]; null unless the layer reads coverage
  std::shared_ptr<FeedForward> feed_forward_;
};

// attention [B, T, R] at positions start .. start + T − 1 -> at each position, its sum with every
// earlier position's (those before this call from cache.attention_sum, which it then extends).
Tensor accumulated_attention(const Tensor& attention, AttentionCache& cache);

// Layers named by their index ("encoder.0.attention.query.weight").
template <typename Layer>
class LayerStack : public nn::Module {
 public:
  explicit LayerStack(std::vector<std::shared_ptr<Layer>> layers) : layers_(std::move(layers)) {
    for (size_t i = 0; i < layers_.size(); ++i) register_module(std::to_string(i), layers_[i]);
  }
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// Encoded images, per decoder layer the cross-attention keys and values, and the region mask.
struct RelationTransformerMemory {
  std::vector<Tensor> keys, values;  // [B, H, R, d_k] per decoder layer
  Tensor mask;                       // [B, R]
  Tensor summed;                     // [B, d] with region_sum: region_sum(sum_r m_r memory_r)
  RelationTransformerMemory repeated(int64_t times) const;
  void select_rows(const Tensor& index);
};

class RelationTransformerCaptioner : public Captioner {
 public:
  // Every weight matrix and embedding xavier-uniform (as the reference), biases zero, norms one
  // and zero; dropout draws from its own generator (the seed of `generator`, the next stream).
  RelationTransformerCaptioner(const RelationTransformerConfig& config, Generator& generator);

  RelationTransformerMemory encode_memory(const CaptionerInputs& inputs);
  // tokens I64 [B, T] at positions start .. start + T − 1 -> logits [B, T, V]; extends `caches`.
  Tensor decode(const Tensor& tokens, int64_t start, std::vector<AttentionCache>& caches,
                const RelationTransformerMemory& memory);
  // The inputs' regions, captions I64 [B * seq_per_img, L] -> logits [B * seq_per_img, L - 1, V].
  Tensor forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img);

  std::string type() const override { return "relation_transformer"; }
  CaptionerInputKinds input_kinds() const override { return {.region_features = true}; }
  Tensor loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) override;
  DecodingOptions decoding_options() const override { return config_.decoding; }

  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override;
  Tensor decode_step(DecodingState& state, const Tensor& tokens) override;
  int64_t vocabulary_size() const override { return config_.vocabulary_size; }
  SpecialTokens special_tokens() const override { return config_.tokens; }

  const RelationTransformerConfig& config() const { return config_; }
  Generator& dropout_generator() override { return *dropout_generator_; }
  std::vector<nn::ParameterPtr> weight_matrices() const;
  std::vector<std::string> sparse_compute_weight_names() const override;
  void use_sparse_weights(const SparseWeights& weights) override;
  bool has_sparse_weights() const { return !sparse_weights_.empty(); }
  RegionFeatureStandardizer* region_feature_standardizer() override { return standardizer_.get(); }

 private:
  void check_inputs(const CaptionerInputs& inputs) const;

  RelationTransformerConfig config_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<nn::Linear> att_embed_, logit_, region_sum_;
  std::shared_ptr<RegionFeatureStandardizer> standardizer_;  // null unless standardize_features
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<LayerStack<RelationEncoderLayer>> encoder_;
  std::shared_ptr<LayerStack<RelationDecoderLayer>> decoder_;
  std::shared_ptr<ReferenceLayerNorm> encoder_norm_, decoder_norm_;
  SparseWeightTable sparse_weights_;
};

// The registry's entry for "relation_transformer" (models/captioner_registry.h).
struct CaptionerRegistration;
CaptionerRegistration relation_transformer_registration();

}  // namespace sparsecap::models
