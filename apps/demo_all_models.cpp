// `sparsecap demo --all-models`: the main job for every captioner. For Soft-Attention, Up-Down,
// the Object Relation Transformer and Show-and-Tell it trains the dense config and the
// Supermask-90% config from configs/ (or --configs DIR) on the synthetic set, evaluates each on
// the test split with beam 3 and prints one table with a row per model and method, the grounded
// scores and the CIDEr-D each pruned model keeps. Finished runs are reused.
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
  std::string type;  // model.type, the name --only takes
  std::string stem;  // configs/<stem>_{dense,supermask}.json
};

const std::vector<CaptionerConfigs> kAllCaptioners = {{"soft_attention", "sa"},
                                                      {"up_down", "ud"},
                                                      {"relation_transformer", "ort"},
                                                      {"show_tell", "show_tell"}};

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

std::vector<DemoModel> demo_models(const AllModelsDemoOptions& options) {
  std::vector<DemoModel> models;
  for (const CaptionerConfigs& captioner : selected_captioners(options.only)) {
    models.push_back({captioner.type + " dense", options.out + "/" + captioner.stem + "_dense",
                      demo_run_config(options, captioner.stem, "dense")});
    models.push_back({captioner.type + " supermask-90%", options.out + "/" + captioner.stem + "_supermask90",
                      demo_run_config(options, captioner.stem, "supermask")});
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
