// `sparsecap export`: a trained run's finalized model as a compact sparse safetensors file.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/commands.h"
#include "apps/device_option.h"
#include "apps/report_tables.h"
#include "engine/error.h"
#include "train/exported_model.h"

namespace sparsecap::apps {

namespace {

struct ExportArguments {
  std::string run_dir;
  std::string out;
  bool fp16 = false;
  bool dense = false;
  std::string compress = "none";
  bool allow_non_finite = false;
  std::string device;
  bool verify = false;
};

// Test images the reloaded export must caption as the finalized model does (--verify).
constexpr int64_t kVerifyImages = 100;

// Reloads the export onto the finalized model's device and compares their beam-3 captions of the
// first test images; throws when any differs.
void verify_export(const std::filesystem::path& path, const train::TrainedRun& run) {
  const train::SplitCaptions reference =
      train::caption_split(*run.model, run.data.dataset, run.data.vocabulary, run.config.data, data::Split::Test,
                           kVerifyImages, 3, run.model->decoding_options().max_words);
  const size_t same = train::identical_test_captions(path, run, reference);
  const size_t images = reference.image_ids.size();
  std::printf("verified: reloaded on %s, the export gives %zu of %zu test captions (beam 3) as the finalized model\n",
              run.model->device().str().c_str(), same, images);
  SPARSECAP_CHECK(same == images, path.string(), ": the reloaded export captions ", images - same, " of ", images,
                  " test images differently from the finalized model");
}

void run_export(const ExportArguments& args) {
  train::TrainedRun run = train::load_trained_run(args.run_dir, std::nullopt, args.allow_non_finite);
  // The finalized weights are read into CSR from wherever they are; the device only matters to
  // whoever finalizes large models on a GPU.
  move_to_device(run, args.device, "exporting");
  sparse::ExportOptions options;
  options.value_dtype = args.fp16 ? DType::F16 : DType::F32;
  options.compression = sparse::parse_compression(args.compress);
  options.dense = args.dense;
  std::printf("exporting %s (%s, %.2f%% sparse) as %s%s\n", run.checkpoint.c_str(), run.pruned ? "pruned" : "dense",
              100.0 * run.sparsity.sparsity(), args.dense ? "dense float32" : (args.fp16 ? "CSR float16" : "CSR float32"),
              options.compression == sparse::Compression::None ? "" : (std::string(", ") + args.compress).c_str());
  const sparse::ExportReport report = train::export_trained_run(run, args.out, options);
  print_export_report(report);
  if (args.verify) verify_export(report.path, run);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArguments>();
  CLI::App* command = app.add_subcommand("export", "Export a trained run's finalized model as a sparse (CSR) safetensors file");
  command->add_option("--run", args->run_dir, "run directory")->required();
  command->add_option("--out", args->out, "output file (.safetensors; .zst/.gz is appended when compressing)")->required();
  command->add_flag("--fp16", args->fp16, "store the CSR values as float16 (default float32)");
  command->add_flag("--dense", args->dense, "store every tensor dense float32 (the size baseline)");
  command->add_option("--compress", args->compress, "whole-file compression: none, zstd or gzip")
      ->check(CLI::IsMember({"none", "zstd", "gzip"}))
      ->capture_default_str();
  command->add_flag("--allow-non-finite", args->allow_non_finite,
                   "load weights holding NaN or infinity (refused by default), to inspect a diverged run");
  add_device_option(*command, args->device);
  command->add_flag("--verify", args->verify,
                    "reload the export on the same device and check it captions the first 100 test images (beam 3) "
                    "as the finalized model does");
  command->callback([args] { run_export(*args); });
}

}  // namespace sparsecap::apps
