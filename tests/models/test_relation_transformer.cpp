// The Object Relation Transformer: the box geometry against hand values, parameter count at the
// reference size, the forward pass and its gradients against the equations written with primitive
// ops (float64), finite differences, masks (padded regions and future tokens change nothing),
// incremental decoding against full decoding, beam 1 against greedy, Supermask gates, the sparse
// export round trip, config JSON, and a tiny model overfitting.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/rng.h"
#include "models/captioner_registry.h"
#include "models/relation_transformer.h"
#include "tests/engine/gradcheck.h"
#include "tests/models/captioner_checks.h"

namespace sparsecap::models {
namespace {

using captioner_checks::max_abs_difference;

constexpr int64_t kPad = 0, kBos = 2, kEos = 3;

RelationTransformerConfig tiny_config() {
  RelationTransformerConfig config;
  config.vocabulary_size = 11;
  config.feature_size = 6;
  config.model_size = 8;
  config.feed_forward_size = 12;
  config.encoder_layers = 2;
  config.decoder_layers = 2;
  config.heads = 2;
  config.dropout = 0.0;
  return config;
}

// Images with `real[b]` real regions of `regions`: features, mask, and boxes inside [0, 1]
// (padded slots zero).
CaptionerInputs region_inputs(const std::vector<int64_t>& real, int64_t regions, int64_t features, Generator& generator,
                              DType dtype = DType::F64) {
  const int64_t images = static_cast<int64_t>(real.size());
  std::vector<double> mask(static_cast<size_t>(images * regions), 0.0), boxes(static_cast<size_t>(images * regions * 4), 0.0);
  const std::vector<double> corners = rand({images * regions * 4}, generator, DType::F64).to_vector<double>();
  for (int64_t b = 0; b < images; ++b)
    for (int64_t r = 0; r < real[static_cast<size_t>(b)]; ++r) {
      const size_t i = static_cast<size_t>(b * regions + r);
      mask[i] = 1.0;
      const double* c = corners.data() + i * 4;
      boxes[i * 4 + 0] = 0.5 * c[0];
      boxes[i * 4 + 1] = 0.5 * c[1];
      boxes[i * 4 + 2] = 0.55 + 0.45 * c[2];
      boxes[i * 4 + 3] = 0.55 + 0.45 * c[3];
    }
  CaptionerInputs inputs;
  inputs.region_mask = from_vector(mask, {images, regions}).to(dtype);
  inputs.region_features = mul(randn({images, regions, features}, generator, dtype), unsqueeze(inputs.region_mask, 2));
  inputs.boxes = from_vector(boxes, {images, regions, 4}).to(dtype);
  return inputs;
}

// Two images x 2 captions of length 6: BOS w.. EOS PAD...
Tensor tiny_captions() { return captioner_checks::two_images_two_captions(); }

// ---- the equations, one image and one caption at a time ----

struct ByHand {
  std::map<std::string, Tensor> p;
  int64_t heads = 0;

  Tensor layer_norm(const Tensor& x, const std::string& name) {
    const int64_t n = x.size(1);
    const Tensor centered = sub(x, mean(x, 1, true));
    const Tensor std = sqrt(mul_scalar(sum(pow(centered, 2.0), 1, true), 1.0 / static_cast<double>(n - 1)));
    return add(mul(div(centered, add_scalar(std, 1e-6)), p[name + ".weight"]), p[name + ".bias"]);
  }
  Tensor lin(const Tensor& x, const std::string& name) { return linear(x, p[name + ".weight"], p[name + ".bias"]); }

