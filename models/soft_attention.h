#pragma once
// The Soft-Attention captioner (Xu et al. 2015, "Show, Attend and Tell", as the Supermask Pruning
// paper trains it): a MobileNet-V1 encoder whose last feature map is the attention memory, and a
// recurrent decoder with additive attention.
//
// Per time step t, with memory a [P, C] (P positions), keys K = att_key(a) [P, A] computed once:
//   e_t     = att_qk(tanh(K + att_query(h_{t-1}) [+ att_word(x_t)] [+ att_coverage(cov_t)]))    [P]
//             (additive alignment; x_t = embedding(w_{t-1}), the word this step reads)
//   alpha_t = softmax over positions of e_t;  z_t = sum_p alpha_t,p a_p   (context, [C])
//   cov_t   = sum_{s<t} alpha_s    [P]   (only with "coverage": the attention each position has had)
//   h_t     = cell([embedding(w_{t-1}), z_t], h_{t-1}) (LSTM or GRU; dropout on input and output)
//   logits  = logit(dropout(h_t)), or logit(dropout([h_t, z_t])) with "context_in_output"
// with h_0 = tanh(init_h(mean_p a_p)) and, for an LSTM, c_0 = tanh(init_c(mean_p a_p)).
// With "coordinate_channels" each memory position a_p ends in two more channels, its column and
// row centre scaled to [-1, 1], so attention can prefer a place (the leftmost object) and the
// context says where it looked. "context_in_output" gives the output layer the context beside
// h_t: the paper's deep output (L_z z_t) without its word and hidden projections, a direct path
// from what is attended to the word named.
//
// Parameter names read like the paper's layers: encoder.stem.weight,
// encoder.stages.0.depthwise.weight, decoder.embedding.weight, decoder.att_key.weight,
// decoder.att_query.weight, decoder.att_qk.weight, decoder.lstm.w_ih (or decoder.gru.w_ih),
// decoder.init_h.weight, decoder.logit.weight. Every layer computes with Parameter::effective(),
// fetched once per forward (teacher forcing) or per encode (decoding), so a pruning gate draws one
// mask per training step.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/nn/layers.h"
#include "engine/rng.h"
#include "models/captioner.h"
#include "models/decoding.h"
#include "models/mobilenet.h"
#include "models/rnn_cells.h"

