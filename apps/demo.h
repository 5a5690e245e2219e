#pragma once
// What the demos share (`sparsecap demo` for Soft-Attention, `sparsecap demo --all-models` for
// every captioner): a model to train or reuse, its evaluation on the test split (metrics, grounded
// scores, export sizes, training throughput) and the tables that print them.
#include <cstdint>
#include <string>
#include <vector>

#include "pruning/report.h"
#include "train/evaluation.h"
#include "train/run_config.h"

namespace sparsecap::apps {

struct DemoModel {
  std::string label;
  std::string run_dir;
  train::RunConfig config;
};

// Trains `model` into its run directory unless a finished run is there; resumes an interrupted one.
void train_unless_done(const DemoModel& model);

struct SoftAttentionDemoOptions {
  std::string data_dir = "data/shapes";
  int64_t steps = 0;  // > 0: optim.max_steps; 0: 1200 (5000 with full)
  bool full = false;
  bool pretrained_encoder = true;  // the caller sets init.encoder_weights; false: the CNN trains too
};

// The main demo's Soft-Attention run config, dense or pruned with Supermask to `target_sparsity`:
// `sparsecap demo` and the Soft-Attention rows of `demo --all-models`. Built in code so the demo
// runs from any directory; configs/sa_*.json are the paper's Soft-Attention recipe, for sweeps.
train::RunConfig soft_attention_demo_config(const SoftAttentionDemoOptions& options, double target_sparsity,
                                            bool prune);

// The CNN encoder the demo's captioners start from: the encoder of `config` pre-trained for `steps`
// on the synthetic set's scene labels into `out_dir`/encoder.safetensors (with the scene-pair head,
// train/encoder_pretraining.h: encoder_pairs.safetensors), once (an existing file is reused), as
// the papers' captioners start from an ImageNet-trained CNN (docs/data.md, "A captioner that
// sees"). Returns the file, or "" when `steps` is 0 (encoders from scratch).
std::string pretrained_encoder(const std::string& out_dir, const train::RunConfig& config, int64_t steps,
                               bool scene_pairs = false);

// Encoder pre-training steps of the demo and the sweep: 96.3% of validation object cells' shapes
// in 2 minutes on two cores (docs/data.md, "The word in the attention's query").
inline constexpr int64_t kDefaultPretrainSteps = 1500;

// Pre-training steps of the encoder with the scene-pair head (Show-and-Tell's, in demo
// --all-models): the pair head keeps learning after the cell heads have settled (validation pair
// recall 77.2% at 1 500 steps, 94.7% at 4 000; docs/captioners.md, "Show-and-Tell's colour + shape
// pairs").
inline constexpr int64_t kDefaultPairPretrainSteps = 4000;

struct DemoResult {
  std::string label;
  train::SplitCaptions captions;
  train::SplitEvaluation evaluation;
  pruning::SparsityReport sparsity;
  uint64_t export_bytes = 0;       // dense model: dense float32 export; pruned: CSR float32 export
  uint64_t export_fp16_bytes = 0;  // pruned models: CSR float16 export (0: not made)
  train::ImageDependence image_dependence;
  double training_images_per_second = 0;  // mean over the run's log records
  std::string training_device;            // of the run's last log record ("-": not recorded)
};

// Loads the run's evaluation checkpoint, captions the test split with beam 3, scores it (metrics,
// grounded scores, image dependence), exports it and checks each export captions the same.
DemoResult evaluate_demo_model(const DemoModel& model);

// Trains every model not finished yet, then evaluates each, in order.
std::vector<DemoResult> train_and_evaluate(const std::vector<DemoModel>& models);

// The main table: sparsity, NNZ, export sizes, metrics, % unique, average length, images/s and the
// device they were measured on.
void print_results_table(const std::vector<DemoResult>& results);
// Grounded scores of every model's captions beside the controls (nothing when the set has none).
void print_grounded_table(const std::vector<DemoResult>& results);
// The first `count` test images: a reference and every model's caption.
void print_examples(const std::vector<DemoResult>& results, size_t count);

struct AllModelsDemoOptions {
  std::string data_dir = "data/shapes";
  std::string out = "runs/demo";
  std::string configs_dir = "configs";  // holds <stem>_{dense,supermask}.json
  std::vector<std::string> only;        // model types; empty: all four
  int64_t steps = 0;                    // > 0: optim.max_steps for every run; 0: the configs' epochs
  // Encoder pre-training for the captioners on pixels (Soft-Attention, Show-and-Tell), whose
  // encoders then start from it frozen; 0: they train their CNN from scratch.
  int64_t pretrain_steps = kDefaultPretrainSteps;
  int64_t pair_pretrain_steps = kDefaultPairPretrainSteps;  // the same for encoders with the scene-pair head
  std::string device = "auto";  // where every run trains and is evaluated (train/device_choice.h)
};

// `sparsecap demo --all-models` (apps/demo_all_models.cpp).
void run_all_models_demo(const AllModelsDemoOptions& options);

}  // namespace sparsecap::apps