  // xq [T, d], xkv [S, d]; relation [H][T, S] log-weights (or empty); causal: query t sees keys 0..t.
  // With `mean_weights`, also the attention weights averaged over heads [T, S] (not causal only).
  Tensor attention(const Tensor& xq, const Tensor& xkv, const std::string& name, const std::vector<Tensor>& relation,
                   bool causal, Tensor* mean_weights = nullptr) {
    const Tensor q = lin(xq, name + ".query"), k = lin(xkv, name + ".key"), v = lin(xkv, name + ".value");
    const int64_t head_size = q.size(1) / heads;
    std::vector<Tensor> per_head;
    Tensor weight_sum;
    for (int64_t h = 0; h < heads; ++h) {
      const Tensor qh = narrow(q, 1, h * head_size, head_size), kh = narrow(k, 1, h * head_size, head_size),
                   vh = narrow(v, 1, h * head_size, head_size);
      Tensor scores = mul_scalar(matmul(qh, transpose(kh)), 1.0 / std::sqrt(static_cast<double>(head_size)));
      if (!relation.empty()) scores = add(scores, relation[static_cast<size_t>(h)]);
      std::vector<Tensor> rows, weight_rows;
      for (int64_t t = 0; t < q.size(0); ++t) {
        const int64_t visible = causal ? t + 1 : k.size(0);
        const Tensor weights = softmax(narrow(narrow(scores, 0, t, 1), 1, 0, visible));
        rows.push_back(matmul(weights, narrow(vh, 0, 0, visible)));
        weight_rows.push_back(weights);
      }
      per_head.push_back(concat(rows, 0));
      if (!causal) weight_sum = h == 0 ? concat(weight_rows, 0) : add(weight_sum, concat(weight_rows, 0));
    }
    if (mean_weights != nullptr) *mean_weights = mul_scalar(weight_sum, 1.0 / static_cast<double>(heads));
    return lin(concat(per_head, 1), name + ".output");
  }
  Tensor feed_forward(const Tensor& x, const std::string& name) {
    return lin(relu(lin(x, name + ".w1")), name + ".w2");
  }
};

// Logits [T, V] of one caption of one image with `real` regions (the padded ones dropped).
Tensor logits_by_hand(const RelationTransformerCaptioner& model, const CaptionerInputs& inputs, int64_t image, int64_t real,
                      const std::vector<int64_t>& tokens) {
  ByHand m;
  for (const auto& [name, parameter] : model.named_parameters()) m.p[name] = parameter->value();
  const RelationTransformerConfig& c = model.config();
  m.heads = c.heads;
  const Tensor boxes = narrow(inputs.boxes, 0, image, 1);
  Tensor regions = narrow(inputs.region_features.row(image), 0, 0, real);
  if (c.standardize_features) {
    const nn::StateDict state = model.state_dict();
    regions = div(sub(regions, state.at("feature_standardizer.mean").to(DType::F64)),
                  state.at("feature_standardizer.std").to(DType::F64));
  }
  if (c.box_features)
    regions = captioner_checks::regions_with_boxes_by_hand(regions, narrow(boxes.row(0), 0, 0, real), c.box_frequencies);
  const Tensor geometry = narrow(narrow(box_relation_geometry(narrow(boxes, 1, 0, real)).row(0), 0, 0, real), 1, 0, real);
  Tensor x = relu(m.lin(regions, "att_embed"));
  for (int64_t l = 0; l < c.encoder_layers; ++l) {
    const std::string layer = "encoder." + std::to_string(l);
    // Per head h: log(max(g_ij · w_h + b_h, 1e-6)) as an [R, R] matrix.
    const Tensor relation = m.lin(geometry.reshape({real * real, 64}), layer + ".relation");  // [R*R, H]
    std::vector<Tensor> relation_log;
    for (int64_t h = 0; h < c.heads; ++h)
      relation_log.push_back(log(clamp(narrow(relation, 1, h, 1), 1e-6, 1e300)).reshape({real, real}));
    x = add(x, m.attention(m.layer_norm(x, layer + ".attention_norm"), m.layer_norm(x, layer + ".attention_norm"),
                           layer + ".attention", relation_log, false));
    x = add(x, m.feed_forward(m.layer_norm(x, layer + ".feed_forward_norm"), layer + ".feed_forward"));
  }
  const Tensor memory = m.layer_norm(x, "encoder_norm");
  const int64_t length = static_cast<int64_t>(tokens.size()) - 1;
  Tensor y = mul_scalar(embedding(m.p["embedding.weight"], from_vector(std::vector<int64_t>(tokens.begin(), tokens.end() - 1), {length})),
                        std::sqrt(static_cast<double>(c.model_size)));
  y = add(y, sinusoidal_positions(0, length, c.model_size, DType::F64));
  if (c.region_sum) y = add(y, linear(sum(memory, 0, true), m.p["region_sum.weight"]));
  Tensor coverage;  // [T, R]: the layer below's cross-attention summed over positions 0..t
  for (int64_t l = 0; l < c.decoder_layers; ++l) {
    const std::string layer = "decoder." + std::to_string(l);
    const Tensor normed = m.layer_norm(y, layer + ".self_norm");
    y = add(y, m.attention(normed, normed, layer + ".self_attention", {}, true));
    std::vector<Tensor> coverage_logits;  // per head w_h * coverage
    if (c.coverage && l > 0)
      for (int64_t h = 0; h < c.heads; ++h)
        coverage_logits.push_back(mul(coverage, narrow(m.p[layer + ".source_coverage.weight"], 0, h, 1)));
    Tensor source_weights;
    y = add(y, m.attention(m.layer_norm(y, layer + ".source_norm"), memory, layer + ".source_attention", coverage_logits,
                           false, &source_weights));
    std::vector<Tensor> sums;
    for (int64_t t = 0; t < length; ++t) sums.push_back(sum(narrow(source_weights, 0, 0, t + 1), 0, true));
    coverage = concat(sums, 0);
    y = add(y, m.feed_forward(m.layer_norm(y, layer + ".feed_forward_norm"), layer + ".feed_forward"));
  }
  return m.lin(m.layer_norm(y, "decoder_norm"), "logit");
}

Tensor all_logits_by_hand(const RelationTransformerCaptioner& model, const CaptionerInputs& inputs,
                          const std::vector<int64_t>& real, const Tensor& captions, int64_t seq_per_img) {
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

// Every parameter's gradient of the caption loss on tiny_captions(), from the model and from the
// by-hand logits.
using Gradients = std::map<std::string, std::vector<double>>;
std::pair<Gradients, Gradients> model_and_equation_gradients(RelationTransformerCaptioner& model,
                                                             const CaptionerInputs& inputs,
                                                             const std::vector<int64_t>& real) {
  model.loss(inputs, tiny_captions(), 2).backward();
  Gradients from_model = captioner_checks::parameter_gradients(model);
  model.zero_grad();
  const Tensor by_hand = all_logits_by_hand(model, inputs, real, tiny_captions(), 2);
  cross_entropy(by_hand.reshape({-1, 11}), narrow(tiny_captions(), 1, 1, 5).reshape({-1}), kPad).backward();
  return {std::move(from_model), captioner_checks::parameter_gradients(model)};
}

TEST(BoxRelationGeometry, MatchesTheFormulaForTwoBoxes) {
  // Box 0: [0, 0, 0.5, 0.5] (centre 0.25, 0.25, size 0.5 x 0.5); box 1: [0.5, 0, 1, 1] (0.75, 0.5; 0.5 x 1).
  const Tensor geometry = box_relation_geometry(from_vector<double>({0, 0, 0.5, 0.5, 0.5, 0, 1, 1}, {1, 2, 4}));
  ASSERT_EQ(geometry.shape(), (Shape{1, 2, 2, 64}));
  const std::vector<double> g = geometry.to_vector<double>();
  const auto at = [&](int i, int j, int k) { return g[static_cast<size_t>((i * 2 + j) * 64 + k)]; };
  const auto frequency = [](int k) { return std::pow(1000.0, -k / 8.0); };
  // (0, 1): dx / w0 = 1 -> log 1 = 0; dy / h0 = 0.5; w0 / w1 = 1; h0 / h1 = 0.5.
  const double position[4] = {0.0, std::log(0.5), 0.0, std::log(0.5)};
  for (int c = 0; c < 4; ++c)
    for (int k = 0; k < 8; ++k) {
      EXPECT_NEAR(at(0, 1, c * 8 + k), std::sin(100 * position[c] * frequency(k)), 1e-12) << c << " " << k;
      EXPECT_NEAR(at(0, 1, 32 + c * 8 + k), std::cos(100 * position[c] * frequency(k)), 1e-12) << c << " " << k;
    }
  // (1, 1): offsets floored at 1e-3, size ratios 1.
  EXPECT_NEAR(at(1, 1, 0), std::sin(100 * std::log(1e-3)), 1e-12);
  EXPECT_NEAR(at(1, 1, 8 + 3), std::sin(100 * std::log(1e-3) * frequency(3)), 1e-12);
  EXPECT_NEAR(at(1, 1, 16), 0.0, 1e-12);
  EXPECT_NEAR(at(1, 1, 32 + 24), 1.0, 1e-12);
  // (1, 0): dy / h1 = 0.25 / 1; w1 / w0 = 1, h1 / h0 = 2.
  EXPECT_NEAR(at(1, 0, 8), std::sin(100 * std::log(0.25)), 1e-12);
  EXPECT_NEAR(at(1, 0, 24 + 1), std::sin(100 * std::log(2.0) * frequency(1)), 1e-12);
}

TEST(SinusoidalPositions, SineOnEvenCosineOnOddColumns) {
  const std::vector<double> table = sinusoidal_positions(3, 2, 4, DType::F64).to_vector<double>();
  EXPECT_NEAR(table[0], std::sin(3.0), 1e-15);
  EXPECT_NEAR(table[1], std::cos(3.0), 1e-15);
  EXPECT_NEAR(table[2], std::sin(3.0 / 100.0), 1e-15);
  EXPECT_NEAR(table[7], std::cos(4.0 / 100.0), 1e-15);
}

TEST(RelationTransformerCaptioner, ParameterCountAtTheReferenceSize) {
  Generator generator(1);
  RelationTransformerConfig config;
  config.vocabulary_size = 9487;
  RelationTransformerCaptioner model(config, generator);
  int64_t total = 0;
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : model.named_parameters()) {
    parameters[name] = parameter;
    total += parameter->value().numel();
  }
  EXPECT_EQ(parameters.at("encoder.5.relation.weight")->shape(), (Shape{8, 64}));
  EXPECT_EQ(parameters.at("decoder.5.source_attention.value.weight")->shape(), (Shape{512, 512}));
  EXPECT_EQ(parameters.at("encoder.0.attention_norm.weight")->kind(), nn::ParameterKind::Norm);
  const int64_t attention = 4 * (512 * 512 + 512), feed_forward = 512 * 2048 + 2048 + 2048 * 512 + 512, norm = 2 * 512;
  const int64_t encoder_layer = attention + 8 * 64 + 8 + feed_forward + 2 * norm;
  const int64_t decoder_layer = 2 * attention + feed_forward + 3 * norm;
  const int64_t by_layer = (2048 * 512 + 512) + 6 * encoder_layer + norm + 9487 * 512 + 6 * decoder_layer + norm +
                           (512 * 9487 + 9487);
  EXPECT_EQ(total, by_layer);
  // 54 916 927: 0.9% below the notes' "about 55.4 M" (Up-Down is 1.8% below its 53.1 M; both gaps
  // fit a vocabulary about 480 words larger than 9 487, see docs/captioners.md).
  EXPECT_EQ(total, 54916927);
}

TEST(RelationTransformerCaptioner, ForwardFollowsTheEquations) {
  Generator generator(2);
  RelationTransformerCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  ASSERT_EQ(logits.shape(), (Shape{4, 5, 11}));
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-11);
}

TEST(RelationTransformerCaptioner, StandardizedAndBoxFeaturesFollowTheEquations) {
  Generator generator(12);
  RelationTransformerConfig config = tiny_config();
  config.box_features = true;
  config.box_frequencies = 2;
  config.standardize_features = true;
  RelationTransformerCaptioner model(config, generator);
  model.to(DType::F64);
  model.eval();
  model.region_feature_standardizer()->set_statistics({0.5, -1, 2, 0, 0.1, 3}, {2, 0.5, 1, 4, 0.25, 1.5});
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-11);
  // Without the box relation the boxes still reach the model, through the features.
  config.box_relation = false;
  RelationTransformerCaptioner plain(config, generator);
  plain.to(DType::F64);
  plain.eval();
  CaptionerInputs moved = inputs;
  moved.boxes = captioner_checks::random_boxes(2, 3, generator, DType::F64);
  EXPECT_GT(max_abs_difference(plain.forward_teacher_forced(moved, tiny_captions(), 2),
                               plain.forward_teacher_forced(inputs, tiny_captions(), 2)),
            1e-6);
}

