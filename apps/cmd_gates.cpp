// `sparsecap gates`: the figures of a pruned run (or two, overlaid) — gating average and sparsity
// against steps per layer, final sparsity per layer, |w| of kept and pruned weights, and for every
// LSTM/GRU weight its sparsity per gate block and a heat map — with an index.md. The data come
// from train/gate_report; scripts/gates_report.py draws them with matplotlib.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/python_script.h"
#include "engine/error.h"
#include "engine/serialize/atomic_file.h"
#include "train/gate_report.h"

namespace sparsecap::apps {

namespace {

struct GatesArguments {
  std::string run;
  std::vector<std::string> compare;
  std::string out;
};

void run_gates(const GatesArguments& args) {
  std::vector<std::string> runs = args.compare;
  if (!args.run.empty()) runs.insert(runs.begin(), args.run);
  SPARSECAP_CHECK(!runs.empty() && runs.size() <= 2, "gates: give --run RUN_DIR, or --compare RUN_A RUN_B");
  std::filesystem::create_directories(args.out);
  nlohmann::json data = nlohmann::json::array();
  for (const std::string& run : runs) data.push_back(train::gate_report_data(run));
  const std::filesystem::path data_file = std::filesystem::path(args.out) / "gates_data.json";
  write_file_atomically(data_file, data.dump() + "\n");
  run_python_script("gates", "gates_report.py", {data_file.string(), args.out},
                    "the data are in " + data_file.string());
  std::printf("gates report: %s\n", (std::filesystem::path(args.out) / "index.md").c_str());
}

}  // namespace

void add_gates_command(CLI::App& app) {
  auto args = std::make_shared<GatesArguments>();
  CLI::App* command = app.add_subcommand("gates", "Figures of how a pruned run's gates or masks evolved and ended");
  command->add_option("--run", args->run, "run directory");
  command->add_option("--compare", args->compare, "two run directories, overlaid")->expected(2);
  command->add_option("--out", args->out, "output folder (PNG figures and index.md)")->required();
  command->callback([args] { run_gates(*args); });
}

}  // namespace sparsecap::apps
