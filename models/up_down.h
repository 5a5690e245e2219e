#pragma once
// The Up-Down captioner (Anderson et al. 2018, "Bottom-Up and Top-Down Attention", as the
// Supermask Pruning reference builds it) on detector region features.
//
// Once per image, with region features V [R, D], mask m [R] (1 on real regions) and fc [D]:
//   v_fc = dropout(relu(fc_embed(fc)))            [H]
//   A    = dropout(relu(att_embed(V)))            [R, H]
//          [v_fc += region_sum(sum_r m_r A_r / 8)] (region_sum, off in the reference)
// Options off in the reference: V and fc standardised per dimension (standardize_features), then
// V's boxes appended (box_features) with their sinusoidal code (box_frequencies).
//   K    = ctx2att(A)                             [R, A_h]
// Per time step t (x_t = dropout(relu(embedding(w_{t-1}))), states start at zero):
//   (h1, c1) = attention_lstm([h2_{t-1}, v_fc, x_t], (h1, c1))
//   e_t      = alpha_net(tanh(K + h2att(h1) [+ att_coverage(cov_t)]))   [R]; alpha = softmax over
//              the real regions only
//   a_t      = sum_r alpha_r A_r                  [H]
//   (h2, c2) = language_lstm([a_t, h1], (h2, c2))
//   logits   = logit(dropout(h2))
// With "coverage" (off in the reference), cov_t = sum_{s<t} alpha_s [R] is the attention each
// region has had so far (Tu et al. 2016), as in the Soft-Attention decoder's option.
// Reference sizes (the defaults): H = 1000 (rnn and input encoding), A_h = 512, D = 2048; the
// language dropout is 0.5 (0.1 in pruned runs, which the Supermask config sets).
//
// Parameter names: embedding.weight, fc_embed.weight, att_embed.weight, ctx2att.weight,
// h2att.weight, alpha_net.weight, attention_lstm.w_ih, language_lstm.w_ih, logit.weight (and
// their biases). Every layer computes with Parameter::effective(), fetched once per forward or
// per encode, so a pruning gate draws one mask per training step.
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
#include "models/rnn_cells.h"

namespace sparsecap::models {

struct UpDownConfig {
  int64_t vocabulary_size = 0;  // required: words + PAD, UNK, BOS, EOS
  int64_t feature_size = 2048;  // D: region and fc feature width
  int64_t embedding_size = 1000;  // word embedding (input_encoding_size)
  int64_t hidden_size = 1000;     // both LSTMs and the fc/att embeddings (rnn_size)
  int64_t attention_size = 512;   // att_hid_size
  double dropout = 0.5;           // embeddings and language output (drop_prob_lm)
  double forget_bias = 0.0;       // initial LSTM forget-gate bias (the PyTorch reference adds none)
  // Append each region's box (x0, y0, x1, y1, area; models/region_box_features.h) to its feature
  // before att_embed, which then reads D + 5 values. Off in the reference.
  bool box_features = false;
  // With box_features, also a sinusoidal code of each box: sin and cos of pi 2^k g for its centre,
  // width and height g and k < box_frequencies (models/region_box_features.h), 8 values per
  // frequency. 0: the five raw values only. Off in the reference.
  int64_t box_frequencies = 0;
  // Standardise each feature dimension (regions and fc) with the training set's mean and std
  // before the embeddings (models/region_feature_standardizer.h). Off in the reference.
  bool standardize_features = false;
  // A coverage term in the attention energies: att_coverage, one [A_h, 1] weight without bias,
  // reads the attention each region has had so far. A caption that lists the objects must name
  // each once; without it the attention can return to a region it has named. Off in the reference.
  bool coverage = false;
  // v_fc also gets region_sum(sum_r m_r A_r / 8), one [H, H] weight without bias, of the embedded
  // real regions. The sum grows with the number of regions, so the attention LSTM, which reads
  // v_fc at every step, can tell how many there are to name; most of Up-Down's wrong claims named
  // an object once more than it is there. The 1/8 (the synthetic set has 5.7 regions per image)
  // keeps the term at v_fc's scale: unscaled, it swamped v_fc and the model trained far worse.
  // Off in the reference.
  bool region_sum = false;
  DecodingOptions decoding;       // beam 3, at most 30 words
  SpecialTokens tokens;
  void validate_options() const;  // all but the vocabulary; throws naming the offending key and value
  void validate() const;          // validate_options() and the vocabulary size and special tokens
};

// JSON: {"vocabulary_size", "feature_size", "embedding_size", "hidden_size", "attention_size",
// "dropout", "forget_bias", "box_features", "box_frequencies", "standardize_features", "coverage",
// "region_sum",
// "decoding": {"beam_size", "max_words"}, "tokens": {"pad", "bos",
// "eos"}}. Missing keys keep defaults; unknown keys throw.
void to_json(nlohmann::json& json, const UpDownConfig& config);
void from_json(const nlohmann::json& json, UpDownConfig& config);

// The effective weights of the layers a time step uses, fetched once per sequence.
struct UpDownStepWeights {
  sparse::WeightHandle embedding;
  CellWeights attention_lstm;
  sparse::WeightHandle h2att_weight;
  Tensor h2att_bias;
  sparse::WeightHandle alpha_weight;
  Tensor alpha_bias;
  sparse::WeightHandle coverage_weight;  // [A_h, 1]; empty without coverage
  CellWeights language_lstm;
  sparse::WeightHandle logit_weight;
  Tensor logit_bias;
};

// What one image contributes to every step, embedded once: [B, H] fc, [B, R, H] regions, their
// keys [B, R, A_h] and mask [B, R] (in the features' dtype).
struct UpDownMemory {
  Tensor fc, regions, keys, mask;
  UpDownMemory repeated(int64_t times) const;  // each row `times` times (captions per image)
  void select_rows(const Tensor& index);
};

struct UpDownState {
  RecurrentState attention, language;
  Tensor coverage;  // [N, R] attention so far; undefined without coverage
};

class UpDownCaptioner : public Captioner {
 public:
  // Weights xavier-uniform, biases zero; dropout draws from its own generator (the seed of
  // `generator`, the next stream).
  UpDownCaptioner(const UpDownConfig& config, Generator& generator);

