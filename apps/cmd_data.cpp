// `sparsecap data synth|stats|check`: write the synthetic shapes set, summarise a dataset folder,
// and read every item of a dataset once to find bad files before a long training run.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

#include "apps/commands.h"
#include "data/caption_batch.h"
#include "data/dataset_stats.h"
#include "data/synthetic_shapes.h"

namespace sparsecap::apps {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One line on stderr, redrawn in place: "[##########----------] 5000/10000  50%  3.1 s".
void draw_progress_bar(int64_t done, int64_t total, double elapsed) {
  constexpr int kWidth = 30;
  const int filled = total > 0 ? static_cast<int>(done * kWidth / total) : kWidth;
  std::fprintf(stderr, "\r[%s%s] %lld/%lld %3d%% %6.1f s", std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kWidth - filled), '-').c_str(), static_cast<long long>(done),
               static_cast<long long>(total), total > 0 ? static_cast<int>(done * 100 / total) : 100, elapsed);
  std::fflush(stderr);
}

struct SynthArguments {
  std::string out_dir;
  data::SyntheticShapesOptions options;
  bool quiet = false;
};

void run_synth(const SynthArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  // Redrawn in place on a terminal; in a log file one line per 10% instead of a thousand redraws.
  const bool terminal = isatty(fileno(stderr)) != 0;
  int64_t last_decile = -1;
  const auto progress = [&](int64_t done, int64_t total) {
    if (arguments.quiet) return;
    if (terminal) {
      draw_progress_bar(done, total, seconds_since(start));
    } else if (done * 10 / total != last_decile) {
      last_decile = done * 10 / total;
      draw_progress_bar(done, total, seconds_since(start));
      std::fprintf(stderr, "\n");
    }
  };
  const data::SynthesisSummary summary = data::write_synthetic_shapes(arguments.out_dir, arguments.options, progress);
  if (!arguments.quiet && terminal) std::fprintf(stderr, "\n");
  std::cout << "wrote " << summary.images << " images, " << summary.captions << " captions, " << summary.regions
            << " regions (feature dim " << arguments.options.feature_dim << ") to " << arguments.out_dir << " in "
            << seconds_since(start) << " s\n"
            << "captions: " << summary.json_path.string() << "\n";
}

struct StatsArguments {
  std::string dir;
  data::VocabularyOptions vocabulary;
  int64_t max_words = 16;
};

void run_stats(const StatsArguments& arguments) {
  std::cout << data::format_dataset_statistics(
      data::compute_dataset_statistics(arguments.dir, arguments.vocabulary, arguments.max_words));
}

struct CheckArguments {
  std::string dir;
  bool with_images = false;
  bool skip_bad = false;
};

// Reads every image of every split through the same loader training uses.
void run_check(const CheckArguments& arguments) {
  const fs::path json_path = fs::is_directory(arguments.dir) ? data::find_karpathy_json(arguments.dir)
                                                             : fs::path(arguments.dir);
  const fs::path root = json_path.parent_path();
  const data::KarpathyDataset dataset = data::load_karpathy_json(json_path);
  std::cout << dataset.describe_split_counts() << "\n";
  const data::Vocabulary vocabulary;  // captions are only encoded here, so word ids do not matter
  int64_t skipped = 0;
  for (const data::Split split : {data::Split::Train, data::Split::Val, data::Split::Test}) {
    if (dataset.indices_of_split(split).empty()) continue;
    data::CaptionBatchOptions options;
    options.split = split;
    options.images_per_batch = 64;
    options.shuffle = false;
    options.skip_bad = arguments.skip_bad;
    const data::RegionFeatureLayout layout = data::RegionFeatureLayout::under_root(root);
    if (fs::is_directory(layout.att_dir)) options.region_features = layout;  // a pixel-only set has none
    options.image_root = root;  // image sizes for relative boxes when the split file has none
    options.load_pixels = arguments.with_images;
    data::CaptionBatchLoader loader(dataset, vocabulary, options);
    int64_t images = 0;
    while (const auto batch = loader.next_batch()) images += batch->image_count;
    for (const auto& reason : loader.skipped_reasons()) std::cout << "  skipped: " << reason << "\n";
    std::cout << data::split_name(split) << ": " << images << " images read, " << loader.skipped_count()
              << " skipped\n";
    skipped += loader.skipped_count();
  }
  std::cout << (skipped == 0 ? "all items readable\n" : std::to_string(skipped) + " bad items skipped\n");
}

}  // namespace

void add_data_command(CLI::App& app) {
  CLI::App* data_command = app.add_subcommand("data", "Create, inspect and check captioning datasets");
  data_command->require_subcommand(1);

  auto synth_arguments = std::make_shared<SynthArguments>();
  CLI::App* synth = data_command->add_subcommand("synth", "Write the synthetic shapes captioning set");
  synth->add_option("--out", synth_arguments->out_dir, "Output folder")->required();
  synth->add_option("--images", synth_arguments->options.image_count, "Number of images (80/10/10 train/val/test)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  synth->add_option("--seed", synth_arguments->options.seed, "Random seed")->capture_default_str();
  synth->add_option("--size", synth_arguments->options.image_size, "Image width and height in pixels")
      ->capture_default_str()->check(CLI::Range(16, 4096));
  synth->add_option("--feature-dim", synth_arguments->options.feature_dim, "Region descriptor size")
      ->capture_default_str()->check(CLI::Range(1, 65536));
  synth->add_option("--threads", synth_arguments->options.threads, "Worker threads (0: all cores)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  synth->add_flag("--quiet", synth_arguments->quiet, "No progress bar");
  synth->callback([synth_arguments] { run_synth(*synth_arguments); });

  auto stats_arguments = std::make_shared<StatsArguments>();
  CLI::App* stats = data_command->add_subcommand("stats", "Counts, vocabulary, caption lengths and regions of a dataset");
  stats->add_option("dir", stats_arguments->dir, "Folder with a dataset_*.json (or the JSON file itself)")->required();
  stats->add_option("--min-count", stats_arguments->vocabulary.min_count, "Vocabulary minimum word count")
      ->capture_default_str();
  stats->add_option("--max-words", stats_arguments->max_words, "Maximum caption length in words")->capture_default_str();
  stats->callback([stats_arguments] { run_stats(*stats_arguments); });

  auto check_arguments = std::make_shared<CheckArguments>();
  CLI::App* check = data_command->add_subcommand("check", "Read every caption, feature file (and image) once");
  check->add_option("dir", check_arguments->dir, "Folder with a dataset_*.json (or the JSON file itself)")->required();
  check->add_flag("--images", check_arguments->with_images, "Also decode every image");
  check->add_flag("--skip-bad", check_arguments->skip_bad, "Skip and count bad items instead of stopping at the first");
  check->callback([check_arguments] { run_check(*check_arguments); });
}

}  // namespace sparsecap::apps
