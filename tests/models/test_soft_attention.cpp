// The Soft-Attention captioner: encoder and decoder shapes, parameter names and kinds, the loss
// against a hand computation, one decoder step against the paper's equations written with
// primitive ops, teacher forcing against step-by-step decoding, config JSON, weight transforms,
// and a tiny model overfitting a few captions.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "engine/autograd.h"
#include "engine/nn/parameter.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/rng.h"
#include "models/soft_attention.h"

namespace sparsecap::models {
namespace {

constexpr int64_t kPad = 0, kBos = 2, kEos = 3;

SoftAttentionConfig tiny_config(CellType cell = CellType::Lstm) {
  SoftAttentionConfig config;
  config.encoder.width_multiplier = 0.25;
  config.encoder.stem_channels = 32;
  config.encoder.blocks = {{32, 2}, {64, 2}};  // 16x16 input -> 2x2 memory of 16 channels
  config.decoder.vocabulary_size = 9;
  config.decoder.cell = cell;
  config.decoder.hidden_size = 6;
  config.decoder.embedding_size = 5;
  config.decoder.attention_size = 4;
  config.decoder.dropout = 0.0;
  return config;
}

// Two images x 2 captions of length 6: BOS w.. EOS PAD.., the last column PAD everywhere.
Tensor tiny_captions() {
  return from_vector<int64_t>({kBos, 4, 5, kEos, kPad, kPad,  //
                               kBos, 6, kEos, kPad, kPad, kPad,  //
                               kBos, 7, 8, 4, kEos, kPad,        //
                               kBos, kEos, kPad, kPad, kPad, kPad},
                              {4, 6});
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

TEST(MobileNetEncoder, MemoryShapesForEachWidth) {
  Generator generator(1);
  const Tensor images = randn({2, 3, 64, 64}, generator);
  for (const auto& [width, channels] : std::vector<std::pair<double, int64_t>>{{1.0, 512}, {0.5, 256}, {0.25, 128}}) {
    MobileNetConfig config;
    config.width_multiplier = width;
    MobileNetV1Encoder encoder(config, generator);
    EXPECT_EQ(encoder.output_channels(), channels);
    EXPECT_EQ(config.output_size(64), 4);
    const Tensor feature_map = encoder.feature_map(images);
    EXPECT_EQ(feature_map.shape(), (Shape{2, channels, 4, 4}));
    EXPECT_EQ(encoder.forward(images).shape(), (Shape{2, 16, channels}));
  }
}

TEST(MobileNetEncoder, ImageNetBlocksGiveSevenBySevenAt224) {
  MobileNetConfig config;
  config.blocks = mobilenet_v1_imagenet_blocks();
  EXPECT_EQ(config.output_size(224), 7);
  EXPECT_EQ(config.output_channels(), 1024);
  config.width_multiplier = 0.25;
  EXPECT_EQ(config.output_channels(), 256);
  EXPECT_EQ(config.scaled(32), 8);
}

TEST(MobileNetEncoder, MemoryIsThePositionMajorFeatureMap) {
  // [1, 2, 2, 3]: channel c at (y, x) is 100 c + 3 y + x; memory [1, 6, 2] lists positions row by row.
  std::vector<double> values;
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) values.push_back(100 * c + 3 * y + x);
  const Tensor memory = feature_map_to_memory(from_vector(values, {1, 2, 2, 3}));
  EXPECT_EQ(memory.shape(), (Shape{1, 6, 2}));
  EXPECT_EQ(memory.to_vector<double>(), (std::vector<double>{0, 100, 1, 101, 2, 102, 3, 103, 4, 104, 5, 105}));
}

TEST(SoftAttentionCaptioner, ParameterNamesReadLikeThePaper) {
  Generator generator(2);
  SoftAttentionConfig config;
  config.decoder.vocabulary_size = 50;
  SoftAttentionCaptioner captioner(config, generator);
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : captioner.named_parameters()) parameters[name] = parameter;
  const std::vector<std::tuple<std::string, nn::ParameterKind, Shape>> expected = {
      {"encoder.stem.weight", nn::ParameterKind::Weight, {32, 3, 3, 3}},
      {"encoder.stem_bn.weight", nn::ParameterKind::Norm, {32}},
      {"encoder.stages.0.depthwise.weight", nn::ParameterKind::Weight, {32, 1, 3, 3}},
      {"encoder.stages.0.depthwise_bn.bias", nn::ParameterKind::Norm, {32}},
      {"encoder.stages.0.pointwise.weight", nn::ParameterKind::Weight, {64, 32, 1, 1}},
      {"encoder.stages.6.pointwise.weight", nn::ParameterKind::Weight, {512, 512, 1, 1}},
      {"decoder.embedding.weight", nn::ParameterKind::Embedding, {50, 256}},
      {"decoder.att_key.weight", nn::ParameterKind::Weight, {512, 512}},
      {"decoder.att_key.bias", nn::ParameterKind::Bias, {512}},
      {"decoder.att_query.weight", nn::ParameterKind::Weight, {512, 512}},
      {"decoder.att_qk.weight", nn::ParameterKind::Weight, {1, 512}},
      {"decoder.lstm.w_ih", nn::ParameterKind::Weight, {2048, 256 + 512}},
      {"decoder.lstm.w_hh", nn::ParameterKind::Weight, {2048, 512}},
      {"decoder.lstm.b_ih", nn::ParameterKind::Bias, {2048}},
      {"decoder.lstm.b_hh", nn::ParameterKind::Bias, {2048}},
      {"decoder.init_h.weight", nn::ParameterKind::Weight, {512, 512}},
      {"decoder.init_c.weight", nn::ParameterKind::Weight, {512, 512}},
      {"decoder.logit.weight", nn::ParameterKind::Weight, {50, 512}},
      {"decoder.logit.bias", nn::ParameterKind::Bias, {50}},
  };
  for (const auto& [name, kind, shape] : expected) {
    ASSERT_TRUE(parameters.count(name)) << name;
    EXPECT_EQ(parameters[name]->kind(), kind) << name;
    EXPECT_EQ(parameters[name]->shape(), shape) << name;
    EXPECT_EQ(parameters[name]->name(), name);
  }
  // Batch-norm statistics are buffers, not parameters.
  EXPECT_FALSE(parameters.count("encoder.stem_bn.running_mean"));
  // Every parameter has one of the expected prefixes, and no convolution has a bias.
  for (const auto& [name, parameter] : parameters) {
    EXPECT_TRUE(name.starts_with("encoder.") || name.starts_with("decoder.")) << name;
    if (name.starts_with("encoder.")) {
      EXPECT_NE(parameter->kind(), nn::ParameterKind::Bias) << name;
    }
  }
}

TEST(SoftAttentionCaptioner, GruDecoderHasNoCellStateLayer) {
  Generator generator(3);
  SoftAttentionCaptioner captioner(tiny_config(CellType::Gru), generator);
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : captioner.named_parameters()) parameters[name] = parameter;
  EXPECT_EQ(parameters.at("decoder.gru.w_ih")->shape(), (Shape{18, 5 + 16}));
  EXPECT_EQ(parameters.at("decoder.gru.w_hh")->shape(), (Shape{18, 6}));
  EXPECT_FALSE(parameters.count("decoder.init_c.weight"));
  EXPECT_FALSE(parameters.count("decoder.lstm.w_ih"));
  const Tensor logits = captioner.forward_teacher_forced(randn({2, 3, 16, 16}, generator), tiny_captions(), 2);
  EXPECT_EQ(logits.shape(), (Shape{4, 5, 9}));
}

