#pragma once
// A training checkpoint: model weights and buffers ("model.*"), optimizer state ("optim.*"),
// pruning-method state ("pruning.*"), the position in the run and the dropout generator, plus the
// resolved config, in one safetensors file written atomically.
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/rng.h"
#include "pruning/method.h"

namespace sparsecap::train {

struct RunPosition {
  int64_t step = 0;            // optimizer steps done
  int64_t epoch = 0;           // epoch in progress (0-based)
  int64_t batch_in_epoch = 0;  // batches of that epoch already consumed
  double best_validation_cider = -1.0;
};

struct TrainingParts {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;       // may be null (evaluation)
  pruning::PruningMethod* method = nullptr;    // may be null: its state is neither saved nor loaded
  Generator* dropout_generator = nullptr;
};

void save_training_checkpoint(const std::filesystem::path& path, const TrainingParts& parts,
                              const RunPosition& position, const nlohmann::json& config);

// Restores every part given (errors name the file and the offending key) and returns the position.
// A tensor holding NaN or infinity is refused, naming it, unless `allow_non_finite` (for looking
// at a diverged run).
RunPosition load_training_checkpoint(const std::filesystem::path& path, const TrainingParts& parts,
                                     bool allow_non_finite = false);

// The resolved config stored in a checkpoint.
nlohmann::json checkpoint_config(const std::filesystem::path& path);

}  // namespace sparsecap::train
