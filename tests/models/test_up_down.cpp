// The Up-Down captioner: parameter names, shapes and count at the reference size, the forward
// pass and its gradients against the equations written with primitive ops (float64), finite
// differences, region masking, teacher forcing against step-by-step decoding, beam 1 against
// greedy, Supermask gates, the sparse export round trip, config JSON, and a tiny model overfitting.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "models/region_box_features.h"
#include "models/up_down.h"
#include "tests/engine/gradcheck.h"
#include "tests/models/captioner_checks.h"

namespace sparsecap::models {
namespace {

using captioner_checks::max_abs_difference;

constexpr int64_t kPad = 0, kBos = 2, kEos = 3;

UpDownConfig tiny_config() {
  UpDownConfig config;
  config.vocabulary_size = 11;
  config.feature_size = 6;
  config.embedding_size = 5;
  config.hidden_size = 7;
  config.attention_size = 4;
  config.dropout = 0.0;
  return config;
}

// Images with `real[b]` real regions of `regions` (the rest zero and masked), fc features apart.
CaptionerInputs region_inputs(const std::vector<int64_t>& real, int64_t regions, int64_t features, Generator& generator,
                              DType dtype = DType::F64) {
  const int64_t images = static_cast<int64_t>(real.size());
  std::vector<double> mask(static_cast<size_t>(images * regions), 0.0);
  for (int64_t b = 0; b < images; ++b)
    for (int64_t r = 0; r < real[static_cast<size_t>(b)]; ++r) mask[static_cast<size_t>(b * regions + r)] = 1.0;
  CaptionerInputs inputs;
  inputs.region_mask = from_vector(mask, {images, regions}).to(dtype);
  inputs.region_features = mul(randn({images, regions, features}, generator, dtype), unsqueeze(inputs.region_mask, 2));
  inputs.fc_features = randn({images, features}, generator, dtype);
  return inputs;
}

// Two images x 2 captions of length 6: BOS w.. EOS PAD...
Tensor tiny_captions() { return captioner_checks::two_images_two_captions(); }

std::map<std::string, Tensor> parameter_values(const nn::Module& model) {
  std::map<std::string, Tensor> values;
  for (const auto& [name, parameter] : model.named_parameters()) values[name] = parameter->value();
  return values;
}

// An LSTM step in PyTorch's gate order (i, f, g, o), from primitive ops.
std::pair<Tensor, Tensor> lstm_by_hand(const Tensor& x, const Tensor& h, const Tensor& c, std::map<std::string, Tensor>& p,
                                       const std::string& cell) {
  const Tensor gates = add(linear(x, p[cell + ".w_ih"], p[cell + ".b_ih"]), linear(h, p[cell + ".w_hh"], p[cell + ".b_hh"]));
  const std::vector<Tensor> g = split(gates, h.size(1), 1);
  const Tensor c_next = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), tanh(g[2])));
  return {mul(sigmoid(g[3]), tanh(c_next)), c_next};
}