TEST(RelationTransformerCaptioner, GradientsMatchTheEquationsWrittenWithOps) {
  Generator generator(3);
  RelationTransformerCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const auto [from_model, from_ops] = model_and_equation_gradients(model, inputs, real);
  ASSERT_EQ(from_model.size(), from_ops.size());
  int nonzero = 0;
  for (const auto& [name, gradient] : from_model) {
    const std::vector<double>& expected = from_ops.at(name);
    double worst = 0, magnitude = 0;
    for (size_t i = 0; i < gradient.size(); ++i) {
      worst = std::max(worst, std::abs(gradient[i] - expected[i]));
      magnitude += std::abs(expected[i]);
    }
    EXPECT_LT(worst, 1e-10) << name;
    nonzero += magnitude > 0;
  }
  EXPECT_GT(nonzero, static_cast<int>(from_model.size()) - 4);  // only biases the softmax ignores may get none
}

TEST(RelationTransformerCaptioner, GradientsOfTheFeaturesMatchFiniteDifferences) {
  Generator generator(4);
  RelationTransformerCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs base = region_inputs({3, 3}, 3, 6, generator);
  const auto function = [&](const std::vector<Tensor>& x) {
    CaptionerInputs inputs = base;
    inputs.region_features = x[0];
    return model.forward_teacher_forced(inputs, tiny_captions(), 2);
  };
  const sparsecap::testing::GradcheckResult result = sparsecap::testing::gradcheck(function, {base.region_features}, {true});
  EXPECT_LT(result.max_relative_error, 1e-6) << result.worst;
}