TEST(SoftAttentionCaptioner, TeacherForcedLogitShapeAndLossAgainstHandComputation) {
  Generator generator(4);
  SoftAttentionCaptioner captioner(tiny_config(), generator);
  captioner.to(DType::F64);
  captioner.eval();  // deterministic: running batch-norm statistics, no dropout
  const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
  const Tensor captions = tiny_captions();
  const Tensor logits = captioner.forward_teacher_forced(images, captions, 2);
  ASSERT_EQ(logits.shape(), (Shape{4, 5, 9}));

  // Mean over the non-PAD targets captions[:, 1:] of -log softmax(logits)[target].
  const std::vector<double> z = logits.to_vector<double>();
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  double total = 0;
  int counted = 0;
  for (int64_t row = 0; row < 4; ++row)
    for (int64_t t = 0; t < 5; ++t) {
      const int64_t target = tokens[static_cast<size_t>(row * 6 + t + 1)];
      if (target == kPad) continue;
      const double* scores = z.data() + (row * 5 + t) * 9;
      double normaliser = 0;
      for (int v = 0; v < 9; ++v) normaliser += std::exp(scores[v]);
      total += std::log(normaliser) - scores[target];
      ++counted;
    }
  EXPECT_EQ(counted, 3 + 2 + 4 + 1);  // EOS counts, PAD does not
  // loss() also skips the all-PAD last column first: the same value.
  EXPECT_NEAR(captioner.loss(images, captions, 2).item(), total / counted, 1e-12);
  EXPECT_NEAR(caption_cross_entropy(logits, narrow(captions, 1, 1, 5), kPad).item(), total / counted, 1e-12);
}

