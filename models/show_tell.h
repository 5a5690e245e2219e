#pragma once
// The Show-and-Tell captioner (Vinyals et al. 2015), the model the sparse-LSTM and magnitude-
// pruning papers prune: a CNN embeds the whole image once, that embedding is the LSTM's first
// input, and the words follow.
//
//   v        = image_embed(mean_p CNN(I)_p)            [E]  (MobileNet-V1 encoder, pooled)
//   v        = batch_norm(v)                                (with image_batch_norm; over the batch's images)
//   h_i, c_i = 0, 0, or with image_initial_state:
//              tanh(s_h), s_c where [s_h, s_c] = init_state(v)   (GRU: h_i = tanh(init_state(v)))
//   h_0      = cell(v, (h_i, c_i))                          (the image step; its output is not scored)
//   h_t      = cell(embedding(w_{t-1}), h_{t-1})            t = 1 .. (BOS first)
//   logits   = logit(dropout(h_t))
//
// The two options are off by default (the paper's model) and on in configs/show_tell_*.json.
// image_batch_norm normalises v over the batch (batch statistics while training, the running ones
// at evaluation), as common Show-and-Tell implementations do after the image embedding: the mean
// over positions is mostly the same background in every image, and without it v varies little
// from image to image. image_initial_state also writes the image into the cell's starting state
// (the "init-inject" of Tanti et al. 2017, and Show, Attend and Tell's initial state). On the
// synthetic shapes the LSTM fed v only as its first input named the right colours and the right
// shapes but paired them wrongly: to say the shape that goes with the colour it has just said it
// must look that pair up in its state, and a state that starts as a linear function of v holds the
// pairs where its output gate can select them (docs/captioners.md has the measurements).
//
// Parameter names: encoder.* (as Soft-Attention's encoder), decoder.image_embed.weight,
// decoder.image_norm.weight, .bias [E] and buffers .running_mean, .running_var (with
// image_batch_norm), decoder.init_state.weight [2H or H, E] and .bias (with image_initial_state),
// decoder.embedding.weight, decoder.lstm.w_ih (or decoder.gru.w_ih), decoder.logit.weight. Every
// layer computes with Parameter::effective(), fetched once per forward or per encode, so a pruning
// gate draws one mask per training step.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/layers.h"
#include "engine/rng.h"
#include "models/captioner.h"
#include "models/decoding.h"
#include "models/mobilenet.h"
#include "models/recurrent_captioner_parts.h"
#include "models/rnn_cells.h"

namespace sparsecap::models {

struct ShowTellDecoderConfig {
  int64_t vocabulary_size = 0;  // required: words + PAD, UNK, BOS, EOS
  CellType cell = CellType::Lstm;
  int64_t hidden_size = 512;     // the references' rnn_size
  int64_t embedding_size = 512;  // image and word embeddings (input_encoding_size)
  double dropout = 0.5;          // on the cell output, before the output layer
  double forget_bias = 1.0;      // initial LSTM forget-gate bias
  bool image_batch_norm = false;     // batch norm on the image embedding v (above)
  bool image_initial_state = false;  // v also sets the cell's initial state (above)
  bool operator==(const ShowTellDecoderConfig&) const = default;
};

struct ShowTellConfig {
  MobileNetConfig encoder;
  ShowTellDecoderConfig decoder;
  DecodingOptions decoding;  // beam 3, at most 30 words
  SpecialTokens tokens;
  void validate_options() const;  // all but the vocabulary; throws naming the offending key and value
  void validate() const;          // validate_options() and the vocabulary size and special tokens
};

// JSON: {"encoder": {...}, "decoder": {"vocabulary_size", "cell", "hidden_size", "embedding_size",
// "dropout", "forget_bias", "image_batch_norm", "image_initial_state"}, "decoding": {"beam_size", "max_words"}, "tokens": {"pad", "bos", "eos"}}.
// Missing keys keep defaults; unknown keys throw.
void to_json(nlohmann::json& json, const ShowTellConfig& config);
void from_json(const nlohmann::json& json, ShowTellConfig& config);

// The effective weights of the decoder, fetched once per sequence.
struct ShowTellStepWeights {
  sparse::WeightHandle image_embed_weight;
  Tensor image_embed_bias;
  sparse::WeightHandle init_state_weight;  // empty without image_initial_state
  Tensor init_state_bias;
  sparse::WeightHandle embedding;
  CellWeights cell;
  sparse::WeightHandle logit_weight;
  Tensor logit_bias;
};

class ShowTellDecoder : public nn::Module {
 public:
  ShowTellDecoder(const ShowTellDecoderConfig& config, int64_t image_channels, Generator& generator,
                  std::shared_ptr<Generator> dropout_generator);

