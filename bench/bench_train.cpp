// One training step of the Soft-Attention captioner (MobileNet-V1 x0.5 at 64 px, LSTM 512,
// attention 512, embedding 256, 32 images x 5 captions, Adam, clip 0.1), dense and with Supermask
// gates, on the CPU and on cuda:0 when there is one: milliseconds per step, images per second and
// the Supermask overhead. Then the same configuration trained by the real Trainer on the synthetic
// set, whose logged images/s is compared with the bare step on a batch of that set: on a GPU the
// trainer must reach 90% of the bare step (issue 16).
//
// A plain main rather than Google Benchmark: one step takes a second or more on a small CPU, so the
// step count is fixed on the command line instead of chosen by the library, and the trainer part
// is a whole run, not a loop body. Ratios are printed as the other benchmarks print theirs. The
// step itself is bench/train_step.h, shared with bench_train_libtorch.
//
// Usage: bench_train [--device cpu|cuda|all] [--warmup N] [--steps N] [--part step|trainer|all]
// Defaults: 1 warm-up and 3 timed steps on the CPU (28 steps in all: under a minute on 2 idle
// cores, about 3 minutes when other work shares them), 5 and 20 on a GPU.
// Exit status: 0; 1 when the trainer check fails on a GPU; 2 for --device cuda without a GPU or a
// bad option.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/train_step.h"
#include "cuda/cuda_runtime_info.h"
#include "engine/backend.h"
#include "engine/cpu/cpu_info.h"
#include "train/batch_tensors.h"
#include "train/dataset_setup.h"
#include "train/run_directory.h"
#include "train/trainer.h"

