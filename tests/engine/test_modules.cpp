// Modules and parameters: forward values against hand computations, dotted names and kinds,
// state-dict round trips and their errors, train/eval behaviour, and the weight-transform hook
// pruning uses.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace sparsecap::nn {
namespace {

Tensor tensor_of(const std::vector<float>& values, const Shape& shape) { return from_vector<float>(values, shape); }

void expect_values(const Tensor& tensor, const std::vector<double>& expected, double tolerance = 1e-6) {
  const std::vector<double> actual = tensor.to_vector<double>();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
}

// Expects an Error whose message contains `fragment`.
template <typename Body>
void expect_error_containing(Body&& body, const std::string& fragment) {
  try {
    body();
    FAIL() << "expected an Error containing \"" << fragment << "\"";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
        << "message \"" << error.what() << "\" lacks \"" << fragment << "\"";
  }
}

// encoder = Sequential(Linear(4, 3), ReLU, Linear(3, 2)); norm = BatchNorm2d(2); head = Linear(2, 1, no bias).
class TinyModel : public Module {
 public:
  explicit TinyModel(Generator& generator) {
    encoder = register_module("encoder", std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
                                             std::make_shared<Linear>(4, 3, generator), relu_module(),
                                             std::make_shared<Linear>(3, 2, generator)}));
    norm = register_module("norm", std::make_shared<BatchNorm2d>(2));
    head = register_module("head", std::make_shared<Linear>(2, 1, generator, LinearOptions{.bias = false}));
  }
  Tensor forward(const Tensor& x) { return head->forward(encoder->forward(x)); }

  std::shared_ptr<Sequential> encoder;
  std::shared_ptr<BatchNorm2d> norm;
  std::shared_ptr<Linear> head;
};

TEST(Linear, ForwardMatchesHandComputation) {
  Generator generator(7);
  Linear layer(3, 2, generator);
  layer.weight()->value().copy_(tensor_of({1, 0, -1, 0.5f, 0.5f, 0.5f}, {2, 3}));
  layer.bias()->value().copy_(tensor_of({0.1f, -0.2f}, {2}));
  const Tensor y = layer(tensor_of({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  // Row 1: 1 - 3 + 0.1, 0.5 * 6 - 0.2; row 2: 4 - 6 + 0.1, 0.5 * 15 - 0.2.
  expect_values(y, {-1.9, 2.8, -1.9, 7.3});
  expect_error_containing([&] { layer(tensor_of({1, 2}, {1, 2})); }, "expected input [.., 3], got [1, 2]");
}

TEST(Linear, DefaultInitIsDeterministicAndBounded) {
  Generator first(42), second(42), other(43);
  Linear a(16, 8, first), b(16, 8, second), c(16, 8, other);
  EXPECT_EQ(a.weight()->value().to_vector<float>(), b.weight()->value().to_vector<float>());
  EXPECT_EQ(a.bias()->value().to_vector<float>(), b.bias()->value().to_vector<float>());
  EXPECT_NE(a.weight()->value().to_vector<float>(), c.weight()->value().to_vector<float>());
  const double bound = 1.0 / std::sqrt(16.0);  // PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  double largest = 0.0;
  for (float w : a.weight()->value().to_vector<float>()) largest = std::max(largest, std::abs(double(w)));
  for (float w : a.bias()->value().to_vector<float>()) EXPECT_LE(std::abs(w), bound);
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.8 * bound);  // 128 uniform draws reach near the bound
}

TEST(Init, FansGainsAndBounds) {
  EXPECT_EQ(init::fan_in_and_fan_out({8, 4, 3, 3}), (std::pair<int64_t, int64_t>{36, 72}));
  expect_error_containing([] { init::fan_in_and_fan_out({5}); }, "at least 2 dimensions, got [5]");
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::Tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::ReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::gain(init::Nonlinearity::LeakyReLU, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));

  Generator generator(3);
  Tensor weight = zeros({200, 300});
  init::xavier_uniform_(weight, generator);
  const double xavier_bound = std::sqrt(6.0 / 500.0);
  double sum_squares = 0.0, largest = 0.0;
  for (float w : weight.to_vector<float>()) {
    largest = std::max(largest, std::abs(double(w)));
    sum_squares += double(w) * w;
  }
  EXPECT_LE(largest, xavier_bound);
  // Variance of U(-b, b) is b^2 / 3; 60000 draws put the estimate within ~1%.
  EXPECT_NEAR(sum_squares / 60000.0, xavier_bound * xavier_bound / 3.0, 0.02 * xavier_bound * xavier_bound / 3.0);

  init::kaiming_normal_(weight, generator, 0.0, init::FanMode::FanIn, init::Nonlinearity::ReLU);
  sum_squares = 0.0;
  for (float w : weight.to_vector<float>()) sum_squares += double(w) * w;
  EXPECT_NEAR(sum_squares / 60000.0, 2.0 / 300.0, 0.03 * 2.0 / 300.0);

  Generator again(3);
  Tensor replay = zeros({200, 300});
  init::xavier_uniform_(replay, again);
  Generator once_more(3);
  Tensor replay_again = zeros({200, 300});
  init::xavier_uniform_(replay_again, once_more);
  EXPECT_EQ(replay.to_vector<float>(), replay_again.to_vector<float>());
}

TEST(Module, NamedParametersHaveDottedNamesAndKinds) {
  Generator generator(1);
  TinyModel model(generator);
  const auto named = model.named_parameters();
  std::vector<std::string> names;
  for (const auto& [name, parameter] : named) {
    names.push_back(name);
    EXPECT_EQ(parameter->name(), name);  // the parameter knows its full name
  }
  EXPECT_EQ(names, (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
                                             "encoder.2.bias", "norm.weight", "norm.bias", "head.weight"}));
  EXPECT_EQ(named[0].second->kind(), ParameterKind::Weight);
  EXPECT_EQ(named[1].second->kind(), ParameterKind::Bias);
  EXPECT_EQ(named[4].second->kind(), ParameterKind::Norm);
  EXPECT_STREQ(parameter_kind_name(named[5].second->kind()), "norm");
  EXPECT_EQ(named[0].second->shape(), (Shape{3, 4}));
  EXPECT_EQ(model.parameters().size(), 7u);

  // Running statistics are buffers: in the state dict, not among the parameters.
  const auto buffers = model.named_buffers();
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].first, "norm.running_mean");
  EXPECT_EQ(buffers[1].first, "norm.running_var");
  const StateDict state = model.state_dict();
  EXPECT_EQ(state.size(), 9u);
  EXPECT_TRUE(state.contains("norm.running_var"));

  Embedding embedding(10, 4, generator);
  EXPECT_EQ(embedding.named_parameters()[0].first, "weight");
  EXPECT_EQ(embedding.weight()->kind(), ParameterKind::Embedding);
}

