// The mask methods (hard, gradual, snip, lottery, lstm_policy I-IV, iterative) through the real Trainer on a tiny synthetic set: they reach
// their target sparsity to ±0.1 pp at the end, log the schedule and per-layer sparsity in every
// record, hard restarts the learning-rate schedule at its pruning step, and the trained run loads
// back with the masks baked in.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "pruning/snip.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "train/trainer.h"
#include "tests/train/tiny_shapes_set.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;

class MaskMethodTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sparsecap_mask_methods_" + std::to_string(::getpid()));
    write_tiny_shapes_set(root_ / "shapes", 4);
  }
  void TearDown() override { fs::remove_all(root_); }

  RunConfig config(const nlohmann::json& pruning) const {
    RunConfig config = tiny_soft_attention_config(root_ / "shapes");
    config.pruning = pruning;
    config.optim.max_steps = 8;
    config.schedule.log_every = 1;
    config.schedule.validate_every = 8;
    config.schedule.validation_images = 4;
    config.schedule.checkpoint_every = 8;
    return config;
  }

  // The step records of the run's log, by step.
  static std::map<int64_t, nlohmann::json> step_records(const fs::path& run_dir) {
    std::map<int64_t, nlohmann::json> records;
    std::ifstream in(RunDirectory{run_dir}.log());
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json record = nlohmann::json::parse(line);
      if (record.contains("caption_loss")) records[record["step"].get<int64_t>()] = record;
    }
    return records;
  }

  fs::path root_;
};

TEST_F(MaskMethodTraining, HardPrunesOnceRestartsTheScheduleAndReachesItsTarget) {
  // T = 8, prune_fraction 0.5: dense steps 1-4, pruned before step 5, fine-tuned 5-8.
  const RunConfig run = config({{"method", "hard"}, {"target_sparsity", 0.8}, {"scope", "blind"}, {"prune_fraction", 0.5}});
  const fs::path run_dir = root_ / "hard";
  const TrainSummary summary = train_captioner(run, TrainOptions{run_dir});
  EXPECT_NEAR(summary.sparsity, 0.8, 1e-3);

  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  const double lr = run.optim.learning_rate, floor = run.optim.learning_rate_floor;
  auto cosine = [&](int64_t step, int64_t span) {
    return floor + (lr - floor) * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(step - 1) / span));
  };
  for (int64_t step = 1; step <= 8; ++step) {
    const nlohmann::json& record = records.at(step);
    EXPECT_EQ(record["scheduled_sparsity"].get<double>(), step < 5 ? 0.0 : 0.8) << step;
    EXPECT_NEAR(record["sparsity"].get<double>(), step < 5 ? 0.0 : 0.8, 1e-3) << step;
    EXPECT_TRUE(record["per_mask_sparsity"].is_object());
    EXPECT_GT(record["nnz"].get<int64_t>(), 0);
    // One cosine over the dense steps 1-4, a fresh one over 5-8.
    EXPECT_NEAR(record["learning_rate"].get<double>(), step < 5 ? cosine(step, 4) : cosine(step - 4, 4), 1e-12) << step;
  }

  const TrainedRun trained = load_trained_run(run_dir);
  EXPECT_TRUE(trained.pruned);
  EXPECT_NEAR(trained.sparsity.sparsity(), 0.8, 1e-3);
  for (const nn::ParameterPtr& weight : trained.model->prunable_parameters()) EXPECT_FALSE(weight->has_transform());
}

TEST_F(MaskMethodTraining, GradualFollowsTheCubicScheduleToItsTarget) {
  // T = 8, t0 = 2, Δ = 2, end_fraction 0.75: tn = 2 + 2·⌊(6 − 2) / 2⌋ = 6; updates at 2, 4, 6.
  const RunConfig run = config({{"method", "gradual"},
                                {"target_sparsity", 0.9},
                                {"start_step", 2},
                                {"update_every", 2},
                                {"end_fraction", 0.75}});
  const fs::path run_dir = root_ / "gradual";
  const TrainSummary summary = train_captioner(run, TrainOptions{run_dir});
  EXPECT_NEAR(summary.sparsity, 0.9, 1e-3);
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  const std::map<int64_t, double> expected = {{1, 0.0}, {2, 0.0}, {3, 0.0}, {4, 0.9 * (1 - 0.125)},
                                              {5, 0.9 * (1 - 0.125)}, {6, 0.9}, {7, 0.9}, {8, 0.9}};
  for (const auto& [step, sparsity] : expected) EXPECT_NEAR(records.at(step)["sparsity"].get<double>(), sparsity, 1e-3) << step;
  EXPECT_NEAR(records.at(3)["scheduled_sparsity"].get<double>(), 0.9 * (1 - 0.75 * 0.75 * 0.75), 1e-12);  // p = 1/4
  const TrainedRun trained = load_trained_run(run_dir);
  EXPECT_NEAR(trained.sparsity.sparsity(), 0.9, 1e-3);
}

