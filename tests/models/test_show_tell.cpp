// The Show-and-Tell captioner: parameter names and kinds, the forward pass and its gradients
// against the equations written with primitive ops (float64), finite differences, teacher forcing
// against step-by-step decoding (LSTM and GRU), beam 1 against greedy, Supermask gates, the sparse
// export round trip, config JSON, and a tiny model overfitting; the paper's model and the two image
// options (batch norm on v, the initial state from v), alone and together.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "models/show_tell.h"
#include "tests/engine/gradcheck.h"
#include "tests/models/captioner_checks.h"

namespace sparsecap::models {
namespace {

using captioner_checks::max_abs_difference;

constexpr int64_t kPad = 0, kBos = 2, kEos = 3;

// Which of the two image options a test model has.
struct ImageOptions {
  bool batch_norm = false;
  bool initial_state = false;
};
const std::vector<ImageOptions> kImageVariants = {{false, false}, {true, false}, {false, true}, {true, true}};

std::string variant_name(const ImageOptions& image) {
  return std::string("image_batch_norm ") + (image.batch_norm ? "on" : "off") + ", image_initial_state " +
         (image.initial_state ? "on" : "off");
}

ShowTellConfig tiny_config(CellType cell = CellType::Lstm, ImageOptions image = {}) {
  ShowTellConfig config;
  config.decoder.image_batch_norm = image.batch_norm;
  config.decoder.image_initial_state = image.initial_state;
  config.encoder.width_multiplier = 0.25;
  config.encoder.stem_channels = 32;
  config.encoder.blocks = {{32, 2}, {64, 2}};  // 16x16 input -> 2x2 memory of 16 channels
  config.decoder.vocabulary_size = 9;
  config.decoder.cell = cell;
  config.decoder.hidden_size = 6;
  config.decoder.embedding_size = 5;
  config.decoder.dropout = 0.0;
  return config;
}

// Two images x 2 captions of length 6: BOS w.. EOS PAD...
Tensor tiny_captions() {
  return from_vector<int64_t>({kBos, 4, 5, kEos, kPad, kPad,  //
                               kBos, 6, kEos, kPad, kPad, kPad,  //
                               kBos, 7, 8, 4, kEos, kPad,        //
                               kBos, kEos, kPad, kPad, kPad, kPad},
                              {4, 6});
}

// Gives the image batch norm (when the model has one) a scale, shift and running statistics away
// from 1, 0, 0, 1, so that evaluation-mode tests see it act.
void spread_image_norm(ShowTellCaptioner& model, Generator& generator) {
  nn::StateDict state = model.state_dict();
  for (auto& [name, tensor] : state) {
    if (!name.starts_with("decoder.image_norm.")) continue;
    const Tensor noise = rand(tensor.shape(), generator, tensor.dtype());  // [0, 1)
    tensor = name.ends_with("running_var") || name.ends_with("weight") ? add_scalar(noise, 0.5) : mul_scalar(noise, 2.0);
  }
  model.load_state_dict(state);
}

// The teacher-forced logits [N, L - 1, V] from the header's equations, row by row, given the
// pooled image features [B, C] and an LSTM written with primitive ops (gates i, f, g, o); batch
// norm on its running statistics (evaluation mode).
Tensor logits_by_hand(const ShowTellCaptioner& model, const Tensor& pooled, const Tensor& captions, int64_t seq_per_img) {
  std::map<std::string, Tensor> p;
  for (const auto& [name, parameter] : model.named_parameters()) p[name] = parameter->value();
  for (const auto& [name, buffer] : model.named_buffers()) p[name] = buffer;
  const ShowTellDecoderConfig& decoder = model.config().decoder;
  const auto lstm = [&](const Tensor& x, const Tensor& h, const Tensor& c) {
    const Tensor gates = add(linear(x, p["decoder.lstm.w_ih"], p["decoder.lstm.b_ih"]),
                             linear(h, p["decoder.lstm.w_hh"], p["decoder.lstm.b_hh"]));
    const std::vector<Tensor> g = split(gates, h.size(1), 1);
    const Tensor c_next = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), tanh(g[2])));
    return std::make_pair(mul(sigmoid(g[3]), tanh(c_next)), c_next);
  };
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  const int64_t length = captions.size(1), hidden = model.config().decoder.hidden_size;
  std::vector<Tensor> rows;
  for (int64_t row = 0; row < captions.size(0); ++row) {
    Tensor image = linear(narrow(pooled, 0, row / seq_per_img, 1), p["decoder.image_embed.weight"],
                          p["decoder.image_embed.bias"]);
    if (decoder.image_batch_norm)
      image = add(mul(div(sub(image, p["decoder.image_norm.running_mean"]),
                          sqrt(add_scalar(p["decoder.image_norm.running_var"], 1e-5))),
                      p["decoder.image_norm.weight"]),
                  p["decoder.image_norm.bias"]);
    Tensor h = zeros({1, hidden}, DType::F64), c = h;
    if (decoder.image_initial_state) {
      const Tensor state = linear(image, p["decoder.init_state.weight"], p["decoder.init_state.bias"]);
      h = tanh(narrow(state, 1, 0, hidden));
      c = narrow(state, 1, hidden, hidden);
    }
    std::tie(h, c) = lstm(image, h, c);  // the image step: not scored
    std::vector<Tensor> logits;
    for (int64_t t = 0; t + 1 < length; ++t) {
      const Tensor word = embedding(p["decoder.embedding.weight"], from_vector<int64_t>({tokens[static_cast<size_t>(row * length + t)]}, {1}));
      std::tie(h, c) = lstm(word, h, c);
      logits.push_back(linear(h, p["decoder.logit.weight"], p["decoder.logit.bias"]));
    }
    rows.push_back(concat(logits, 0));
  }
  return stack(rows, 0);
}

