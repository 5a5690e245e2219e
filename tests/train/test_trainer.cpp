// The training loop end to end on a tiny synthetic set: the loss falls and every output file
// exists and parses; a run trained in two pieces (stop, resume) matches an uninterrupted run bit
// for bit; a diverging run stops with a clear error and keeps its last good checkpoint.
#include <gtest/gtest.h>

#include <cmath>

#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <filesystem>
#include <fstream>

#include "engine/serialize/checkpoint.h"
#include "engine/serialize/safetensors.h"
#include "train/evaluation.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "models/soft_attention.h"
#include "train/gate_report.h"
#include "train/tensorboard_writer.h"
#include "train/device_choice.h"
#include "train/trainer.h"
#include "train/frozen_feature_cache.h"
#include "tests/train/tiny_shapes_set.h"

namespace sparsecap::train {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("sparsecap_trainer_test_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    write_tiny_shapes_set(root_ / "shapes", 3, 60);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A small model and run that trains in seconds.
  static RunConfig tiny_config(int64_t steps) {
    RunConfig config;
    config.data.dir = root_ / "shapes";
    config.data.image_size = 32;
    config.data.images_per_batch = 8;
    config.data.seq_per_img = 2;
    config.data.min_word_count = 1;
    config.model = {{"type", "soft_attention"},
                    {"encoder", {{"width_multiplier", 0.25}, {"blocks", {{32, 2}, {64, 2}}}}},
                    {"decoder", {{"hidden_size", 32}, {"embedding_size", 16}, {"attention_size", 16}}},
                    {"decoding", {{"max_words", 12}}}};
    config.optim.max_steps = steps;
    config.optim.learning_rate = 5e-3;
    config.schedule.log_every = 1;
    config.schedule.validate_every = steps;
    config.schedule.validation_images = 8;
    config.schedule.checkpoint_every = 5;
    return config;
  }

  // The state of a freshly initialised encoder of `config`'s model, as a pre-trained encoder file
  // holds it (init.encoder_weights).
  static NamedTensors random_encoder_state(const RunConfig& config, uint64_t seed) {
    Generator generator(seed);
    models::SoftAttentionConfig model_config;
    models::from_json(config.model.at("encoder"), model_config.encoder);
    model_config.decoder.vocabulary_size = 40;
    models::SoftAttentionCaptioner source(model_config, generator);
    NamedTensors state;
    for (const auto& [name, tensor] : source.encoder().state_dict()) state.emplace_back(name, tensor);
    return state;
  }

  static std::vector<nlohmann::json> read_log(const fs::path& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> records;
    std::string line;
    while (std::getline(in, line)) records.push_back(nlohmann::json::parse(line));
    return records;
  }

  static std::vector<double> step_losses(const fs::path& log) {
    std::vector<double> losses;
    for (const auto& record : read_log(log))
      if (record.contains("caption_loss")) losses.push_back(record["caption_loss"].get<double>());
    return losses;
  }

  static fs::path root_;
};

fs::path TrainerTest::root_;

TEST_F(TrainerTest, TrainsEvaluatesAndWritesEveryFile) {
  const fs::path run_dir = root_ / "e2e";
  RunConfig config = tiny_config(150);
  config.optim.learning_rate = 2e-2;
  const TrainSummary summary = train_captioner(config, TrainOptions{run_dir});
  EXPECT_FALSE(summary.interrupted);
  EXPECT_EQ(summary.steps, 150);
  EXPECT_GT(summary.images_per_second, 0);
  const RunDirectory run{run_dir};
  for (const fs::path& file : {run.config(), run.vocabulary(), run.log(), run.last_checkpoint(), run.final_checkpoint()})
    EXPECT_TRUE(fs::exists(file)) << file;
  const std::vector<double> losses = step_losses(run.log());
  ASSERT_EQ(losses.size(), 150u);
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[147] + losses[148] + losses[149]) / 3;
  EXPECT_LT(last, 0.85 * first) << "first " << first << " last " << last;
  // The config on disk parses back to the run's config.
  EXPECT_EQ(load_run_config(run.config()).optim.max_steps, 150);
  // Evaluation of the trained run, as `sparsecap eval` does it.
  TrainedRun trained = load_trained_run(run_dir);
  const SplitCaptions captions = caption_split(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                               trained.config.data, data::Split::Test, 4, 2, 12);
  ASSERT_EQ(captions.image_ids.size(), 4u);
  const SplitEvaluation evaluation = evaluate_captions(captions, trained.data.dataset, trained.data.vocabulary.size());
  const nlohmann::json scores = evaluation_to_json(evaluation);
  EXPECT_TRUE(scores["corpus"].contains("CIDEr_D"));
  EXPECT_EQ(scores["caption_statistics"]["captions"].get<int>(), 4);
}

