// `sparsecap sweep`: the dense baseline and every pruning method at every sparsity on one base
// config, each in its own run directory under --out, evaluated on the test split; then table.md,
// table.csv and cider_vs_sparsity.png (scripts/sweep_plot.py). Finished cells are skipped, so a
// stopped sweep continues. With --jobs N the cells run as N child processes of this executable
// (`sparsecap sweep ... --cell NAME`), each logging to <cell>/sweep_cell.log.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.h"
#include "apps/demo.h"
#include "apps/python_script.h"
#include "engine/error.h"
#include "train/dataset_setup.h"
#include "train/progress.h"
#include "train/sweep.h"

extern char** environ;

namespace sparsecap::apps {

namespace {

struct SweepArguments {
  std::string config;
  std::string methods;
  std::string method_set;
  std::string sparsities = "0.8,0.9,0.95,0.975,0.99";
  std::string out;
  std::vector<std::string> overrides;
  int64_t jobs = 1;
  int64_t steps = 0;
  int64_t test_images = 0;
  int64_t beam = 3;
  int64_t pretrain_steps = kDefaultPretrainSteps;  // as the demo's encoder
  bool tables_only = false;
  std::string cell;  // internal: run only this cell (the children of --jobs)
};

train::SweepPlan sweep_plan(const SweepArguments& args) {
  SPARSECAP_CHECK(args.methods.empty() || args.method_set.empty(), "sweep: give --methods or --method-set, not both");
  SPARSECAP_CHECK(!args.methods.empty() || !args.method_set.empty(), "sweep: give --methods LIST or --method-set paper");
  SPARSECAP_CHECK(args.jobs >= 1, "sweep: --jobs must be at least 1, got ", args.jobs);
  SPARSECAP_CHECK(args.steps >= 0, "sweep: --steps must not be negative, got ", args.steps);
  SPARSECAP_CHECK(args.test_images >= 0, "sweep: --test-images must not be negative, got ", args.test_images);
  SPARSECAP_CHECK(args.beam >= 1, "sweep: --beam must be at least 1, got ", args.beam);
  SPARSECAP_CHECK(args.pretrain_steps >= 1, "sweep: --pretrain-steps must be at least 1, got ", args.pretrain_steps);
  SPARSECAP_CHECK(std::filesystem::exists(args.config), "sweep: config file ", args.config, " does not exist");
  train::SweepPlan plan;
  plan.base_config = args.config;
  plan.methods = train::parse_sweep_methods(args.methods.empty() ? train::sweep_method_set(args.method_set) : args.methods);
  plan.sparsities = train::parse_sweep_sparsities(args.sparsities);
  plan.out = args.out;
  plan.overrides = args.overrides;
  plan.steps = args.steps;
  plan.test_images = args.test_images;
  plan.beam_size = args.beam;
  return plan;
}

void print_row(const train::SweepCell& cell, const train::SweepRow& row) {
  std::printf("%s: sparsity %.2f%%, CIDEr-D %.4f, BLEU-4 %.4f, trained in %s\n", cell.name.c_str(), 100.0 * row.sparsity,
              row.cider_d, row.bleu4, train::format_duration(row.training_seconds).c_str());
}

// The command line of a child that runs one cell of this sweep.
std::vector<std::string> child_arguments(const SweepArguments& args, const std::string& cell) {
  std::vector<std::string> argv = {"sparsecap",     "sweep",           "--config",          args.config,
                                   "--sparsities",  args.sparsities,   "--out",             args.out,
                                   "--steps",       std::to_string(args.steps), "--test-images", std::to_string(args.test_images),
                                   "--beam",        std::to_string(args.beam),  "--cell",        cell};
  if (!args.methods.empty()) argv.insert(argv.end(), {"--methods", args.methods});
  if (!args.method_set.empty()) argv.insert(argv.end(), {"--method-set", args.method_set});
  for (const std::string& assignment : args.overrides) argv.insert(argv.end(), {"--set", assignment});
  return argv;
}

// This process's environment with OMP_NUM_THREADS set to `threads`.
std::vector<std::string> child_environment(int64_t threads) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry; ++entry)
    if (std::strncmp(*entry, "OMP_NUM_THREADS=", 16) != 0) environment.emplace_back(*entry);
  environment.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  return environment;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Starts this executable on one cell, stdout and stderr to <cell>/sweep_cell.log.
pid_t spawn_cell(const SweepArguments& args, const train::SweepCell& cell, int64_t threads) {
  std::filesystem::create_directories(cell.dir);
  const std::string log = (cell.dir / "sweep_cell.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> argv = child_arguments(args, cell.name);
  std::vector<std::string> environment = child_environment(threads);
  std::vector<char*> argv_pointers = c_strings(argv);
  std::vector<char*> environment_pointers = c_strings(environment);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv_pointers.data(), environment_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  SPARSECAP_CHECK(error == 0, "sweep: could not start a child for cell ", cell.name, ": ", std::strerror(error));
  return pid;
}

// Runs `cells` as up to args.jobs child processes at once; returns the names of the cells whose
// child failed.
std::vector<std::string> run_cells_in_children(const SweepArguments& args, const std::vector<train::SweepCell>& cells) {
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t threads = std::max<int64_t>(1, cores / args.jobs);
  std::map<pid_t, train::SweepCell> running;
  std::vector<std::string> failed;
  size_t next = 0;
  while (next < cells.size() || !running.empty()) {
    while (next < cells.size() && static_cast<int64_t>(running.size()) < args.jobs) {
      std::printf("%s: started (log: %s)\n", cells[next].name.c_str(), (cells[next].dir / "sweep_cell.log").c_str());
      std::fflush(stdout);
      running.emplace(spawn_cell(args, cells[next], threads), cells[next]);
      ++next;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    SPARSECAP_CHECK(pid > 0, "sweep: waiting for a child failed: ", std::strerror(errno));
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const train::SweepCell cell = it->second;
    running.erase(it);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && train::sweep_cell_finished(cell)) {
      std::printf("%s: finished\n", cell.name.c_str());
    } else {
      std::printf("%s: FAILED (see %s)\n", cell.name.c_str(), (cell.dir / "sweep_cell.log").c_str());
      failed.push_back(cell.name);
    }
    std::fflush(stdout);
  }
  return failed;
}

// Runs `cells` one after the other in this process.
void run_cells_here(const train::SweepPlan& plan, const std::vector<train::SweepCell>& cells) {
  for (const train::SweepCell& cell : cells) {
    std::printf("%s: training and evaluating\n", cell.name.c_str());
    std::fflush(stdout);
    print_row(cell, train::run_sweep_cell(plan, cell));
  }
}

void write_plot(const train::SweepPlan& plan) {
  const std::filesystem::path csv = plan.out / "table.csv";
  const std::filesystem::path png = plan.out / "cider_vs_sparsity.png";
  run_python_script("sweep", "sweep_plot.py", {csv.string(), png.string()}, "the table is in " + csv.string());
  std::printf("plot: %s\n", png.c_str());
}

// table.md, table.csv and the plot from the finished cells.
void write_tables_and_plot(const train::SweepPlan& plan) {
  const std::vector<train::SweepRow> rows = train::read_sweep_rows(plan);
  train::write_sweep_tables(plan, rows);
  std::printf("\n%s\ntables: %s, %s\n", train::format_sweep_table_markdown(rows).c_str(), (plan.out / "table.md").c_str(),
              (plan.out / "table.csv").c_str());
  if (!rows.empty()) write_plot(plan);
}

void run_sweep(const SweepArguments& args) {
  const train::SweepPlan plan = sweep_plan(args);
  if (!args.cell.empty()) {
    const train::SweepCell cell = train::find_sweep_cell(plan, args.cell);
    print_row(cell, train::run_sweep_cell(plan, cell));
    return;
  }
  if (args.tables_only) {
    for (const train::SweepCell& cell : train::unfinished_sweep_cells(plan))
      std::printf("%s: not finished, left out\n", cell.name.c_str());
    write_tables_and_plot(plan);
    return;
  }
  for (const train::SweepCell& cell : train::sweep_cells(plan))
    if (train::sweep_cell_finished(cell)) std::printf("%s: finished before, skipped\n", cell.name.c_str());
  const std::vector<train::SweepCell> pending = train::unfinished_sweep_cells(plan);
  // The data set (when the config names the synthetic set and it is missing) and the encoder of a
  // frozen-encoder config that names none are made once here, not by every child at once.
  if (!pending.empty()) {
    const train::RunConfig first = train::sweep_cell_config(plan, pending.front());
    train::ensure_dataset(first.data);
    if (first.init.encoder_weights == train::sweep_encoder_path(plan).string())
      pretrained_encoder(plan.out.string(), first, args.pretrain_steps);  // writes <out>/encoder.safetensors
  }
  std::vector<std::string> failed;
  if (args.jobs > 1)
    failed = run_cells_in_children(args, pending);
  else
    run_cells_here(plan, pending);
  write_tables_and_plot(plan);
  SPARSECAP_CHECK(failed.empty(), "sweep: ", failed.size(), " cell(s) failed: ", failed.front(),
                  failed.size() > 1 ? " and others" : "", "; run the sweep again to retry them");
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArguments>();
  CLI::App* command = app.add_subcommand(
      "sweep", "Train the dense baseline and every pruning method at every sparsity, evaluate each, tabulate and plot");
  command->add_option("--config", args->config, "base config file (configs/*.json)")->required();
  command->add_option("--methods", args->methods, "methods, comma-separated, each METHOD or METHOD:SCOPE (hard:blind)");
  command->add_option("--method-set", args->method_set, "a named list instead of --methods: paper");
  command->add_option("--sparsities", args->sparsities, "target sparsities, comma-separated")->capture_default_str();
  command->add_option("--out", args->out, "sweep directory (one run directory per cell)")->required();
  command->add_option("--set", args->overrides, "override a config value in every cell: section.key=value (repeatable)");
  command->add_option("--jobs", args->jobs, "cells trained at once, as child processes")->capture_default_str();
  command->add_option("--steps", args->steps, "training steps per cell (0: the config's)")->capture_default_str();
  command->add_option("--test-images", args->test_images, "test images each cell is scored on (0: all)")->capture_default_str();
  command->add_option("--beam", args->beam, "beam size of the evaluation")->capture_default_str();
  command->add_option("--pretrain-steps", args->pretrain_steps,
                      "steps of the encoder pre-training, for a config that freezes an encoder it does not name")
      ->capture_default_str();
  command->add_flag("--tables-only", args->tables_only,
                    "write the tables and the plot from the cells finished so far; train nothing");
  command->add_option("--cell", args->cell, "run only this cell (used by --jobs)")->group("");
  command->callback([args] { run_sweep(*args); });
}

}  // namespace sparsecap::apps
