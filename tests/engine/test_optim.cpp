// Optimizers, schedules and clipping against closed forms worked out here, and optimizer state
// export/import continuing bit-identically.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <functional>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/nn/parameter.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"

namespace sparsecap::optim {
namespace {

nn::ParameterPtr make_parameter(const std::string& name, const std::vector<float>& values) {
  return std::make_shared<nn::Parameter>(name, nn::ParameterKind::Weight,
                                         from_vector<float>(values, {static_cast<int64_t>(values.size())}));
}

void set_grad(const nn::ParameterPtr& parameter, const std::vector<float>& grad) {
  parameter->value().set_grad(from_vector<float>(grad, {static_cast<int64_t>(grad.size())}));
}

// Float32 parameters against double references: a few roundings of relative size 6e-8 each.
void expect_close(const nn::ParameterPtr& parameter, const std::vector<double>& expected, double relative = 2e-6) {
  const std::vector<double> actual = parameter->value().to_vector<double>();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], relative * std::max(1.0, std::abs(expected[i]))) << parameter->name() << "[" << i << "]";
}

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

const std::vector<std::vector<float>> kGrads = {{0.5f, -1.0f}, {0.25f, 0.5f}, {-1.0f, 1.0f}};

TEST(Sgd, MomentumAndWeightDecayMatchClosedForm) {
  auto w = make_parameter("w", {1.0f, -2.0f});
  const double lr = 0.1, momentum = 0.9, decay = 0.01;
  Sgd sgd({w}, constant_schedule(lr), SgdOptions{.momentum = momentum, .weight_decay = decay});

  set_grad(w, kGrads[0]);
  sgd.step();
  // d = g + 0.01 p = (0.51, -1.02); buffer = d; p -= 0.1 d.
  expect_close(w, {0.949, -1.898});

  std::vector<double> p = {0.949, -1.898}, buffer = {0.51, -1.02};
  for (size_t t = 1; t < kGrads.size(); ++t) {
    set_grad(w, kGrads[t]);
    sgd.step();
    for (size_t i = 0; i < 2; ++i) {
      buffer[i] = momentum * buffer[i] + (kGrads[t][i] + decay * p[i]);
      p[i] -= lr * buffer[i];
    }
    expect_close(w, p);
  }
  EXPECT_EQ(sgd.step_count(), 3);
}

TEST(Sgd, PlainAndNesterov) {
  auto plain = make_parameter("plain", {1.0f});
  Sgd plain_sgd({plain}, constant_schedule(0.5));
  set_grad(plain, {0.2f});
  plain_sgd.step();
  expect_close(plain, {0.9});
  EXPECT_TRUE(plain_sgd.state_tensors().tensors.contains("plain.step"));
  EXPECT_FALSE(plain_sgd.state_tensors().tensors.contains("plain.momentum_buffer"));

  auto w = make_parameter("w", {1.0f});
  Sgd nesterov({w}, constant_schedule(0.1), SgdOptions{.momentum = 0.5, .nesterov = true});
  set_grad(w, {1.0f});
  nesterov.step();  // buffer 1, step g + 0.5 * 1 = 1.5
  expect_close(w, {0.85});
  set_grad(w, {2.0f});
  nesterov.step();  // buffer 0.5 + 2 = 2.5, step 2 + 1.25 = 3.25
  expect_close(w, {0.85 - 0.325});
  expect_error_containing([] { Sgd({}, constant_schedule(0.1), SgdOptions{.nesterov = true}); },
                          "nesterov needs momentum > 0");
}

// Adam / AdamW reference in double: PyTorch's formulas.
std::vector<double> adam_reference(std::vector<double> p, double lr, double beta1, double beta2, double eps,
                                   double decay, bool decoupled, size_t steps) {
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  for (size_t t = 1; t <= steps; ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = kGrads[t - 1][i];
      if (decoupled)
        p[i] -= lr * decay * p[i];
      else
        g += decay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(beta1, double(t))), v_hat = v[i] / (1 - std::pow(beta2, double(t)));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  return p;
}