// A module that registers another's parameter (tied weights) lists it once, under the owner's name.
class TiedModel : public Module {
 public:
  explicit TiedModel(Generator& generator) {
    embed = register_module("embed", std::make_shared<Embedding>(5, 3, generator));
    register_parameter("output_weight", embed->weight());
  }
  std::shared_ptr<Embedding> embed;
};

TEST(Module, TiedParameterKeepsItsOwnersName) {
  Generator generator(2);
  TiedModel model(generator);
  const auto named = model.named_parameters();
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].first, "embed.weight");
  EXPECT_EQ(named[0].second->name(), "embed.weight");
}

TEST(Module, DuplicateOrDottedNamesAreRejected) {
  class Bad : public Module {
   public:
    void add(const std::string& name) { register_parameter(name, ParameterKind::Weight, zeros({1})); }
  };
  Bad bad;
  bad.add("w");
  expect_error_containing([&] { bad.add("w"); }, "name 'w' is registered twice");
  expect_error_containing([&] { bad.add("a.b"); }, "contains a '.'");
}

TEST(Module, StateDictRoundTrip) {
  Generator first_generator(1), second_generator(2);
  TinyModel source(first_generator), target(second_generator);
  const Tensor x = tensor_of({0.5f, -1, 2, 0.25f, 1, 1, -0.5f, 3}, {2, 4});
  const std::vector<float> expected = source.forward(x).to_vector<float>();
  ASSERT_NE(target.forward(x).to_vector<float>(), expected);

  StateDict state = source.state_dict();
  state["norm.running_mean"].copy_(tensor_of({0.5f, -0.5f}, {2}));
  target.load_state_dict(state);
  EXPECT_EQ(target.forward(x).to_vector<float>(), expected);
  expect_values(target.norm->running_mean(), {0.5, -0.5});
  for (const auto& [name, tensor] : source.state_dict()) {
    if (name != "norm.running_mean") {
      EXPECT_EQ(target.state_dict().at(name).to_vector<float>(), tensor.to_vector<float>()) << name;
    }
  }

  // The state dict is a snapshot: later updates of the model do not change it.
  const std::vector<float> saved = state.at("head.weight").to_vector<float>();
  source.head->weight()->value().fill_(9.0);
  EXPECT_EQ(state.at("head.weight").to_vector<float>(), saved);
  // Loading keeps parameter identities (optimizers hold them).
  const Parameter* head_weight = target.head->weight().get();
  target.load_state_dict(state);
  EXPECT_EQ(target.named_parameters().back().second.get(), head_weight);
}