// The teacher-forced logits [T, V] of caption row `row` of image `image` from the header's
// equations, one row at a time, attending over the image's real regions only (no mask op).
Tensor logits_by_hand(const UpDownCaptioner& model, const CaptionerInputs& inputs, int64_t image, int64_t real_regions,
                      const std::vector<int64_t>& tokens) {
  std::map<std::string, Tensor> p = parameter_values(model);
  Tensor regions = narrow(inputs.region_features.row(image), 0, 0, real_regions);           // [n, D]
  Tensor fc = narrow(inputs.fc_features, 0, image, 1);                                      // [1, D]
  if (model.config().standardize_features) {
    const nn::StateDict state = model.state_dict();
    const Tensor mean = state.at("feature_standardizer.mean").to(DType::F64);
    const Tensor std = state.at("feature_standardizer.std").to(DType::F64);
    regions = div(sub(regions, mean), std);
    fc = div(sub(fc, mean), std);
  }
  if (model.config().box_features)
    regions = captioner_checks::regions_with_boxes_by_hand(regions, narrow(inputs.boxes.row(image), 0, 0, real_regions),
                                                           model.config().box_frequencies);
  Tensor v_fc = relu(linear(fc, p["fc_embed.weight"], p["fc_embed.bias"]));                 // [1, H]
  const Tensor attended_memory = relu(linear(regions, p["att_embed.weight"], p["att_embed.bias"]));  // [n, H]
  if (model.config().region_sum)  // the real regions' embeddings summed, over 8
    v_fc = add(v_fc, linear(mul_scalar(sum(attended_memory, 0, true), 1.0 / 8.0), p["region_sum.weight"]));
  const Tensor keys = linear(attended_memory, p["ctx2att.weight"], p["ctx2att.bias"]);      // [n, A]
  const int64_t hidden = model.config().hidden_size;
  Tensor h1 = zeros({1, hidden}, DType::F64), c1 = h1, h2 = h1, c2 = h1;
  Tensor coverage = zeros({real_regions, 1}, DType::F64);  // the attention each region has had
  std::vector<Tensor> logits;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    const Tensor x = relu(embedding(p["embedding.weight"], from_vector<int64_t>({tokens[t]}, {1})));
    std::tie(h1, c1) = lstm_by_hand(concat({h2, v_fc, x}, 1), h1, c1, p, "attention_lstm");
    Tensor energies = add(keys, linear(h1, p["h2att.weight"], p["h2att.bias"]));               // [n, A]
    if (model.config().coverage) energies = add(energies, matmul(coverage, transpose(p["att_coverage.weight"])));
    const Tensor scores = linear(tanh(energies), p["alpha_net.weight"], p["alpha_net.bias"]);  // [n, 1]
    const Tensor alpha = softmax(transpose(scores));                                            // [1, n]
    coverage = add(coverage, transpose(alpha));
    const Tensor attended = matmul(alpha, attended_memory);                                    // [1, H]
    std::tie(h2, c2) = lstm_by_hand(concat({attended, h1}, 1), h2, c2, p, "language_lstm");
    logits.push_back(linear(h2, p["logit.weight"], p["logit.bias"]));
  }
  return concat(logits, 0);
}

// Every caption row's logits by hand, [N, L - 1, V].
Tensor all_logits_by_hand(const UpDownCaptioner& model, const CaptionerInputs& inputs, const std::vector<int64_t>& real,
                          const Tensor& captions, int64_t seq_per_img) {
  const std::vector<int64_t> tokens = captions.to_vector<int64_t>();
  const int64_t length = captions.size(1);
  std::vector<Tensor> rows;
  for (int64_t row = 0; row < captions.size(0); ++row) {
    const std::vector<int64_t> caption(tokens.begin() + row * length, tokens.begin() + (row + 1) * length);
    const int64_t image = row / seq_per_img;
    rows.push_back(logits_by_hand(model, inputs, image, real[static_cast<size_t>(image)], caption));
  }
  return stack(rows, 0);
}