TEST(Adam, EpsilonOneHundredthMatchesClosedForm) {
  auto w = make_parameter("w", {1.0f, -2.0f});
  Adam adam({w}, constant_schedule(0.1), AdamOptions{.eps = 1e-2});
  set_grad(w, kGrads[0]);
  adam.step();
  // Step 1: m_hat = g, v_hat = g^2, so p -= lr g / (|g| + eps).
  expect_close(w, {1.0 - 0.1 * 0.5 / 0.51, -2.0 + 0.1 * 1.0 / 1.01});
  for (size_t t = 1; t < kGrads.size(); ++t) {
    set_grad(w, kGrads[t]);
    adam.step();
    expect_close(w, adam_reference({1.0, -2.0}, 0.1, 0.9, 0.999, 1e-2, 0.0, false, t + 1));
  }
}

TEST(Adam, L2WeightDecayAndTransformerBetas) {
  auto w = make_parameter("w", {1.0f, -2.0f});
  Adam adam({w}, constant_schedule(0.01), AdamOptions{.beta1 = 0.9, .beta2 = 0.98, .eps = 1e-9, .weight_decay = 0.1});
  for (size_t t = 0; t < kGrads.size(); ++t) {
    set_grad(w, kGrads[t]);
    adam.step();
    expect_close(w, adam_reference({1.0, -2.0}, 0.01, 0.9, 0.98, 1e-9, 0.1, false, t + 1));
  }
}

TEST(AdamW, DecoupledWeightDecayMatchesClosedForm) {
  auto w = make_parameter("w", {1.0f, -2.0f});
  AdamW adamw({w}, constant_schedule(0.1), AdamOptions{.eps = 1e-2, .weight_decay = 0.1});
  EXPECT_EQ(adamw.kind(), "adamw");
  set_grad(w, kGrads[0]);
  adamw.step();
  // p *= 1 - lr * wd first, then the plain Adam step.
  expect_close(w, {0.99 - 0.1 * 0.5 / 0.51, -1.98 + 0.1 * 1.0 / 1.01});
  for (size_t t = 1; t < kGrads.size(); ++t) {
    set_grad(w, kGrads[t]);
    adamw.step();
    expect_close(w, adam_reference({1.0, -2.0}, 0.1, 0.9, 0.999, 1e-2, 0.1, true, t + 1));
  }
}

TEST(Optimizer, GroupsHaveTheirOwnScheduleAndOverrides) {
  // The SMP layout: weights on a cosine schedule with the main options; gates at a constant 100
  // with eps 1e-2 and no weight decay.
  auto weight = make_parameter("decoder.w", {1.0f, -2.0f});
  auto gate = make_parameter("decoder.w_gate", {5.0f, 5.0f});
  Adam adam({ParameterGroup{.name = "main", .parameters = {weight}, .schedule = cosine_schedule(0.01, 1e-5, 10)},
             ParameterGroup{.name = "gates",
                            .parameters = {gate},
                            .schedule = constant_schedule(100.0),
                            .weight_decay = 0.0,
                            .eps = 1e-2}},
            AdamOptions{.eps = 1e-8, .weight_decay = 0.5});
  set_grad(weight, {0.5f, -1.0f});
  set_grad(gate, {0.02f, -0.03f});
  adam.step();
  // Main: L2 decay 0.5 -> g = (1.0, -2.0); step 1 moves by lr * g / (|g| + 1e-8).
  expect_close(weight, {1.0 - 0.01 / (1.0 + 1e-8), -2.0 + 0.01 * 2.0 / (2.0 + 1e-8)});
  // Steps of size ~70 at the gates' learning rate of 100.
  expect_close(gate, {5.0 - 100.0 * 0.02 / 0.03, 5.0 + 100.0 * 0.03 / 0.04});
  EXPECT_DOUBLE_EQ(adam.learning_rate(0), 0.01);
  EXPECT_DOUBLE_EQ(adam.learning_rate(1), 100.0);
  adam.step();  // no gradients are cleared here, so both move again with the next lr
  EXPECT_DOUBLE_EQ(adam.learning_rate(0), 1e-5 + (0.01 - 1e-5) * 0.5 * (1 + std::cos(std::numbers::pi / 10)));

  expect_error_containing(
      [] {
        Sgd({ParameterGroup{.name = "gates", .parameters = {}, .schedule = constant_schedule(1.0), .eps = 1e-2}});
      },
      "group 'gates' sets eps, which sgd does not use");
  expect_error_containing([&] { adam.add_parameter_group(ParameterGroup{.name = "again", .parameters = {weight},
                                                                        .schedule = constant_schedule(1.0)}); },
                          "parameter decoder.w is in two groups");
  expect_error_containing([] { Adam({make_parameter("w", {1.0f})}, nullptr); }, "has no learning-rate schedule");
  auto twin = make_parameter("decoder.w_gate", {0.0f});
  expect_error_containing([&] { adam.add_parameter_group(ParameterGroup{.name = "twins", .parameters = {twin},
                                                                        .schedule = constant_schedule(1.0)}); },
                          "two parameters named decoder.w_gate");
}