TEST(RelationTransformerCaptioner, PaddedRegionsAndFutureTokensChangeNothing) {
  Generator generator(5);
  RelationTransformerCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  CaptionerInputs noisy = inputs;
  const Tensor padding = unsqueeze(sub(full({2, 4}, 1.0, DType::F64), inputs.region_mask), 2);
  noisy.region_features = add(inputs.region_features, mul(mul_scalar(randn({2, 4, 6}, generator, DType::F64), 10.0), padding));
  noisy.boxes = add(inputs.boxes, mul(rand({2, 4, 4}, generator, DType::F64), padding));
  EXPECT_EQ(max_abs_difference(model.forward_teacher_forced(noisy, tiny_captions(), 2), logits), 0.0);
  // Other words after position 2 leave the logits of positions 0..2 alone.
  const Tensor changed = from_vector<int64_t>({kBos, 4, 5, 9, 9, 9,  //
                                               kBos, 6, kEos, 4, 4, 4,  //
                                               kBos, 7, 8, 5, 5, kEos,  //
                                               kBos, kEos, kPad, 7, 7, 7},
                                              {4, 6});
  const Tensor other = model.forward_teacher_forced(inputs, changed, 2);
  EXPECT_EQ(max_abs_difference(narrow(other, 1, 0, 3), narrow(logits, 1, 0, 3)), 0.0);
  EXPECT_GT(max_abs_difference(narrow(other, 1, 3, 2), narrow(logits, 1, 3, 2)), 1e-6);
}