TEST(UpDownCaptioner, ParameterShapesAndCountAtTheReferenceSize) {
  Generator generator(1);
  UpDownConfig config;
  config.vocabulary_size = 9487;
  UpDownCaptioner model(config, generator);
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : model.named_parameters()) parameters[name] = parameter;
  const std::vector<std::tuple<std::string, nn::ParameterKind, Shape>> expected = {
      {"embedding.weight", nn::ParameterKind::Embedding, {9487, 1000}},
      {"fc_embed.weight", nn::ParameterKind::Weight, {1000, 2048}},
      {"fc_embed.bias", nn::ParameterKind::Bias, {1000}},
      {"att_embed.weight", nn::ParameterKind::Weight, {1000, 2048}},
      {"ctx2att.weight", nn::ParameterKind::Weight, {512, 1000}},
      {"attention_lstm.w_ih", nn::ParameterKind::Weight, {4000, 3000}},
      {"attention_lstm.w_hh", nn::ParameterKind::Weight, {4000, 1000}},
      {"attention_lstm.b_ih", nn::ParameterKind::Bias, {4000}},
      {"h2att.weight", nn::ParameterKind::Weight, {512, 1000}},
      {"alpha_net.weight", nn::ParameterKind::Weight, {1, 512}},
      {"language_lstm.w_ih", nn::ParameterKind::Weight, {4000, 2000}},
      {"language_lstm.w_hh", nn::ParameterKind::Weight, {4000, 1000}},
      {"logit.weight", nn::ParameterKind::Weight, {9487, 1000}},
      {"logit.bias", nn::ParameterKind::Bias, {9487}},
  };
  for (const auto& [name, kind, shape] : expected) {
    ASSERT_TRUE(parameters.count(name)) << name;
    EXPECT_EQ(parameters[name]->kind(), kind) << name;
    EXPECT_EQ(parameters[name]->shape(), shape) << name;
  }
  EXPECT_EQ(parameters.size(), 21u);  // 11 weight matrices, 10 bias vectors (the embedding has none)
  int64_t total = 0;
  for (const auto& [name, parameter] : parameters) total += parameter->value().numel();
  // Embedding, fc/att embeddings, the two attention projections and alpha_net, both LSTMs, logit.
  const int64_t by_layer = 9487 * 1000 + 2 * (2048 * 1000 + 1000) + 2 * (1000 * 512 + 512) + (512 + 1) +
                           (4000 * 3000 + 4000 * 1000 + 8000) + (4000 * 2000 + 4000 * 1000 + 8000) + (1000 * 9487 + 9487);
  EXPECT_EQ(total, by_layer);
  // 52 123 024: 1.8% below the notes' "about 53.1 M"; the layers above are the notes' list.
  EXPECT_EQ(total, 52123024);
  RecordProperty("parameters", std::to_string(total));
}

TEST(UpDownCaptioner, ForwardFollowsTheEquations) {
  Generator generator(2);
  UpDownCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  ASSERT_EQ(logits.shape(), (Shape{4, 5, 11}));
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
}

TEST(RegionBoxFeatures, AppendCornersAndAreaToEachRegion) {
  const Tensor features = from_vector<double>({1, 2, 3, 4}, {1, 2, 2});
  const Tensor boxes = from_vector<double>({0.1, 0.2, 0.5, 0.6, 0, 0, 0, 0}, {1, 2, 4});
  const std::vector<double> expected = {1, 2, 0.1, 0.2, 0.5, 0.6, 0.4 * 0.4,  //
                                        3, 4, 0, 0, 0, 0, 0};
  const Tensor out = append_region_box_features(features, boxes);
  ASSERT_EQ(out.shape(), (Shape{1, 2, 7}));
  const std::vector<double> values = out.to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(values[i], expected[i], 1e-15) << i;
  EXPECT_THROW(append_region_box_features(features, narrow(boxes, 1, 0, 1)), Error);
  // Two frequencies: centre x 0.3, centre y 0.4, width 0.4, height 0.4 of the first box.
  const Tensor coded = append_region_box_features(features, boxes, 2);
  ASSERT_EQ(coded.shape(), (Shape{1, 2, 2 + 5 + 16}));
  EXPECT_EQ(region_box_feature_count(2), 21);
  const std::vector<double> code = coded.to_vector<double>();
  const double g[4] = {0.3, 0.4, 0.4, 0.4};
  for (int c = 0; c < 4; ++c)
    for (int k = 0; k < 2; ++k) {
      const double angle = (k == 0 ? M_PI : 2 * M_PI) * g[c];
      EXPECT_NEAR(code[7 + c * 4 + k * 2], std::sin(angle), 1e-15) << c << " " << k;
      EXPECT_NEAR(code[7 + c * 4 + k * 2 + 1], std::cos(angle), 1e-15) << c << " " << k;
    }
  EXPECT_NEAR(code[23 + 7], 0.0, 1e-15);   // the zero box: sin 0
  EXPECT_NEAR(code[23 + 8], 1.0, 1e-15);   // cos 0
}