// A batch pads its images to the largest region count; a padded region embeds to an all-zero row
// (att_embed's bias starts at zero), whose layer norm has std 0. The relation transformer trains
// through it under the Noam schedule: composed through sqrt, that row's backward was 0 * inf and
// the loss NaN from step 2.
TEST_F(TrainerTest, RelationTransformerTrainsThroughPaddedRegionsWithTheNoamSchedule) {
  const fs::path run_dir = root_ / "relation_transformer";
  RunConfig config = tiny_config(8);
  config.model = {{"type", "relation_transformer"}, {"feature_size", 16}, {"model_size", 16},
                  {"feed_forward_size", 32},        {"encoder_layers", 1}, {"decoder_layers", 1},
                  {"heads", 2},                     {"decoding", {{"max_words", 12}}}};
  config.optim.schedule = "noam";
  config.optim.warmup_steps = 4;
  config.optim.noam_factor = 0.5;
  const TrainSummary summary = train_captioner(config, TrainOptions{run_dir});
  EXPECT_EQ(summary.steps, 8);
  const std::vector<nlohmann::json> records = read_log(RunDirectory{run_dir}.log());
  std::vector<double> rates;
  for (const auto& record : records)
    if (record.contains("caption_loss")) {
      EXPECT_TRUE(std::isfinite(record["caption_loss"].get<double>())) << record.dump();
      rates.push_back(record["learning_rate"].get<double>());
    }
  ASSERT_EQ(rates.size(), 8u);
  // 0.5 / sqrt(16) * min(t^-0.5, t 4^-1.5): up to 0.0625 at step 4, then down as 1/sqrt(t).
  EXPECT_NEAR(rates[0], 0.125 / 8, 1e-12);
  EXPECT_NEAR(rates[3], 0.0625, 1e-12);
  EXPECT_NEAR(rates[7], 0.125 / std::sqrt(8.0), 1e-12);
}

TEST_F(TrainerTest, ResumedRunIsBitIdenticalToAnUninterruptedOne) {
  RunConfig config = tiny_config(16);
  // The gates, their optimizer state and draws resume too.
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}};
  const fs::path whole = root_ / "whole", pieces = root_ / "pieces";
  train_captioner(config, TrainOptions{whole});
  TrainOptions first_piece{pieces};
  first_piece.stop_at_step = 7;  // mid-epoch (7 training images per batch of 8... 6 batches an epoch)
  EXPECT_TRUE(train_captioner(config, first_piece).interrupted);
  EXPECT_FALSE(train_captioner(config, TrainOptions{pieces, true}).interrupted);
  const std::vector<double> a = step_losses(RunDirectory{whole}.log()), b = step_losses(RunDirectory{pieces}.log());
  ASSERT_EQ(a.size(), 16u);
  ASSERT_EQ(b.size(), 16u);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double)));
}