TEST(RelationTransformerCaptioner, IncrementalDecodingEqualsFullDecoding) {
  Generator generator(6);
  RelationTransformerCaptioner model(tiny_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 3, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
}

RelationTransformerConfig coverage_config() {
  RelationTransformerConfig config = tiny_config();
  config.decoder_layers = 3;  // layers 1 and 2 read coverage, from layers 0 and 1
  config.coverage = true;
  return config;
}

TEST(RelationTransformerCaptioner, CoverageFollowsTheEquations) {
  Generator generator(13);
  RelationTransformerCaptioner model(coverage_config(), generator);
  model.to(DType::F64);
  model.eval();
  std::map<std::string, nn::ParameterPtr> parameters;
  for (const auto& [name, parameter] : model.named_parameters()) parameters[name] = parameter;
  EXPECT_FALSE(parameters.count("decoder.0.source_coverage.weight"));
  ASSERT_TRUE(parameters.count("decoder.2.source_coverage.weight"));
  EXPECT_EQ(parameters["decoder.1.source_coverage.weight"]->shape(), (Shape{2, 1}));
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-11);
  // The term is on the path: without its weights the logits move.
  for (const char* name : {"decoder.1.source_coverage.weight", "decoder.2.source_coverage.weight"})
    parameters[name]->value().zero_();
  EXPECT_GT(max_abs_difference(model.forward_teacher_forced(inputs, tiny_captions(), 2), logits), 1e-6);
}