TEST(ShowTellCaptioner, ParameterNamesAndKinds) {
  Generator generator(1);
  ShowTellConfig config;
  config.decoder.vocabulary_size = 50;
  ShowTellCaptioner model(config, generator);
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : model.named_parameters()) parameters[name] = parameter;
  const std::vector<std::tuple<std::string, nn::ParameterKind, Shape>> expected = {
      {"encoder.stem.weight", nn::ParameterKind::Weight, {32, 3, 3, 3}},
      {"encoder.stages.6.pointwise.weight", nn::ParameterKind::Weight, {512, 512, 1, 1}},
      {"decoder.image_embed.weight", nn::ParameterKind::Weight, {512, 512}},
      {"decoder.image_embed.bias", nn::ParameterKind::Bias, {512}},
      {"decoder.embedding.weight", nn::ParameterKind::Embedding, {50, 512}},
      {"decoder.lstm.w_ih", nn::ParameterKind::Weight, {2048, 512}},
      {"decoder.lstm.w_hh", nn::ParameterKind::Weight, {2048, 512}},
      {"decoder.lstm.b_ih", nn::ParameterKind::Bias, {2048}},
      {"decoder.logit.weight", nn::ParameterKind::Weight, {50, 512}},
      {"decoder.logit.bias", nn::ParameterKind::Bias, {50}},
  };
  for (const auto& [name, kind, shape] : expected) {
    ASSERT_TRUE(parameters.count(name)) << name;
    EXPECT_EQ(parameters[name]->kind(), kind) << name;
    EXPECT_EQ(parameters[name]->shape(), shape) << name;
  }
  int64_t decoder_parameters = 0;
  for (const auto& [name, parameter] : parameters)
    if (name.starts_with("decoder.")) decoder_parameters += parameter->value().numel();
  EXPECT_EQ(decoder_parameters, (512 * 512 + 512) + 50 * 512 + (2048 * 1024 + 2 * 2048) + (512 * 50 + 50));
  EXPECT_FALSE(parameters.count("decoder.image_norm.weight"));
  EXPECT_FALSE(parameters.count("decoder.init_state.weight"));

  // With both image options: the batch norm's scale and shift [E] (kind norm) and running
  // statistics (buffers), and init_state [2H, E] for the LSTM's h and c ([H, E] for a GRU's h).
  config.decoder.image_batch_norm = config.decoder.image_initial_state = true;
  for (const CellType cell : {CellType::Lstm, CellType::Gru}) {
    config.decoder.cell = cell;
    const ShowTellCaptioner with_options(config, generator);
    std::map<std::string, nn::ParameterPtr> with;
    for (const auto& [name, parameter] : with_options.named_parameters()) with[name] = parameter;
    const int64_t state_size = cell == CellType::Lstm ? 1024 : 512;
    const std::vector<std::tuple<std::string, nn::ParameterKind, Shape>> options = {
        {"decoder.image_norm.weight", nn::ParameterKind::Norm, {512}},
        {"decoder.image_norm.bias", nn::ParameterKind::Norm, {512}},
        {"decoder.init_state.weight", nn::ParameterKind::Weight, {state_size, 512}},
        {"decoder.init_state.bias", nn::ParameterKind::Bias, {state_size}},
    };
    for (const auto& [name, kind, shape] : options) {
      ASSERT_TRUE(with.count(name)) << name;
      EXPECT_EQ(with[name]->kind(), kind) << name;
      EXPECT_EQ(with[name]->shape(), shape) << name;
    }
    std::map<std::string, Shape> buffers;
    for (const auto& [name, buffer] : with_options.named_buffers())
      if (name.starts_with("decoder.")) buffers[name] = buffer.shape();
    EXPECT_EQ(buffers, (std::map<std::string, Shape>{{"decoder.image_norm.running_mean", {512}},
                                                     {"decoder.image_norm.running_var", {512}}}));
  }
}