TEST_F(TrainerTest, ResumeDropsLogRecordsWrittenAfterTheCheckpoint) {
  // A session killed after its last checkpoint leaves records of later steps (and maybe a torn
  // line) in log.jsonl; the resumed run writes those steps again, so they must go first.
  const RunConfig config = tiny_config(10);
  const fs::path whole = root_ / "log_whole", pieces = root_ / "log_pieces";
  train_captioner(config, TrainOptions{whole});
  TrainOptions first_piece{pieces};
  first_piece.stop_at_step = 6;  // checkpoint at step 6
  EXPECT_TRUE(train_captioner(config, first_piece).interrupted);
  {
    std::ofstream log(RunDirectory{pieces}.log(), std::ios::app);
    log << R"({"step": 7, "caption_loss": 99.0})" << '\n' << R"({"step": 8, "caption_lo)";  // then the kill
  }
  EXPECT_FALSE(train_captioner(config, TrainOptions{pieces, true}).interrupted);
  std::vector<int64_t> steps;
  for (const auto& record : read_log(RunDirectory{pieces}.log()))
    if (record.contains("caption_loss")) steps.push_back(record["caption_loss"].get<double>() == 99.0 ? -1 : record["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  const std::vector<double> a = step_losses(RunDirectory{whole}.log()), b = step_losses(RunDirectory{pieces}.log());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(double)));
}

TEST(TensorBoardWriter, Crc32cOfTheStandardCheckString) {
  const std::string check = "123456789";
  EXPECT_EQ(crc32c(check.data(), check.size()), 0xE3069283u);  // the CRC-32C catalogue's check value
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c(check.data(), check.size()), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

// The scalars and histogram steps TensorBoard's own reader finds in `run_dir`, or nullopt when
// the tensorboard package cannot be had (the script installs it from PyPI when it can).
std::optional<nlohmann::json> read_with_tensorboard(const fs::path& run_dir) {
  const fs::path output = run_dir / "tensorboard_read.json";
  const std::string command = std::string("python3 ") + SPARSECAP_SOURCE_DIR + "/tests/train/read_tensorboard_events.py " +
                              run_dir.string() + " " + SPARSECAP_BINARY_DIR + "/python-packages > " + output.string();
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return std::nullopt;
  EXPECT_EQ(status, 0) << command;
  std::ifstream in(output);
  return nlohmann::json::parse(in);
}

TEST_F(TrainerTest, TensorBoardEventsMatchTheLogAcrossAKilledAndResumedRun) {
  RunConfig config = tiny_config(10);
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}};
  config.schedule.histogram_every = 5;
  const fs::path run_dir = root_ / "tensorboard";
  const RunDirectory run{run_dir};
  TrainOptions options{run_dir};
  options.stop_at_step = 6;
  train_captioner(config, options);
  const fs::path step6 = root_ / "tensorboard_step6.safetensors";
  fs::copy_file(run.last_checkpoint(), step6);
  // A session that gets to step 9 and is killed before its next checkpoint, mid-write: the last
  // checkpoint is step 6's, events and records of steps 7-9 are on disk, and a torn record follows.
  options.resume = true;
  options.stop_at_step = 9;
  train_captioner(config, options);
  fs::copy_file(step6, run.last_checkpoint(), fs::copy_options::overwrite_existing);
  const std::vector<fs::path> event_files = tensorboard_event_files(run_dir);
  ASSERT_EQ(event_files.size(), 1u);
  {
    std::ofstream torn(event_files[0], std::ios::binary | std::ios::app);
    torn << std::string("\x30\x00\x00\x00\x00\x00\x00\x00\x11\x22", 10);
  }
  options.stop_at_step = 0;
  EXPECT_FALSE(train_captioner(config, options).interrupted);

  const std::optional<nlohmann::json> read = read_with_tensorboard(run_dir);
  if (!read) GTEST_SKIP() << "the tensorboard Python package is not installed and could not be installed";
  // Every numeric field of every JSONL record, at its step, once.
  std::map<std::string, std::vector<std::pair<int64_t, float>>> expected;
  for (const auto& record : read_log(run.log()))
    for (const auto& [key, value] : record.items()) {
      if (key == "step") continue;
      if (value.is_number())
        expected[key].emplace_back(record["step"].get<int64_t>(), value.get<float>());
      else if (value.is_object())
        for (const auto& [name, number] : value.items())
          expected[key + "/" + name].emplace_back(record["step"].get<int64_t>(), number.get<float>());
    }
  ASSERT_TRUE(expected.contains("caption_loss"));
  EXPECT_EQ(expected["caption_loss"].size(), 10u);
  ASSERT_EQ((*read)["scalars"].size(), expected.size());
  for (const auto& [tag, points] : expected) {
    const nlohmann::json& found = (*read)["scalars"][tag];
    ASSERT_EQ(found.size(), points.size()) << tag;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(found[i][0].get<int64_t>(), points[i].first) << tag;
      EXPECT_EQ(found[i][1].get<float>(), points[i].second) << tag << " at step " << points[i].first;
    }
  }
  // Histograms of every weight and gate at steps 5 and 10.
  EXPECT_EQ((*read)["histograms"]["weights/decoder.logit.weight"], nlohmann::json({5, 10}));
  EXPECT_EQ((*read)["histograms"]["gate_logits/decoder.logit.weight"], nlohmann::json({5, 10}));
  // A corrupted final record (a writer killed mid-record, no resume after it) is skipped by
  // TensorBoard's reader, not fatal.
  {
    std::ofstream torn(event_files[0], std::ios::binary | std::ios::app);
    torn << std::string("\x30\x00\x00\x00\x00\x00\x00\x00\x11\x22\x33\x44\x55", 13);
  }
  const std::optional<nlohmann::json> reread = read_with_tensorboard(run_dir);
  ASSERT_TRUE(reread.has_value());
  EXPECT_EQ((*reread)["scalars"], (*read)["scalars"]);
}

