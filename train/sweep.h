#pragma once
// `sparsecap sweep`: every pruning method at every sparsity on one base config, as the papers'
// comparison tables. A sweep directory holds one run directory per cell (the dense baseline in
// dense/, each method x sparsity in <method>_<sparsity>/), each trained by the ordinary trainer
// with its pruning section replaced, evaluated on the test split, and its row saved in
// <cell>/eval/sweep_result.json. A cell whose result file exists is finished and skipped, so a
// stopped sweep continues where it stopped. The table of all rows goes to table.md and table.csv.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/run_config.h"

namespace sparsecap::train {

// One entry of --methods: a pruning method and, optionally, its scope ("hard:blind").
struct SweepMethod {
  std::string method;
  std::string scope;  // empty: the method's default
  std::string label() const;  // "hard:blind", "gradual"
};

// "supermask,hard:blind,gradual": entries separated by commas, each a registered pruning method
// other than "none", optionally ":" and a scope (blind, uniform, distribution). Duplicates and
// empty entries throw naming the entry.
std::vector<SweepMethod> parse_sweep_methods(const std::string& list);
// "0.8,0.9,0.95": each strictly between 0 and 1, no duplicates.
std::vector<double> parse_sweep_sparsities(const std::string& list);
// The named method lists of --method-set: "paper" (the Supermask paper's comparison: supermask,
// hard:blind, gradual, snip, lottery). Throws listing the known names.
std::string sweep_method_set(const std::string& name);

struct SweepCell {
  std::string name;          // run directory name: "dense", "hard-blind_0.95"
  std::string method_label;  // "dense", "hard:blind"
  double target_sparsity = 0;
  std::filesystem::path dir;
};

// The cell's directory name: method label with ':' as '-', '_', sparsity as written by %g.
std::string sweep_cell_name(const SweepMethod& method, double sparsity);

struct SweepPlan {
  std::filesystem::path base_config;
  std::vector<SweepMethod> methods;
  std::vector<double> sparsities;
  std::filesystem::path out;
  std::vector<std::string> overrides;  // --set, applied to every cell after the sweep's own
  int64_t steps = 0;                   // > 0: optim.max_steps of every cell
  int64_t test_images = 0;             // test images each cell is evaluated on (0: all)
  int64_t beam_size = 3;
};

// The dense cell first, then every method at every sparsity in the order given.
std::vector<SweepCell> sweep_cells(const SweepPlan& plan);
// The cell named `name`; throws listing the plan's cells when there is none.
SweepCell find_sweep_cell(const SweepPlan& plan, const std::string& name);

// The pruning section of a cell: the base config's section when it already names the method
// (keeping its options), else just the method; target_sparsity and scope set. Supermask gets
// λ = 200 / (1 − s) (docs/pruning.md, "Choosing λ for short runs"); gradual a cubic schedule from
// 10% to 50% of the run in 40 updates, so a short run prunes gradually rather than at one step.
nlohmann::json sweep_pruning_section(const nlohmann::json& base_pruning, const std::string& method,
                                     const std::string& scope, double sparsity, int64_t total_steps);

// The base config with the cell's pruning section (none for the dense cell), the steps and the
// plan's overrides applied, resolved. A config that freezes its encoder without naming its
// weights (optim.freeze_encoder, no init.encoder_weights) gets the sweep's own pre-trained encoder,
// sweep_encoder_path(plan), so that every cell starts from the same one.
RunConfig sweep_cell_config(const SweepPlan& plan, const SweepCell& cell);

// <out>/encoder.safetensors: the encoder the sweep pre-trains once on the scene labels for the
// cells of a frozen-encoder config (`sparsecap sweep` writes it before the first cell starts).
std::filesystem::path sweep_encoder_path(const SweepPlan& plan);

// One row of the table.
struct SweepRow {
  std::string method;  // "dense", "hard:blind"
  double target_sparsity = 0;
  double sparsity = 0;  // measured on the finalized model's prunable weights
  int64_t nnz = 0;
  uint64_t file_bytes = 0;  // float32 export: CSR for pruned cells, dense for the dense one
  double bleu4 = 0, meteor = 0, rouge_l = 0, cider_d = 0;
  double percent_unique = 0, average_length = 0;
  double training_seconds = 0;
  // Grounded scores on the synthetic set (data/shapes_grounded_scores.h), when the split has scene
  // files: colour + shape precision and recall and shape recall, the figures that tell a model that
  // sees from one that has only learned the captions' language (precision alone can be high for a
  // model that names almost nothing). Empty otherwise.
  std::optional<double> color_shape_precision, color_shape_recall, shape_recall;
};
void to_json(nlohmann::json& json, const SweepRow& row);
void from_json(const nlohmann::json& json, SweepRow& row);

// <cell>/eval/sweep_result.json; its existence marks the cell finished.
std::filesystem::path sweep_result_path(const SweepCell& cell);
bool sweep_cell_finished(const SweepCell& cell);
// The plan's cells without a result file, in plan order.
std::vector<SweepCell> unfinished_sweep_cells(const SweepPlan& plan);

// Trains the cell (resuming a started run, skipping training when its final checkpoint exists),
// evaluates it on the test split, exports it to measure the file size and writes its result
// file. Training seconds add up over sessions (<cell>/sweep_training_time.json).
SweepRow run_sweep_cell(const SweepPlan& plan, const SweepCell& cell);

// The rows of every finished cell, in plan order; unfinished cells are left out. The grounded
// fields come from each result's stored evaluation, so results written before a grounded column
// existed get it too.
std::vector<SweepRow> read_sweep_rows(const SweepPlan& plan);

// Markdown and CSV tables (same columns: method, target, sparsity %, NNZ, file MB, BLEU-4, METEOR,
// ROUGE-L, CIDEr-D, % unique, avg length, training s, and colour + shape P % and R % and shape R %
// when any row has grounded scores; "-" where a row has none).
std::string format_sweep_table_markdown(const std::vector<SweepRow>& rows);
std::string format_sweep_table_csv(const std::vector<SweepRow>& rows);
// table.md and table.csv in the plan's out directory.
void write_sweep_tables(const SweepPlan& plan, const std::vector<SweepRow>& rows);

}  // namespace sparsecap::train
