#pragma once
// A trained run loaded for evaluation, captioning or export: its resolved config, data and
// vocabulary, and the model from one of its checkpoints. A pruned checkpoint is finalized on load
// by its own method (Supermask: W ← W ⊙ [G > 0], gates dropped), so what is evaluated is the
// pruned model itself.
#include <filesystem>
#include <memory>
#include <optional>

#include "models/captioner.h"
#include "pruning/report.h"
#include "train/dataset_setup.h"
#include "train/run_config.h"

namespace sparsecap::train {

struct TrainedRun {
  RunConfig config;
  RunData data;
  std::unique_ptr<models::Captioner> model;
  std::filesystem::path checkpoint;
  bool pruned = false;                 // the checkpoint carried a pruning method's state (now baked in)
  pruning::SparsityReport sparsity;    // of the pruned weights (train/frozen_encoder.h), after finalizing
};

// `checkpoint` defaults to the run's evaluation checkpoint (best, else final, else last).
// Weights holding NaN or infinity are refused, naming the tensor, unless `allow_non_finite`.
TrainedRun load_trained_run(const std::filesystem::path& run_dir,
                            const std::optional<std::filesystem::path>& checkpoint = std::nullopt,
                            bool allow_non_finite = false);

// Pixels of image files for the model: decoded, resized to the run's image size, normalised,
// stacked [N, 3, S, S]. Errors name the file.
Tensor load_images_for_captioning(const std::vector<std::filesystem::path>& paths, const DataConfig& config);

}  // namespace sparsecap::train