TEST_F(TrainerTest, GateReportAddsUpToTheFinalizedModel) {
  RunConfig config = tiny_config(6);
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}, {"sparsity_weight", 2000.0}};
  const fs::path run_dir = root_ / "gate_report";
  train_captioner(config, TrainOptions{run_dir});
  const TrainedRun trained = load_trained_run(run_dir);
  const nlohmann::json report = gate_report_data(run_dir);
  EXPECT_EQ(report["method"], "supermask");
  EXPECT_EQ(report["log"].size(), 6u);  // log_every 1: one record per step with per-layer sparsity
  EXPECT_TRUE(report["log"][0].contains("per_mask_gating_average"));
  int64_t kept = 0, total = 0;
  bool saw_lstm = false;
  for (const auto& layer : report["layers"]) {
    kept += layer["kept"].get<int64_t>();
    total += layer["total"].get<int64_t>();
    if (!layer.contains("gate_blocks")) continue;
    // Four equal blocks (i, f, g, o): their mean sparsity is the layer's.
    saw_lstm = true;
    const std::vector<double> blocks = layer["gate_blocks"]["sparsity"];
    ASSERT_EQ(blocks.size(), 4u);
    EXPECT_NEAR((blocks[0] + blocks[1] + blocks[2] + blocks[3]) / 4, layer["sparsity"].get<double>(), 1e-12);
  }
  EXPECT_TRUE(saw_lstm);
  EXPECT_EQ(kept, trained.sparsity.kept);
  EXPECT_EQ(total, trained.sparsity.total);
  double kept_counted = 0, pruned_counted = 0;
  for (double c : report["magnitude"]["kept"].get<std::vector<double>>()) kept_counted += c;
  for (double c : report["magnitude"]["pruned"].get<std::vector<double>>()) pruned_counted += c;
  EXPECT_EQ(kept_counted, static_cast<double>(kept));
  EXPECT_EQ(pruned_counted, static_cast<double>(total - kept));
}

TEST_F(TrainerTest, DivergenceStopsWithAClearErrorAndKeepsTheLastGoodCheckpoint) {
  RunConfig config = tiny_config(40);
  config.optim.learning_rate = 1e30;  // the first update destroys the weights
  config.optim.clip_value = 0;
  config.schedule.checkpoint_every = 1;
  const fs::path run_dir = root_ / "diverge";
  try {
    train_captioner(config, TrainOptions{run_dir});
    FAIL() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("at step"), std::string::npos) << message;
    EXPECT_NE(message.find("last.safetensors"), std::string::npos) << message;
  }
  const fs::path last = RunDirectory{run_dir}.last_checkpoint();
  ASSERT_TRUE(fs::exists(last));
  const Checkpoint checkpoint = load_checkpoint(last);  // intact and loadable
  EXPECT_GE(get_metadata_uint64(checkpoint, "train.step"), 1u);
}

TEST_F(TrainerTest, DeferredLossReadsLogTheSameLossesAsReadsEveryStep) {
  // The GPU's way (losses read at log records and checkpoints only) run on the CPU: the same
  // records, bit for bit.
  RunConfig config = tiny_config(12);
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}};
  config.schedule.log_every = 4;
  TrainOptions every_step{root_ / "reads_every_step"}, deferred{root_ / "reads_deferred"};
  every_step.defer_loss_reads = false;
  deferred.defer_loss_reads = true;
  const TrainSummary a = train_captioner(config, every_step), b = train_captioner(config, deferred);
  const std::vector<double> logged_a = step_losses(RunDirectory{every_step.run_dir}.log());
  const std::vector<double> logged_b = step_losses(RunDirectory{deferred.run_dir}.log());
  ASSERT_EQ(logged_a.size(), 3u);
  ASSERT_EQ(logged_b.size(), 3u);
  EXPECT_EQ(0, std::memcmp(logged_a.data(), logged_b.data(), logged_a.size() * sizeof(double)));
  EXPECT_EQ(a.final_loss, b.final_loss);
  EXPECT_EQ(a.final_loss, logged_a.back());
}