namespace sparsecap::models {

struct SoftAttentionDecoderConfig {
  int64_t vocabulary_size = 0;  // required: words + PAD, UNK, BOS, EOS
  CellType cell = CellType::Lstm;
  int64_t hidden_size = 512;
  int64_t embedding_size = 256;
  int64_t attention_size = 512;
  // Probability of zeroing a unit (on the cell's input and output). The reference keeps 0.65 of
  // the units dense and 0.89 when pruning: 0.35 here, 0.11 for pruned runs.
  double dropout = 0.35;
  double forget_bias = 1.0;  // initial LSTM forget-gate bias (TensorFlow's BasicLSTMCell default)
  // Extensions of the paper's decoder (off by default, as the reference): the memory's (x, y)
  // coordinates as two more channels, and a coverage term in the attention energies (Tu et al.
  // 2016) so that a caption listing objects can move on from the ones it has named.
  bool coordinate_channels = false;
  bool coverage = false;
  bool context_in_output = false;
  // The attention's query also reads the word this step is fed (att_word(x_t)). The paper's query
  // is h_{t-1} alone, which was computed before w_{t-1} was chosen: after naming a colour the
  // attention cannot know which colour was named, and the shape word may come from a neighbour.
  // The Up-Down captioner's attention LSTM reads the word before attending, for the same reason.
  bool word_in_query = false;
  bool operator==(const SoftAttentionDecoderConfig&) const = default;
};

struct SoftAttentionConfig {
  MobileNetConfig encoder;
  SoftAttentionDecoderConfig decoder;
  DecodingOptions decoding;  // beam 3, at most 30 words, no length normalisation
  SpecialTokens tokens;      // PAD 0, BOS 2, EOS 3 (data/vocab.h)
  void validate_options() const;  // all but the vocabulary; throws naming the offending key and value
  void validate() const;          // validate_options() and the vocabulary size and special tokens
};

// JSON: {"encoder": {...}, "decoder": {"vocabulary_size", "cell": "lstm"|"gru", "hidden_size",
// "embedding_size", "attention_size", "dropout", "forget_bias", "coordinate_channels", "coverage",
// "context_in_output", "word_in_query"}, "decoding": {"beam_size", "max_words"}, "tokens": {"pad", "bos", "eos"}}. Missing keys keep
// defaults; unknown keys throw.
void to_json(nlohmann::json& json, const SoftAttentionConfig& config);
void from_json(const nlohmann::json& json, SoftAttentionConfig& config);

// The effective weights of the layers a time step uses, fetched once per sequence. The matrices
// are CSR for a model loaded from a sparse export (see use_sparse_weights), dense otherwise.
struct SoftAttentionStepWeights {
  sparse::WeightHandle embedding;
  sparse::WeightHandle query_weight;
  Tensor query_bias;
  sparse::WeightHandle qk_weight;
  Tensor qk_bias;
  sparse::WeightHandle coverage_weight;  // [A, 1]; empty without coverage
  sparse::WeightHandle word_query_weight;  // [A, E]; empty without word_in_query
  CellWeights cell;
  sparse::WeightHandle logit_weight;
  Tensor logit_bias;
};

// The decoder's state between steps: the cell's, the last context [N, C], and with coverage the
// attention so far [N, P].
struct SoftAttentionState {
  RecurrentState cell;
  Tensor context;
  Tensor coverage;
};

class SoftAttentionDecoder : public nn::Module {
 public:
  SoftAttentionDecoder(const SoftAttentionDecoderConfig& config, int64_t memory_channels, Generator& generator,
                       std::shared_ptr<Generator> dropout_generator);

  // memory [B, P, C] and captions I64 [B * seq_per_img, L] -> logits [B * seq_per_img, L - 1, V]:
  // position t predicts captions[:, t + 1] from captions[:, 0..t].
  Tensor forward_teacher_forced(const Tensor& memory, const Tensor& captions, int64_t seq_per_img);

  // Pieces of a step, shared by teacher forcing and decoding.
  SoftAttentionStepWeights step_weights() const;
  Tensor attention_keys(const Tensor& memory) const;         // [B, P, A]
  SoftAttentionState initial_state(const Tensor& memory) const;  // from the mean of the memory
  // words [N, E], memory [N, P, C], keys [N, P, A] -> the next state (cell.h feeds the output layer).
  SoftAttentionState step(const Tensor& words, const Tensor& memory, const Tensor& keys,
                          const SoftAttentionState& state, const SoftAttentionStepWeights& weights);
  // The attention weights [N, P] of the step that reads `words` [N, E] in `state` (softmax over
  // positions).
  Tensor attention_weights(const Tensor& words, const Tensor& keys, const SoftAttentionState& state,
                           const SoftAttentionStepWeights& weights) const;
  // What the output layer reads after a step: h [N, H], or [h, z] [N, H + C] with context_in_output.
  Tensor output_features(const SoftAttentionState& state) const;
  Tensor logits(const Tensor& features, const SoftAttentionStepWeights& weights);  // [.., F] -> [.., V], with dropout

  const SoftAttentionDecoderConfig& config() const { return config_; }
  const RecurrentCell& cell() const { return *cell_; }

  // The weight matrices a step multiplies with (embedding, attention, cell, init and output
  // layers): the ones that can compute through CSR.
  std::vector<nn::ParameterPtr> weight_matrices() const;
  // From now on every decoder layer whose weight is in `weights` computes through the sparse
  // path (inference only) instead of its dense parameter. Throws naming a weight that is not a
  // decoder weight matrix or whose shape differs from the parameter's.
  void use_sparse_weights(const SparseWeights& weights);
  bool has_sparse_weights() const { return !sparse_weights_.empty(); }