TEST_F(MaskMethodTraining, SnipPrunesBeforeTheFirstStepFromTheInitialGradients) {
  const RunConfig run = config({{"method", "snip"}, {"target_sparsity", 0.9}, {"batches", 2}});
  const fs::path run_dir = root_ / "snip";
  Trainer trainer(run, TrainOptions{run_dir});
  const TrainSummary summary = trainer.run();
  EXPECT_NEAR(summary.sparsity, 0.9, 1e-3);
  const auto& snip = dynamic_cast<const pruning::SnipPruning&>(trainer.method());
  EXPECT_EQ(snip.observed_batches(), 2);
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  for (const auto& [step, record] : records) EXPECT_NEAR(record["sparsity"].get<double>(), 0.9, 1e-3) << step;
  EXPECT_NEAR(load_trained_run(run_dir).sparsity.sparsity(), 0.9, 1e-3);
}

// Stepping the trainer by hand (sparsecap profile does) observes the initial gradients too.
TEST_F(MaskMethodTraining, SnipObservesItsBatchesBeforeTheFirstHandMadeStep) {
  const RunConfig run = config({{"method", "snip"}, {"target_sparsity", 0.9}, {"batches", 2}});
  Trainer trainer(run, TrainOptions{root_ / "snip_by_hand"});
  data::CaptionBatchLoader loader(trainer.run_data().dataset, trainer.run_data().vocabulary,
                                  batch_options(trainer.config().data, trainer.model().input_kinds(),
                                                data::Split::Train, trainer.config().optim.seed, true));
  loader.start_epoch(0);
  const DeviceBatch batch = device_batch(*loader.next_batch(), trainer.device().device);
  trainer.step(batch);
  trainer.step(batch);  // a batch on the device may be stepped on again
  EXPECT_EQ(dynamic_cast<const pruning::SnipPruning&>(trainer.method()).observed_batches(), 2);
  EXPECT_EQ(trainer.position().step, 2);
  EXPECT_NEAR(trainer.method().sparsity().sparsity(), 0.9, 1e-3);
}

TEST_F(MaskMethodTraining, LotteryRetrainsTheTicketFromTheInitialisation) {
  // T = 8, reset_fraction 0.5: dense steps 1-4, masks and reset before step 5, retrained 5-8.
  const RunConfig run = config({{"method", "lottery"}, {"target_sparsity", 0.8}, {"reset_fraction", 0.5}});
  const fs::path run_dir = root_ / "lottery";
  const TrainSummary summary = train_captioner(run, TrainOptions{run_dir});
  EXPECT_NEAR(summary.sparsity, 0.8, 1e-3);
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  for (const auto& [step, record] : records) {
    EXPECT_NEAR(record["sparsity"].get<double>(), step < 5 ? 0.0 : 0.8, 1e-3) << step;
    if (step == 1 || step == 5) {
      EXPECT_NEAR(record["learning_rate"].get<double>(), run.optim.learning_rate, 1e-12);
    }
  }
  EXPECT_NEAR(load_trained_run(run_dir).sparsity.sparsity(), 0.8, 1e-3);
}

TEST_F(MaskMethodTraining, LstmPolicyTypeTwoSwitchesOnWithTheSecondEpoch) {
  const RunConfig run = config({{"method", "lstm_policy"}, {"type", "II"}, {"target_sparsity", 0.8}});
  const fs::path run_dir = root_ / "lstm_policy";
  const TrainSummary summary = train_captioner(run, TrainOptions{run_dir});
  EXPECT_NEAR(summary.sparsity, 0.8, 1e-3);
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  bool saw_first_epoch = false, saw_second_epoch = false;
  for (const auto& [step, record] : records) {
    const bool first_epoch = record["epoch"].get<int64_t>() == 0;
    saw_first_epoch |= first_epoch;
    saw_second_epoch |= !first_epoch;
    EXPECT_NEAR(record["sparsity"].get<double>(), first_epoch ? 0.0 : 0.8, 1e-3) << step;
  }
  EXPECT_TRUE(saw_first_epoch && saw_second_epoch);  // the run spans the switch
}