TEST(ShowTellCaptioner, PooledFeaturesAreTheMeanOfTheEncoderMemory) {
  Generator generator(2);
  ShowTellCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
  const Tensor memory = model.encoder().forward(images);  // [2, 4, 16]
  const Tensor pooled = model.pooled_features(images);
  ASSERT_EQ(pooled.shape(), (Shape{2, 16}));
  const std::vector<double> m = memory.to_vector<double>(), p = pooled.to_vector<double>();
  for (size_t b = 0; b < 2; ++b)
    for (size_t c = 0; c < 16; ++c)
      EXPECT_NEAR(p[b * 16 + c], (m[b * 64 + c] + m[b * 64 + 16 + c] + m[b * 64 + 32 + c] + m[b * 64 + 48 + c]) / 4,
                  1e-12);
}

TEST(ShowTellCaptioner, EncoderFeaturesGiveTheLossAndGradientsOfTheirImages) {
  // A frozen encoder's output given as encoder_features (what the trainer's feature cache passes)
  // stands for the images: same loss, same decoder gradients, with dropout drawing the same masks.
  Generator generator(22);
  ShowTellConfig config = tiny_config();
  config.decoder.dropout = 0.3;
  ShowTellCaptioner model(config, generator);
  model.train();
  model.encoder().eval();  // frozen, as optim.freeze_encoder trains
  for (const nn::ParameterPtr& parameter : model.encoder().parameters()) parameter->set_requires_grad(false);
  const Tensor images = randn({2, 3, 16, 16}, generator);
  Tensor features;
  {
    NoGradGuard no_grad;
    features = model.encoder().feature_map(images);
  }
  CaptionerInputs given;  // no pixels: the encoder cannot run
  given.encoder_features = features;

  const uint64_t draws = model.dropout_generator().offset();
  const Tensor from_images = model.loss(images, tiny_captions(), 2);
  from_images.backward();
  const auto image_gradients = captioner_checks::parameter_gradients(model);
  model.zero_grad();
  model.dropout_generator().set_offset(draws);
  const Tensor from_features = model.loss(given, tiny_captions(), 2);
  from_features.backward();
  const auto feature_gradients = captioner_checks::parameter_gradients(model);

  EXPECT_NEAR(from_features.item(), from_images.item(), 1e-6 * std::abs(from_images.item()));
  ASSERT_EQ(feature_gradients.size(), image_gradients.size());
  for (const auto& [name, gradient] : image_gradients) {
    const std::vector<double>& other = feature_gradients.at(name);
    double worst = 0, magnitude = 0;
    for (size_t i = 0; i < gradient.size(); ++i) {
      worst = std::max(worst, std::abs(gradient[i] - other[i]));
      magnitude += std::abs(gradient[i]);
    }
    EXPECT_LT(worst, 1e-6) << name;
    if (name.starts_with("decoder.")) {
      EXPECT_GT(magnitude, 0.0) << name;
    }
  }
  // The features are read, not ignored: other features give another loss.
  CaptionerInputs other;
  other.encoder_features = mul_scalar(features, 3.0);
  model.dropout_generator().set_offset(draws);
  EXPECT_GT(std::abs(model.loss(other, tiny_captions(), 2).item() - from_images.item()), 1e-6);
}