 private:
  void check_memory(const Tensor& memory) const;
  // The CSR matrix installed for `parameter`, else its effective dense value.
  sparse::WeightHandle weight_handle(const nn::ParameterPtr& parameter) const;
  Tensor linear_layer(const nn::Linear& layer, const Tensor& x) const;

  SoftAttentionDecoderConfig config_;
  int64_t memory_channels_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::Linear> att_key_, att_query_, att_qk_, att_coverage_, att_word_, init_h_, init_c_, logit_;
  std::shared_ptr<RecurrentCell> cell_;
  std::map<const nn::Parameter*, std::shared_ptr<const sparse::CsrMatrix>> sparse_weights_;
};

class SoftAttentionCaptioner : public Captioner {
 public:
  // Initialises from `generator` (weights xavier-uniform but for the convolutions and batch
  // norms, which keep PyTorch's defaults); dropout draws from its own generator, seeded from
  // `generator`'s seed on another stream, which a checkpoint saves via dropout_generator().
  SoftAttentionCaptioner(const SoftAttentionConfig& config, Generator& generator);

  // images [B, 3, H, W] (or their encoder_features), captions I64 [B * seq_per_img, L] (BOS w..
  // EOS PAD..; the captions of image b are rows b * seq_per_img .. + seq_per_img - 1) -> logits
  // [B * seq_per_img, L - 1, V].
  Tensor forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img);
  // images [B, 3, H, W] (or their encoder_features) -> the attention memory [B, h*w, C] (C counts
  // the coordinate channels).
  Tensor memory(const CaptionerInputs& inputs);
  // Captioner: the images of `inputs`. Trailing columns that are PAD in every caption are skipped
  // first (same value, less work).
  std::string type() const override { return "soft_attention"; }
  CaptionerInputKinds input_kinds() const override { return {.pixels = true}; }
  Tensor loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) override;
  DecodingOptions decoding_options() const override { return config_.decoding; }

  // Decoding (StepwiseCaptioner). Call eval() first.
  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override;
  Tensor decode_step(DecodingState& state, const Tensor& tokens) override;
  int64_t vocabulary_size() const override { return config_.decoder.vocabulary_size; }
  SpecialTokens special_tokens() const override { return config_.tokens; }

  const SoftAttentionConfig& config() const { return config_; }
  MobileNetV1Encoder& encoder() { return *encoder_; }
  SoftAttentionDecoder& decoder() { return *decoder_; }
  Generator& dropout_generator() override { return *dropout_generator_; }
  // The decoder's weight matrices compute through CSR (SoftAttentionDecoder::use_sparse_weights);
  // the encoder stays dense, so encoder names are rejected.
  std::vector<std::string> sparse_compute_weight_names() const override;
  void use_sparse_weights(const SparseWeights& weights) override { decoder_->use_sparse_weights(weights); }

 private:
  // The encoder's feature map [B, C, h, w] of `inputs`: their encoder_features when given (a
  // frozen encoder's output, computed once per image), else the encoder run on their pixels.
  Tensor encoder_output(const CaptionerInputs& inputs);

  SoftAttentionConfig config_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<MobileNetV1Encoder> encoder_;
  std::shared_ptr<SoftAttentionDecoder> decoder_;
};

// The registry's entry for "soft_attention" (models/captioner_registry.h).
struct CaptionerRegistration;
CaptionerRegistration soft_attention_registration();

// feature map [B, C, h, w] -> [B, C + 2, h, w]: each position's column and row centre, scaled
// to [-1, 1], appended as two channels.
Tensor append_coordinate_channels(const Tensor& feature_map);

// Masked mean cross-entropy of logits [N, T, V] against targets I64 [N, T], ignoring `pad`.
Tensor caption_cross_entropy(const Tensor& logits, const Tensor& targets, int64_t pad);

}  // namespace sparsecap::models