// A float64 captioner in evaluation mode, its teacher-forced logits on two random images and
// tiny_captions(), and its parameter values by name: what the equation tests start from.
struct TeacherForcedInF64 {
  std::unique_ptr<SoftAttentionCaptioner> captioner;
  Tensor images, logits;
  std::map<std::string, Tensor> p;
};

TeacherForcedInF64 teacher_forced_in_f64(const SoftAttentionConfig& config, uint64_t seed) {
  Generator generator(seed);
  TeacherForcedInF64 run;
  run.captioner = std::make_unique<SoftAttentionCaptioner>(config, generator);
  run.captioner->to(DType::F64);
  run.captioner->eval();  // deterministic: running batch-norm statistics, no dropout
  run.images = randn({2, 3, 16, 16}, generator, DType::F64);
  run.logits = run.captioner->forward_teacher_forced(run.images, tiny_captions(), 2);
  for (const auto& [name, parameter] : run.captioner->named_parameters()) run.p[name] = parameter->value();
  return run;
}

TEST(SoftAttentionCaptioner, FirstStepFollowsTheEquations) {
  TeacherForcedInF64 run = teacher_forced_in_f64(tiny_config(), 5);
  std::map<std::string, Tensor>& p = run.p;
  const Tensor& logits = run.logits;
  // Image 0's memory, written out with primitive ops from the paper's equations.
  const Tensor memory = run.captioner->encoder().forward(run.images).row(0);  // [P, C]
  const Tensor mean_memory = mean(memory, 0, true);                           // [1, C]
  const Tensor h0 = tanh(linear(mean_memory, p["decoder.init_h.weight"], p["decoder.init_h.bias"]));
  const Tensor c0 = tanh(linear(mean_memory, p["decoder.init_c.weight"], p["decoder.init_c.bias"]));
  const Tensor keys = linear(memory, p["decoder.att_key.weight"], p["decoder.att_key.bias"]);         // [P, A]
  const Tensor query = linear(h0, p["decoder.att_query.weight"], p["decoder.att_query.bias"]);        // [1, A]
  const Tensor scores = linear(tanh(add(keys, query)), p["decoder.att_qk.weight"], p["decoder.att_qk.bias"]);  // [P, 1]
  const Tensor alpha = softmax(transpose(scores));                                                     // [1, P]
  const Tensor context = matmul(alpha, memory);                                                        // [1, C]
  const Tensor word = embedding(p["decoder.embedding.weight"], from_vector<int64_t>({kBos}, {1}));     // [1, E]
  const Tensor x = concat({word, context}, 1);
  const Tensor gates = add(linear(x, p["decoder.lstm.w_ih"], p["decoder.lstm.b_ih"]),
                           linear(h0, p["decoder.lstm.w_hh"], p["decoder.lstm.b_hh"]));
  const std::vector<Tensor> g = split(gates, 6, 1);
  const Tensor c1 = add(mul(sigmoid(g[1]), c0), mul(sigmoid(g[0]), tanh(g[2])));
  const Tensor h1 = mul(sigmoid(g[3]), tanh(c1));
  const Tensor expected = linear(h1, p["decoder.logit.weight"], p["decoder.logit.bias"]);             // [1, V]
  // Rows 0 and 1 are image 0's two captions; both start with BOS.
  EXPECT_LT(max_abs_difference(narrow(logits.row(0), 0, 0, 1), expected), 1e-12);
  EXPECT_LT(max_abs_difference(narrow(logits.row(1), 0, 0, 1), expected), 1e-12);
}