TEST(ShowTellCaptioner, ForwardFollowsTheEquations) {
  for (const ImageOptions& image : kImageVariants) {
    SCOPED_TRACE(variant_name(image));
    Generator generator(3);
    ShowTellCaptioner model(tiny_config(CellType::Lstm, image), generator);
    model.to(DType::F64);
    spread_image_norm(model, generator);
    model.eval();
    const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
    const Tensor logits = model.forward_teacher_forced(images, tiny_captions(), 2);
    ASSERT_EQ(logits.shape(), (Shape{4, 5, 9}));
    EXPECT_LT(max_abs_difference(logits, logits_by_hand(model, model.pooled_features(images), tiny_captions(), 2)),
              1e-12);
    if (image.batch_norm || image.initial_state) {
      // The option acts: the paper's model with the same weights gives other logits.
      Generator same(3);
      ShowTellCaptioner paper(tiny_config(), same);
      paper.to(DType::F64);
      nn::StateDict state = model.state_dict();
      std::erase_if(state, [](const auto& entry) {
        return entry.first.starts_with("decoder.image_norm.") || entry.first.starts_with("decoder.init_state.");
      });
      paper.load_state_dict(state);
      paper.eval();
      EXPECT_GT(max_abs_difference(logits, paper.forward_teacher_forced(images, tiny_captions(), 2)), 1e-3);
    }
  }
}

// The image batch norm while training: v normalised by the batch's own mean and (biased) variance.
TEST(ShowTellCaptioner, ImageBatchNormUsesTheBatchStatisticsWhileTraining) {
  Generator generator(31);
  ShowTellCaptioner model(tiny_config(CellType::Lstm, {.batch_norm = true}), generator);
  model.to(DType::F64);
  spread_image_norm(model, generator);
  model.train();
  const Tensor pooled = randn({3, 16}, generator, DType::F64);
  const ShowTellStepWeights weights = model.decoder().step_weights();
  const std::vector<double> v = model.decoder().image_vector(pooled, weights).to_vector<double>();
  std::map<std::string, Tensor> p;
  for (const auto& [name, parameter] : model.named_parameters()) p[name] = parameter->value();
  const std::vector<double> embedded =
      linear(pooled, p["decoder.image_embed.weight"], p["decoder.image_embed.bias"]).to_vector<double>();
  const std::vector<double> gamma = p["decoder.image_norm.weight"].to_vector<double>(),
                            beta = p["decoder.image_norm.bias"].to_vector<double>();
  ASSERT_EQ(v.size(), 3u * 5u);
  for (size_t unit = 0; unit < 5; ++unit) {
    double mean = 0, variance = 0;
    for (size_t b = 0; b < 3; ++b) mean += embedded[b * 5 + unit] / 3;
    for (size_t b = 0; b < 3; ++b) variance += (embedded[b * 5 + unit] - mean) * (embedded[b * 5 + unit] - mean) / 3;
    for (size_t b = 0; b < 3; ++b)
      EXPECT_NEAR(v[b * 5 + unit], (embedded[b * 5 + unit] - mean) / std::sqrt(variance + 1e-5) * gamma[unit] + beta[unit],
                  1e-12)
          << "image " << b << ", unit " << unit;
  }
}

TEST(ShowTellCaptioner, GradientsMatchTheEquationsWrittenWithOps) {
  for (const ImageOptions& image : kImageVariants) {
    SCOPED_TRACE(variant_name(image));
    Generator generator(4);
    ShowTellCaptioner model(tiny_config(CellType::Lstm, image), generator);
    model.to(DType::F64);
    spread_image_norm(model, generator);
    model.eval();  // batch norm on its running statistics in both computations
    const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
    model.loss(images, tiny_captions(), 2).backward();
    const auto from_model = captioner_checks::parameter_gradients(model);
    model.zero_grad();
    const Tensor by_hand = logits_by_hand(model, model.pooled_features(images), tiny_captions(), 2);
    cross_entropy(by_hand.reshape({-1, 9}), narrow(tiny_captions(), 1, 1, 5).reshape({-1}), kPad).backward();
    const auto from_ops = captioner_checks::parameter_gradients(model);
    ASSERT_EQ(from_model.size(), from_ops.size());
    for (const auto& [name, gradient] : from_model) {
      const std::vector<double>& expected = from_ops.at(name);
      double worst = 0, magnitude = 0;
      for (size_t i = 0; i < gradient.size(); ++i) {
        worst = std::max(worst, std::abs(gradient[i] - expected[i]));
        magnitude += std::abs(expected[i]);
      }
      EXPECT_LT(worst, 1e-12) << name;
      EXPECT_GT(magnitude, 0.0) << name;
    }
  }
}