TEST(Optimizer, SkipsParametersWithoutGradientsOrFrozen) {
  auto with_grad = make_parameter("a", {1.0f});
  auto without = make_parameter("b", {1.0f});
  auto frozen = make_parameter("c", {1.0f});
  set_grad(frozen, {1.0f});
  frozen->set_requires_grad(false);
  Sgd sgd({with_grad, without, frozen}, constant_schedule(0.5));
  set_grad(with_grad, {1.0f});
  sgd.step();
  expect_close(with_grad, {0.5});
  expect_close(without, {1.0});
  expect_close(frozen, {1.0});
  sgd.zero_grad();
  EXPECT_FALSE(with_grad->grad().defined());
  const auto state = sgd.state_tensors();
  EXPECT_TRUE(state.tensors.contains("a.step"));
  EXPECT_FALSE(state.tensors.contains("b.step"));
}

TEST(Schedule, ValuesAtChosenStepsMatchClosedForms) {
  EXPECT_DOUBLE_EQ(constant_schedule(0.5)->lr_at(1), 0.5);
  EXPECT_DOUBLE_EQ(constant_schedule(0.5)->lr_at(100000), 0.5);
  expect_error_containing([] { constant_schedule(0.5)->lr_at(0); }, "asked for step 0; steps count from 1");

  // Cosine 1e-2 -> 1e-5 over 100 steps: full at step 1, midway at 51, the floor from 101 on.
  const auto cosine = cosine_schedule(0.01, 1e-5, 100);
  EXPECT_DOUBLE_EQ(cosine->lr_at(1), 0.01);
  EXPECT_NEAR(cosine->lr_at(26), 0.008536998372026804, 1e-15);  // 1e-5 + (1e-2 - 1e-5)(1 + cos(pi/4))/2
  EXPECT_NEAR(cosine->lr_at(51), 0.005005, 1e-15);
  EXPECT_NEAR(cosine->lr_at(101), 1e-5, 1e-15);
  EXPECT_NEAR(cosine->lr_at(5000), 1e-5, 1e-15);

  const auto step = step_schedule(0.1, 10, 0.5);
  EXPECT_DOUBLE_EQ(step->lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(step->lr_at(10), 0.1);
  EXPECT_DOUBLE_EQ(step->lr_at(11), 0.05);
  EXPECT_DOUBLE_EQ(step->lr_at(21), 0.025);

  // Noam, d_model 512, warm-up 4000: rises as step * 4000^-1.5, peaks at 4000, then step^-0.5.
  const auto noam = noam_schedule(512, 4000, 1.0);
  EXPECT_NEAR(noam->lr_at(1), 1.746928107421711e-07, 1e-20);
  EXPECT_NEAR(noam->lr_at(2000), 0.0003493856214843422, 1e-16);
  EXPECT_NEAR(noam->lr_at(4000), 0.0006987712429686843, 1e-16);
  EXPECT_NEAR(noam->lr_at(16000), 0.00034938562148434214, 1e-16);
  EXPECT_NEAR(noam_schedule(512, 4000, 2.0)->lr_at(16000), 2 * 0.00034938562148434214, 1e-16);

  expect_error_containing([] { cosine_schedule(0.1, 0.0, 0); }, "positive number of steps, got 0");
}

TEST(Schedule, RestartedScheduleStartsTheSecondScheduleAfresh) {
  // Cosine 0.01 -> 0 over steps 1-4, then a fresh cosine over 5-8.
  const auto restarted = restarted_schedule(cosine_schedule(0.01, 0.0, 4), cosine_schedule(0.01, 0.0, 4), 5);
  EXPECT_DOUBLE_EQ(restarted->lr_at(1), 0.01);
  EXPECT_NEAR(restarted->lr_at(3), 0.005, 1e-15);
  EXPECT_NEAR(restarted->lr_at(4), 0.01 * (1 + std::cos(3 * std::numbers::pi / 4)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(restarted->lr_at(5), 0.01);
  EXPECT_NEAR(restarted->lr_at(7), 0.005, 1e-15);
  expect_error_containing([] { restarted_schedule(constant_schedule(1), constant_schedule(2), 0); }, "restart step 0");
}

TEST(Adam, AStepThatThrowsChangesNothing) {
  // Every gradient is checked before any update (Adam also queues a step's updates and applies
  // them together at its end): a step that throws at a later parameter leaves the earlier one
  // and the step counts as they were.
  auto a = make_parameter("a", {1.0f}), b = make_parameter("b", {1.0f, 2.0f});
  auto a_once = make_parameter("a", {1.0f});
  Adam adam({a, b}, constant_schedule(0.1)), reference({a_once}, constant_schedule(0.1));
  set_grad(a, {0.5f});
  b->value().set_grad(from_vector<double>({0.5, 0.5}, {2}));  // float64 for a float32 weight: step() throws at b
  EXPECT_THROW(adam.step(), Error);
  EXPECT_EQ(a->value().to_vector<float>(), std::vector<float>{1.0f});  // nothing applied
  EXPECT_EQ(adam.step_count(), 0);
  set_grad(b, {0.5f, 0.5f});
  adam.step();
  set_grad(a_once, {0.5f});
  reference.step();
  EXPECT_EQ(a->value().to_vector<float>(), a_once->value().to_vector<float>());  // one update, not two
}

TEST(Adam, ResetStateStartsEveryParameterAfreshAndKeepsTheStepCount) {
  // After a reset, Adam's first update is again lr · sign(g) (bias-corrected moments of one gradient).
  auto w = make_parameter("w", {1.0f});
  Adam adam({w}, constant_schedule(0.1));
  set_grad(w, {1.0f});
  adam.step();
  set_grad(w, {-3.0f});
  adam.step();
  EXPECT_NE(w->value().to_vector<float>()[0], 1.0f);
  const float before = w->value().to_vector<float>()[0];
  adam.reset_state();
  EXPECT_TRUE(adam.state_tensors().tensors.empty());
  EXPECT_EQ(adam.step_count(), 2);
  set_grad(w, {0.5f});
  adam.step();
  EXPECT_NEAR(w->value().to_vector<float>()[0], before - 0.1f, 1e-6);
}

TEST(Schedule, OptimizerAppliesTheScheduledRate) {
  auto w = make_parameter("w", {0.0f});
  Sgd sgd({w}, step_schedule(1.0, 2, 0.1));
  double expected = 0.0;
  for (int t = 1; t <= 4; ++t) {
    set_grad(w, {-1.0f});
    sgd.step();
    expected += t <= 2 ? 1.0 : 0.1;
    expect_close(w, {expected});
  }
  EXPECT_DOUBLE_EQ(sgd.learning_rate(0), 0.1);
}

TEST(Clip, ByValue) {
  auto a = make_parameter("a", {0.0f, 0.0f, 0.0f});
  auto b = make_parameter("b", {0.0f});  // no gradient: skipped
  set_grad(a, {0.5f, -0.05f, -2.0f});
  clip_grad_value({a, b}, 0.1);
  const std::vector<float> clipped = a->grad().to_vector<float>();
  EXPECT_EQ(clipped, (std::vector<float>{0.1f, -0.05f, -0.1f}));
  EXPECT_FALSE(b->grad().defined());
}

TEST(Clip, ByGlobalNorm) {
  auto a = make_parameter("a", {0.0f, 0.0f});
  auto b = make_parameter("b", {0.0f});
  set_grad(a, {3.0f, 4.0f});
  set_grad(b, {12.0f});
  // Global norm sqrt(9 + 16 + 144) = 13; under the limit nothing changes.
  EXPECT_NEAR(clip_grad_norm({a, b}, 20.0), 13.0, 1e-6);
  EXPECT_EQ(a->grad().to_vector<float>(), (std::vector<float>{3.0f, 4.0f}));
  // Over it, everything scales by 6.5 / (13 + 1e-6).
  EXPECT_NEAR(clip_grad_norm({a, b}, 6.5), 13.0, 1e-6);
  const double scale = 6.5 / (13.0 + 1e-6);
  const std::vector<float> ga = a->grad().to_vector<float>(), gb = b->grad().to_vector<float>();
  EXPECT_NEAR(ga[0], 3.0 * scale, 1e-6);
  EXPECT_NEAR(ga[1], 4.0 * scale, 1e-6);
  EXPECT_NEAR(gb[0], 12.0 * scale, 1e-6);
  EXPECT_NEAR(clip_grad_norm({a, b}, 100.0), 6.5, 1e-5);
  expect_error_containing([&] { clip_grad_norm({a}, 0.0); }, "positive maximum norm, got 0");
}

TEST(Clip, ByGlobalNormOnTheDeviceScalesAsTheHostVersion) {
  auto a = make_parameter("a", {0.0f, 0.0f});
  auto b = make_parameter("b", {0.0f});
  set_grad(a, {3.0f, 4.0f});
  set_grad(b, {12.0f});
  EXPECT_NEAR(clip_grad_norm_on_device({a, b}, 20.0).item(), 13.0, 1e-5);  // under the limit: scale 1
  EXPECT_EQ(a->grad().to_vector<float>(), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_NEAR(clip_grad_norm_on_device({a, b}, 6.5).item(), 13.0, 1e-5);
  const double scale = 6.5 / (13.0 + 1e-6);
  const std::vector<float> ga = a->grad().to_vector<float>(), gb = b->grad().to_vector<float>();
  EXPECT_NEAR(ga[0], 3.0 * scale, 1e-6);
  EXPECT_NEAR(ga[1], 4.0 * scale, 1e-6);
  EXPECT_NEAR(gb[0], 12.0 * scale, 1e-6);
  // A non-finite norm leaves NaN in the gradients for the divergence check to find.
  set_grad(b, {std::numeric_limits<float>::infinity()});
  EXPECT_TRUE(std::isinf(clip_grad_norm_on_device({a, b}, 6.5).item()));
  EXPECT_TRUE(std::isnan(b->grad().to_vector<float>()[0]));
  EXPECT_FALSE(clip_grad_norm_on_device({make_parameter("c", {1.0f})}, 1.0).defined());  // no gradients
  expect_error_containing([&] { clip_grad_norm_on_device({a}, 0.0); }, "positive maximum norm, got 0");
}

// Runs `steps` updates with gradients that depend on the step and the current weights.
void train(Optimizer& optimizer, const std::vector<nn::ParameterPtr>& parameters, int first_step, int steps) {
  for (int t = first_step; t < first_step + steps; ++t) {
    for (size_t p = 0; p < parameters.size(); ++p) {
      std::vector<float> grad = parameters[p]->value().to_vector<float>();
      for (size_t i = 0; i < grad.size(); ++i) grad[i] = grad[i] * 0.3f + 0.1f * float(t) - 0.05f * float(i + p);
      set_grad(parameters[p], grad);
    }
    optimizer.step();
  }
}

std::vector<nn::ParameterPtr> copies_of(const std::vector<nn::ParameterPtr>& parameters) {
  std::vector<nn::ParameterPtr> out;
  for (const auto& parameter : parameters) out.push_back(make_parameter(parameter->name(), parameter->value().to_vector<float>()));
  return out;
}

void expect_identical(const std::vector<nn::ParameterPtr>& a, const std::vector<nn::ParameterPtr>& b) {
  for (size_t p = 0; p < a.size(); ++p)
    EXPECT_EQ(a[p]->value().to_vector<float>(), b[p]->value().to_vector<float>()) << a[p]->name();
}

TEST(OptimizerState, AdamRoundTripContinuesBitIdentically) {
  std::vector<nn::ParameterPtr> original = {make_parameter("enc.w", {1.0f, -2.0f, 0.5f}), make_parameter("enc.b", {0.1f})};
  auto make = [](const std::vector<nn::ParameterPtr>& parameters) {
    return std::make_unique<Adam>(
        std::vector<ParameterGroup>{ParameterGroup{.name = "main", .parameters = {parameters[0]}, .schedule = cosine_schedule(0.1, 1e-3, 8)},
                                    ParameterGroup{.name = "bias", .parameters = {parameters[1]}, .schedule = constant_schedule(0.05), .eps = 1e-2}},
        AdamOptions{.eps = 1e-2, .weight_decay = 1e-2});
  };
  auto optimizer = make(original);
  train(*optimizer, original, 1, 3);

  const OptimizerState saved = optimizer->state_tensors();
  EXPECT_EQ(saved.metadata.at("optimizer.kind"), "adam");
  EXPECT_EQ(saved.metadata.at("optimizer.step_count"), "3");
  EXPECT_EQ(saved.metadata.at("optimizer.groups"), "main,bias");
  EXPECT_EQ(saved.tensors.size(), 6u);  // step, exp_avg, exp_avg_sq for each
  EXPECT_EQ(saved.tensors.at("enc.w.step").to_vector<int64_t>(), std::vector<int64_t>{3});
  EXPECT_EQ(saved.tensors.at("enc.w.exp_avg").shape(), (Shape{3}));

  std::vector<nn::ParameterPtr> resumed = copies_of(original);
  auto resumed_optimizer = make(resumed);
  resumed_optimizer->load_state_tensors(saved);
  EXPECT_EQ(resumed_optimizer->step_count(), 3);
  EXPECT_EQ(resumed_optimizer->learning_rate(0), optimizer->learning_rate(0));

  train(*optimizer, original, 4, 3);
  train(*resumed_optimizer, resumed, 4, 3);
  expect_identical(original, resumed);
  // The export was a copy: continuing did not change it.
  EXPECT_EQ(saved.tensors.at("enc.w.step").to_vector<int64_t>(), std::vector<int64_t>{3});
}

TEST(OptimizerState, SgdMomentumRoundTripContinuesBitIdentically) {
  std::vector<nn::ParameterPtr> original = {make_parameter("w", {1.0f, -2.0f})};
  Sgd optimizer(original, noam_schedule(16, 3), SgdOptions{.momentum = 0.9, .weight_decay = 1e-3});
  train(optimizer, original, 1, 2);
  std::vector<nn::ParameterPtr> resumed = copies_of(original);
  Sgd resumed_optimizer(resumed, noam_schedule(16, 3), SgdOptions{.momentum = 0.9, .weight_decay = 1e-3});
  resumed_optimizer.load_state_tensors(optimizer.state_tensors());
  train(optimizer, original, 3, 4);
  train(resumed_optimizer, resumed, 3, 4);
  expect_identical(original, resumed);
}

TEST(OptimizerState, MismatchesGiveClearErrors) {
  std::vector<nn::ParameterPtr> parameters = {make_parameter("w", {1.0f, 2.0f})};
  Adam adam(parameters, constant_schedule(0.1));
  train(adam, parameters, 1, 1);
  const OptimizerState good = adam.state_tensors();

  Sgd sgd(copies_of(parameters), constant_schedule(0.1));
  expect_error_containing([&] { sgd.load_state_tensors(good); }, "state is from optimizer 'adam', this one is 'sgd'");

  OptimizerState misshaped = good;
  misshaped.tensors["w.exp_avg"] = zeros({3});
  expect_error_containing([&] { adam.load_state_tensors(misshaped); }, "expected [2], got [3] in w.exp_avg");

  OptimizerState unexpected = good;
  unexpected.tensors["ghost.exp_avg"] = zeros({2});
  expect_error_containing([&] { adam.load_state_tensors(unexpected); }, "unexpected keys ghost.exp_avg");

  OptimizerState incomplete = good;
  incomplete.tensors.erase("w.exp_avg_sq");
  expect_error_containing([&] { adam.load_state_tensors(incomplete); }, "incomplete state for w: missing w.exp_avg_sq");

  OptimizerState bad_count = good;
  bad_count.metadata["optimizer.step_count"] = "three";
  expect_error_containing([&] { adam.load_state_tensors(bad_count); }, "optimizer.step_count is 'three'");

  // A failed load changes nothing.
  EXPECT_EQ(adam.step_count(), 1);
  EXPECT_EQ(adam.state_tensors().tensors.at("w.exp_avg").to_vector<float>(),
            good.tensors.at("w.exp_avg").to_vector<float>());
}

}  // namespace
}  // namespace sparsecap::optim
