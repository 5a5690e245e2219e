#pragma once
// The training loop of a captioner, with or without a pruning method: teacher-forced
// cross-entropy over seq_per_img captions per image, Adam with cosine LR, gradient clipping, the
// pruning hooks, validation with greedy decoding and CIDEr-D, best/periodic/final checkpoints,
// exact resume, a JSONL log and TensorBoard events, a progress bar, a clean stop on Ctrl-C, and a stop on a NaN/Inf loss
// that keeps the last good checkpoint. The model and the method come from their registries
// (models/captioner_registry.h, pruning/method_registry.h).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/caption_batch.h"
#include "engine/optim/adam.h"
#include "models/captioner.h"
#include "pruning/method.h"
#include "train/batch_tensors.h"
#include "train/dataset_setup.h"
#include "train/device_choice.h"
#include "train/run_config.h"
#include "train/run_directory.h"
#include "train/training_checkpoint.h"
#include "train/tensorboard_writer.h"
#include "train/training_log.h"

namespace sparsecap::train {

class FrozenFeatureCache;

struct TrainOptions {
  std::filesystem::path run_dir;
  bool resume = false;  // continue from run_dir's last checkpoint (with run_dir's saved config)
  // > 0: stop after this step as Ctrl-C would (checkpoint saved, summary.interrupted), to train a
  // run in pieces; the schedule still spans the whole run.
  int64_t stop_at_step = 0;
  // Skip training images whose files are missing or corrupt, with a warning each; without it the
  // first such image stops the run with an error naming it (the last checkpoint stays intact).
  bool skip_bad = false;
  // When the losses are copied to the host. Every step: a non-finite loss stops the run before it
  // changes the weights. Deferred: the losses stay on the device and are read at each log record,
  // validation and checkpoint (no host synchronisation inside a step), so a non-finite loss is
  // caught there; a checkpoint is never written after one. Default: every step on the CPU (the
  // read costs nothing there), deferred on a GPU.
  std::optional<bool> defer_loss_reads = std::nullopt;
};

struct TrainSummary {
  bool interrupted = false;  // stopped by Ctrl-C (a checkpoint was saved)
  int64_t steps = 0;
  double wall_seconds = 0;
  double images_per_second = 0;   // training throughput of this session
  double final_loss = 0;          // caption loss of the last step
  double best_validation_cider = -1;
  double sparsity = 0;            // of the method's masks (pruned runs), of the weights (dense)
};

// The error thrown when the loss becomes NaN or infinite.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

// The losses of one step.
struct StepLosses {
  double caption = 0;
  double total = 0;  // caption + the method's extra loss
};

// The same as scalar tensors on the run's device, not yet read.
struct StepLossTensors {
  Tensor caption;
  Tensor total;
};

class Trainer {
 public:
  // Set-up: the data (the synthetic set is generated when missing), the vocabulary, the model,
  // the optimizer and the pruning method; on resume, the state of the last checkpoint.
  Trainer(const RunConfig& config, const TrainOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the end of the schedule, stop_at_step or Ctrl-C.
  TrainSummary run();

  // One optimizer step on `batch` (the position advances), its losses read at once. Throws
  // TrainingDiverged on a non-finite loss, before the weights change. The first step runs the
  // method's initial-gradient passes first, as run() does.
  StepLosses step(const data::CaptionBatch& batch);
  // The same on a batch already on the run's device (device_batch), so that a caller can time the
  // step without the batch's copy (sparsecap profile); a batch may be stepped on more than once.
  StepLosses step(const DeviceBatch& batch);
  // Greedy captions of the validation images, CIDEr-D, and the best checkpoint when it improved
  // (among checkpoints at the method's target sparsity). Logs one record.
  void validate();
  void save_checkpoint(const std::filesystem::path& path);

  const RunConfig& config() const { return config_; }  // resolved
  // The data set and vocabulary the run trains on.
  const RunData& run_data() const { return run_data_; }
  // Where the run computes, and why (train/device_choice.h).
  const DeviceChoice& device() const { return device_; }
  models::Captioner& model() { return *model_; }
  pruning::PruningMethod& method() { return *method_; }
  const RunPosition& position() const { return position_; }
  int64_t total_steps() const { return total_steps_; }
  // The frozen encoder's features of the training images (train/frozen_feature_cache.h), or null
  // when the run does not cache them.
  const FrozenFeatureCache* frozen_feature_cache() const { return frozen_features_.get(); }

 private:
  // The method's initial_gradient_batches() forward/backward passes (before step 1).
  void observe_initial_gradients();
  // One optimizer step on a batch already on the device; the losses are read (and checked) here
  // only when loss reads are not deferred.
  StepLossTensors train_step(const DeviceBatch& batch);
  // Adds a step's losses to those not yet read.
  void keep_unread(const StepLossTensors& losses);
  // Copies the last step's losses to the host; throws TrainingDiverged when any loss since the
  // previous read was not finite. Called before every log record, validation and checkpoint.
  StepLosses read_losses();
  // What the model reads of a training batch: its pixels or region features, with a frozen
  // encoder's features from the cache when the run has one.
  models::CaptionerInputs training_inputs(const DeviceBatch& batch);
  void log_step(const StepLosses& losses);
  // model_->train(), with a frozen encoder (optim.freeze_encoder) kept in evaluation mode.
  void enter_training_mode();
  // One record to log.jsonl and the TensorBoard events.
  void write_record(const nlohmann::json& record);
  void write_histograms();
  // `first_step`..position_.step: the steps whose losses were read together.
  [[noreturn]] void throw_diverged(const StepLosses& losses, int64_t first_step) const;

  RunConfig config_;
  TrainOptions options_;
  DeviceChoice device_;
  bool defer_loss_reads_ = false;
  RunDirectory run_;
  nlohmann::json resolved_;  // config_ as saved in config.json and every checkpoint
  RunData run_data_;
  std::unique_ptr<models::Captioner> model_;
  std::unique_ptr<data::CaptionBatchLoader> loader_;
  int64_t total_steps_ = 0;
  std::unique_ptr<optim::Adam> optimizer_;
  std::unique_ptr<pruning::PruningMethod> method_;
  std::unique_ptr<FrozenFeatureCache> frozen_features_;  // null: the encoder runs on every batch
  RunPosition position_;
  std::unique_ptr<TrainingLog> log_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  // Training time and images since the last log record, and over this session.
  double window_seconds_ = 0, session_seconds_ = 0;
  int64_t window_images_ = 0, session_images_ = 0;
  double session_start_ = 0;  // steady-clock seconds
  // Losses not yet read: the last step's, and the sum of every step's total loss since the last
  // read (non-finite when any of them was), with the first of those steps.
  StepLossTensors last_losses_;
  Tensor unread_total_sum_;
  int64_t first_unread_step_ = 0;
  StepLosses read_;  // the losses as last read
};

// Trainer(config, options).run().
TrainSummary train_captioner(const RunConfig& config, const TrainOptions& options);

// Loads a safetensors file of encoder weights into the captioner's "encoder" module
// (init.encoder_weights); keys with or without the "encoder." prefix. Errors name the file and
// every missing or mis-shaped key, or say that the model has no encoder.
void load_encoder_weights(models::Captioner& model, const std::filesystem::path& path);

// Total optimizer steps of a run (epochs × batches per epoch, or max_steps when set).
int64_t total_training_steps(const RunConfig& config, int64_t batches_per_epoch);

}  // namespace sparsecap::train