// tiny_config with the decoder's extensions: coordinate channels, coverage, context in the output,
// the word in the attention's query.
SoftAttentionConfig tiny_extended_config(CellType cell = CellType::Lstm) {
  SoftAttentionConfig config = tiny_config(cell);
  config.decoder.coordinate_channels = true;
  config.decoder.coverage = true;
  config.decoder.context_in_output = true;
  config.decoder.word_in_query = true;
  return config;
}

TEST(SoftAttentionCaptioner, CoordinateChannelsAreCellCentres) {
  // A [1, 1, 2, 4] map: columns at -0.75, -0.25, 0.25, 0.75, rows at -0.5, 0.5.
  const Tensor map = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
  const Tensor extended = append_coordinate_channels(map);
  ASSERT_EQ(extended.shape(), (Shape{1, 3, 2, 4}));
  EXPECT_EQ(extended.dtype(), DType::F64);
  EXPECT_EQ(extended.to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8,                        //
                                                               -0.75, -0.25, 0.25, 0.75, -0.75, -0.25, 0.25, 0.75,  //
                                                               -0.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.5}));
  EXPECT_EQ(append_coordinate_channels(zeros({1, 1, 1, 1})).to_vector<float>(), (std::vector<float>{0, 0, 0}));
}

TEST(SoftAttentionCaptioner, ExtendedDecoderFollowsTheEquations) {
  TeacherForcedInF64 run = teacher_forced_in_f64(tiny_extended_config(), 11);
  std::map<std::string, Tensor>& p = run.p;
  // Image 0's 2x2 memory with its (x, y) channels, then two steps of caption 0 (BOS, word 4).
  const Tensor features = run.captioner->encoder().forward(run.images).row(0);        // [4, 16]
  const Tensor xy = from_vector<double>({-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5}, {4, 2});
  const Tensor memory = concat({features, xy}, 1);                                      // [4, 18]
  const Tensor mean_memory = mean(memory, 0, true);
  Tensor h = tanh(linear(mean_memory, p["decoder.init_h.weight"], p["decoder.init_h.bias"]));
  Tensor c = tanh(linear(mean_memory, p["decoder.init_c.weight"], p["decoder.init_c.bias"]));
  const Tensor keys = linear(memory, p["decoder.att_key.weight"], p["decoder.att_key.bias"]);  // [P, A]
  Tensor coverage = zeros({4, 1}, DType::F64);                                                   // [P, 1]
  Tensor context;
  for (const int64_t token : {kBos, int64_t{4}}) {
    const Tensor word = embedding(p["decoder.embedding.weight"], from_vector<int64_t>({token}, {1}));
    const Tensor query = add(linear(h, p["decoder.att_query.weight"], p["decoder.att_query.bias"]),
                             linear(word, p["decoder.att_word.weight"]));                       // [1, A]
    const Tensor covered = linear(coverage, p["decoder.att_coverage.weight"]);                  // [P, A]
    const Tensor scores = linear(tanh(add(add(keys, query), covered)), p["decoder.att_qk.weight"],
                                 p["decoder.att_qk.bias"]);                                     // [P, 1]
    const Tensor alpha = softmax(transpose(scores));                                           // [1, P]
    coverage = add(coverage, transpose(alpha));
    context = matmul(alpha, memory);                                                           // [1, C]
    const Tensor gates = add(linear(concat({word, context}, 1), p["decoder.lstm.w_ih"], p["decoder.lstm.b_ih"]),
                             linear(h, p["decoder.lstm.w_hh"], p["decoder.lstm.b_hh"]));
    const std::vector<Tensor> g = split(gates, 6, 1);
    c = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), tanh(g[2])));
    h = mul(sigmoid(g[3]), tanh(c));
  }
  const Tensor expected = linear(concat({h, context}, 1), p["decoder.logit.weight"], p["decoder.logit.bias"]);
  EXPECT_LT(max_abs_difference(narrow(run.logits.row(0), 0, 1, 1), expected), 1e-12);
}