TEST_F(TrainerTest, DeferredLossReadsClipByNormWithoutReadingTheNorm) {
  // clip_grad_norm_on_device (float32 sums) against the host version (float64 sums): the same
  // clipping up to float32 rounding of the scale.
  RunConfig config = tiny_config(8);
  config.optim.clip_value = 0;
  config.optim.clip_norm = 0.05;  // far under the gradients' norm: every step is clipped
  config.schedule.log_every = 4;
  TrainOptions every_step{root_ / "clip_every_step"}, deferred{root_ / "clip_deferred"};
  every_step.defer_loss_reads = false;
  deferred.defer_loss_reads = true;
  train_captioner(config, every_step);
  train_captioner(config, deferred);
  const std::vector<double> logged_a = step_losses(RunDirectory{every_step.run_dir}.log());
  const std::vector<double> logged_b = step_losses(RunDirectory{deferred.run_dir}.log());
  ASSERT_EQ(logged_a.size(), 2u);
  ASSERT_EQ(logged_b.size(), 2u);
  for (size_t i = 0; i < logged_a.size(); ++i) EXPECT_NEAR(logged_a[i], logged_b[i], 1e-5 * std::abs(logged_a[i]));
  // And clipping did act: without it the same steps end elsewhere.
  config.optim.clip_norm = 0;
  TrainOptions unclipped{root_ / "unclipped"};
  train_captioner(config, unclipped);
  EXPECT_GT(std::abs(step_losses(RunDirectory{unclipped.run_dir}.log()).back() - logged_a.back()), 1e-3);
}

TEST_F(TrainerTest, DeferredLossReadsCatchDivergenceBeforeTheNextCheckpoint) {
  RunConfig config = tiny_config(40);
  config.optim.learning_rate = 1e30;  // the first update destroys the weights: step 2's loss is not finite
  config.optim.clip_value = 0;
  config.schedule.log_every = 4;
  config.schedule.checkpoint_every = 4;
  TrainOptions options{root_ / "diverge_deferred"};
  options.defer_loss_reads = true;
  try {
    train_captioner(config, options);
    FAIL() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("non-finite at a step from 1 to 4"), std::string::npos) << message;
    EXPECT_NE(message.find("No checkpoint had been saved yet"), std::string::npos) << message;
  }
  // Read at step 4, before its checkpoint: nothing of the diverged weights was written.
  EXPECT_FALSE(fs::exists(RunDirectory{options.run_dir}.last_checkpoint()));
  EXPECT_TRUE(step_losses(RunDirectory{options.run_dir}.log()).empty());
}

// A run moved between the CPU and a GPU at a checkpoint (both ways) trains as it would have on
// one device: Philox draws are bit-identical across devices, so the losses agree to float32
// rounding and the masks are the same.
TEST_F(TrainerTest, RunResumesOnTheOtherDevice) {
  if (choose_device("auto").device.is_cpu()) GTEST_SKIP() << "no CUDA device";
  RunConfig config = tiny_config(12);
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}};
  config.device = "cpu";
  const fs::path cpu_only = root_ / "portable_cpu";
  train_captioner(config, TrainOptions{cpu_only});
  const TrainedRun reference = load_trained_run(cpu_only, RunDirectory{cpu_only}.final_checkpoint());
  for (const auto& [first, second] : {std::pair{"cuda", "cpu"}, std::pair{"cpu", "cuda"}}) {
    const fs::path moved = root_ / (std::string("portable_") + first + "_" + second);
    config.device = first;
    TrainOptions first_piece{moved};
    first_piece.stop_at_step = 6;
    train_captioner(config, first_piece);
    config.device = second;  // what `sparsecap train --resume --device` does
    train_captioner(config, TrainOptions{moved, true});
    const std::vector<double> a = step_losses(RunDirectory{cpu_only}.log()), b = step_losses(RunDirectory{moved}.log());
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-3 * std::max(1.0, std::abs(a[i]))) << first << " step " << i + 1;
    const TrainedRun trained = load_trained_run(moved, RunDirectory{moved}.final_checkpoint());
    EXPECT_EQ(trained.sparsity.kept, reference.sparsity.kept) << first << " then " << second;
    const nn::StateDict weights = trained.model->state_dict();
    for (const auto& [name, weight] : reference.model->state_dict()) {
      const std::vector<float> x = weight.to_vector<float>(), y = weights.at(name).to_vector<float>();
      int64_t zero_pattern_differs = 0;
      for (size_t i = 0; i < x.size(); ++i) zero_pattern_differs += (x[i] == 0.0f) != (y[i] == 0.0f);
      EXPECT_EQ(zero_pattern_differs, 0) << name << ", " << first << " then " << second;
    }
  }
}

