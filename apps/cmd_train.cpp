// `sparsecap train`, `sparsecap eval` and `sparsecap caption`: thin wrappers over train/.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/device_option.h"
#include "apps/report_tables.h"
#include "engine/serialize/atomic_file.h"
#include "eval/coco_results.h"
#include "models/decoding.h"
#include "train/evaluation.h"
#include "train/progress.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "train/trainer.h"

namespace sparsecap::apps {

namespace {

struct TrainArguments {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  bool resume = false;
  bool skip_bad = false;
  std::string device;  // empty: the config's (auto unless set)
};

void run_train(const TrainArguments& args) {
  const train::RunDirectory run{args.out};
  train::RunConfig config;
  if (args.resume) {
    if (!args.overrides.empty() || !args.config.empty())
      throw Error("--resume continues with the run's saved config; --config and --set are not allowed with it");
    config = train::load_run_config(run.config());
  } else {
    if (args.config.empty()) throw Error("--config FILE is required (see configs/)");
    if (std::filesystem::exists(run.last_checkpoint()))
      throw Error(args.out + " already holds a run; use --resume to continue it or choose another --out");
    config = train::load_run_config(args.config, args.overrides);
  }
  // The saved config keeps its device; a resumed run may continue on another one.
  apply_device_option(config, args.device);
  const train::TrainSummary summary = train::train_captioner(config, train::TrainOptions{.run_dir = args.out, .resume = args.resume, .skip_bad = args.skip_bad});
  std::printf("%s after %lld steps in %s: caption loss %.4f, %.1f images/s", summary.interrupted ? "stopped" : "finished",
              static_cast<long long>(summary.steps), train::format_duration(summary.wall_seconds).c_str(),
              summary.final_loss, summary.images_per_second);
  if (summary.best_validation_cider >= 0) std::printf(", best validation CIDEr-D %.3f", summary.best_validation_cider);
  if (config.pruning.value("method", "none") != "none") std::printf(", sparsity %.2f%%", 100.0 * summary.sparsity);
  std::printf("\nrun directory: %s\n", args.out.c_str());
  if (summary.interrupted) {
    std::printf("interrupted: checkpoint saved; continue with: sparsecap train --out %s --resume\n", args.out.c_str());
    std::exit(130);
  }
}

struct EvalArguments {
  std::string run;
  std::string split = "test";
  int64_t beam = 3;
  int64_t max_images = 0;
  int64_t loss_images = 200;
  std::string checkpoint;
  bool allow_non_finite = false;
  std::string device;
};

void run_eval(const EvalArguments& args) {
  const std::optional<data::Split> split = data::parse_split(args.split);
  if (!split) throw Error("--split must be train, val or test, got \"" + args.split + "\"");
  train::TrainedRun trained = train::load_trained_run(
      args.run, args.checkpoint.empty() ? std::nullopt : std::optional<std::filesystem::path>(args.checkpoint),
      args.allow_non_finite);
  move_to_device(trained, args.device, "evaluating");
  const train::SplitCaptions captions =
      train::caption_split(*trained.model, trained.data.dataset, trained.data.vocabulary, trained.config.data, *split,
                           args.max_images, args.beam, trained.model->decoding_options().max_words);
  train::SplitEvaluation evaluation =
      train::evaluate_captions(captions, trained.data.dataset, trained.data.vocabulary.size());
  const std::string blank_caption = train::caption_blank_image(*trained.model, trained.data.dataset, trained.data.vocabulary, trained.config.data,
                                                               args.beam, trained.model->decoding_options().max_words);
  evaluation.grounded = train::grounded_evaluation(captions, trained.data.dataset, trained.config.data, blank_caption);
  const std::filesystem::path out_dir = std::filesystem::path(args.run) / "eval";
  std::filesystem::create_directories(out_dir);
  const std::filesystem::path results = out_dir / (args.split + "_captions.json");
  const std::filesystem::path scores = out_dir / (args.split + "_scores.json");
  eval::write_coco_results(captions.candidates, results);
  nlohmann::json score_json = train::evaluation_to_json(evaluation);
  score_json["checkpoint"] = trained.checkpoint.string();
  score_json["beam_size"] = args.beam;
  score_json["sparsity"] = trained.sparsity.sparsity();
  score_json["nnz"] = trained.sparsity.kept;
  std::optional<train::ImageDependence> dependence;
  if (args.loss_images > 0) {
    dependence = train::measure_image_dependence(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                                 trained.config.data, *split, args.loss_images);
    score_json["image_dependence"] = train::image_dependence_to_json(*dependence);
  }
  write_file_atomically(scores, score_json.dump(2) + "\n");
  std::printf("%s split, %zu images, beam %lld, checkpoint %s\n", args.split.c_str(), captions.image_ids.size(),
              static_cast<long long>(args.beam), trained.checkpoint.string().c_str());
  print_evaluation(evaluation, trained.sparsity);
  if (evaluation.grounded) print_grounded_evaluation(*evaluation.grounded);
  if (dependence)
    std::printf("  caption loss on %lld images: %.4f with the real images, %.4f with blank images\n",
                static_cast<long long>(dependence->images), dependence->real_image_loss, dependence->blank_image_loss);
  std::printf("captions: %s\nscores:   %s\n", results.string().c_str(), scores.string().c_str());
}

struct CaptionArguments {
  std::string run;
  std::vector<std::string> images;
  int64_t beam = 3;
  bool allow_non_finite = false;
  std::string device;
};

void run_caption(const CaptionArguments& args) {
  train::TrainedRun trained = train::load_trained_run(args.run, std::nullopt, args.allow_non_finite);
  const Device device = move_to_device(trained, args.device, "captioning");
  std::vector<std::filesystem::path> paths(args.images.begin(), args.images.end());
  const Tensor images = train::load_images_for_captioning(paths, trained.config.data).to(device);
  const std::vector<models::DecodedCaption> decoded = models::beam_search(
      *trained.model, images, models::DecodingOptions{args.beam, trained.model->decoding_options().max_words});
  for (size_t i = 0; i < paths.size(); ++i) {
    std::string caption;
    for (const std::string& word : trained.data.vocabulary.decode(decoded[i].tokens))
      caption += (caption.empty() ? "" : " ") + word;
    std::printf("%s: %s\n", args.images[i].c_str(), caption.c_str());
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArguments>();
  CLI::App* command = app.add_subcommand("train", "Train a captioner (dense or pruned) from a config file");
  command->add_option("--config", args->config, "config file (configs/*.json)");
  command->add_option("--set", args->overrides, "override a config value: section.key=value (repeatable)");
  command->add_option("--out", args->out, "run directory")->required();
  command->add_flag("--resume", args->resume, "continue the run in --out from its last checkpoint");
  command->add_flag("--skip-bad", args->skip_bad,
                    "skip training images whose files are missing or corrupt, with a warning each (default: stop)");
  add_device_option(*command, args->device);
  command->callback([args] { run_train(*args); });
}

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArguments>();
  CLI::App* command = app.add_subcommand("eval", "Caption a split with a trained run and score it");
  command->add_option("--run", args->run, "run directory")->required();
  command->add_option("--split", args->split, "train, val or test")->capture_default_str();
  command->add_option("--beam", args->beam, "beam size (1: greedy)")->capture_default_str();
  command->add_option("--max-images", args->max_images, "caption at most this many images (0: all)");
  command->add_option("--loss-images", args->loss_images,
                      "teacher-forced caption loss, real vs blank images, on this many images (0: skip)")
      ->capture_default_str();
  command->add_option("--checkpoint", args->checkpoint, "checkpoint file (default: best, else final)");
  add_device_option(*command, args->device);
  command->add_flag("--allow-non-finite", args->allow_non_finite,
                   "load weights holding NaN or infinity (refused by default), to inspect a diverged run");
  command->callback([args] { run_eval(*args); });
}

void add_caption_command(CLI::App& app) {
  auto args = std::make_shared<CaptionArguments>();
  CLI::App* command = app.add_subcommand("caption", "Caption image files with a trained run");
  command->add_option("--run", args->run, "run directory")->required();
  command->add_option("--beam", args->beam, "beam size")->capture_default_str();
  command->add_option("images", args->images, "image files (PNG, JPEG)")->required();
  add_device_option(*command, args->device);
  command->add_flag("--allow-non-finite", args->allow_non_finite,
                   "load weights holding NaN or infinity (refused by default), to inspect a diverged run");
  command->callback([args] { run_caption(*args); });
}

}  // namespace sparsecap::apps