TEST(UpDownCaptioner, BoxFeaturesFollowTheEquationsAndMoveTheOutput) {
  Generator generator(12);
  UpDownConfig config = tiny_config();
  config.box_features = true;
  UpDownCaptioner model(config, generator);
  model.to(DType::F64);
  model.eval();
  EXPECT_EQ(parameter_values(model).at("att_embed.weight").shape(), (Shape{7, 6 + 5}));
  const std::vector<int64_t> real = {3, 2};
  CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  inputs.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F64);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
  // The same regions elsewhere in the picture give other words; without boxes the model refuses.
  CaptionerInputs moved = inputs;
  moved.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F64);
  EXPECT_GT(max_abs_difference(model.forward_teacher_forced(moved, tiny_captions(), 2), logits), 1e-6);
  moved.boxes = Tensor();
  EXPECT_THROW(model.forward_teacher_forced(moved, tiny_captions(), 2), Error);
}

TEST(UpDownCaptioner, BoxFrequenciesFollowTheEquations) {
  Generator generator(19);
  UpDownConfig config = tiny_config();
  config.box_features = true;
  config.box_frequencies = 3;
  UpDownCaptioner model(config, generator);
  model.to(DType::F64);
  model.eval();
  EXPECT_EQ(parameter_values(model).at("att_embed.weight").shape(), (Shape{7, 6 + 5 + 24}));
  const std::vector<int64_t> real = {3, 2};
  CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  inputs.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F64);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
}

TEST(UpDownCaptioner, StandardizedFeaturesFollowTheEquations) {
  Generator generator(13);
  UpDownConfig config = tiny_config();
  config.standardize_features = true;
  config.box_features = true;
  UpDownCaptioner model(config, generator);
  model.to(DType::F64);
  model.eval();
  ASSERT_NE(model.region_feature_standardizer(), nullptr);
  model.region_feature_standardizer()->set_statistics({0.5, -1, 2, 0, 0.1, 3}, {2, 0.5, 1, 4, 0.25, 1.5});
  const std::vector<int64_t> real = {3, 2};
  CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  inputs.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F64);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
  // Other statistics, other logits: the standardizer is on the path.
  model.region_feature_standardizer()->set_statistics(std::vector<double>(6, 0.0), std::vector<double>(6, 1.0));
  EXPECT_GT(max_abs_difference(model.forward_teacher_forced(inputs, tiny_captions(), 2), logits), 1e-6);
  UpDownCaptioner plain(tiny_config(), generator);
  EXPECT_EQ(plain.region_feature_standardizer(), nullptr);
}

// The model's parameter gradients against those of the by-hand logits; every one but alpha_net's
// bias (a shift of every score, which softmax ignores) must be non-zero.
void expect_gradients_match_the_equations(const UpDownConfig& config, uint64_t seed) {
  Generator generator(seed);
  UpDownCaptioner model(config, generator);
  model.to(DType::F64);
  model.train();  // dropout 0: training mode changes nothing but must not break the comparison
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  model.loss(inputs, tiny_captions(), 2).backward();
  const auto from_model = captioner_checks::parameter_gradients(model);
  model.zero_grad();
  const Tensor by_hand = all_logits_by_hand(model, inputs, real, tiny_captions(), 2);
  cross_entropy(by_hand.reshape({-1, 11}), narrow(tiny_captions(), 1, 1, 5).reshape({-1}), kPad).backward();
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
    if (name != "alpha_net.bias") {
      EXPECT_GT(magnitude, 0.0) << name;
    }
  }
}

TEST(UpDownCaptioner, GradientsMatchTheEquationsWrittenWithOps) { expect_gradients_match_the_equations(tiny_config(), 3); }

UpDownConfig coverage_config() {
  UpDownConfig config = tiny_config();
  config.coverage = true;
  return config;
}

TEST(UpDownCaptioner, CoverageFollowsTheEquations) {
  Generator generator(14);
  UpDownCaptioner model(coverage_config(), generator);
  model.to(DType::F64);
  model.eval();
  EXPECT_EQ(parameter_values(model).at("att_coverage.weight").shape(), (Shape{4, 1}));
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
  // The term is on the path: without it the logits move after the first step only.
  parameter_values(model).at("att_coverage.weight").zero_();
  const Tensor without = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(narrow(without, 1, 0, 1), narrow(logits, 1, 0, 1)), 1e-12);
  EXPECT_GT(max_abs_difference(without, logits), 1e-6);
}

TEST(UpDownCaptioner, CoverageGradientsMatchTheEquationsWrittenWithOps) {
  expect_gradients_match_the_equations(coverage_config(), 15);
}