TEST(Module, LoadStateDictErrorsNameTheKey) {
  Generator generator(1);
  TinyModel model(generator);
  const StateDict good = model.state_dict();
  const std::vector<float> before = model.encoder->named_parameters()[0].second->value().to_vector<float>();

  StateDict missing = good;
  missing.erase("encoder.0.bias");
  expect_error_containing([&] { model.load_state_dict(missing); }, "missing key encoder.0.bias (expected [3])");

  StateDict unexpected = good;
  unexpected["decoder.extra"] = zeros({2, 2});
  expect_error_containing([&] { model.load_state_dict(unexpected); }, "unexpected key decoder.extra [2, 2]");

  StateDict misshaped = good;
  misshaped["encoder.0.weight"] = zeros({3, 5});
  misshaped["encoder.0.bias"] = zeros({3});  // valid, but nothing may be copied when any key fails
  expect_error_containing([&] { model.load_state_dict(misshaped); }, "expected [3, 4], got [3, 5] in encoder.0.weight");
  EXPECT_EQ(model.encoder->named_parameters()[0].second->value().to_vector<float>(), before);
  EXPECT_NE(model.state_dict().at("encoder.0.bias").to_vector<float>(), std::vector<float>(3, 0.0f));

  // Every problem in one message.
  StateDict several = misshaped;
  several.erase("head.weight");
  several["stray"] = zeros({1});
  try {
    model.load_state_dict(several);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("missing key head.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected key stray"), std::string::npos) << message;
    EXPECT_NE(message.find("in encoder.0.weight"), std::string::npos) << message;
  }
}

TEST(Dropout, TrainingDropsAndScalesEvaluationIsIdentity) {
  Generator generator(11);
  Dropout layer(0.5, generator);
  const Tensor x = ones({1000});
  const std::vector<float> dropped = layer(x).to_vector<float>();
  int zeros_seen = 0;
  for (float value : dropped) {
    EXPECT_TRUE(value == 0.0f || value == 2.0f) << value;
    zeros_seen += value == 0.0f;
  }
  EXPECT_GT(zeros_seen, 430);
  EXPECT_LT(zeros_seen, 570);

  layer.eval();
  EXPECT_FALSE(layer.is_training());
  EXPECT_EQ(layer(x).to_vector<float>(), std::vector<float>(1000, 1.0f));

  // Same seed, same masks; a shared generator works the same.
  layer.train();
  Dropout replay(0.5, std::make_shared<Generator>(11));
  EXPECT_EQ(replay(x).to_vector<float>(), dropped);
  expect_error_containing([&] { Dropout(1.0, generator); }, "Dropout probability 1 outside [0, 1)");
}

TEST(BatchNorm2d, TrainUsesBatchStatisticsEvalUsesRunningStatistics) {
  BatchNorm2d norm(1);
  // One channel, values 1..4: mean 2.5, biased variance 1.25, unbiased 5/3.
  const Tensor x = tensor_of({1, 2, 3, 4}, {2, 1, 1, 2});
  const double invstd = 1.0 / std::sqrt(1.25 + 1e-5);
  expect_values(norm(x), {-1.5 * invstd, -0.5 * invstd, 0.5 * invstd, 1.5 * invstd}, 1e-5);
  expect_values(norm.running_mean(), {0.1 * 2.5});
  expect_values(norm.running_var(), {0.9 + 0.1 * 5.0 / 3.0});

  norm.eval();
  const double rm = 0.25, rv = 0.9 + 0.1 * 5.0 / 3.0, eval_invstd = 1.0 / std::sqrt(rv + 1e-5);
  expect_values(norm(x), {(1 - rm) * eval_invstd, (2 - rm) * eval_invstd, (3 - rm) * eval_invstd,
                          (4 - rm) * eval_invstd}, 1e-5);
  expect_values(norm.running_mean(), {0.25});  // evaluation leaves the statistics alone
}