namespace sparsecap::bench {
namespace {

namespace fs = std::filesystem;

// The trainer must log at least this share of the bare step's images/s on a GPU.
constexpr double kTrainerBar = 0.9;

struct Options {
  std::string device = "all";  // cpu, cuda or all
  std::optional<int> warmup;   // untimed steps before the timed ones (allocator, cuDNN choices)
  std::optional<int> steps;    // timed steps per case
  std::string part = "all";    // step, trainer or all
};

// Steps of one measurement on one device.
struct Timing {
  int warmup = 0, steps = 1;
};

// The command line's counts, else the device's defaults: a CPU step takes seconds, a GPU step
// tens of milliseconds.
Timing timing_for(Device device, const Options& options) {
  const Timing defaults = device.is_cpu() ? Timing{1, 3} : Timing{5, 20};
  return {options.warmup.value_or(defaults.warmup), options.steps.value_or(defaults.steps)};
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "bench_train: %s\nusage: bench_train [--device cpu|cuda|all] [--warmup N] [--steps N] "
               "[--part step|trainer|all]\n",
               problem.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--device") options.device = value;
    else if (flag == "--part") options.part = value;
    else if (flag == "--warmup") options.warmup = std::atoi(value.c_str());
    else if (flag == "--steps") options.steps = std::atoi(value.c_str());
    else usage("unknown option " + flag);
  }
  if (options.device != "cpu" && options.device != "cuda" && options.device != "all")
    usage("--device takes cpu, cuda or all, not " + options.device);
  if (options.part != "step" && options.part != "trainer" && options.part != "all")
    usage("--part takes step, trainer or all, not " + options.part);
  if (options.warmup.value_or(0) < 0 || options.steps.value_or(1) < 1) usage("--warmup must be >= 0 and --steps >= 1");
  return options;
}

// Seconds per step over `steps` steps after `warmup` untimed ones. The device is synchronised
// before each clock reading: a GPU step returns before its last kernels finish.
double seconds_per_step(TrainingStep& step, const StepBatch& batch, Device device, const Timing& timing) {
  for (int i = 0; i < timing.warmup; ++i) step.run(batch);
  backend_for(device).synchronize();
  const double start = now_seconds();
  for (int i = 0; i < timing.steps; ++i) step.run(batch);
  backend_for(device).synchronize();
  return (now_seconds() - start) / timing.steps;
}

double images_per_second(double seconds_per_step) { return static_cast<double>(kImages) / seconds_per_step; }

// The ratio line the other benchmarks print (bench/ratio_reporter.h).
void print_ratio(const std::string& label, double ratio) { std::printf("  %-60s %8.3fx\n", label.c_str(), ratio); }

// ---- part 1: the bare step, dense and Supermask ----

void bench_bare_steps(Device device, const Timing& timing) {
  const StepBatch batch = random_batch(kVocabulary, 1);
  const int64_t total_steps = timing.warmup + timing.steps;
  const train::OptimConfig optim;
  double seconds[2];
  for (const bool supermask : {false, true}) {
    TrainingStep step(soft_attention_section(), kVocabulary, pruning_section(supermask), optim, device, total_steps);
    seconds[supermask] = seconds_per_step(step, batch, device, timing);
    std::printf("  %-10s %10.1f ms/step %10.1f images/s\n", supermask ? "supermask" : "dense",
                seconds[supermask] * 1e3, images_per_second(seconds[supermask]));
  }
  print_ratio("Supermask overhead (supermask / dense time per step)", seconds[1] / seconds[0]);
}

// ---- part 2: the Trainer against the bare step ----

// Removes the directory when the benchmark is done with it.
struct TemporaryDirectory {
  fs::path path = fs::temp_directory_path() / ("sparsecap_bench_train_" + std::to_string(::getpid()));
  TemporaryDirectory() { fs::create_directories(path); }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// The trainer's steps: the warm-up rounded up to a whole number (at least one) of timed windows,
// so that with log_every = steps one log record closes the warm-up and the next covers exactly the
// timed steps.
struct TrainerSchedule {
  int64_t warmup = 0, steps = 0;
  int64_t last() const { return warmup + steps; }
};

TrainerSchedule trainer_schedule(const Timing& timing) {
  const int64_t windows = std::max<int64_t>(1, (timing.warmup + timing.steps - 1) / timing.steps);
  return {.warmup = windows * timing.steps, .steps = timing.steps};
}

// The run config of the configuration on the synthetic set. The run stops at
// schedule.last() (stop_at_step) one step before the end of its schedule, so the validation and
// final checkpoints of the last step never run; validation, checkpoints and histograms are off
// until then. The set holds enough training images (80% of it) for every step in one epoch.
train::RunConfig trainer_config(const fs::path& data_dir, Device device, bool supermask,
                                const TrainerSchedule& schedule) {
  train::RunConfig config;
  config.device = device.str();
  config.model = soft_attention_section();
  config.pruning = pruning_section(supermask);
  config.data.dir = data_dir;
  config.data.synthetic_images = (schedule.last() * kImages * 5) / 4 + 2 * kImages;
  config.data.image_size = kImageSize;
  config.data.images_per_batch = kImages;
  config.data.seq_per_img = kSeqPerImage;
  config.data.max_words = kMaxWords;
  config.optim.max_steps = schedule.last() + 1;
  constexpr int64_t kNever = int64_t{1} << 40;
  config.schedule.log_every = schedule.steps;
  config.schedule.validate_every = kNever;
  config.schedule.checkpoint_every = kNever;
  config.schedule.histogram_every = 0;
  return config;
}

// The trainer's own numbers over the timed steps, from its log.
struct TrainerThroughput {
  double logged_images_per_second = 0;  // the log record's images_per_second: step time only
  double wall_images_per_second = 0;    // images over the wall time between the two records
};

nlohmann::json log_record_of_step(const fs::path& log, int64_t step) {
  std::ifstream file(log);
  std::string line;
  while (std::getline(file, line)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.value("step", int64_t{-1}) == step && record.contains("images_per_second")) return record;
  }
  throw Error("bench_train: " + log.string() + " has no training record of step " + std::to_string(step));
}

TrainerThroughput trainer_throughput(const fs::path& log, const TrainerSchedule& schedule) {
  const nlohmann::json first = log_record_of_step(log, schedule.warmup), last = log_record_of_step(log, schedule.last());
  const double wall = last.at("elapsed_seconds").get<double>() - first.at("elapsed_seconds").get<double>();
  return {.logged_images_per_second = last.at("images_per_second").get<double>(),
          .wall_images_per_second = static_cast<double>(schedule.steps * kImages) / wall};
}

struct RunBatch {
  StepBatch batch;
  int64_t vocabulary = 0;  // of the run's model: words and special tokens
};

// One training batch of the run's data, as the trainer's loader makes it (same vocabulary and
// caption length), for the bare step to compare with.
RunBatch first_training_batch(const train::RunConfig& config, const fs::path& run_dir) {
  const train::RunData data = train::load_run_data(config.data, train::RunDirectory{run_dir}.vocabulary());
  data::CaptionBatchLoader loader(
      data.dataset, data.vocabulary,
      train::batch_options(config.data, {.pixels = true}, data::Split::Train, config.optim.seed, true));
  loader.start_epoch(0);
  const data::CaptionBatch batch = loader.next_batch().value();
  return {.batch = {.images = train::captioner_inputs(batch).images,
                    .captions = train::caption_tensor(batch),
                    .seq_per_img = batch.seq_per_img},
          .vocabulary = train::captioner_vocabulary(data.vocabulary).size};
}

// Trains through the Trainer and returns its throughput; says so when the Trainer did not put the
// model on `device` (then the comparison measures that, not the loader).
TrainerThroughput run_trainer(const train::RunConfig& config, const fs::path& run_dir, Device device,
                              const TrainerSchedule& schedule) {
  train::Trainer trainer(config, {.run_dir = run_dir, .stop_at_step = schedule.last()});
  const Device model_device = trainer.model().parameters().front()->value().device();
  if (model_device != device)
    std::printf("  note: the Trainer keeps the model on %s although config.device is %s\n",
                model_device.str().c_str(), config.device.c_str());
  trainer.run();
  return trainer_throughput(train::RunDirectory{run_dir}.log(), schedule);
}

// One method trained by the Trainer and stepped bare on a batch of the same data.
struct TrainerComparison {
  const char* method = "";
  int64_t vocabulary = 0;
  Shape captions;
  double bare_images_per_second = 0;
  TrainerThroughput trainer;
};

TrainerComparison measure_trainer(Device device, bool supermask, const fs::path& root, const Timing& timing) {
  const TrainerSchedule schedule = trainer_schedule(timing);
  const train::RunConfig config = trainer_config(root / "shapes", device, supermask, schedule);
  const fs::path run_dir = root / (supermask ? "run_supermask" : "run_dense");
  const TrainerThroughput trainer = run_trainer(config, run_dir, device, schedule);

  const RunBatch run = first_training_batch(config, run_dir);
  TrainingStep step(config.model, run.vocabulary, config.pruning, config.optim, device, schedule.last());
  return {.method = supermask ? "supermask" : "dense",
          .vocabulary = run.vocabulary,
          .captions = run.batch.captions.shape(),
          .bare_images_per_second = images_per_second(seconds_per_step(step, run.batch, device, timing)),
          .trainer = trainer};
}

// Prints the comparison; returns false when a GPU run misses the bar.
bool report_trainer(const TrainerComparison& c, Device device) {
  std::printf("  %-10s vocabulary %lld, captions [%lld, %lld]: bare step %.1f images/s, trainer logged %.1f "
              "images/s, trainer wall %.1f images/s\n",
              c.method, static_cast<long long>(c.vocabulary), static_cast<long long>(c.captions[0]),
              static_cast<long long>(c.captions[1]), c.bare_images_per_second, c.trainer.logged_images_per_second,
              c.trainer.wall_images_per_second);
  const double ratio = c.trainer.logged_images_per_second / c.bare_images_per_second;
  print_ratio(std::string(c.method) + ": trainer logged images/s / bare step images/s", ratio);
  print_ratio(std::string(c.method) + ": trainer wall images/s / bare step images/s (information)",
              c.trainer.wall_images_per_second / c.bare_images_per_second);
  if (!device.is_cuda()) return true;  // the bar is a GPU one: on the CPU the ratio is information
  const bool pass = ratio >= kTrainerBar;
  std::printf("  %s: trainer within %.0f%% of the bare step on %s: %s\n", c.method, (1 - kTrainerBar) * 100,
              device.str().c_str(), pass ? "PASS" : "FAIL");
  return pass;
}

bool bench_trainer(Device device, const Timing& timing) {
  const TrainerSchedule schedule = trainer_schedule(timing);
  std::printf("  trainer: synthetic set at %lld px, %lld warm-up and %lld timed steps per method "
              "(warm-up rounded up to whole logging windows), log_every %lld, no validation or checkpoint inside\n",
              static_cast<long long>(kImageSize), static_cast<long long>(schedule.warmup),
              static_cast<long long>(schedule.steps), static_cast<long long>(schedule.steps));
  const TemporaryDirectory root;
  bool pass = true;
  for (const bool supermask : {false, true})
    pass = report_trainer(measure_trainer(device, supermask, root.path, timing), device) && pass;
  return pass;
}

// ---- devices ----

// The 1-minute load average from /proc/loadavg, empty elsewhere: on a shared machine other
// processes' load moves CPU step times by several times, and the reader should see it.
std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one_minute;
  file >> one_minute;
  return one_minute;
}