TEST(SoftAttentionCaptioner, TeacherForcingEqualsStepByStepDecoding) {
  for (const SoftAttentionConfig& config : {tiny_config(CellType::Lstm), tiny_config(CellType::Gru),
                                            tiny_extended_config(CellType::Lstm), tiny_extended_config(CellType::Gru)}) {
    const CellType cell = config.decoder.cell;
    Generator generator(6);
    SoftAttentionCaptioner captioner(config, generator);
    captioner.to(DType::F64);
    captioner.eval();
    const Tensor images = randn({2, 3, 16, 16}, generator, DType::F64);
    const Tensor captions = tiny_captions();
    const Tensor logits = captioner.forward_teacher_forced(images, captions, 2);
    NoGradGuard no_grad;
    std::unique_ptr<DecodingState> state = captioner.encode(images);
    state->select_rows(from_vector<int64_t>({0, 0, 1, 1}, {4}));  // two captions per image
    const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
    for (int64_t t = 0; t < 5; ++t) {
      std::vector<int64_t> previous;
      for (int64_t row = 0; row < 4; ++row) previous.push_back(tokens[static_cast<size_t>(row * 6 + t)]);
      const Tensor log_probabilities = captioner.decode_step(*state, from_vector(previous, {4}));
      const Tensor expected = log_softmax(narrow(logits, 1, t, 1).reshape({4, 9}));
      EXPECT_LT(max_abs_difference(log_probabilities, expected), 1e-12)
          << cell_type_name(cell) << (config.decoder.coverage ? " with coverage" : "") << " step " << t;
    }
  }
}

TEST(SoftAttentionCaptioner, EncoderFeaturesGiveTheLossAndGradientsOfTheirImages) {
  // A frozen encoder's output given as encoder_features (what the trainer's feature cache passes)
  // stands for the images: same loss, same decoder gradients, with dropout drawing the same masks.
  for (SoftAttentionConfig config : {tiny_config(), tiny_extended_config()}) {
    SCOPED_TRACE(config.decoder.coordinate_channels ? "coordinate channels" : "plain memory");
    Generator generator(21);
    config.decoder.dropout = 0.3;
    SoftAttentionCaptioner captioner(config, generator);
    captioner.train();
    captioner.encoder().eval();  // frozen, as optim.freeze_encoder trains
    for (const nn::ParameterPtr& parameter : captioner.encoder().parameters()) parameter->set_requires_grad(false);
    const Tensor images = randn({2, 3, 16, 16}, generator);
    Tensor features;
    {
      NoGradGuard no_grad;
      features = captioner.encoder().feature_map(images);
    }
    CaptionerInputs given;  // no pixels: the encoder cannot run
    given.encoder_features = features;
    EXPECT_EQ(given.batch_size(), 2);

    const uint64_t draws = captioner.dropout_generator().offset();
    const Tensor from_images = captioner.loss(images, tiny_captions(), 2);
    from_images.backward();
    std::map<std::string, nn::ParameterPtr> parameters;
    std::map<std::string, Tensor> image_gradients;
    for (const auto& [name, parameter] : captioner.named_parameters()) {
      parameters[name] = parameter;
      if (parameter->requires_grad()) image_gradients[name] = parameter->grad().clone();
    }
    captioner.zero_grad();
    captioner.dropout_generator().set_offset(draws);
    const Tensor from_features = captioner.loss(given, tiny_captions(), 2);
    from_features.backward();

    EXPECT_NEAR(from_features.item(), from_images.item(), 1e-6 * std::abs(from_images.item()));
    ASSERT_FALSE(image_gradients.empty());
    for (const auto& [name, gradient] : image_gradients) {
      const Tensor feature_gradient = parameters.at(name)->grad();
      ASSERT_TRUE(feature_gradient.defined()) << name;
      EXPECT_LT(max_abs_difference(feature_gradient, gradient), 1e-6) << name;
    }
    // The features are read, not ignored: other features give another loss.
    CaptionerInputs other;
    other.encoder_features = mul_scalar(features, 3.0);
    captioner.dropout_generator().set_offset(draws);
    EXPECT_GT(std::abs(captioner.loss(other, tiny_captions(), 2).item() - from_images.item()), 1e-6);
  }
}

TEST(SoftAttentionCaptioner, EveryParameterGetsAGradient) {
  for (SoftAttentionConfig config : {tiny_config(), tiny_extended_config()}) {
    Generator generator(7);
    config.decoder.dropout = 0.3;
    SoftAttentionCaptioner captioner(config, generator);
    captioner.loss(randn({2, 3, 16, 16}, generator), tiny_captions(), 2).backward();
    std::map<std::string, nn::ParameterPtr> parameters;
    for (const auto& [name, parameter] : captioner.named_parameters()) parameters[name] = parameter;
    EXPECT_EQ(parameters.count("decoder.att_coverage.weight"), config.decoder.coverage ? 1u : 0u);
    for (const auto& [name, parameter] : parameters) {
      ASSERT_TRUE(parameter->grad().defined()) << name;
      double magnitude = 0;
      for (float value : parameter->grad().to_vector<float>()) magnitude += std::abs(value);
      // att_qk's bias shifts every score equally: softmax ignores it.
      if (name != "decoder.att_qk.bias") {
        EXPECT_GT(magnitude, 0.0) << name;
      }
    }
  }
}