TEST(UpDownCaptioner, CoverageTeacherForcingEqualsStepByStepDecodingAndIgnoresPadding) {
  Generator generator(16);
  UpDownCaptioner model(coverage_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
  CaptionerInputs narrower = inputs;
  narrower.region_features = narrow(inputs.region_features, 1, 0, 3);
  narrower.region_mask = narrow(inputs.region_mask, 1, 0, 3);
  EXPECT_LT(max_abs_difference(model.forward_teacher_forced(narrower, tiny_captions(), 2), logits), 1e-12);
}

UpDownConfig region_sum_config() {
  UpDownConfig config = tiny_config();
  config.region_sum = true;
  return config;
}

TEST(UpDownCaptioner, RegionSumFollowsTheEquationsAndIgnoresPadding) {
  Generator generator(21);
  UpDownCaptioner model(region_sum_config(), generator);
  model.to(DType::F64);
  model.eval();
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-12);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
  // Noise in the padded slots changes nothing: the sum is masked.
  const CaptionerInputs noisy = captioner_checks::with_noise_in_padded_regions(inputs, generator);
  EXPECT_EQ(max_abs_difference(model.forward_teacher_forced(noisy, tiny_captions(), 2), logits), 0.0);
  // The term is on the path: without it the logits move.
  parameter_values(model).at("region_sum.weight").zero_();
  EXPECT_GT(max_abs_difference(model.forward_teacher_forced(inputs, tiny_captions(), 2), logits), 1e-6);
}

TEST(UpDownCaptioner, RegionSumGradientsMatchTheEquationsWrittenWithOps) {
  expect_gradients_match_the_equations(region_sum_config(), 22);
}

TEST(UpDownCaptioner, GradientsOfTheFeaturesMatchFiniteDifferences) {
  Generator generator(4);
  UpDownCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs base = region_inputs({3, 3}, 3, 6, generator);
  const auto function = [&](const std::vector<Tensor>& x) {
    CaptionerInputs inputs = base;
    inputs.region_features = x[0];
    inputs.fc_features = x[1];
    return model.forward_teacher_forced(inputs, tiny_captions(), 2);
  };
  const sparsecap::testing::GradcheckResult result =
      sparsecap::testing::gradcheck(function, {base.region_features, base.fc_features}, {true, true});
  EXPECT_LT(result.max_relative_error, 1e-6) << result.worst;
}

TEST(UpDownCaptioner, PaddedRegionsChangeNothing) {
  Generator generator(5);
  UpDownCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  // Other values in the padded regions (image 0's fourth, image 1's third and fourth).
  CaptionerInputs noisy = inputs;
  const Tensor padding = sub(full({2, 4}, 1.0, DType::F64), inputs.region_mask);
  noisy.region_features = add(inputs.region_features,
                              mul(mul_scalar(randn({2, 4, 6}, generator, DType::F64), 10.0), unsqueeze(padding, 2)));
  EXPECT_GT(max_abs_difference(noisy.region_features, inputs.region_features), 1.0);
  EXPECT_EQ(max_abs_difference(model.forward_teacher_forced(noisy, tiny_captions(), 2), logits), 0.0);
  // And the same images with fewer padded slots.
  CaptionerInputs narrower = inputs;
  narrower.region_features = narrow(inputs.region_features, 1, 0, 3);
  narrower.region_mask = narrow(inputs.region_mask, 1, 0, 3);
  EXPECT_LT(max_abs_difference(model.forward_teacher_forced(narrower, tiny_captions(), 2), logits), 1e-12);
  // Decoding masks too.
  NoGradGuard no_grad;
  auto state = model.encode(inputs);
  auto noisy_state = model.encode(noisy);
  const Tensor bos = full({2}, static_cast<double>(kBos), DType::I64);
  EXPECT_EQ(max_abs_difference(model.decode_step(*state, bos), model.decode_step(*noisy_state, bos)), 0.0);
}

TEST(UpDownCaptioner, TeacherForcingEqualsStepByStepDecoding) {
  Generator generator(6);
  UpDownCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
}