TEST(RelationTransformerCaptioner, CoverageGradientsMatchTheEquationsWrittenWithOps) {
  Generator generator(14);
  RelationTransformerCaptioner model(coverage_config(), generator);
  model.to(DType::F64);
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 3, 6, generator);
  const auto [from_model, from_ops] = model_and_equation_gradients(model, inputs, real);
  ASSERT_EQ(from_model.size(), from_ops.size());
  for (const char* name : {"decoder.1.source_coverage.weight", "decoder.2.source_coverage.weight"}) {
    ASSERT_TRUE(from_model.count(name)) << name;
    const std::vector<double>& gradient = from_model.at(name);
    const std::vector<double>& expected = from_ops.at(name);
    for (size_t i = 0; i < gradient.size(); ++i) {
      EXPECT_NEAR(gradient[i], expected[i], 1e-10) << name << "[" << i << "]";
      EXPECT_NE(expected[i], 0.0) << name << "[" << i << "]";
    }
  }
  for (const auto& [name, gradient] : from_model) {
    double worst = 0;
    for (size_t i = 0; i < gradient.size(); ++i) worst = std::max(worst, std::abs(gradient[i] - from_ops.at(name)[i]));
    EXPECT_LT(worst, 1e-10) << name;
  }
}

TEST(RelationTransformerCaptioner, CoverageIncrementalDecodingEqualsFullDecodingAndIgnoresPadding) {
  Generator generator(15);
  RelationTransformerCaptioner model(coverage_config(), generator);
  model.to(DType::F64);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 2}, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
  const CaptionerInputs noisy = captioner_checks::with_noise_in_padded_regions(inputs, generator);
  EXPECT_EQ(max_abs_difference(model.forward_teacher_forced(noisy, tiny_captions(), 2), logits), 0.0);
}

