// The mask methods through their hooks, as the trainer calls them: masked weights get zero
// gradient and stay zero after Adam steps, finalize bakes the masks in, hard prunes once at
// ⌊prune_fraction·T⌋ + 1 and asks for a restart there, gradual follows its schedule, the lottery
// ticket resets every parameter to step 0 bit for bit under masks from the trained weights, and every
// option is validated with errors naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/optim/adam.h"
#include "pruning/gradual.h"
#include "pruning/hard.h"
#include "pruning/iterative.h"
#include "pruning/lottery.h"
#include "pruning/lstm_policy.h"
#include "pruning/method_registry.h"
#include "pruning/threshold_policy.h"

namespace sparsecap::pruning {
namespace {

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

// The message of the Error `make` throws ("" when none is thrown).
template <typename F>
std::string error_of(F make) {
  try {
    make();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Two weights and a loss sum((W' ⊙ X)²) whose gradient is non-zero everywhere.
struct TinyModel {
  std::vector<nn::ParameterPtr> weights;
  std::vector<Tensor> inputs;
  explicit TinyModel(uint64_t seed) {
    Generator generator(seed);
    weights = {std::make_shared<nn::Parameter>("w1", nn::ParameterKind::Weight, randn({6, 5}, generator)),
               std::make_shared<nn::Parameter>("w2", nn::ParameterKind::Weight, randn({40}, generator))};
    for (const auto& weight : weights) inputs.push_back(add_scalar(rand(weight->shape(), generator), 0.5));
  }
  Tensor loss() const {
    Tensor total = scalar_tensor(0.0);
    for (size_t i = 0; i < weights.size(); ++i) {
      const Tensor product = mul(weights[i]->effective(), inputs[i]);
      total = add(total, sum(mul(product, product)));
    }
    return total;
  }
  // One training step as the trainer runs it.
  void step(PruningMethod& method, optim::Optimizer& optimizer, int64_t step) {
    method.before_step(step);
    if (step == method.restart_step()) optimizer.reset_state();
    optimizer.zero_grad();
    loss().backward();
    optimizer.step();
    method.after_optimizer_step(step);
  }
};

TEST(HardPruning, MaskedWeightsGetZeroGradientAndStayZeroThroughAdam) {
  TinyModel model(1);
  HardPruningOptions options{.target_sparsity = 0.6, .scope = MaskScope::Uniform, .prune_fraction = 0.5};
  HardPruning method(options, 4);  // prunes before step ⌊0.5·4⌋ + 1 = 3
  optim::Adam optimizer(model.weights, optim::constant_schedule(0.1));
  method.begin(model.weights, optimizer);
  EXPECT_EQ(method.prune_step(), 3);
  EXPECT_EQ(method.restart_step(), 3);
  for (int64_t step = 1; step <= 2; ++step) model.step(method, optimizer, step);
  EXPECT_EQ(method.sparsity().sparsity(), 0.0);  // dense so far
  EXPECT_FALSE(method.target_reached());

  // Step 3 by hand: the mask appears before the forward pass.
  method.before_step(3);
  const std::vector<Tensor> masks = method.masked_weights().masks();
  optimizer.zero_grad();
  model.loss().backward();
  for (size_t i = 0; i < masks.size(); ++i) {
    EXPECT_EQ(sum(masks[i]).item(), std::round(0.4 * static_cast<double>(masks[i].numel())));
    const std::vector<float> mask = values(masks[i]), grad = values(model.weights[i]->grad()),
                             weight = values(model.weights[i]->value());
    for (size_t j = 0; j < mask.size(); ++j) {
      if (mask[j] == 0) {
        EXPECT_EQ(grad[j], 0.0f);
        EXPECT_EQ(weight[j], 0.0f);
      } else {
        EXPECT_NE(grad[j], 0.0f);
      }
    }
  }
  optimizer.step();  // Adam's moments from steps 1-2 alone would move the pruned weights
  method.after_optimizer_step(3);
  model.step(method, optimizer, 4);
  for (size_t i = 0; i < masks.size(); ++i) {
    const std::vector<float> mask = values(masks[i]), weight = values(model.weights[i]->value());
    for (size_t j = 0; j < mask.size(); ++j) {
      if (mask[j] == 0) {
        EXPECT_EQ(weight[j], 0.0f);
      }
    }
  }
  EXPECT_NEAR(method.sparsity().sparsity(), 0.6, 1e-9);
  EXPECT_TRUE(method.target_reached());

  const nlohmann::json record = method.statistics_record(4, 1.5);
  EXPECT_EQ(record["scheduled_sparsity"], 0.6);
  EXPECT_EQ(record["nnz"], 28);  // 12 of 30 and 16 of 40 kept
  EXPECT_NEAR(record["per_mask_sparsity"]["w1"].get<double>(), 0.6, 1e-12);

  method.finalize();
  for (size_t i = 0; i < masks.size(); ++i) {
    EXPECT_FALSE(model.weights[i]->has_transform());
    EXPECT_EQ(sum(greater_than(abs(model.weights[i]->value()), 0.0)).item(), sum(masks[i]).item());
  }
}

TEST(HardPruning, MasksRoundTripThroughTheState) {
  TinyModel model(2), copy(2);
  HardPruning method(HardPruningOptions{.target_sparsity = 0.5}, 1), loaded(HardPruningOptions{.target_sparsity = 0.5}, 1);
  method.attach(model.weights);
  method.before_step(1);
  loaded.attach(copy.weights);
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, tensor] : method.state_tensors()) tensors[name] = tensor;
  EXPECT_EQ(tensors.count("w1.mask"), 1u);
  loaded.load_state(tensors, {});
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(values(loaded.masked_weights().masks()[i]), values(method.masked_weights().masks()[i]));
  EXPECT_EQ(values(copy.weights[0]->value()), values(model.weights[0]->value()));  // pruned weights zeroed too
}

TEST(GradualPruning, FollowsItsScheduleAtEveryUpdate) {
  TinyModel model(3);
  // 70 weights, t0 = 2, Δ = 2, T = 12: n = ⌊(6 − 2) / 2⌋ = 2, tn = 6; updates at 2, 4, 6.
  GradualPruningOptions options{.target_sparsity = 0.8, .start_step = 2, .update_every = 2};
  const PolynomialSparsitySchedule schedule = gradual_schedule(options, PruningRunInfo{.total_steps = 12});
  GradualPruning method(options, schedule);
  optim::Adam optimizer(model.weights, optim::constant_schedule(0.05));
  method.begin(model.weights, optimizer);
  EXPECT_EQ(method.restart_step(), 0);
  std::vector<Tensor> previous = method.masked_weights().masks();
  for (int64_t step = 1; step <= 12; ++step) {
    model.step(method, optimizer, step);
    // The masks hold the schedule's value at the latest update (2, 4 or 6); uniform: each layer
    // rounds its own kept count.
    const int64_t latest_update = std::min<int64_t>(6, step - step % 2);
    const double scheduled = step < 2 ? 0.0 : schedule.value(latest_update);
    EXPECT_EQ(method.sparsity().kept, kept_count(30, scheduled) + kept_count(40, scheduled)) << "step " << step;
    // A weight once pruned stays pruned.
    const std::vector<Tensor> masks = method.masked_weights().masks();
    for (size_t i = 0; i < masks.size(); ++i) EXPECT_EQ(sum(mul(masks[i], sub(ones(masks[i].shape()), previous[i]))).item(), 0.0);
    previous = masks;
  }
  EXPECT_NEAR(schedule.value(4), 0.8 * (1 - 0.125), 1e-12);
  EXPECT_NEAR(method.sparsity().sparsity(), 0.8, 1e-9);
  EXPECT_TRUE(method.target_reached());
}

TEST(GradualPruning, StartsAtTheSecondEpochByDefault) {
  const PolynomialSparsitySchedule schedule =
      gradual_schedule(GradualPruningOptions{}, PruningRunInfo{.total_steps = 100000, .steps_per_epoch = 3000});
  EXPECT_EQ(schedule.start_step, 3001);  // 1-based: the first step after 3000 finished ones
  EXPECT_EQ(schedule.end_step, 3001 + 1000 * 46);  // n = ⌊(50000 − 3001) / 1000⌋
  EXPECT_EQ(schedule.exponent, 3.0);
}

TEST(LotteryPruning, ResetRestoresTheStepZeroWeightsBitForBitUnderTrainedMagnitudeMasks) {
  TinyModel model(5);
  auto bias = std::make_shared<nn::Parameter>("b", nn::ParameterKind::Bias, full({3}, 0.25));
  std::vector<nn::ParameterPtr> trained = model.weights;
  trained.push_back(bias);
  optim::Adam optimizer(trained, optim::constant_schedule(0.05));
  LotteryPruning method(LotteryOptions{.target_sparsity = 0.75}, 4, 2);  // reset before ⌊0.5·4⌋ + 1 = 3
  method.begin(model.weights, optimizer);
  EXPECT_EQ(method.reset_step(), 3);
  EXPECT_EQ(method.restart_step(), 3);
  std::vector<std::vector<float>> initial;
  for (const auto& parameter : trained) initial.push_back(values(parameter->value()));

  for (int64_t step = 1; step <= 2; ++step) {
    method.before_step(step);
    optimizer.zero_grad();
    add(model.loss(), sum(mul(bias->effective(), bias->effective()))).backward();
    optimizer.step();
    method.after_optimizer_step(step);
  }
  EXPECT_NE(values(model.weights[0]->value()), initial[0]);  // training moved the weights
  EXPECT_NE(values(bias->value()), initial[2]);
  const std::vector<Tensor> expected_masks = magnitude_masks(model.weights, 0.75, MaskScope::Blind);

  method.before_step(3);
  for (size_t i = 0; i < model.weights.size(); ++i) {
    const std::vector<float> mask = values(method.masked_weights().masks()[i]);
    EXPECT_EQ(mask, values(expected_masks[i]));
    const std::vector<float> weight = values(model.weights[i]->value());
    for (size_t j = 0; j < mask.size(); ++j) EXPECT_EQ(weight[j], mask[j] ? initial[i][j] : 0.0f) << i << "," << j;
  }
  EXPECT_EQ(values(bias->value()), initial[2]);  // the whole network goes back, not only the weights
  EXPECT_EQ(method.sparsity().kept, 18);           // round(0.25 · 70)

  // The saved initialisation travels in the state, so a resumed run resets to the same values.
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, tensor] : method.state_tensors()) tensors[name] = tensor;
  ASSERT_EQ(tensors.count("b.initial"), 1u);
  EXPECT_EQ(values(tensors.at("w1.initial")), initial[0]);
  EXPECT_EQ(values(tensors.at("b.initial")), initial[2]);
}

TEST(LstmPolicy, TypesOneAndTwoSwitchOnAtTheSecondIterationAndTheSecondEpoch) {
  LstmPolicyPruning type_one(LstmPolicyOptions{.type = LstmPolicyType::I, .target_sparsity = 0.8}, 5);
  EXPECT_EQ(type_one.start_step(), 2);
  EXPECT_EQ(type_one.scheduled_sparsity(1), 0.0);
  EXPECT_FALSE(type_one.updates_masks_at(1));
  for (int64_t step : {2, 3, 50}) {
    EXPECT_EQ(type_one.scheduled_sparsity(step), 0.8);
    EXPECT_TRUE(type_one.updates_masks_at(step));  // every iteration
  }
  LstmPolicyPruning type_two(LstmPolicyOptions{.type = LstmPolicyType::II, .target_sparsity = 0.8}, 5);
  EXPECT_EQ(type_two.start_step(), 6);  // 5 steps per epoch: epoch 2 starts at step 6
  EXPECT_EQ(type_two.scheduled_sparsity(5), 0.0);
  EXPECT_FALSE(type_two.updates_masks_at(5));
  EXPECT_EQ(type_two.scheduled_sparsity(6), 0.8);
  EXPECT_TRUE(type_two.updates_masks_at(6));
}

TEST(LstmPolicy, TypeThreeRisesInEqualStepsUntilTheStopEpoch) {
  // 10 steps per epoch, f = 4, ee = 3: from step 11 to step 21, n = ⌊10 / 4⌋ + 1 = 3 increases
  // (steps 11, 15, 19) of k/3 each.
  LstmPolicyPruning policy(
      LstmPolicyOptions{.type = LstmPolicyType::III, .target_sparsity = 0.9, .increase_every = 4, .stop_epoch = 3, .update_every = 100},
      10);
  EXPECT_EQ(policy.increases(), 3);
  EXPECT_EQ(policy.scheduled_sparsity(10), 0.0);
  EXPECT_NEAR(policy.scheduled_sparsity(11), 0.3, 1e-12);
  EXPECT_NEAR(policy.scheduled_sparsity(14), 0.3, 1e-12);
  EXPECT_NEAR(policy.scheduled_sparsity(15), 0.6, 1e-12);
  EXPECT_NEAR(policy.scheduled_sparsity(19), 0.9, 1e-12);
  EXPECT_NEAR(policy.scheduled_sparsity(1000), 0.9, 1e-12);
  // Masks follow every increase even when the periodic update is sparse.
  for (int64_t step : {11, 15, 19, 111}) EXPECT_TRUE(policy.updates_masks_at(step)) << step;
  for (int64_t step : {10, 12, 23, 110}) EXPECT_FALSE(policy.updates_masks_at(step)) << step;
}

TEST(LstmPolicy, TypeOnePrunesFromStepTwoThroughTheHooks) {
  TinyModel model(7);
  LstmPolicyPruning method(LstmPolicyOptions{.type = LstmPolicyType::I, .target_sparsity = 0.7}, 3);
  optim::Adam optimizer(model.weights, optim::constant_schedule(0.05));
  method.begin(model.weights, optimizer);
  model.step(method, optimizer, 1);
  EXPECT_EQ(method.sparsity().kept, 70);
  for (int64_t step = 2; step <= 4; ++step) {
    model.step(method, optimizer, step);
    EXPECT_EQ(method.sparsity().kept, kept_count(30, 0.7) + kept_count(40, 0.7)) << step;  // uniform: 9 + 12
  }
  EXPECT_TRUE(method.target_reached());  // 21 of 70 kept: exactly 0.7
}

TEST(IterativePruning, RoundsFallEvenlyAfterTheDensePhaseWithGeometricSparsity) {
  // T = 100, dense 0.25, 3 rounds: before steps 26, 51, 76; sparsity 1 − 0.1^(r/3).
  IterativePruning method(IterativePruningOptions{.target_sparsity = 0.9, .rounds = 3}, 100);
  EXPECT_EQ(method.round_step(1), 26);
  EXPECT_EQ(method.round_step(2), 51);
  EXPECT_EQ(method.round_step(3), 76);
  EXPECT_EQ(method.scheduled_sparsity(25), 0.0);
  EXPECT_NEAR(method.scheduled_sparsity(26), 1 - std::pow(0.1, 1.0 / 3), 1e-12);
  EXPECT_NEAR(method.scheduled_sparsity(75), 1 - std::pow(0.1, 2.0 / 3), 1e-12);
  EXPECT_NEAR(method.scheduled_sparsity(76), 0.9, 1e-12);
  EXPECT_NEAR(method.scheduled_sparsity(100), 0.9, 1e-12);
  for (int64_t step : {26, 51, 76}) EXPECT_TRUE(method.updates_masks_at(step));
  for (int64_t step : {1, 25, 27, 100}) EXPECT_FALSE(method.updates_masks_at(step));
}

TEST(IterativePruning, EachRoundPrunesFurtherAndPrunedWeightsStayPruned) {
  TinyModel model(9);
  // T = 8, dense 0.25, 2 rounds: before steps 3 and 6; sparsity 1 − √0.2 ≈ 0.553, then 0.8.
  IterativePruning method(IterativePruningOptions{.target_sparsity = 0.8, .rounds = 2, .scope = MaskScope::Blind}, 8);
  optim::Adam optimizer(model.weights, optim::constant_schedule(0.05));
  method.begin(model.weights, optimizer);
  std::vector<Tensor> after_first;
  for (int64_t step = 1; step <= 8; ++step) {
    model.step(method, optimizer, step);
    const int64_t expected_kept = step < 3 ? 70 : step < 6 ? kept_count(70, 1 - std::sqrt(0.2)) : kept_count(70, 0.8);
    EXPECT_EQ(method.sparsity().kept, expected_kept) << step;
    if (step == 3) after_first = method.masked_weights().masks();
  }
  const std::vector<Tensor> final_masks = method.masked_weights().masks();
  for (size_t i = 0; i < final_masks.size(); ++i)  // kept at the end ⊆ kept after round 1
    EXPECT_EQ(sum(mul(final_masks[i], sub(ones(final_masks[i].shape()), after_first[i]))).item(), 0.0);
  EXPECT_TRUE(method.target_reached());
}

TEST(LstmPolicy, TypeFourRaisesItsThresholdLinearlyAtItsUpdates) {
  // si = 3, ei = 11, f = 4, s = 0.1: updates at 3, 7, 11 with ε = 0.1 · (t − 2) / 4.
  const ThresholdPolicySchedule schedule{.start_step = 3, .end_step = 11, .update_every = 4, .slope = 0.1};
  EXPECT_EQ(schedule.threshold(2), 0.0);
  EXPECT_NEAR(schedule.threshold(3), 0.025, 1e-15);
  EXPECT_NEAR(schedule.threshold(7), 0.125, 1e-15);
  EXPECT_NEAR(schedule.threshold(10), 0.125, 1e-15);  // in effect since step 7
  EXPECT_NEAR(schedule.threshold(11), 0.225, 1e-15);
  EXPECT_NEAR(schedule.threshold(40), 0.225, 1e-15);  // no update after ei
  for (int64_t step : {3, 7, 11}) EXPECT_TRUE(schedule.is_update_step(step)) << step;
  for (int64_t step : {1, 2, 4, 10, 15}) EXPECT_FALSE(schedule.is_update_step(step)) << step;

  auto weight = std::make_shared<nn::Parameter>(
      "w", nn::ParameterKind::Weight, from_vector<float>({0.01f, -0.02f, 0.1f, -0.2f, 0.3f, 0.05f}, {6}));
  ThresholdPolicyPruning method(schedule);
  method.attach({weight});
  const std::map<int64_t, std::vector<float>> expected = {{2, {1, 1, 1, 1, 1, 1}},
                                                          {3, {0, 0, 1, 1, 1, 1}},   // |w| > 0.025
                                                          {6, {0, 0, 1, 1, 1, 1}},
                                                          {7, {0, 0, 0, 1, 1, 0}},   // |w| > 0.125
                                                          {11, {0, 0, 0, 0, 1, 0}},  // |w| > 0.225
                                                          {20, {0, 0, 0, 0, 1, 0}}};
  for (int64_t step = 1; step <= 20; ++step) {
    method.before_step(step);
    if (expected.count(step)) {
      EXPECT_EQ(values(method.masked_weights().masks()[0]), expected.at(step)) << step;
    }
  }
  EXPECT_EQ(values(weight->value()), (std::vector<float>{0, 0, 0, 0, 0.3f, 0}));
  EXPECT_FALSE(method.target_sparsity().has_value());
  EXPECT_TRUE(method.target_reached());
  EXPECT_NEAR(method.statistics_record(20, 1.0)["threshold"].get<double>(), 0.225, 1e-15);
}

TEST(LstmPolicy, TypeFourComesFromTheRegistryWithItsFourHyperParameters) {
  const nlohmann::json section = {{"method", "lstm_policy"}, {"type", "IV"}, {"slope", 0.01},
                                  {"start_iteration", 5}, {"update_every", 10}};
  const nlohmann::json resolved = resolve_pruning_config(section);
  EXPECT_EQ(resolved["slope"], 0.01);
  EXPECT_TRUE(resolved["end_iteration"].is_null());
  const auto method = make_pruning_method(section, PruningRunInfo{.total_steps = 100});
  const auto& policy = dynamic_cast<const ThresholdPolicyPruning&>(*method);
  EXPECT_EQ(policy.schedule().start_step, 5);
  EXPECT_EQ(policy.schedule().end_step, 50);  // half of the run by default
  EXPECT_EQ(policy.schedule().update_every, 10);
}

TEST(LotteryPruning, TheGradualVariantKeepsTheMasksOfItsGradualFirstPhase) {
  TinyModel model(6);
  // T = 16, reset before step 9; first phase 8 steps, 2 per epoch: t0 = 3, Δ = 1, tn = 3 + ⌊(4 − 3) / 1⌋ = 4.
  LotteryPruning method(LotteryOptions{.target_sparsity = 0.8, .masks_from = LotteryMaskSource::Gradual, .update_every = 1},
                        16, 2);
  optim::Adam optimizer(model.weights, optim::constant_schedule(0.05));
  method.begin(model.weights, optimizer);
  std::vector<std::vector<float>> initial;
  for (const auto& weight : model.weights) initial.push_back(values(weight->value()));
  EXPECT_EQ(method.reset_step(), 9);
  for (int64_t step = 1; step <= 8; ++step) {
    model.step(method, optimizer, step);
    const int64_t expected_kept = step < 4 ? 70 : kept_count(70, 0.8);  // blind: one count over both weights
    EXPECT_EQ(method.sparsity().kept, expected_kept) << step;
  }
  EXPECT_NEAR(method.scheduled_sparsity(3), 0.0, 1e-12);
  const std::vector<Tensor> gradual_masks = method.masked_weights().masks();
  method.before_step(9);
  for (size_t i = 0; i < gradual_masks.size(); ++i) {
    const std::vector<float> mask = values(gradual_masks[i]), weight = values(model.weights[i]->value());
    EXPECT_EQ(values(method.masked_weights().masks()[i]), mask);
    for (size_t j = 0; j < mask.size(); ++j) EXPECT_EQ(weight[j], mask[j] ? initial[i][j] : 0.0f);
  }
}

TEST(MaskMethodConfig, ResolvesDefaultsAndNamesTheOffendingKey) {
  const nlohmann::json hard = resolve_pruning_config({{"method", "hard"}, {"scope", "distribution"}});
  EXPECT_EQ(hard["scope"], "distribution");
  EXPECT_EQ(hard["prune_fraction"], 0.75);
  EXPECT_EQ(hard["tolerance"], 0.001);
  const nlohmann::json gradual = resolve_pruning_config({{"method", "gradual"}});
  EXPECT_EQ(gradual["scope"], "uniform");
  EXPECT_EQ(gradual["exponent"], 3.0);
  EXPECT_TRUE(gradual["start_step"].is_null());

  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {{{"method", "hard"}, {"scop", "blind"}}, "pruning.scop"},
      {{{"method", "hard"}, {"scope", "global"}}, "pruning.scope"},
      {{{"method", "hard"}, {"target_sparsity", 1.0}}, "pruning.target_sparsity"},
      {{{"method", "hard"}, {"prune_fraction", 1.0}}, "pruning.prune_fraction"},
      {{{"method", "hard"}, {"tolerance", -0.1}}, "pruning.tolerance"},
      {{{"method", "gradual"}, {"exponent", 0.0}}, "pruning.exponent"},
      {{{"method", "gradual"}, {"update_every", 0}}, "pruning.update_every"},
      {{{"method", "gradual"}, {"start_step", 0}}, "pruning.start_step"},
      {{{"method", "gradual"}, {"end_fraction", 1.5}}, "pruning.end_fraction"},
      {{{"method", "gradual"}, {"initial_sparsity", 0.95}}, "pruning.initial_sparsity"},
      {{{"method", "gradual"}, {"update_every", 2.5}}, "pruning.update_every"},
      {{{"method", "lottery"}, {"reset_fraction", 0.0}}, "pruning.reset_fraction"},
      {{{"method", "lottery"}, {"reset", 0.5}}, "pruning.reset"},
      {{{"method", "lottery"}, {"scope", "x"}}, "pruning.scope"},
      {{{"method", "lottery"}, {"masks_from", "snip"}}, "pruning.masks_from"},
      {{{"method", "lottery"}, {"update_every", 0}}, "pruning.update_every"},
      {{{"method", "lstm_policy"}, {"type", "V"}}, "pruning.type"},
      {{{"method", "lstm_policy"}, {"type", "IV"}}, "pruning.slope"},
      {{{"method", "lstm_policy"}, {"type", "IV"}, {"slope", -1.0}}, "pruning.slope"},
      {{{"method", "lstm_policy"}, {"type", "IV"}, {"slope", 1.0}, {"start_iteration", 9}, {"end_iteration", 3}},
       "pruning.end_iteration"},
      {{{"method", "iterative"}, {"rounds", 0}}, "pruning.rounds"},
      {{{"method", "iterative"}, {"dense_fraction", 1.0}}, "pruning.dense_fraction"},
      {{{"method", "iterative"}, {"round", 2}}, "pruning.round"},
      {{{"method", "lstm_policy"}, {"stop_epoch", 1}}, "pruning.stop_epoch"},
      {{{"method", "lstm_policy"}, {"increase_every", 0}}, "pruning.increase_every"},
      {{{"method", "lstm_policy"}, {"update_every", -1}}, "pruning.update_every"},
  };
  for (const auto& [section, key] : bad) {
    // Captured through a reference: clang 14 (the sanitizer build) cannot capture a structured binding.
    const nlohmann::json& config = section;
    const std::string message = error_of([&] { resolve_pruning_config(config); });
    EXPECT_NE(message.find(key), std::string::npos) << section.dump() << " -> \"" << message << "\"";
  }
}

}  // namespace
}  // namespace sparsecap::pruning