// Counts how often a layer asks for its weight, and zeroes it.
class CountingZeroTransform : public nn::WeightTransform {
 public:
  Tensor apply(const Tensor& weight, bool) override {
    ++calls;
    return mul_scalar(weight, 0.0);
  }
  std::string description() const override { return "zeroing test transform"; }
  int calls = 0;
};

TEST(SoftAttentionCaptioner, LayersComputeWithEffectiveWeightsFetchedOncePerForward) {
  Generator generator(8);
  SoftAttentionCaptioner captioner(tiny_config(), generator);
  nn::ParameterPtr logit_weight, logit_bias, w_hh;
  for (const auto& [name, parameter] : captioner.named_parameters()) {
    if (name == "decoder.logit.weight") logit_weight = parameter;
    if (name == "decoder.logit.bias") logit_bias = parameter;
    if (name == "decoder.lstm.w_hh") w_hh = parameter;
  }
  logit_bias->value().copy_(from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8}, {9}));
  auto logit_transform = std::make_shared<CountingZeroTransform>();
  auto recurrent_transform = std::make_shared<CountingZeroTransform>();
  logit_weight->attach_transform(logit_transform);
  w_hh->attach_transform(recurrent_transform);
  const Tensor logits = captioner.forward_teacher_forced(randn({2, 3, 16, 16}, generator), tiny_captions(), 2);
  // A zero output weight leaves only the bias in every logit.
  const std::vector<float> values = logits.to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i], static_cast<float>(i % 9)) << i;
  EXPECT_EQ(logit_transform->calls, 1);      // not once per time step
  EXPECT_EQ(recurrent_transform->calls, 1);
}

TEST(SoftAttentionCaptioner, ErrorsNameShapesAndLayers) {
  Generator generator(9);
  SoftAttentionCaptioner captioner(tiny_config(), generator);
  const Tensor images = randn({2, 3, 16, 16}, generator);
  try {
    captioner.forward_teacher_forced(images, tiny_captions(), 3);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "expected 2 images x 3 captions = 6 caption rows, got 4");
  }
  EXPECT_THROW(captioner.forward_teacher_forced(randn({2, 1, 16, 16}, generator), tiny_captions(), 2), Error);
  EXPECT_THROW(captioner.forward_teacher_forced(images, tiny_captions().to(DType::F32), 2), Error);
  try {
    captioner.decoder().attention_keys(zeros({2, 4, 7}));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "expected memory [B, P, 16], got [2, 4, 7] in decoder");
  }
}

