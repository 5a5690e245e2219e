// `sparsecap demo`: the main job. Generates the synthetic set when missing, trains a dense
// Soft-Attention captioner and one pruned to 90% with Supermask Pruning, evaluates both on the
// test split with beam 3, and prints one table and example captions. Runs that already finished
// in the output directory are reused, so a second `demo` only re-evaluates.
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "apps/report_tables.h"
#include "models/mobilenet.h"
#include "train/encoder_pretraining.h"
#include "train/evaluation.h"
#include "train/exported_model.h"
#include "train/progress.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "train/trainer.h"

namespace sparsecap::apps {

namespace {

struct DemoArguments {
  std::string data_dir = "data/shapes";
  std::string out = "runs/demo";
  bool full = false;
  int64_t steps = 0;  // 0: the default for the chosen size
  int64_t pretrain_steps = 400;
};

struct DemoModel {
  std::string label;
  std::string run_dir;
  train::RunConfig config;
};

// The demo's configs, built in code so the demo runs from any directory (configs/ holds the same
// settings as files for `sparsecap train`).
train::RunConfig demo_config(const DemoArguments& args, double target_sparsity, bool prune) {
  train::RunConfig config;
  config.data.dir = args.data_dir;
  // An 8x8 attention memory and the encoder in its own Adam group (docs/data.md, "A captioner
  // that sees"): at equal steps both made the caption loss depend more on the image.
  std::vector<std::vector<int64_t>> blocks;
  for (const models::SeparableBlockSpec& block : models::mobilenet_v1_stride8_blocks())
    blocks.push_back({block.channels, block.stride});
  config.optim.encoder_learning_rate = 2e-3;
  config.optim.encoder_eps = 1e-8;
  config.model = {{"type", "soft_attention"},
                  {"encoder", {{"width_multiplier", 0.5}, {"blocks", blocks}}},
                  // The reference keeps more units when pruning: dropout 0.11 instead of 0.35.
                  {"decoder",
                   {{"hidden_size", 512}, {"embedding_size", 256}, {"attention_size", 512}, {"dropout", prune ? 0.11 : 0.35}}},
                  {"decoding", {{"max_words", 20}}}};
  // One caption per image per step, as the Soft-Attention reference feeds (image, caption) pairs:
  // five times cheaper per image than seq_per_img 5 on a CPU.
  config.data.seq_per_img = 1;
  config.optim.max_steps = args.steps > 0 ? args.steps : (args.full ? 5000 : 1000);
  config.schedule.validate_every = config.optim.max_steps / 4;
  config.schedule.checkpoint_every = config.optim.max_steps / 4;
  config.schedule.validation_images = 200;
  if (prune) {
    config.pruning = {{"method", "supermask"}, {"target_sparsity", target_sparsity}};
    // λ for a short run. A gate's sparsity gradient is λ·σ'(G)/N (N = all gated weights, ~3M
    // here) and Adam with eps 1e-2 moves it by about lr·g/eps, so the reference's
    // max(5, 0.5/(1 − s)), tuned for ~100k steps on COCO, leaves the gates near their initial
    // value in a thousand steps. The same 1/(1 − s) scaling with a larger base reaches the target
    // (90.00% at 300 steps in our runs).
    config.pruning["sparsity_weight"] = 200.0 / (1.0 - target_sparsity);
  }
  return config;
}

// The encoder every demo model starts from: pre-trained once on the set's own scene labels, as the
// papers' captioners start from an ImageNet-trained CNN (docs/data.md, "A captioner that sees").
// Reused when the file exists; empty when pre-training is switched off (--pretrain-steps 0).
std::string pretrained_encoder(const DemoArguments& args, const train::RunConfig& config) {
  if (args.pretrain_steps == 0) return "";
  const std::filesystem::path path = std::filesystem::path(args.out) / "encoder.safetensors";
  if (std::filesystem::exists(path)) {
    std::printf("encoder: reusing the pre-trained %s\n", path.c_str());
    return path.string();
  }
  train::EncoderPretrainingOptions options;
  models::from_json(config.model.at("encoder"), options.encoder);
  options.steps = args.pretrain_steps;
  options.seed = config.optim.seed;
  std::filesystem::create_directories(args.out);
  std::printf("encoder: pre-training on the scene labels (%lld steps)\n", static_cast<long long>(options.steps));
  const train::EncoderPretrainingSummary summary = train::pretrain_encoder(config.data, options, path);
  std::printf("encoder: %s; on validation object cells shape %.1f%%, colour %.1f%%\n",
              train::format_duration(summary.wall_seconds).c_str(), 100 * summary.validation_shape_accuracy,
              100 * summary.validation_color_accuracy);
  return path.string();
}

void train_unless_done(const DemoModel& model) {
  const train::RunDirectory run{model.run_dir};
  if (std::filesystem::exists(run.final_checkpoint())) {
    std::printf("%s: reusing the finished run in %s\n", model.label.c_str(), model.run_dir.c_str());
    return;
  }
  const bool resume = std::filesystem::exists(run.last_checkpoint());
  std::printf("%s: training (%lld steps)%s\n", model.label.c_str(), static_cast<long long>(model.config.optim.max_steps),
              resume ? ", resuming" : "");
  const train::TrainSummary summary = train::train_captioner(model.config, train::TrainOptions{model.run_dir, resume});
  if (summary.interrupted) throw Error("demo interrupted; run it again to continue where it stopped");
  std::printf("%s: %lld steps in %s, %.1f images/s\n", model.label.c_str(), static_cast<long long>(summary.steps),
              train::format_duration(summary.wall_seconds).c_str(), summary.images_per_second);
}

struct DemoResult {
  std::string label;
  train::SplitCaptions captions;
  train::SplitEvaluation evaluation;
  pruning::SparsityReport sparsity;
  uint64_t export_bytes = 0;       // dense model: dense float32 export; pruned: CSR float32 export
  uint64_t export_fp16_bytes = 0;  // pruned models: CSR float16 export (0: not made)
  train::ImageDependence image_dependence;
};

// How many test images the model loaded from `path` captions exactly as `reference` does.
size_t identical_captions(const std::filesystem::path& path, const train::TrainedRun& trained,
                          const train::SplitCaptions& reference) {
  train::ExportedCaptioner loaded = train::load_exported_captioner(path);
  const train::SplitCaptions captions =
      train::caption_split(*loaded.model, trained.data.dataset, trained.data.vocabulary, trained.config.data,
                           data::Split::Test, 0, 3, trained.model->decoding_options().max_words);
  size_t same = 0;
  for (const std::string& id : reference.image_ids) same += captions.candidates.at(id) == reference.candidates.at(id);
  return same;
}

// Exports the finalized model (a pruned one as CSR float32 and float16, the dense one as dense
// float32), reloads each export and checks it captions the test split as the model itself did.
void export_and_check(const DemoModel& model, const train::TrainedRun& trained, DemoResult& result) {
  const size_t images = result.captions.image_ids.size();
  sparse::ExportOptions options;
  options.dense = !trained.pruned;
  const std::string f32_name = trained.pruned ? "/model.csr-f32.safetensors" : "/model.dense-f32.safetensors";
  const sparse::ExportReport f32 = train::export_trained_run(trained, model.run_dir + f32_name, options);
  result.export_bytes = f32.file_bytes;
  const size_t same = identical_captions(f32.path, trained, result.captions);
  std::printf("%s: exported %s (%.2f MB); reloaded, it gives %s test captions as the finalized model (%zu of %zu)\n",
              model.label.c_str(), f32.path.c_str(), static_cast<double>(f32.file_bytes) / 1e6,
              same == images ? "the same" : "DIFFERENT", same, images);
  if (!trained.pruned) return;
  options.value_dtype = DType::F16;
  const sparse::ExportReport f16 =
      train::export_trained_run(trained, model.run_dir + "/model.csr-f16.safetensors", options);
  result.export_fp16_bytes = f16.file_bytes;
  const size_t same_f16 = identical_captions(f16.path, trained, result.captions);
  std::printf("%s: exported %s (%.2f MB, float16 values); %zu of %zu test captions identical\n", model.label.c_str(),
              f16.path.c_str(), static_cast<double>(f16.file_bytes) / 1e6, same_f16, images);
}

DemoResult evaluate(const DemoModel& model) {
  train::TrainedRun trained = train::load_trained_run(model.run_dir);
  DemoResult result;
  result.label = model.label;
  result.sparsity = trained.sparsity;
  result.captions = train::caption_split(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                         trained.config.data, data::Split::Test, 0, 3,
                                         trained.model->decoding_options().max_words);
  result.evaluation = train::evaluate_captions(result.captions, trained.data.dataset, trained.data.vocabulary.size());
  const std::string blank_caption = train::caption_blank_image(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                                               trained.config.data, 3, trained.model->decoding_options().max_words);
  result.evaluation.grounded =
      train::grounded_evaluation(result.captions, trained.data.dataset, trained.config.data, blank_caption);
  result.image_dependence = train::measure_image_dependence(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                                            trained.config.data, data::Split::Test, 200);
  export_and_check(model, trained, result);
  return result;
}

void print_table(const std::vector<DemoResult>& results) {
  std::printf("\n%-16s %9s %11s %11s %11s %8s %8s %8s %8s %9s %8s\n", "model", "sparsity", "NNZ", "file MB",
              "fp16 MB", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr-D", "% unique", "avg len");
  for (const DemoResult& r : results) {
    const eval::CaptionScores& s = r.evaluation.scores;
    // Real export sizes: the dense model as a dense float32 file, a pruned one as its CSR file
    // (float32 values, and float16 in the next column).
    char fp16[32] = "-";
    if (r.export_fp16_bytes) std::snprintf(fp16, sizeof(fp16), "%.2f", static_cast<double>(r.export_fp16_bytes) / 1e6);
    std::printf("%-16s %8.2f%% %11lld %11.2f %11s %8.4f %8.4f %8.4f %8.4f %8.1f%% %8.2f\n", r.label.c_str(),
                100.0 * r.sparsity.sparsity(), static_cast<long long>(r.sparsity.kept),
                static_cast<double>(r.export_bytes) / 1e6, fp16,
                s.metric("BLEU_4").corpus, s.meteor().corpus, s.metric("ROUGE_L").corpus,
                s.metric("CIDEr_D").corpus, r.evaluation.statistics.percent_unique,
                r.evaluation.statistics.average_length);
  }
}

// Grounded scores of every model's captions on the test split, then the controls: a caption
// drawn at random from the training set (blind) and one of each image's own references.
void print_grounded_table(const std::vector<DemoResult>& results) {
  if (!results.front().evaluation.grounded) return;
  std::printf("\ngrounded in the test scenes (P: claimed objects that are in the picture, R: objects named;\n"
              "count: stated totals right; exact: captions naming exactly the picture's objects)\n");
  std::printf("%-26s %s %11s %11s\n", "captions", grounded_columns_header().c_str(), "loss real", "loss blank");
  for (const DemoResult& r : results)
    std::printf("%-26s %s %11.4f %11.4f\n", r.label.c_str(), grounded_columns(r.evaluation.grounded->model).c_str(),
                r.image_dependence.real_image_loss, r.image_dependence.blank_image_loss);
  for (const DemoResult& r : results)
    if (r.evaluation.grounded->blank_image)
      std::printf("%-26s %s\n", (r.label + ", blank image").c_str(),
                  grounded_columns(*r.evaluation.grounded->blank_image).c_str());
  const train::GroundedEvaluation& controls = *results.front().evaluation.grounded;
  std::printf("%-26s %s\n", "random training caption", grounded_columns(controls.random_training_caption).c_str());
  std::printf("%-26s %s\n", "one of its own references", grounded_columns(controls.own_reference).c_str());
  std::printf("(loss: teacher-forced caption loss on %lld test images with their real images and with blank ones)\n",
              static_cast<long long>(results.front().image_dependence.images));
}

void print_examples(const std::vector<DemoResult>& results, size_t count) {
  const train::SplitCaptions& first = results.front().captions;
  std::printf("\nexample test images\n");
  for (size_t i = 0; i < std::min(count, first.image_ids.size()); ++i) {
    const std::string& id = first.image_ids[i];
    std::printf("%s\n  reference: %s\n", first.image_paths[i].c_str(), first.references.at(id).front().c_str());
    for (const DemoResult& r : results) std::printf("  %-14s %s\n", (r.label + ":").c_str(), r.captions.candidates.at(id).c_str());
  }
}

void run_demo(const DemoArguments& args) {
  std::vector<DemoModel> models = {{"dense", args.out + "/dense", demo_config(args, 0, false)},
                                   {"supermask-90%", args.out + "/supermask90", demo_config(args, 0.9, true)}};
  if (args.full) {
    models.push_back({"supermask-95%", args.out + "/supermask95", demo_config(args, 0.95, true)});
    models.push_back({"supermask-97.5%", args.out + "/supermask975", demo_config(args, 0.975, true)});
  }
  const std::string encoder = pretrained_encoder(args, models.front().config);
  for (DemoModel& model : models) model.config.init.encoder_weights = encoder;
  for (const DemoModel& model : models) train_unless_done(model);
  std::vector<DemoResult> results;
  for (const DemoModel& model : models) {
    std::printf("%s: evaluating on the test split (beam 3)\n", model.label.c_str());
    results.push_back(evaluate(model));
  }
  print_table(results);
  const double dense_cider = results.front().evaluation.scores.metric("CIDEr_D").corpus;
  for (size_t i = 1; i < results.size(); ++i)
    std::printf("%s keeps %.1f%% of the dense CIDEr-D with %.2f%% of its weights\n", results[i].label.c_str(),
                dense_cider > 0 ? 100.0 * results[i].evaluation.scores.metric("CIDEr_D").corpus / dense_cider : 0.0,
                100.0 * (1.0 - results[i].sparsity.sparsity()));
  print_grounded_table(results);
  print_examples(results, 5);
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArguments>();
  CLI::App* command = app.add_subcommand(
      "demo", "Train a dense and a Supermask-pruned (90%) Soft-Attention captioner on the synthetic set and compare them");
  command->add_option("--data", args->data_dir, "synthetic set directory (generated when missing)")->capture_default_str();
  command->add_option("--out", args->out, "where the runs go")->capture_default_str();
  command->add_flag("--full", args->full, "train longer and add 95% and 97.5% sparsity");
  command->add_option("--steps", args->steps, "training steps per model (default 1000, 5000 with --full)");
  command->add_option("--pretrain-steps", args->pretrain_steps,
                      "encoder pre-training steps on the scene labels (0: the captioners train the CNN from scratch)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->callback([args] { run_demo(*args); });
}

}  // namespace sparsecap::apps