std::string describe(Device device) {
  if (device.is_cpu()) {
    const std::string load = load_average();
    return "cpu: " + cpu::cpu_model() + ", " + std::to_string(cpu::thread_count()) + " OpenMP threads" +
           (load.empty() ? "" : ", load average " + load + " at the start");
  }
  const cuda::DeviceInfo info = cuda::devices().at(static_cast<size_t>(device.index));
  return device.str() + ": " + info.name + ", " + cuda::runtime_summary() + ", TF32 " +
         (cuda::options().allow_tf32 ? "allowed" : "off");
}

bool bench_device(Device device, const Options& options) {
  const Timing timing = timing_for(device, options);
  std::printf("\n%s\n", describe(device).c_str());
  std::printf("  %d untimed warm-up step(s), then %d timed step(s) per case\n", timing.warmup, timing.steps);
  if (options.part != "trainer") bench_bare_steps(device, timing);
  return options.part == "step" || bench_trainer(device, timing);
}

void print_header() {
  std::printf("bench_train: one Soft-Attention training step in Trainer::step's order, dense and Supermask\n");
  std::printf("model: MobileNet-V1 x0.5 (stride-8 blocks, 8x8 memory), LSTM 512, attention 512, embedding 256, "
              "vocabulary %lld\n", static_cast<long long>(kVocabulary));
  std::printf("batch: images [%lld, 3, %lld, %lld] and captions [%lld, %lld] (%lld images x %lld captions, "
              "8..%lld words); Adam, cosine LR, clip_grad_value 0.1\n",
              static_cast<long long>(kImages), static_cast<long long>(kImageSize), static_cast<long long>(kImageSize),
              static_cast<long long>(kImages * kSeqPerImage), static_cast<long long>(kMaxWords + 2),
              static_cast<long long>(kImages), static_cast<long long>(kSeqPerImage), static_cast<long long>(kMaxWords));
  std::printf("timing: the device is synchronised before each clock reading; warm-up steps are not timed\n");
}

}  // namespace
}  // namespace sparsecap::bench

int main(int argc, char** argv) {
  using namespace sparsecap;
  const bench::Options options = bench::parse_options(argc, argv);
  bench::print_header();
  bool pass = true;
  if (options.device != "cuda") pass = bench::bench_device(Device::cpu(), options) && pass;
  if (options.device == "cpu") return pass ? 0 : 1;
  if (!cuda::built_with_cuda() || cuda::devices().empty()) {
    std::printf("\ncuda:0: no CUDA device: skipped (%s)\n", cuda::runtime_summary().c_str());
    return options.device == "cuda" ? 2 : (pass ? 0 : 1);
  }
  pass = bench::bench_device(Device::cuda(0), options) && pass;
  return pass ? 0 : 1;
}