TEST(RelationTransformerCaptioner, RegionSumFollowsTheEquationsAndIgnoresPadding) {
  Generator generator(16);
  RelationTransformerConfig config = tiny_config();
  config.region_sum = true;
  RelationTransformerCaptioner model(config, generator);
  model.to(DType::F64);
  model.eval();
  const std::vector<int64_t> real = {3, 2};
  const CaptionerInputs inputs = region_inputs(real, 4, 6, generator);
  const Tensor logits = model.forward_teacher_forced(inputs, tiny_captions(), 2);
  EXPECT_LT(max_abs_difference(logits, all_logits_by_hand(model, inputs, real, tiny_captions(), 2)), 1e-11);
  captioner_checks::expect_decoding_matches_teacher_forcing(model, inputs, tiny_captions(), 2, logits, 1e-12);
  const CaptionerInputs noisy = captioner_checks::with_noise_in_padded_regions(inputs, generator);
  EXPECT_EQ(max_abs_difference(model.forward_teacher_forced(noisy, tiny_captions(), 2), logits), 0.0);
  // The weight is on the path and gets the gradient the equations give it.
  const auto [from_model, from_ops] = model_and_equation_gradients(model, inputs, real);
  const std::vector<double>& gradient = from_model.at("region_sum.weight");
  double magnitude = 0;
  for (size_t i = 0; i < gradient.size(); ++i) {
    EXPECT_NEAR(gradient[i], from_ops.at("region_sum.weight")[i], 1e-10) << i;
    magnitude += std::abs(gradient[i]);
  }
  EXPECT_GT(magnitude, 0.0);
}

TEST(RelationTransformerCaptioner, BeamOfOneIsGreedyDecodingAndTheDeviceBookkeepingGivesTheHostsCaptions) {
  Generator generator(7);
  RelationTransformerConfig config = tiny_config();
  config.vocabulary_size = 30;
  RelationTransformerCaptioner model(config, generator);
  model.eval();
  const CaptionerInputs inputs = region_inputs({3, 1, 2, 3, 2}, 3, 6, generator, DType::F32);
  captioner_checks::expect_beam_one_is_greedy(model, inputs, 10);
  captioner_checks::expect_device_bookkeeping_matches_host(model, inputs, 10);
}

TEST(RelationTransformerCaptioner, SupermaskGatesEveryWeightMatrixAndEmbeddingOnly) {
  Generator generator(8);
  RelationTransformerCaptioner model(tiny_config(), generator);
  const captioner_checks::GatedParameters gated = captioner_checks::supermask_gated_parameters(model);
  EXPECT_EQ(gated.gated, gated.weights_and_embeddings);
  // att_embed, 2 x (4 attention + relation + 2 feed-forward), embedding, 2 x (8 attention + 2), logit.
  EXPECT_EQ(gated.gated.size(), 1u + 2 * 7 + 1 + 2 * 10 + 1);
  for (const std::string& name : gated.gated) EXPECT_TRUE(name.ends_with(".weight")) << name;
  for (const std::string& name : gated.gated) EXPECT_EQ(name.find("norm"), std::string::npos) << name;
  RelationTransformerCaptioner with_coverage(coverage_config(), generator);
  const captioner_checks::GatedParameters gated_with_coverage =
      captioner_checks::supermask_gated_parameters(with_coverage);
  EXPECT_EQ(gated_with_coverage.gated, gated_with_coverage.weights_and_embeddings);
  // Three decoder layers, two of them with source_coverage.
  EXPECT_EQ(gated_with_coverage.gated.size(), 1u + 2 * 7 + 1 + 3 * 10 + 2 + 1);
}

TEST(RelationTransformerCaptioner, SparseExportDecodesTheSameCaptions) {
  Generator generator(9);
  RelationTransformerConfig config = tiny_config();
  config.vocabulary_size = 40;
  config.model_size = 16;
  config.feed_forward_size = 24;
  config.coverage = true;    // the export must bring decoder.1.source_coverage back
  config.region_sum = true;  // and region_sum
  RelationTransformerCaptioner model(config, generator);
  captioner_checks::prune_randomly(model, 0.7, 3);
  model.eval();
  nlohmann::json section = config;
  section.erase("vocabulary_size");
  section.erase("tokens");
  section["type"] = "relation_transformer";
  captioner_checks::expect_export_round_trip(model, section, region_inputs({3, 2, 1, 3}, 3, 6, generator, DType::F32),
                                             1 + 2 * 7 + 1 + 2 * 10 + 1 + 1 + 1);
}