TEST(SoftAttentionConfig, JsonRoundTripAndErrors) {
  SoftAttentionConfig config = tiny_config(CellType::Gru);
  config.decoding.beam_size = 5;
  const nlohmann::json json = config;
  EXPECT_EQ(json.at("decoder").at("cell"), "gru");
  EXPECT_EQ(json.at("encoder").at("blocks"), nlohmann::json::parse("[[32, 2], [64, 2]]"));
  const SoftAttentionConfig back = json.get<SoftAttentionConfig>();
  EXPECT_EQ(back.encoder, config.encoder);
  EXPECT_EQ(back.decoder, config.decoder);
  EXPECT_EQ(back.decoding.beam_size, 5);
  EXPECT_EQ(nlohmann::json(back), json);

  // Defaults: the issue's sizes.
  const SoftAttentionConfig defaults =
      nlohmann::json::parse(R"({"decoder": {"vocabulary_size": 100}})").get<SoftAttentionConfig>();
  EXPECT_EQ(defaults.decoder.cell, CellType::Lstm);
  EXPECT_EQ(defaults.decoder.hidden_size, 512);
  EXPECT_EQ(defaults.decoder.embedding_size, 256);
  EXPECT_EQ(defaults.decoder.attention_size, 512);
  EXPECT_EQ(defaults.decoding.beam_size, 3);
  EXPECT_EQ(defaults.decoding.max_words, 30);
  EXPECT_EQ(defaults.encoder.width_multiplier, 1.0);
  EXPECT_FALSE(defaults.decoder.coordinate_channels);  // the paper's decoder unless asked
  EXPECT_FALSE(defaults.decoder.coverage);
  EXPECT_FALSE(defaults.decoder.context_in_output);
  EXPECT_FALSE(defaults.decoder.word_in_query);
  const SoftAttentionConfig extended = tiny_extended_config();
  EXPECT_EQ(nlohmann::json(extended).get<SoftAttentionConfig>().decoder, extended.decoder);

  const auto error_of = [](const char* text) {
    try {
      nlohmann::json::parse(text).get<SoftAttentionConfig>().validate();
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"decoder": {"cel": "gru"}})"),
            "unknown key decoder.cel (known: vocabulary_size, cell, hidden_size, embedding_size, attention_size, "
            "dropout, forget_bias, coordinate_channels, coverage, context_in_output, word_in_query)");
  EXPECT_EQ(error_of(R"({"decoder": {"coverage": 1}})"), "decoder.coverage: value 1 has the wrong type");
  EXPECT_EQ(error_of(R"({"decoder": {"cell": "rnn", "vocabulary_size": 10}})"),
            "unknown recurrent cell 'rnn' (expected lstm or gru)");
  EXPECT_EQ(error_of(R"({"decoder": {"hidden_size": "big"}})"), "decoder.hidden_size: value \"big\" has the wrong type");
  EXPECT_EQ(error_of(R"({"decoder": {"hidden_size": 1.5}})"), "decoder.hidden_size: expected an integer, got 1.5");
  EXPECT_EQ(error_of(R"({"encoder": {"blocks": [[64, 3]]}})"), "encoder.blocks[0]: stride must be 1 or 2, got 3");
  EXPECT_EQ(error_of(R"({"decoder": {"vocabulary_size": 10, "dropout": 1.0}})"), "decoder.dropout 1 outside [0, 1)");
  EXPECT_EQ(error_of(R"({})"), "decoder.vocabulary_size must be set (> 0), got 0");
  EXPECT_EQ(error_of(R"({"decoder": {"vocabulary_size": 3}})"), "tokens.eos = 3 outside [0, 3)");
}

TEST(SoftAttentionCaptioner, TinyModelOverfitsFourImagesTwoCaptionsEach) {
  Generator generator(10);
  SoftAttentionConfig config = tiny_config();
  config.decoder.vocabulary_size = 12;
  config.decoder.hidden_size = 32;
  config.decoder.embedding_size = 16;
  config.decoder.attention_size = 16;
  SoftAttentionCaptioner captioner(config, generator);
  const Tensor images = randn({4, 3, 16, 16}, generator);
  // Two different captions per image: the model must tell images apart to fit them.
  const Tensor captions = from_vector<int64_t>({kBos, 4, 5, 6, kEos, kPad,  //
                                                kBos, 4, 7, kEos, kPad, kPad,  //
                                                kBos, 8, 9, 10, 11, kEos,      //
                                                kBos, 8, 5, kEos, kPad, kPad,  //
                                                kBos, 6, 6, 7, kEos, kPad,     //
                                                kBos, 6, 11, kEos, kPad, kPad,     //
                                                kBos, 9, 4, 10, 5, kEos,       //
                                                kBos, 9, 10, kEos, kPad, kPad},
                                               {8, 6});
  optim::Adam adam(captioner.parameters(), optim::constant_schedule(0.01));
  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    const Tensor loss = captioner.loss(images, captions, 2);
    loss.backward();
    adam.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(first, 2.0);  // about ln 12 = 2.5 at the start
  EXPECT_LT(last, 0.1 * first) << "first " << first << ", last " << last;
  RecordProperty("seconds", std::to_string(seconds));

  // Teacher-forced fit shows in greedy decoding too: each image's first word is right.
  captioner.eval();
  const std::vector<DecodedCaption> decoded = greedy_decode(captioner, images, 8);
  const std::vector<int64_t> first_words = {4, 8, 6, 9};
  for (size_t image = 0; image < 4; ++image) {
    ASSERT_FALSE(decoded[image].tokens.empty()) << image;
    EXPECT_EQ(decoded[image].tokens[0], first_words[image]) << image;
  }
}

}  // namespace
}  // namespace sparsecap::models