TEST_F(TrainerTest, EncoderStartsFromASafetensorsFile) {
  // Weights of one encoder saved to a file start another model's encoder; a file that lacks a key
  // is an error naming the file and the key.
  RunConfig config = tiny_config(1);
  Generator first_generator(1), second_generator(2);
  models::SoftAttentionConfig model_config;
  models::from_json(config.model.at("encoder"), model_config.encoder);
  model_config.decoder.vocabulary_size = 40;
  models::SoftAttentionCaptioner source(model_config, first_generator), target(model_config, second_generator);
  NamedTensors tensors;
  for (const auto& [name, tensor] : source.encoder().state_dict()) tensors.emplace_back(name, tensor);
  const fs::path file = root_ / "encoder.safetensors";
  write_safetensors(file, tensors);
  load_encoder_weights(target, file);
  for (const auto& [name, tensor] : target.encoder().state_dict())
    EXPECT_EQ(tensor.to_vector<float>(), source.encoder().state_dict().at(name).to_vector<float>()) << name;
  tensors.pop_back();
  write_safetensors(file, tensors);
  try {
    load_encoder_weights(target, file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("encoder.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, FrozenEncoderKeepsItsPretrainedWeightsAndIsNotPruned) {
  // optim.freeze_encoder with Supermask: after training, every encoder tensor (batch-norm running
  // statistics included) is bit for bit the pre-trained file's, the gates
  // cover the decoder's weights only and the reported sparsity counts those only.
  RunConfig config = tiny_config(6);
  const NamedTensors pretrained = random_encoder_state(config, 7);
  const fs::path file = root_ / "frozen_encoder.safetensors";
  write_safetensors(file, pretrained);
  config.init.encoder_weights = file;
  config.optim.freeze_encoder = true;
  config.pruning = {{"method", "supermask"}, {"target_sparsity", 0.5}, {"sparsity_weight", 2000.0}};
  const fs::path run_dir = root_ / "frozen_encoder";
  train_captioner(config, TrainOptions{run_dir});

  const Checkpoint trained = load_checkpoint(RunDirectory{run_dir}.final_checkpoint());
  for (const auto& [name, tensor] : pretrained)
    EXPECT_EQ(trained.tensor("model.encoder." + name).to_vector<float>(), tensor.to_vector<float>()) << name;
  size_t encoder_gates = 0, decoder_gates = 0;
  for (const auto& [name, tensor] : trained.tensors) {
    if (name.find("gate") == std::string::npos) continue;
    (name.find("encoder.") != std::string::npos ? encoder_gates : decoder_gates) += 1;
  }
  EXPECT_EQ(encoder_gates, 0u);
  EXPECT_GT(decoder_gates, 0u);
  const TrainedRun run = load_trained_run(run_dir);
  int64_t decoder_weights = 0;
  for (const nn::ParameterPtr& weight : run.model->prunable_parameters())
    if (weight->name().rfind("encoder.", 0) != 0) decoder_weights += weight->numel();
  EXPECT_EQ(run.sparsity.total, decoder_weights);

  // Freezing needs pre-trained weights to freeze, and excludes an encoder learning rate.
  config.init.encoder_weights.clear();
  try {
    train_captioner(config, TrainOptions{root_ / "frozen_random"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("init.encoder_weights"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_run_config(tiny_config(1), {"optim.freeze_encoder=true", "optim.encoder_learning_rate=0.001"}),
               Error);
}

TEST_F(TrainerTest, FrozenFeatureCacheTrainsAsTheEncoderWouldAndResumes) {
  // With a frozen encoder the trainer encodes each training image once and reads its features
  // back in later epochs: the losses are those of a run that encodes every batch
  // (frozen_feature_cache_mb 0), SNIP's gradients before step 1 included, and a run stopped and
  // resumed (its cache starts empty) replays the same losses.
  constexpr int64_t kSteps = 16;  // over two epochs of 6 batches of 8
  RunConfig config = tiny_config(kSteps);
  const fs::path file = root_ / "cached_encoder.safetensors";
  write_safetensors(file, random_encoder_state(config, 9));
  config.init.encoder_weights = file;
  config.optim.freeze_encoder = true;
  config.pruning = {{"method", "snip"}, {"target_sparsity", 0.5}, {"batches", 2}};

  const fs::path cached = root_ / "feature_cache_on", uncached = root_ / "feature_cache_off",
                 pieces = root_ / "feature_cache_pieces";
  {
    Trainer trainer(config, TrainOptions{cached});
    trainer.run();
    const FrozenFeatureCache* cache = trainer.frozen_feature_cache();
    ASSERT_NE(cache, nullptr);
    // Every training image encoded once (the SNIP batches are the first of epoch 0), then read.
    EXPECT_GT(cache->stored_images(), 0);
    EXPECT_EQ(cache->computed_images(), cache->stored_images());
    EXPECT_LT(cache->computed_images(), kSteps * config.data.images_per_batch);
  }
  RunConfig without_cache = config;
  without_cache.optim.frozen_feature_cache_mb = 0;
  {
    Trainer trainer(without_cache, TrainOptions{uncached});
    EXPECT_EQ(trainer.frozen_feature_cache(), nullptr);
    trainer.run();
  }
  TrainOptions first_piece{pieces};
  first_piece.stop_at_step = 9;  // in the second epoch: the resumed session's cache starts empty
  EXPECT_TRUE(train_captioner(config, first_piece).interrupted);
  EXPECT_FALSE(train_captioner(config, TrainOptions{pieces, true}).interrupted);

  const std::vector<double> with = step_losses(RunDirectory{cached}.log()),
                            encoded = step_losses(RunDirectory{uncached}.log()),
                            resumed = step_losses(RunDirectory{pieces}.log());
  ASSERT_EQ(with.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(encoded.size(), with.size());
  ASSERT_EQ(resumed.size(), with.size());
  for (size_t i = 0; i < with.size(); ++i) {
    EXPECT_NEAR(with[i], encoded[i], 1e-5 * std::abs(encoded[i])) << "step " << i + 1;
    EXPECT_NEAR(resumed[i], with[i], 1e-5 * std::abs(with[i])) << "step " << i + 1;
  }
}

TEST_F(TrainerTest, ConfigOverridesAndErrors) {
  nlohmann::json document = tiny_config(5);
  const RunConfig config = parse_run_config(document, {"model.decoder.cell=gru", "optim.learning_rate=0.5"});
  EXPECT_EQ(config.model["decoder"]["cell"], "gru");
  EXPECT_EQ(config.model["decoder"]["hidden_size"], 32);  // the rest of the section resolved
  EXPECT_EQ(config.pruning, nlohmann::json({{"method", "none"}}));
  EXPECT_DOUBLE_EQ(config.optim.learning_rate, 0.5);
  EXPECT_THROW(parse_run_config(document, {"optim.learnin_rate=0.5"}), Error);  // a typo is an error
  EXPECT_THROW(parse_run_config(document, {"pruning.method=magic"}), Error);
  EXPECT_THROW(parse_run_config(document, {"model.type=magic"}), Error);
  EXPECT_THROW(parse_run_config(document, {"model.decoder.dropout=1.5"}), Error);
  EXPECT_THROW(parse_run_config(document, {"pruning.method=supermask", "pruning.gate_int=3"}), Error);
  EXPECT_THROW(parse_run_config(document, {"no_equals_sign"}), Error);
}

}  // namespace
}  // namespace sparsecap::train