  // Region features [B, R, D], mask [B, R], fc [B, D] -> the embedded memory.
  UpDownMemory embed_memory(const CaptionerInputs& inputs);
  UpDownStepWeights step_weights() const;
  UpDownState initial_state(const UpDownMemory& memory) const;  // zeros, one row per memory row
  // words: the embedded previous tokens [N, E] -> the next state.
  UpDownState step(const Tensor& words, const UpDownMemory& memory, const UpDownState& state,
                   const UpDownStepWeights& weights) const;
  // The attention weights [N, R] for attention-LSTM output h1 [N, H] (and the coverage so far
  // [N, R] with the coverage option; undefined otherwise).
  Tensor attention_weights(const UpDownMemory& memory, const Tensor& h1, const Tensor& coverage,
                           const UpDownStepWeights& weights) const;
  Tensor word_inputs(const Tensor& tokens, const UpDownStepWeights& weights);  // embed, ReLU, dropout
  Tensor logits(const Tensor& h2, const UpDownStepWeights& weights);           // dropout, logit

  // The inputs' regions, captions I64 [B * seq_per_img, L] -> logits [B * seq_per_img, L - 1, V].
  Tensor forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img);

  std::string type() const override { return "up_down"; }
  CaptionerInputKinds input_kinds() const override { return {.region_features = true}; }
  Tensor loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) override;
  DecodingOptions decoding_options() const override { return config_.decoding; }

  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override;
  Tensor decode_step(DecodingState& state, const Tensor& tokens) override;
  int64_t vocabulary_size() const override { return config_.vocabulary_size; }
  SpecialTokens special_tokens() const override { return config_.tokens; }

  const UpDownConfig& config() const { return config_; }
  Generator& dropout_generator() override { return *dropout_generator_; }
  // Every weight matrix computes through CSR.
  std::vector<nn::ParameterPtr> weight_matrices() const;
  std::vector<std::string> sparse_compute_weight_names() const override;
  void use_sparse_weights(const SparseWeights& weights) override;
  bool has_sparse_weights() const { return !sparse_weights_.empty(); }
  RegionFeatureStandardizer* region_feature_standardizer() override { return standardizer_.get(); }

 private:
  void check_inputs(const CaptionerInputs& inputs) const;
  Tensor embedded(const nn::Linear& layer, const Tensor& x);  // dropout(relu(layer(x)))

  UpDownConfig config_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::Linear> region_sum_, fc_embed_, att_embed_, ctx2att_, h2att_, alpha_net_, att_coverage_, logit_;
  std::shared_ptr<RegionFeatureStandardizer> standardizer_;  // null unless standardize_features
  std::shared_ptr<RecurrentCell> attention_lstm_, language_lstm_;
  SparseWeightTable sparse_weights_;
};

// The registry's entry for "up_down" (models/captioner_registry.h).
struct CaptionerRegistration;
CaptionerRegistration up_down_registration();

}  // namespace sparsecap::models
