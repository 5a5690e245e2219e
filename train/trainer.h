#pragma once
// The training loop of a captioner, with or without a pruning method: teacher-forced
// cross-entropy over seq_per_img captions per image, Adam with cosine LR, gradient clipping, the
// pruning hooks, validation with greedy decoding and CIDEr-D, best/periodic/final checkpoints,
// exact resume, a JSONL log, a progress bar, a clean stop on Ctrl-C, and a stop on a NaN/Inf loss
// that keeps the last good checkpoint.
#include <cstdint>
#include <filesystem>
#include <string>

#include "models/soft_attention.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct TrainOptions {
  std::filesystem::path run_dir;
  bool resume = false;  // continue from run_dir's last checkpoint (with run_dir's saved config)
  // > 0: stop after this step as Ctrl-C would (checkpoint saved, summary.interrupted), to train a
  // run in pieces; the schedule still spans the whole run.
  int64_t stop_at_step = 0;
};

struct TrainSummary {
  bool interrupted = false;  // stopped by Ctrl-C (a checkpoint was saved)
  int64_t steps = 0;
  double wall_seconds = 0;
  double images_per_second = 0;   // training throughput of this session
  double final_loss = 0;          // caption loss of the last step
  double best_validation_cider = -1;
  double sparsity = 0;            // of the maximum-likelihood masks (pruned runs)
};

// The error thrown when the loss becomes NaN or infinite.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

TrainSummary train_captioner(const RunConfig& config, const TrainOptions& options);

// Loads a safetensors file of encoder weights into `model`'s encoder (init.encoder_weights);
// errors name the file and every missing or mis-shaped key.
void load_encoder_weights(models::SoftAttentionCaptioner& model, const std::filesystem::path& path);

// Total optimizer steps of a run (epochs × batches per epoch, or max_steps when set).
int64_t total_training_steps(const RunConfig& config, int64_t batches_per_epoch);

}  // namespace sparsecap::train