  ShowTellStepWeights step_weights() const;
  // pooled image features [B, C] -> v [B, E] (batch-normalised with image_batch_norm).
  Tensor image_vector(const Tensor& pooled, const ShowTellStepWeights& weights) const;
  // v [B, E] -> the state the image step starts from: zeros, or init_state's.
  RecurrentState initial_state(const Tensor& image, const ShowTellStepWeights& weights) const;
  // pooled image features [B, C] -> the state after the image step, [B, H].
  RecurrentState image_step(const Tensor& pooled, const ShowTellStepWeights& weights) const;
  // word embeddings [N, E] -> the next state.
  RecurrentState step(const Tensor& words, const RecurrentState& state, const ShowTellStepWeights& weights) const;
  Tensor logits(const Tensor& h, const ShowTellStepWeights& weights);  // [.., H] -> [.., V], with dropout

  // pooled [B, C] and captions I64 [B * seq_per_img, L] -> logits [B * seq_per_img, L - 1, V].
  Tensor forward_teacher_forced(const Tensor& pooled, const Tensor& captions, int64_t seq_per_img);

  const ShowTellDecoderConfig& config() const { return config_; }
  std::vector<nn::ParameterPtr> weight_matrices() const;
  void use_sparse_weights(const SparseWeights& weights);
  bool has_sparse_weights() const { return !sparse_weights_.empty(); }

 private:
  ShowTellDecoderConfig config_;
  int64_t image_channels_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<nn::Linear> image_embed_, logit_;
  std::shared_ptr<nn::BatchNorm2d> image_norm_;  // null without image_batch_norm
  std::shared_ptr<nn::Linear> init_state_;       // null without image_initial_state
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<RecurrentCell> cell_;
  SparseWeightTable sparse_weights_;
};

class ShowTellCaptioner : public Captioner {
 public:
  // Weights xavier-uniform but for the encoder's convolutions and batch norms; dropout draws from
  // its own generator (the seed of `generator`, the next stream).
  ShowTellCaptioner(const ShowTellConfig& config, Generator& generator);

  // images [B, 3, H, W] (or their encoder_features) -> the mean of the encoder's last feature
  // map, [B, C].
  Tensor pooled_features(const CaptionerInputs& inputs);
  // images [B, 3, H, W] (or their encoder_features), captions I64 [B * seq_per_img, L] -> logits
  // [B * seq_per_img, L - 1, V].
  Tensor forward_teacher_forced(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img);

  std::string type() const override { return "show_tell"; }
  CaptionerInputKinds input_kinds() const override { return {.pixels = true}; }
  Tensor loss(const CaptionerInputs& inputs, const Tensor& captions, int64_t seq_per_img) override;
  DecodingOptions decoding_options() const override { return config_.decoding; }

  std::unique_ptr<DecodingState> encode(const CaptionerInputs& inputs) override;
  Tensor decode_step(DecodingState& state, const Tensor& tokens) override;
  int64_t vocabulary_size() const override { return config_.decoder.vocabulary_size; }
  SpecialTokens special_tokens() const override { return config_.tokens; }

  const ShowTellConfig& config() const { return config_; }
  MobileNetV1Encoder& encoder() { return *encoder_; }
  ShowTellDecoder& decoder() { return *decoder_; }
  Generator& dropout_generator() override { return *dropout_generator_; }
  // The decoder's matrices compute through CSR; the encoder's convolutions load back dense.
  std::vector<std::string> sparse_compute_weight_names() const override;
  void use_sparse_weights(const SparseWeights& weights) override { decoder_->use_sparse_weights(weights); }

 private:
  // The encoder's feature map [B, C, h, w] of `inputs`: their encoder_features when given (a
  // frozen encoder's output, computed once per image), else the encoder run on their pixels.
  Tensor encoder_output(const CaptionerInputs& inputs);

  ShowTellConfig config_;
  std::shared_ptr<Generator> dropout_generator_;
  std::shared_ptr<MobileNetV1Encoder> encoder_;
  std::shared_ptr<ShowTellDecoder> decoder_;
};

// The registry's entry for "show_tell" (models/captioner_registry.h).
struct CaptionerRegistration;
CaptionerRegistration show_tell_registration();

}  // namespace sparsecap::models
