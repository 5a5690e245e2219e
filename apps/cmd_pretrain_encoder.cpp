// `sparsecap pretrain-encoder`: trains the Soft-Attention encoder of a run config on the synthetic
// set's scene labels (train/encoder_pretraining.h) and writes it for init.encoder_weights.
#include <cstdio>

#include "apps/commands.h"
#include "apps/device_option.h"
#include "engine/error.h"
#include "train/encoder_pretraining.h"
#include "train/progress.h"
#include "train/run_config.h"

namespace sparsecap::apps {

namespace {

struct PretrainArguments {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  int64_t steps = 600;
  double learning_rate = train::EncoderPretrainingOptions{}.learning_rate;
  std::string device;
  bool scene_pairs = false;
};

void run_pretrain(const PretrainArguments& args) {
  train::RunConfig config = train::load_run_config(args.config, args.overrides);
  apply_device_option(config, args.device);
  // Checked here too, so that the error names the config file.
  SPARSECAP_CHECK(config.model.contains("encoder"), args.config, ": the ", config.model.value("type", "?"),
                  " model has no CNN encoder to pre-train");
  train::EncoderPretrainingOptions options = train::encoder_pretraining_options(config, args.steps);
  options.learning_rate = args.learning_rate;
  options.scene_pairs = args.scene_pairs;
  const train::EncoderPretrainingSummary summary = train::pretrain_encoder(config.data, options, args.out);
  std::printf("pre-trained the encoder for %lld steps in %s: loss %.4f; on validation object cells shape %.1f%%, "
              "colour %.1f%% right",
              static_cast<long long>(summary.steps), train::format_duration(summary.wall_seconds).c_str(),
              summary.final_loss, 100 * summary.validation_shape_accuracy, 100 * summary.validation_color_accuracy);
  if (args.scene_pairs)
    std::printf("; colour + shape pairs of the whole image P %.1f%% / R %.1f%%", 100 * summary.validation_pair_precision,
                100 * summary.validation_pair_recall);
  std::printf("\nencoder weights: %s (use with --set init.encoder_weights=%s)\n", args.out.c_str(), args.out.c_str());
}

}  // namespace

void add_pretrain_encoder_command(CLI::App& app) {
  auto args = std::make_shared<PretrainArguments>();
  CLI::App* command = app.add_subcommand(
      "pretrain-encoder", "Train a config's CNN encoder on the synthetic set's scene labels (for init.encoder_weights)");
  command->add_option("--config", args->config, "config file (configs/*.json)")->required();
  command->add_option("--set", args->overrides, "override a config value: section.key=value (repeatable)");
  command->add_option("--out", args->out, "safetensors file to write")->required();
  command->add_option("--steps", args->steps, "training steps")->capture_default_str();
  command->add_option("--learning-rate", args->learning_rate, "Adam learning rate (cosine to 1% of it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--scene-pairs", args->scene_pairs,
                    "also train a head on the map's mean to name the image's colour + shape pairs (for Show-and-Tell)");
  add_device_option(*command, args->device);
  command->callback([args] { run_pretrain(*args); });
}

}  // namespace sparsecap::apps