TEST(ShowTellCaptioner, DecoderGradientsMatchFiniteDifferences) {
  Generator generator(5);
  ShowTellCaptioner model(tiny_config(CellType::Lstm, {.batch_norm = true, .initial_state = true}), generator);
  model.to(DType::F64);
  model.train();  // batch statistics: each image's v depends on the others
  for (const nn::ParameterPtr& parameter : model.encoder().parameters()) parameter->set_requires_grad(false);
  const Tensor pooled = randn({2, 16}, generator, DType::F64);
  const auto function = [&](const std::vector<Tensor>& x) {
    return model.decoder().forward_teacher_forced(x[0], tiny_captions(), 2);
  };
  const sparsecap::testing::GradcheckResult result = sparsecap::testing::gradcheck(function, {pooled}, {true});
  EXPECT_LT(result.max_relative_error, 1e-6) << result.worst;
}

TEST(ShowTellCaptioner, TeacherForcingEqualsStepByStepDecoding) {
  for (const CellType cell : {CellType::Lstm, CellType::Gru})
    for (const ImageOptions& image : {ImageOptions{}, ImageOptions{true, true}}) {
      Generator generator(6);
      ShowTellCaptioner model(tiny_config(cell, image), generator);
      model.to(DType::F64);
      spread_image_norm(model, generator);
      model.eval();
      const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
      const Tensor logits = model.forward_teacher_forced(images, tiny_captions(), 2);
      SCOPED_TRACE(std::string(cell_type_name(cell)) + ", " + variant_name(image));
      captioner_checks::expect_decoding_matches_teacher_forcing(model, images, tiny_captions(), 2, logits, 1e-12);
    }
}

TEST(ShowTellCaptioner, BeamOfOneIsGreedyDecodingAndTheDeviceBookkeepingGivesTheHostsCaptions) {
  Generator generator(7);
  ShowTellConfig config = tiny_config(CellType::Lstm, {.batch_norm = true, .initial_state = true});
  config.decoder.vocabulary_size = 30;
  ShowTellCaptioner model(config, generator);
  model.eval();
  const CaptionerInputs inputs = randn({5, 3, 16, 16}, generator);
  captioner_checks::expect_beam_one_is_greedy(model, inputs, 10);
  captioner_checks::expect_device_bookkeeping_matches_host(model, inputs, 10);
}

TEST(ShowTellCaptioner, SupermaskGatesEveryWeightMatrixAndEmbeddingOnly) {
  for (const ImageOptions& image : {ImageOptions{}, ImageOptions{true, true}}) {
    SCOPED_TRACE(variant_name(image));
    Generator generator(8);
    ShowTellCaptioner model(tiny_config(CellType::Lstm, image), generator);
    const captioner_checks::GatedParameters gated = captioner_checks::supermask_gated_parameters(model);
    EXPECT_EQ(gated.gated, gated.weights_and_embeddings);
    // Decoder: image_embed, (init_state,) embedding, w_ih, w_hh, logit; encoder: stem and 2 x
    // (depthwise, pointwise). Not the batch norm's scale and shift.
    EXPECT_EQ(gated.gated.size(), (image.initial_state ? 6u : 5u) + 5u);
    for (const std::string& name : gated.gated)
      EXPECT_TRUE(name.ends_with(".weight") || name.ends_with(".w_ih") || name.ends_with(".w_hh")) << name;
    const auto has = [&](const std::string& name) { return std::ranges::count(gated.gated, name) == 1; };
    EXPECT_EQ(image.initial_state, has("decoder.init_state.weight"));
    EXPECT_FALSE(has("decoder.image_norm.weight"));
  }
}

TEST(ShowTellCaptioner, SparseExportDecodesTheSameCaptions) {
  for (const ImageOptions& image : {ImageOptions{}, ImageOptions{true, true}}) {
    SCOPED_TRACE(variant_name(image));
    Generator generator(9);
    ShowTellConfig config = tiny_config(CellType::Lstm, image);
    config.decoder.vocabulary_size = 40;
    config.decoder.hidden_size = 24;
    config.decoder.embedding_size = 16;
    ShowTellCaptioner model(config, generator);
    spread_image_norm(model, generator);
    captioner_checks::prune_randomly(model, 0.8, 3);
    model.eval();
    nlohmann::json section = config;
    section["decoder"].erase("vocabulary_size");
    section.erase("tokens");
    section["type"] = "show_tell";
    // The decoder matrices (five, six with init_state) compute through CSR; the convolutions and
    // the batch norm load back dense.
    captioner_checks::expect_export_round_trip(model, section, randn({4, 3, 16, 16}, generator),
                                               image.initial_state ? 6 : 5);
  }
}