TEST(UpDownCaptioner, BeamOfOneIsGreedyDecodingAndTheDeviceBookkeepingGivesTheHostsCaptions) {
  Generator generator(7);
  UpDownConfig config = tiny_config();
  config.vocabulary_size = 30;
  UpDownCaptioner model(config, generator);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 1, 2, 3, 2}, 3, 6, generator, DType::F32);
  captioner_checks::expect_beam_one_is_greedy(model, inputs, 10);
  captioner_checks::expect_device_bookkeeping_matches_host(model, inputs, 10);
}

TEST(UpDownCaptioner, SupermaskGatesEveryWeightMatrixAndEmbeddingOnly) {
  Generator generator(8);
  UpDownCaptioner model(tiny_config(), generator);
  const captioner_checks::GatedParameters gated = captioner_checks::supermask_gated_parameters(model);
  EXPECT_EQ(gated.gated, gated.weights_and_embeddings);
  EXPECT_EQ(gated.gated.size(), 11u);
  for (const std::string& name : gated.gated)
    EXPECT_TRUE(name.ends_with(".weight") || name.ends_with(".w_ih") || name.ends_with(".w_hh")) << name;
  UpDownCaptioner with_coverage(coverage_config(), generator);
  const captioner_checks::GatedParameters gated_with_coverage =
      captioner_checks::supermask_gated_parameters(with_coverage);
  EXPECT_EQ(gated_with_coverage.gated, gated_with_coverage.weights_and_embeddings);
  EXPECT_EQ(gated_with_coverage.gated.size(), 12u);  // and att_coverage.weight
  UpDownCaptioner with_region_sum(region_sum_config(), generator);
  const captioner_checks::GatedParameters gated_with_region_sum =
      captioner_checks::supermask_gated_parameters(with_region_sum);
  EXPECT_EQ(gated_with_region_sum.gated, gated_with_region_sum.weights_and_embeddings);
  EXPECT_EQ(gated_with_region_sum.gated.size(), 12u);  // and region_sum.weight
}

TEST(UpDownCaptioner, SparseExportDecodesTheSameCaptions) {
  Generator generator(9);
  UpDownConfig config = tiny_config();
  config.vocabulary_size = 40;
  config.hidden_size = 24;
  config.embedding_size = 16;
  config.attention_size = 12;
  config.box_features = true;  // the exported config must bring the wider att_embed back
  config.standardize_features = true;  // and the export the standardizer's statistics
  config.coverage = true;              // and att_coverage, computed through CSR as well
  config.box_frequencies = 2;          // and the box code's columns of att_embed
  config.region_sum = true;            // and region_sum, through CSR too
  UpDownCaptioner model(config, generator);
  model.region_feature_standardizer()->set_statistics({0.5, -1, 2, 0, 0.1, 3}, {2, 0.5, 1, 4, 0.25, 1.5});
  captioner_checks::prune_randomly(model, 0.8, 3);
  model.eval();
  nlohmann::json section = config;
  section.erase("vocabulary_size");
  section.erase("tokens");
  section["type"] = "up_down";
  CaptionerInputs inputs = region_inputs({3, 2, 1, 3}, 3, 6, generator, DType::F32);
  inputs.boxes = captioner_checks::random_boxes(4, 3, generator, DType::F32);
  captioner_checks::expect_export_round_trip(model, section, inputs, 13);  // 11 + att_coverage + region_sum
}