TEST(RelationTransformerConfig, JsonRoundTripDefaultsAndErrors) {
  RelationTransformerConfig config = tiny_config();
  config.box_relation = false;
  config.box_features = true;
  config.standardize_features = true;
  config.coverage = true;
  config.box_frequencies = 3;
  config.region_sum = true;
  const nlohmann::json json = config;
  EXPECT_EQ(nlohmann::json(json.get<RelationTransformerConfig>()), json);
  const nlohmann::json resolved = resolve_captioner_config({{"type", "relation_transformer"}});
  EXPECT_EQ(resolved.at("model_size"), 512);
  EXPECT_EQ(resolved.at("feed_forward_size"), 2048);
  EXPECT_EQ(resolved.at("encoder_layers"), 6);
  EXPECT_EQ(resolved.at("decoder_layers"), 6);
  EXPECT_EQ(resolved.at("heads"), 8);
  EXPECT_EQ(resolved.at("feature_size"), 2048);
  EXPECT_EQ(resolved.at("dropout"), 0.1);
  EXPECT_EQ(resolved.at("box_relation"), true);
  EXPECT_EQ(resolved.at("box_features"), false);
  EXPECT_EQ(resolved.at("standardize_features"), false);
  EXPECT_EQ(resolved.at("coverage"), false);
  EXPECT_EQ(resolved.at("box_frequencies"), 0);
  EXPECT_EQ(resolved.at("region_sum"), false);
  const auto error_of = [](const char* text) {
    try {
      nlohmann::json::parse(text).get<RelationTransformerConfig>().validate();
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "model_size": 10, "heads": 4})"),
            "model_size 10 is not a multiple of heads 4");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "encoder_layers": 0})"), "encoder_layers must be positive, got 0");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "decoder_layers": 1, "coverage": true})"),
            "coverage needs decoder_layers >= 2 (the first layer's attention feeds the second's), got 1");
  EXPECT_EQ(error_of(R"({"layers": 2})"),
            "unknown key model.layers (known: vocabulary_size, feature_size, model_size, feed_forward_size, "
            "encoder_layers, decoder_layers, heads, dropout, box_relation, box_features, box_frequencies, "
            "standardize_features, coverage, region_sum, decoding, tokens)");
  EXPECT_EQ(error_of(R"({"vocabulary_size": 10, "box_frequencies": 1})"), "box_frequencies needs box_features");
}

TEST(RelationTransformerCaptioner, TinyModelOverfitsFourImagesTwoCaptionsEach) {
  Generator generator(12);
  RelationTransformerConfig config = tiny_config();
  config.vocabulary_size = 12;
  config.model_size = 32;
  config.feed_forward_size = 64;
  config.heads = 4;
  RelationTransformerCaptioner model(config, generator);
  const CaptionerInputs inputs = region_inputs({3, 2, 3, 1}, 3, 6, generator, DType::F32);
  const Tensor captions = from_vector<int64_t>({kBos, 4, 5, 6, kEos, kPad,  //
                                                kBos, 4, 7, kEos, kPad, kPad,  //
                                                kBos, 8, 9, 10, 11, kEos,      //
                                                kBos, 8, 5, kEos, kPad, kPad,  //
                                                kBos, 6, 6, 7, kEos, kPad,     //
                                                kBos, 6, 11, kEos, kPad, kPad, //
                                                kBos, 9, 4, 10, 5, kEos,       //
                                                kBos, 9, 10, kEos, kPad, kPad},
                                               {8, 6});
  optim::Adam adam(model.parameters(), optim::constant_schedule(0.003));
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    const Tensor loss = model.loss(inputs, captions, 2);
    loss.backward();
    adam.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  EXPECT_GT(first, 2.0);
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