TEST_F(MaskMethodTraining, IterativeReachesItsTargetInRounds) {
  // T = 8, dense 0.25, 2 rounds: before steps 3 and 6.
  const RunConfig run = config({{"method", "iterative"}, {"target_sparsity", 0.9}, {"rounds", 2}});
  const fs::path run_dir = root_ / "iterative";
  const TrainSummary summary = train_captioner(run, TrainOptions{run_dir});
  EXPECT_NEAR(summary.sparsity, 0.9, 1e-3);
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  for (const auto& [step, record] : records)
    EXPECT_NEAR(record["sparsity"].get<double>(), step < 3 ? 0.0 : step < 6 ? 1 - std::sqrt(0.1) : 0.9, 1e-3) << step;
}

TEST_F(MaskMethodTraining, LstmPolicyTypeFourPrunesBelowItsRisingThreshold) {
  // si = 2, ei = 6, f = 2, s = 0.02: ε = 0.01 · (t − 1) at steps 2, 4, 6 (0.01, 0.03, 0.05).
  const RunConfig run = config({{"method", "lstm_policy"}, {"type", "IV"}, {"slope", 0.02}, {"start_iteration", 2},
                                {"end_iteration", 6}, {"update_every", 2}});
  const fs::path run_dir = root_ / "type_four";
  Trainer trainer(run, TrainOptions{run_dir});
  const TrainSummary summary = trainer.run();
  const auto records = step_records(run_dir);
  ASSERT_EQ(records.size(), 8u);
  const std::map<int64_t, double> thresholds = {{1, 0.0}, {2, 0.01}, {3, 0.01}, {4, 0.03}, {6, 0.05}, {8, 0.05}};
  for (const auto& [step, threshold] : thresholds)
    EXPECT_NEAR(records.at(step)["threshold"].get<double>(), threshold, 1e-12) << step;
  EXPECT_EQ(records.at(1)["sparsity"].get<double>(), 0.0);
  for (int64_t step = 2; step < 8; ++step)  // masks only shrink
    EXPECT_LE(records.at(step)["sparsity"].get<double>(), records.at(step + 1)["sparsity"].get<double>()) << step;
  EXPECT_GT(summary.sparsity, 0.0);
  // Every weight left after the last update was above its threshold then; no pruned weight moved.
  const pruning::SparsityReport trained = load_trained_run(run_dir).sparsity;
  EXPECT_EQ(trained.kept, records.at(8)["nnz"].get<int64_t>());
}

// Each method's masks, saved initialisation and restarted optimizer state resume exactly: a run
// stopped before its pruning step and resumed gives the caption losses of an uninterrupted one,
// bit for bit.
TEST_F(MaskMethodTraining, RunsStoppedAroundThePruningStepResumeBitForBit) {
  const std::vector<std::pair<nlohmann::json, int64_t>> cases = {
      {{{"method", "lottery"}, {"target_sparsity", 0.8}, {"reset_fraction", 0.5}}, 3},  // resets at 5
      {{{"method", "lottery"}, {"target_sparsity", 0.8}, {"reset_fraction", 0.5}}, 6},  // after the reset
      {{{"method", "gradual"}, {"target_sparsity", 0.9}, {"start_step", 2}, {"update_every", 2}, {"end_fraction", 0.75}}, 3},
      {{{"method", "snip"}, {"target_sparsity", 0.9}}, 2},
  };
  for (const auto& [pruning, stop] : cases) {
    const RunConfig run = config(pruning);
    const fs::path whole = root_ / "whole", pieces = root_ / "pieces";
    train_captioner(run, TrainOptions{whole});
    TrainOptions first_piece{pieces};
    first_piece.stop_at_step = stop;
    EXPECT_TRUE(train_captioner(run, first_piece).interrupted);
    train_captioner(run, TrainOptions{pieces, true});
    const auto a = step_records(whole), b = step_records(pieces);
    ASSERT_EQ(a.size(), 8u);
    ASSERT_EQ(b.size(), 8u);
    for (int64_t step = 1; step <= 8; ++step) {
      EXPECT_EQ(a.at(step)["caption_loss"].get<double>(), b.at(step)["caption_loss"].get<double>())
          << pruning.dump() << " step " << step;
      EXPECT_EQ(a.at(step)["nnz"], b.at(step)["nnz"]) << pruning.dump() << " step " << step;
    }
    fs::remove_all(whole);
    fs::remove_all(pieces);
  }
}

}  // namespace
}  // namespace sparsecap::train