TEST(UpDownConfig, JsonRoundTripDefaultsAndErrors) {
  UpDownConfig config = tiny_config();
  config.decoding.beam_size = 5;
  config.box_features = true;
  config.standardize_features = true;
  config.coverage = true;
  config.box_frequencies = 4;
  config.region_sum = true;
  const nlohmann::json json = config;
  const UpDownConfig back = json.get<UpDownConfig>();
  EXPECT_EQ(nlohmann::json(back), json);

  // Defaults: the reference sizes, resolved through the registry.
  const nlohmann::json resolved = resolve_captioner_config({{"type", "up_down"}});
  EXPECT_EQ(resolved.at("feature_size"), 2048);
  EXPECT_EQ(resolved.at("hidden_size"), 1000);
  EXPECT_EQ(resolved.at("embedding_size"), 1000);
  EXPECT_EQ(resolved.at("attention_size"), 512);
  EXPECT_EQ(resolved.at("dropout"), 0.5);
  EXPECT_EQ(resolved.at("box_features"), false);
  EXPECT_EQ(resolved.at("standardize_features"), false);
  EXPECT_EQ(resolved.at("coverage"), false);
  EXPECT_EQ(resolved.at("region_sum"), false);
  EXPECT_EQ(resolved.at("box_frequencies"), 0);
  EXPECT_FALSE(resolved.contains("vocabulary_size"));
  Generator generator(10);
  const std::unique_ptr<Captioner> built = make_captioner(
      {{"type", "up_down"}, {"feature_size", 6}, {"hidden_size", 8}, {"embedding_size", 4}, {"attention_size", 3}},
      CaptionerVocabulary{.size = 20, .tokens = {}}, generator);
  EXPECT_EQ(built->type(), "up_down");
  EXPECT_TRUE(built->input_kinds().region_features);
  EXPECT_FALSE(built->input_kinds().pixels);
  EXPECT_EQ(built->vocabulary_size(), 20);

  const auto error_of = [](const char* text) {
    try {
      nlohmann::json::parse(text).get<UpDownConfig>().validate();
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"hidden": 3})"),
            "unknown key model.hidden (known: vocabulary_size, feature_size, embedding_size, hidden_size, "
            "attention_size, dropout, forget_bias, box_features, box_frequencies, standardize_features, coverage, "
            "region_sum, decoding, tokens)");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "box_frequencies": 2})"), "box_frequencies needs box_features");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "box_features": true, "box_frequencies": 17})"),
            "box_frequencies must be in [0, 16], got 17");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "attention_size": 0})"), "attention_size must be positive, got 0");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "dropout": 1.0})"), "dropout 1 outside [0, 1)");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "decoding": {"beam_size": 0}})"), "decoding.beam_size must be >= 1, got 0");
  EXPECT_EQ(error_of(R"({})"), "vocabulary_size must be set (> 0), got 0");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 3})"), "tokens.eos = 3 outside [0, 3)");
}

TEST(UpDownCaptioner, ErrorsNameTheMissingOrMisshapenInputs) {
  Generator generator(11);
  UpDownCaptioner model(tiny_config(), generator);
  CaptionerInputs inputs = region_inputs({3, 2}, 3, 6, generator, DType::F32);
  CaptionerInputs pixels_only(zeros({2, 3, 8, 8}));
  EXPECT_THROW(model.loss(pixels_only, tiny_captions(), 2), Error);
  inputs.region_features = zeros({2, 3, 5});
  try {
    model.loss(inputs, tiny_captions(), 2);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "expected region features [B, R, 6], got [2, 3, 5] in up_down (model.feature_size must "
                               "be the width of the data's region features)");
  }
}

TEST(UpDownCaptioner, TinyModelOverfitsFourImagesTwoCaptionsEach) {
  Generator generator(12);
  UpDownConfig config = tiny_config();
  config.vocabulary_size = 12;
  config.hidden_size = 32;
  config.embedding_size = 16;
  config.attention_size = 16;
  UpDownCaptioner model(config, generator);
  const CaptionerInputs inputs = region_inputs({3, 2, 3, 1}, 3, 6, generator, DType::F32);
  // Two different captions per image: the model must tell the images apart to fit them.
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
    const Tensor loss = model.loss(inputs, captions, 2);
    loss.backward();
    adam.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_GT(first, 2.0);  // about ln 12 = 2.5 at the start
  EXPECT_LT(last, 0.1 * first) << "first " << first << ", last " << last;
  model.eval();
  const std::vector<DecodedCaption> decoded = greedy_decode(model, inputs, 8);
  const std::vector<int64_t> first_words = {4, 8, 6, 9};
  for (size_t image = 0; image < 4; ++image) {
    ASSERT_FALSE(decoded[image].tokens.empty()) << image;
    EXPECT_EQ(decoded[image].tokens[0], first_words[image]) << image;
  }
}

}  // namespace
}  // namespace sparsecap::models
