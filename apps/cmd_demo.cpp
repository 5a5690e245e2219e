// `sparsecap demo`: the main job. Generates the synthetic set when missing, trains a dense
// Soft-Attention captioner and one pruned to 90% with Supermask Pruning, both on one encoder
// pre-trained on the set's scene labels and frozen, evaluates both on the test split with beam 3,
// and prints one table and example captions. Runs that already finished in the output directory
// are reused, so a second `demo` only re-evaluates. With --all-models, every captioner from its
// configs (apps/demo_all_models.cpp).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/demo.h"
#include "apps/device_option.h"
#include "engine/error.h"
#include "train/device_choice.h"

namespace sparsecap::apps {

namespace {

struct DemoArguments {
  std::string data_dir = "data/shapes";
  std::string out = "runs/demo";
  bool full = false;
  int64_t steps = 0;  // 0: the default for the chosen size
  int64_t pretrain_steps = kDefaultPretrainSteps;
  int64_t pair_pretrain_steps = kDefaultPairPretrainSteps;
  bool all_models = false;
  std::vector<std::string> only;
  std::string configs_dir = SPARSECAP_CONFIGS_DIR;
  std::string device = "auto";
};

void run_demo(const DemoArguments& args) {
  const SoftAttentionDemoOptions options{
      .data_dir = args.data_dir, .steps = args.steps, .full = args.full, .pretrained_encoder = args.pretrain_steps > 0};
  std::vector<DemoModel> models = {{"dense", args.out + "/dense", soft_attention_demo_config(options, 0, false)},
                                   {"supermask-90%", args.out + "/supermask90", soft_attention_demo_config(options, 0.9, true)}};
  if (args.full) {
    models.push_back({"supermask-95%", args.out + "/supermask95", soft_attention_demo_config(options, 0.95, true)});
    models.push_back({"supermask-97.5%", args.out + "/supermask975", soft_attention_demo_config(options, 0.975, true)});
  }
  for (DemoModel& model : models) model.config.device = args.device;
  const std::string encoder = pretrained_encoder(args.out, models.front().config, args.pretrain_steps);
  for (DemoModel& model : models) model.config.init.encoder_weights = encoder;
  const std::vector<DemoResult> results = train_and_evaluate(models);
  print_results_table(results);
  const double dense_cider = results.front().evaluation.scores.metric("CIDEr_D").corpus;
  for (size_t i = 1; i < results.size(); ++i)
    std::printf("%s keeps %.1f%% of the dense CIDEr-D with %.2f%% of its weights\n", results[i].label.c_str(),
                dense_cider > 0 ? 100.0 * results[i].evaluation.scores.metric("CIDEr_D").corpus / dense_cider : 0.0,
                100.0 * (1.0 - results[i].sparsity.sparsity()));
  print_grounded_table(results);
  print_examples(results, 5);
}

void run_demo_command(const DemoArguments& args) {
  // Before anything trains: a CUDA request that cannot be met stops the demo here.
  std::fprintf(stderr, "sparsecap: demo on %s\n", train::choose_device(args.device).describe().c_str());
  if (!args.all_models) {
    if (!args.only.empty()) throw Error("--only needs --all-models");
    run_demo(args);
    return;
  }
  if (args.full) throw Error("--full is for the Soft-Attention demo; with --all-models set --steps");
  run_all_models_demo(AllModelsDemoOptions{.data_dir = args.data_dir,
                                            .out = args.out,
                                            .configs_dir = args.configs_dir,
                                            .only = args.only,
                                            .steps = args.steps,
                                            .pretrain_steps = args.pretrain_steps,
                                            .pair_pretrain_steps = args.pair_pretrain_steps,
                                            .device = args.device});
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArguments>();
  CLI::App* command = app.add_subcommand(
      "demo", "Train a dense and a Supermask-pruned (90%) Soft-Attention captioner on the synthetic set and compare them");
  command->add_option("--data", args->data_dir, "synthetic set directory (generated when missing)")->capture_default_str();
  command->add_option("--out", args->out, "where the runs go")->capture_default_str();
  command->add_flag("--full", args->full, "train longer and add 95% and 97.5% sparsity");
  command->add_option("--steps", args->steps,
                      "training steps per model (default 1200, 5000 with --full; with --all-models the configs' epochs)");
  command->add_option("--pretrain-steps", args->pretrain_steps,
                      "encoder pre-training steps on the scene labels (0: the captioners train the CNN from scratch)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI::Option* all_models = command->add_flag(
      "--all-models", args->all_models,
      "every captioner (soft_attention, up_down, relation_transformer, show_tell), dense and Supermask 90%: "
      "Soft-Attention as the main demo, the others from the configs");
  command->add_option("--pair-pretrain-steps", args->pair_pretrain_steps,
                      "with --all-models: pre-training steps of Show-and-Tell's encoder, which also learns the "
                      "image's colour + shape pairs (unused when --pretrain-steps is 0)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(all_models);
  command->add_option("--only", args->only, "with --all-models: these model types only (comma-separated)")
      ->delimiter(',');
  command->add_option("--configs", args->configs_dir, "with --all-models: the directory of <model>_{dense,supermask}.json")
      ->capture_default_str();
  add_device_option(*command, args->device);
  command->callback([args] { run_demo_command(*args); });
}

}  // namespace sparsecap::apps