TEST(ShowTellConfig, JsonRoundTripDefaultsAndErrors) {
  ShowTellConfig config = tiny_config(CellType::Gru, {.batch_norm = true, .initial_state = false});
  config.decoding.beam_size = 5;
  const nlohmann::json json = config;
  EXPECT_EQ(json.at("decoder").at("cell"), "gru");
  const ShowTellConfig back = json.get<ShowTellConfig>();
  EXPECT_EQ(back.encoder, config.encoder);
  EXPECT_EQ(back.decoder, config.decoder);
  EXPECT_EQ(nlohmann::json(back), json);

  const nlohmann::json resolved = resolve_captioner_config({{"type", "show_tell"}});
  EXPECT_EQ(resolved.at("decoder").at("hidden_size"), 512);
  EXPECT_EQ(resolved.at("decoder").at("embedding_size"), 512);
  EXPECT_EQ(resolved.at("decoder").at("cell"), "lstm");
  EXPECT_EQ(resolved.at("decoder").at("dropout"), 0.5);
  EXPECT_EQ(resolved.at("decoder").at("image_batch_norm"), false);  // the paper's model
  EXPECT_EQ(resolved.at("decoder").at("image_initial_state"), false);
  EXPECT_FALSE(resolved.at("decoder").contains("vocabulary_size"));
  Generator generator(10);
  nlohmann::json small = nlohmann::json(tiny_config());
  small["decoder"].erase("vocabulary_size");
  small.erase("tokens");
  small["type"] = "show_tell";
  const std::unique_ptr<Captioner> built = make_captioner(small, CaptionerVocabulary{.size = 20, .tokens = {}}, generator);
  EXPECT_EQ(built->type(), "show_tell");
  EXPECT_TRUE(built->input_kinds().pixels);
  EXPECT_EQ(built->vocabulary_size(), 20);

  const auto error_of = [](const char* text) {
    try {
      nlohmann::json::parse(text).get<ShowTellConfig>().validate();
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"decoder": {"attention_size": 3}})"),
            "unknown key decoder.attention_size (known: vocabulary_size, cell, hidden_size, embedding_size, dropout, "
            "forget_bias, image_batch_norm, image_initial_state)");
  EXPECT_EQ(error_of(R"({"decoder": {"vocabulary_size": 10, "hidden_size": 0}})"),
            "decoder.hidden_size must be positive, got 0");
  EXPECT_EQ(error_of(R"({"decoder": {"vocabulary_size": 10}, "decoding": {"max_words": -1}})"),
            "decoding.max_words must be >= 0, got -1");
  EXPECT_EQ(error_of(R"({})"), "decoder.vocabulary_size must be set (> 0), got 0");
}

TEST(ShowTellCaptioner, TinyModelOverfitsFourImagesTwoCaptionsEach) {
  Generator generator(11);
  ShowTellConfig config = tiny_config(CellType::Lstm, {.batch_norm = true, .initial_state = true});
  config.decoder.vocabulary_size = 12;
  config.decoder.hidden_size = 32;
  config.decoder.embedding_size = 16;
  ShowTellCaptioner model(config, generator);
  const Tensor images = randn({4, 3, 16, 16}, generator);
  const Tensor captions = from_vector<int64_t>({kBos, 4, 5, 6, kEos, kPad,  //
                                                kBos, 4, 7, kEos, kPad, kPad,  //
                                                kBos, 8, 9, 10, 11, kEos,      //
                                                kBos, 8, 5, kEos, kPad, kPad,  //
                                                kBos, 6, 6, 7, kEos, kPad,     //
                                                kBos, 6, 11, kEos, kPad, kPad, //
                                                kBos, 9, 4, 10, 5, kEos,       //
                                                kBos, 9, 10, kEos, kPad, kPad},
                                               {8, 6});
  optim::Adam adam(model.parameters(), optim::constant_schedule(0.01));
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    const Tensor loss = model.loss(images, captions, 2);
    loss.backward();
    adam.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_GT(first, 2.0);  // about ln 12 = 2.5 at the start
  EXPECT_LT(last, 0.1 * first) << "first " << first << ", last " << last;
  model.eval();
  const std::vector<DecodedCaption> decoded = greedy_decode(model, images, 8);
  const std::vector<int64_t> first_words = {4, 8, 6, 9};
  for (size_t image = 0; image < 4; ++image) {
    ASSERT_FALSE(decoded[image].tokens.empty()) << image;
    EXPECT_EQ(decoded[image].tokens[0], first_words[image]) << image;
  }
}

}  // namespace
}  // namespace sparsecap::models
