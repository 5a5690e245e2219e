// `sparsecap demo --all-models`: the main job for every captioner. For Up-Down, the Object
// Relation Transformer and Show-and-Tell it trains the dense config and the Supermask-90% config
// from configs/ (or --configs DIR) on the synthetic set, for Soft-Attention the main demo's two
// runs (apps/demo.h; the same run directories, so a finished `sparsecap demo` is reused). The
// captioners on pixels start from an encoder pre-trained on the scene labels, frozen, as in the
// main demo (Show-and-Tell's also with the scene-pair head, and longer). Each run is evaluated on
// the test split with beam 3; one table with a row per model and method, the grounded scores and
// the CIDEr-D each pruned model keeps. Finished runs are reused.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/demo.h"
#include "engine/error.h"
#include "train/progress.h"

namespace sparsecap::apps {

namespace {

struct CaptionerConfigs {
  std::string type;          // model.type, the name --only takes
  std::string stem;          // configs/<stem>_{dense,supermask}.json; empty: the main demo's configs
  bool pixels;               // captions pixels through a CNN encoder
  bool scene_pairs = false;  // its encoder is pre-trained with the scene-pair head too
};

// Show-and-Tell reads only the mean of the encoder's map, which the scene-pair head makes name the
// image's colour + shape pairs; Soft-Attention reads the cells and does better without it.
const std::vector<CaptionerConfigs> kAllCaptioners = {{"soft_attention", "", true},
                                                      {"up_down", "ud", false},
                                                      {"relation_transformer", "ort", false},
                                                      {"show_tell", "show_tell", true, true}};

// The captioners --only names (all of them when it is empty); an unknown name lists the known ones.
std::vector<CaptionerConfigs> selected_captioners(const std::vector<std::string>& only) {
  if (only.empty()) return kAllCaptioners;
  std::set<std::string> wanted(only.begin(), only.end());
  std::vector<CaptionerConfigs> selected;
  for (const CaptionerConfigs& captioner : kAllCaptioners)
    if (wanted.erase(captioner.type) > 0) selected.push_back(captioner);
  if (!wanted.empty()) {
    std::string known;
    for (const CaptionerConfigs& captioner : kAllCaptioners) known += (known.empty() ? "" : ", ") + captioner.type;
    throw Error("--only: unknown model " + *wanted.begin() + " (known: " + known + ")");
  }
  return selected;
}

// configs/<stem>_<variant>.json with the demo's data directory and, when given, its step count.
train::RunConfig demo_run_config(const AllModelsDemoOptions& options, const std::string& stem, const std::string& variant) {
  const std::filesystem::path path = std::filesystem::path(options.configs_dir) / (stem + "_" + variant + ".json");
  std::vector<std::string> overrides = {"data.dir=" + options.data_dir};
  if (options.steps > 0) overrides.push_back("optim.max_steps=" + std::to_string(options.steps));
  return train::load_run_config(path, overrides);
}

// The dense and the Supermask-90% run of one captioner.
std::vector<DemoModel> captioner_runs(const AllModelsDemoOptions& options, const CaptionerConfigs& captioner) {
  if (captioner.stem.empty()) {
    const SoftAttentionDemoOptions demo{
        .data_dir = options.data_dir, .steps = options.steps, .pretrained_encoder = options.pretrain_steps > 0};
    return {{captioner.type + " dense", options.out + "/dense", soft_attention_demo_config(demo, 0, false)},
            {captioner.type + " supermask-90%", options.out + "/supermask90", soft_attention_demo_config(demo, 0.9, true)}};
  }
  return {{captioner.type + " dense", options.out + "/" + captioner.stem + "_dense",
           demo_run_config(options, captioner.stem, "dense")},
          {captioner.type + " supermask-90%", options.out + "/" + captioner.stem + "_supermask90",
           demo_run_config(options, captioner.stem, "supermask")}};
}

// The pre-trained encoder a captioner on pixels starts from: the main demo's encoder, with the
// scene-pair head and --pair-pretrain-steps where the captioner asks for it (a config whose
// encoder differs fails to load it, naming the tensor); "" when none is wanted.
std::string encoder_for(const AllModelsDemoOptions& options, const CaptionerConfigs& captioner) {
  if (!captioner.pixels || options.pretrain_steps == 0) return "";
  const SoftAttentionDemoOptions demo{.data_dir = options.data_dir};
  train::RunConfig config = soft_attention_demo_config(demo, 0, false);
  config.device = options.device;
  return pretrained_encoder(options.out, config,
                            captioner.scene_pairs ? options.pair_pretrain_steps : options.pretrain_steps,
                            captioner.scene_pairs);
}

std::vector<DemoModel> demo_models(const AllModelsDemoOptions& options) {
  std::vector<DemoModel> models;
  for (const CaptionerConfigs& captioner : selected_captioners(options.only)) {
    const std::string encoder = encoder_for(options, captioner);
    std::vector<DemoModel> runs = captioner_runs(options, captioner);
    for (DemoModel& run : runs) run.config.device = options.device;
    if (!encoder.empty())
      for (DemoModel& run : runs) {
        run.config.optim.freeze_encoder = true;
        run.config.init.encoder_weights = encoder;
      }
    models.insert(models.end(), runs.begin(), runs.end());
  }
  return models;
}

// Each pruned row against the dense row before it.
void print_kept_cider(const std::vector<DemoResult>& results) {
  for (size_t i = 1; i < results.size(); i += 2) {
    const double dense = results[i - 1].evaluation.scores.metric("CIDEr_D").corpus;
    const double pruned = results[i].evaluation.scores.metric("CIDEr_D").corpus;
    std::printf("%s keeps %.1f%% of the dense CIDEr-D with %.2f%% of its weights\n", results[i].label.c_str(),
                dense > 0 ? 100.0 * pruned / dense : 0.0, 100.0 * (1.0 - results[i].sparsity.sparsity()));
  }
}

}  // namespace

void run_all_models_demo(const AllModelsDemoOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<DemoModel> models = demo_models(options);
  const std::vector<DemoResult> results = train_and_evaluate(models);
  print_results_table(results);
  print_kept_cider(results);
  print_grounded_table(results);
  print_examples(results, 3);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nwall time %s (training only where no finished run was reused)\n",
              train::format_duration(seconds).c_str());
}

}  // namespace sparsecap::apps
