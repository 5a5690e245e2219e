#pragma once
// The configuration of a training run: model, data, optimisation and pruning, as one JSON
// document. Config files live in configs/; every value can be overridden on the command line with
// `--set section.key=value` (value parsed as JSON, else taken as a string), and the resolved
// config is saved in the run directory so a run can always be reproduced and resumed.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>


namespace sparsecap::train {

struct DataConfig {
  std::filesystem::path dir = "data/shapes";    // holds the Karpathy-split JSON and images/
  std::string split_file = "dataset_shapes.json";
  int64_t synthetic_images = 10000;             // when the set is missing and synthetic: generate this many
  uint64_t synthetic_seed = 1;
  int64_t image_size = 64;                      // images are resized to image_size x image_size
  bool augment = false;                         // random crop/flip; off: flips would swap "left" and "right"
  int64_t min_word_count = 5;
  int64_t max_words = 16;
  int64_t images_per_batch = 32;
  int64_t seq_per_img = 5;
  // > 0: training draws its captions from each image's first N references only; validation and
  // evaluation use all. On the synthetic set, 1 trains on the sentence that names every object
  // (docs/data.md, "Complete descriptions"). 0: all references.
  int64_t train_references = 0;
};

struct OptimConfig {
  int64_t epochs = 10;
  int64_t max_steps = 0;           // > 0: stop after this many steps (and anneal over them)
  // "cosine": from learning_rate to learning_rate_floor over the run. "noam": the Transformer's
  // warm-up and 1/sqrt(step) decay (train/learning_rate_schedule.h), learning_rate unused.
  std::string schedule = "cosine";
  double learning_rate = 1e-2;
  double learning_rate_floor = 1e-5;
  int64_t warmup_steps = 10000;    // noam: the step of the peak (the reference ORT's 10k)
  double noam_factor = 1.0;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-2;               // the papers' Adam epsilon for LSTM captioners
  double weight_decay = 1e-5;      // L2, as the Soft-Attention reference
  double clip_value = 0.1;         // clip every gradient element, gates included; 0: off
  double clip_norm = 0;            // > 0: clip the global norm too
  // > 0: the CNN encoder's parameters get their own Adam group, cosine from this LR to the floor,
  // with encoder_eps. The decoder's eps 1e-2 turns Adam into SGD with LR lr/eps for gradients far
  // below 1e-2, and the encoder's are (docs/data.md, "A captioner that sees"). 0: one group.
  double encoder_learning_rate = 0;
  double encoder_eps = 1e-8;
  // true: the CNN encoder is not trained: its parameters are left out of the optimizer (no
  // gradient is computed for them) and its batch norm stays in evaluation mode. For an encoder
  // pre-trained on the set (init.encoder_weights), as the Soft-Attention reference keeps its
  // ImageNet CNN fixed while the decoder trains (docs/data.md, "A captioner that sees").
  bool freeze_encoder = false;
  // With freeze_encoder, pixels and no data.augment, each training image's encoder output is
  // computed once and kept for later epochs (train/frozen_feature_cache.h), up to this many MiB
  // on the model's device; images beyond it are encoded every time. 0: no cache.
  int64_t frozen_feature_cache_mb = 2048;
  uint64_t seed = 1;
};

struct ScheduleConfig {
  int64_t log_every = 25;          // JSONL record every N steps
  int64_t validate_every = 250;    // greedy decoding + CIDEr-D on validation images
  int64_t validation_images = 250; // 0: the whole validation split
  int64_t checkpoint_every = 500;
  // Histograms of every prunable weight and of the method's own tensors (gate logits) in the
  // TensorBoard events every N steps; 0: none.
  int64_t histogram_every = 250;
};

struct InitConfig {
  // A safetensors file of encoder weights (keys as the encoder's state dict, with or without the
  // "encoder." prefix) to start from instead of training the CNN from scratch; empty: from scratch.
  std::string encoder_weights;
};

struct RunConfig {
  // Where the run computes: "auto" (the first CUDA device when there is one, else the CPU), "cpu",
  // "cuda" or "cuda:N" (train/device_choice.h). Checkpoints are device-neutral: a run may resume on
  // another device (`sparsecap train --resume --device ...`).
  std::string device = "auto";
  // The model section: "type" (models/captioner_registry.h) and that captioner's options. The
  // vocabulary size and special tokens come from the data.
  nlohmann::json model = {{"type", "soft_attention"}};
  InitConfig init;
  DataConfig data;
  OptimConfig optim;
  // The pruning section: "method" (pruning/method_registry.h) and that method's options.
  nlohmann::json pruning = {{"method", "none"}};
  ScheduleConfig schedule;
};

// The config with the model and pruning sections resolved by their registries (every default
// filled in, keys and values checked).
RunConfig resolve_run_config(RunConfig config);

void to_json(nlohmann::json& json, const RunConfig& config);
void from_json(const nlohmann::json& json, RunConfig& config);

// Applies "a.b.c=value" to a JSON document; throws naming the key when a section does not exist.
void apply_override(nlohmann::json& document, const std::string& assignment);

// Reads `path` (errors name the file), applies the overrides in order, and parses and resolves
// the result.
// Unknown keys are errors, so a typo never silently keeps a default.
RunConfig load_run_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
RunConfig parse_run_config(nlohmann::json document, const std::vector<std::string>& overrides = {});

}  // namespace sparsecap::train