TEST(Layers, Conv2dEmbeddingLayerNormValues) {
  Generator generator(5);
  // Depthwise 1x1: out[c] = w[c] * x[c] + b[c].
  Conv2d depthwise(2, 2, 1, generator, Conv2dOptions{.groups = 2});
  EXPECT_EQ(depthwise.weight()->shape(), (Shape{2, 1, 1, 1}));
  depthwise.weight()->value().copy_(tensor_of({2, -1}, {2, 1, 1, 1}));
  depthwise.bias()->value().copy_(tensor_of({0.5f, 1}, {2}));
  expect_values(depthwise(tensor_of({1, 2, 3, 4}, {1, 2, 1, 2})), {2.5, 4.5, -2, -3});

  Conv2d strided(3, 4, 3, generator, Conv2dOptions{.stride = 2, .padding = 1, .bias = false});
  EXPECT_EQ(strided.bias(), nullptr);
  EXPECT_EQ(strided(zeros({2, 3, 7, 7})).shape(), (Shape{2, 4, 4, 4}));

  Embedding embedding(4, 2, generator);
  embedding.weight()->value().copy_(tensor_of({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2}));
  expect_values(embedding(from_vector<int64_t>({3, 0, 3}, {3})), {30, 31, 0, 1, 30, 31});

  LayerNorm norm(3);
  const double s = 1.0 / std::sqrt(2.0 / 3.0 + 1e-5);  // row [1, 2, 3]: mean 2, variance 2/3
  expect_values(norm(tensor_of({1, 2, 3}, {1, 3})), {-s, 0, s}, 1e-5);
}

// A fixed multiplicative mask, the simplest pruning transform.
class FixedMask : public WeightTransform {
 public:
  explicit FixedMask(Tensor mask) : mask_(std::move(mask)) {}
  Tensor apply(const Tensor& weight, bool training) override {
    last_training = training;
    return mul(weight, mask_);
  }
  std::string description() const override { return "fixed mask"; }
  bool last_training = false;

 private:
  Tensor mask_;
};

TEST(WeightTransform, AttachedMaskIsUsedByForwardAndGradientFlows) {
  Generator generator(9);
  Linear layer(3, 2, generator);
  layer.weight()->value().copy_(tensor_of({1, 2, 3, 4, 5, 6}, {2, 3}));
  layer.bias()->value().copy_(tensor_of({0.5f, -0.5f}, {2}));
  auto mask = std::make_shared<FixedMask>(tensor_of({0, 0, 0, 1, 0, 1}, {2, 3}));
  layer.weight()->attach_transform(mask);
  EXPECT_TRUE(layer.weight()->has_transform());

  const Tensor x = tensor_of({1, 1, 1, 2, 3, 4}, {2, 3});
  const Tensor y = layer(x);
  // Row 0 of W is masked out: output column 0 is the bias alone. Column 1: 4 x0 + 6 x2 - 0.5.
  expect_values(y, {0.5, 9.5, 0.5, 31.5});
  EXPECT_TRUE(mask->last_training);

  sum(y).backward();
  // dL/dW_eff = sum over rows of x (for each output), times the mask.
  expect_values(layer.weight()->grad(), {0, 0, 0, 3, 0, 5});
  expect_values(layer.bias()->grad(), {2, 2});

  layer.eval();
  layer(x);
  EXPECT_FALSE(mask->last_training);  // the transform sees the module's mode

  expect_error_containing([&] { layer.weight()->attach_transform(mask); },
                          "weight already has the transform 'fixed mask'");
  EXPECT_EQ(layer.weight()->detach_transform(), mask);
  expect_values(layer(x), {6.5, 14.5, 20.5, 46.5});  // plain W again
}

TEST(Module, ToDTypeConvertsParametersAndBuffers) {
  Generator generator(4);
  TinyModel model(generator);
  const std::vector<float> weight = model.head->weight()->value().to_vector<float>();
  model.to(DType::F64);
  for (const auto& parameter : model.parameters()) {
    EXPECT_EQ(parameter->value().dtype(), DType::F64);
    EXPECT_TRUE(parameter->requires_grad());
  }
  EXPECT_EQ(model.norm->running_var().dtype(), DType::F64);
  const std::vector<double> converted = model.head->weight()->value().to_vector<double>();
  for (size_t i = 0; i < weight.size(); ++i) EXPECT_EQ(converted[i], double(weight[i]));
  EXPECT_EQ(model.forward(zeros({1, 4}, DType::F64)).dtype(), DType::F64);
}

}  // namespace
}  // namespace sparsecap::nn
