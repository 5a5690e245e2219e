#include "train/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "engine/serialize/atomic_file.h"
#include "eval/coco_results.h"
#include "pruning/mask_thresholds.h"
#include "pruning/method_registry.h"
#include "train/evaluation.h"
#include "train/exported_model.h"
#include "train/run_directory.h"
#include "train/trained_run.h"
#include "train/trainer.h"

namespace sparsecap::train {

using nlohmann::json;

namespace {

// The comma-separated entries of `list`, empty ones included ("" is one empty entry).
std::vector<std::string> split_list(const std::string& list) {
  if (list.empty()) return {""};
  std::vector<std::string> entries;
  std::stringstream stream(list);
  std::string entry;
  while (std::getline(stream, entry, ',')) entries.push_back(entry);
  if (!list.empty() && list.back() == ',') entries.push_back("");
  return entries;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  SPARSECAP_CHECK(in.good(), "cannot open ", path.string());
  json document = json::parse(in, nullptr, false);
  SPARSECAP_CHECK(!document.is_discarded(), path.string(), " is not valid JSON");
  return document;
}

std::filesystem::path training_time_path(const SweepCell& cell) { return cell.dir / "sweep_training_time.json"; }

double recorded_training_seconds(const SweepCell& cell) {
  if (!std::filesystem::exists(training_time_path(cell))) return 0;
  return read_json_file(training_time_path(cell)).at("training_seconds").get<double>();
}

void record_training_seconds(const SweepCell& cell, double seconds) {
  write_file_atomically(training_time_path(cell), json{{"training_seconds", seconds}}.dump() + "\n");
}

// Trains the cell's run to its end unless its final checkpoint exists; returns the training
// seconds of all its sessions.
double train_sweep_cell(const SweepPlan& plan, const SweepCell& cell) {
  const RunDirectory run{cell.dir};
  double seconds = recorded_training_seconds(cell);
  if (std::filesystem::exists(run.final_checkpoint())) return seconds;
  const bool resume = std::filesystem::exists(run.last_checkpoint());
  const TrainSummary summary = train_captioner(sweep_cell_config(plan, cell), TrainOptions{cell.dir, resume});
  seconds += summary.wall_seconds;
  record_training_seconds(cell, seconds);
  if (summary.interrupted) throw Error("sweep interrupted in cell " + cell.name + "; run it again to continue");
  return seconds;
}

// The finalized model exported as float32 (CSR for a pruned model, dense for the dense one): its
// file size in bytes.
uint64_t export_file_bytes(const TrainedRun& trained, const SweepCell& cell) {
  sparse::ExportOptions options;
  options.dense = !trained.pruned;
  const std::filesystem::path path = cell.dir / (trained.pruned ? "model.csr-f32.safetensors" : "model.dense-f32.safetensors");
  return export_trained_run(trained, path, options).file_bytes;
}

// Test-split captions and every score, as `sparsecap eval` computes them (grounded scores when the
// split has scene files).
SplitEvaluation evaluate_on_test_split(TrainedRun& trained, const SweepPlan& plan, const SweepCell& cell) {
  const int64_t max_words = trained.model->decoding_options().max_words;
  const SplitCaptions captions = caption_split(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                               trained.config.data, data::Split::Test, plan.test_images, plan.beam_size, max_words);
  SplitEvaluation evaluation = evaluate_captions(captions, trained.data.dataset, trained.data.vocabulary.size());
  const std::string blank_caption = caption_blank_image(*trained.model, trained.data.dataset, trained.data.vocabulary,
                                                        trained.config.data, plan.beam_size, max_words);
  evaluation.grounded = grounded_evaluation(captions, trained.data.dataset, trained.config.data, blank_caption);
  std::filesystem::create_directories(cell.dir / "eval");
  eval::write_coco_results(captions.candidates, cell.dir / "eval" / "test_captions.json");
  return evaluation;
}

SweepRow sweep_row(const SweepCell& cell, const TrainedRun& trained, const SplitEvaluation& evaluation) {
  SweepRow row;
  row.method = cell.method_label;
  row.target_sparsity = cell.target_sparsity;
  row.sparsity = trained.sparsity.sparsity();
  row.nnz = trained.sparsity.kept;
  const eval::CaptionScores& scores = evaluation.scores;
  row.bleu4 = scores.metric("BLEU_4").corpus;
  row.meteor = scores.meteor().corpus;
  row.rouge_l = scores.metric("ROUGE_L").corpus;
  row.cider_d = scores.metric("CIDEr_D").corpus;
  row.percent_unique = evaluation.statistics.percent_unique;
  row.average_length = evaluation.statistics.average_length;
  if (evaluation.grounded) {
    row.color_shape_precision = evaluation.grounded->model.color_shape.precision();
    row.color_shape_recall = evaluation.grounded->model.color_shape.recall();
    row.shape_recall = evaluation.grounded->model.shape.recall();
  }
  return row;
}

std::string format_sparsity_label(double sparsity) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", sparsity);
  return text;
}

}  // namespace

std::string SweepMethod::label() const { return scope.empty() ? method : method + ":" + scope; }

std::vector<SweepMethod> parse_sweep_methods(const std::string& list) {
  const std::vector<std::string> known = pruning::pruning_method_names();
  std::vector<SweepMethod> methods;
  std::set<std::string> seen;
  for (const std::string& entry : split_list(list)) {
    SPARSECAP_CHECK(!entry.empty(), "--methods: empty entry in \"", list, "\"");
    SweepMethod method;
    const size_t colon = entry.find(':');
    method.method = entry.substr(0, colon);
    if (colon != std::string::npos) method.scope = entry.substr(colon + 1);
    SPARSECAP_CHECK(method.method != "none" && std::find(known.begin(), known.end(), method.method) != known.end(),
                    "--methods: unknown pruning method \"", method.method, "\" in \"", entry, "\" (known: ", join(known), ")");
    if (colon != std::string::npos) pruning::parse_mask_scope(method.scope, "--methods " + entry);
    SPARSECAP_CHECK(seen.insert(method.label()).second, "--methods: \"", entry, "\" is listed twice");
    methods.push_back(method);
  }
  return methods;
}

std::vector<double> parse_sweep_sparsities(const std::string& list) {
  std::vector<double> sparsities;
  for (const std::string& entry : split_list(list)) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(entry, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    SPARSECAP_CHECK(used > 0 && used == entry.size(), "--sparsities: \"", entry, "\" is not a number");
    SPARSECAP_CHECK(value > 0 && value < 1, "--sparsities: ", entry, " is not between 0 and 1 (exclusive)");
    SPARSECAP_CHECK(std::find(sparsities.begin(), sparsities.end(), value) == sparsities.end(), "--sparsities: ", entry,
                    " is listed twice");
    sparsities.push_back(value);
  }
  return sparsities;
}

std::string sweep_method_set(const std::string& name) {
  if (name == "paper") return "supermask,hard:blind,gradual,snip,lottery";
  throw Error("--method-set: unknown set \"" + name + "\" (known: paper)");
}

std::string sweep_cell_name(const SweepMethod& method, double sparsity) {
  std::string label = method.label();
  std::replace(label.begin(), label.end(), ':', '-');
  return label + "_" + format_sparsity_label(sparsity);
}

std::vector<SweepCell> sweep_cells(const SweepPlan& plan) {
  std::vector<SweepCell> cells = {{"dense", "dense", 0.0, plan.out / "dense"}};
  for (const SweepMethod& method : plan.methods)
    for (double sparsity : plan.sparsities) {
      const std::string name = sweep_cell_name(method, sparsity);
      cells.push_back({name, method.label(), sparsity, plan.out / name});
    }
  return cells;
}

SweepCell find_sweep_cell(const SweepPlan& plan, const std::string& name) {
  std::vector<std::string> names;
  for (const SweepCell& cell : sweep_cells(plan)) {
    if (cell.name == name) return cell;
    names.push_back(cell.name);
  }
  throw Error("the sweep has no cell \"" + name + "\" (cells: " + join(names) + ")");
}

json sweep_pruning_section(const json& base_pruning, const std::string& method, const std::string& scope,
                           double sparsity, int64_t total_steps) {
  const bool same_method = base_pruning.is_object() && base_pruning.value("method", "none") == method;
  json section = same_method ? base_pruning : json{{"method", method}};
  section["target_sparsity"] = sparsity;
  if (!scope.empty()) section["scope"] = scope;
  if (method == "supermask") section["sparsity_weight"] = 200.0 / (1.0 - sparsity);
  if (method == "gradual" && total_steps > 0) {
    section["start_step"] = std::max<int64_t>(1, total_steps / 10);
    section["update_every"] = std::max<int64_t>(1, total_steps / 100);
    section["end_fraction"] = 0.5;
  }
  return section;
}

RunConfig sweep_cell_config(const SweepPlan& plan, const SweepCell& cell) {
  json document = read_json_file(plan.base_config);
  if (plan.steps > 0) document["optim"]["max_steps"] = plan.steps;
  // The run's length as the overrides leave it, for the schedules of the pruning section.
  json overridden = document;
  for (const std::string& assignment : plan.overrides) apply_override(overridden, assignment);
  const int64_t total_steps = overridden.value(json::json_pointer("/optim/max_steps"), int64_t{0});
  const json base_pruning = document.value("pruning", json::object());
  if (cell.method_label == "dense") {
    document["pruning"] = {{"method", "none"}};
  } else {
    const size_t colon = cell.method_label.find(':');
    const std::string scope = colon == std::string::npos ? "" : cell.method_label.substr(colon + 1);
    document["pruning"] = sweep_pruning_section(base_pruning, cell.method_label.substr(0, colon), scope,
                                                cell.target_sparsity, total_steps);
  }
  RunConfig config;
  try {
    config = parse_run_config(std::move(document), plan.overrides);
  } catch (const Error& e) {
    throw Error(plan.base_config.string() + " (sweep cell " + cell.name + "): " + e.what());
  }
  if (config.optim.freeze_encoder && config.init.encoder_weights.empty())
    config.init.encoder_weights = sweep_encoder_path(plan).string();
  return config;
}

std::filesystem::path sweep_encoder_path(const SweepPlan& plan) { return plan.out / "encoder.safetensors"; }

void to_json(json& out, const SweepRow& row) {
  out = {{"method", row.method},
         {"target_sparsity", row.target_sparsity},
         {"sparsity", row.sparsity},
         {"nnz", row.nnz},
         {"file_bytes", row.file_bytes},
         {"BLEU_4", row.bleu4},
         {"METEOR", row.meteor},
         {"ROUGE_L", row.rouge_l},
         {"CIDEr_D", row.cider_d},
         {"percent_unique", row.percent_unique},
         {"average_length", row.average_length},
         {"training_seconds", row.training_seconds}};
  if (row.color_shape_precision) out["color_shape_precision"] = *row.color_shape_precision;
  if (row.color_shape_recall) out["color_shape_recall"] = *row.color_shape_recall;
  if (row.shape_recall) out["shape_recall"] = *row.shape_recall;
}

void from_json(const json& in, SweepRow& row) {
  row.method = in.at("method").get<std::string>();
  row.target_sparsity = in.at("target_sparsity").get<double>();
  row.sparsity = in.at("sparsity").get<double>();
  row.nnz = in.at("nnz").get<int64_t>();
  row.file_bytes = in.at("file_bytes").get<uint64_t>();
  row.bleu4 = in.at("BLEU_4").get<double>();
  row.meteor = in.at("METEOR").get<double>();
  row.rouge_l = in.at("ROUGE_L").get<double>();
  row.cider_d = in.at("CIDEr_D").get<double>();
  row.percent_unique = in.at("percent_unique").get<double>();
  row.average_length = in.at("average_length").get<double>();
  row.training_seconds = in.at("training_seconds").get<double>();
  // Rows written before the grounded columns existed have none of these fields.
  if (in.contains("color_shape_precision")) row.color_shape_precision = in.at("color_shape_precision").get<double>();
  if (in.contains("color_shape_recall")) row.color_shape_recall = in.at("color_shape_recall").get<double>();
  if (in.contains("shape_recall")) row.shape_recall = in.at("shape_recall").get<double>();
}

std::filesystem::path sweep_result_path(const SweepCell& cell) { return cell.dir / "eval" / "sweep_result.json"; }

bool sweep_cell_finished(const SweepCell& cell) { return std::filesystem::exists(sweep_result_path(cell)); }

std::vector<SweepCell> unfinished_sweep_cells(const SweepPlan& plan) {
  std::vector<SweepCell> cells;
  for (const SweepCell& cell : sweep_cells(plan))
    if (!sweep_cell_finished(cell)) cells.push_back(cell);
  return cells;
}

SweepRow run_sweep_cell(const SweepPlan& plan, const SweepCell& cell) {
  const double training_seconds = train_sweep_cell(plan, cell);
  TrainedRun trained = load_trained_run(cell.dir);
  const SplitEvaluation evaluation = evaluate_on_test_split(trained, plan, cell);
  SweepRow row = sweep_row(cell, trained, evaluation);
  row.file_bytes = export_file_bytes(trained, cell);
  row.training_seconds = training_seconds;
  json result = {{"row", row}, {"checkpoint", trained.checkpoint.string()}, {"beam_size", plan.beam_size},
                 {"evaluation", evaluation_to_json(evaluation)}};
  write_file_atomically(sweep_result_path(cell), result.dump(2) + "\n");
  return row;
}

std::vector<SweepRow> read_sweep_rows(const SweepPlan& plan) {
  std::vector<SweepRow> rows;
  for (const SweepCell& cell : sweep_cells(plan)) {
    if (!sweep_cell_finished(cell)) continue;
    const json result = read_json_file(sweep_result_path(cell));
    SweepRow row = result.at("row").get<SweepRow>();
    const json grounded = result.value(json::json_pointer("/evaluation/grounded"), json());
    if (grounded.is_object()) {
      row.color_shape_precision = grounded.at("color_shape").at("precision").get<double>();
      row.color_shape_recall = grounded.at("color_shape").at("recall").get<double>();
      row.shape_recall = grounded.at("shape").at("recall").get<double>();
    }
    rows.push_back(row);
  }
  return rows;
}

namespace {

bool any_grounded(const std::vector<SweepRow>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const SweepRow& row) { return row.color_shape_precision.has_value(); });
}

// The columns of both tables, formatted; the grounded ones only `with_grounded`.
std::vector<std::string> table_cells(const SweepRow& row, bool with_grounded) {
  auto format = [](const char* pattern, double value) {
    char text[64];
    std::snprintf(text, sizeof(text), pattern, value);
    return std::string(text);
  };
  auto percent = [&](const std::optional<double>& value) {
    return value ? format("%.1f", 100.0 * *value) : std::string("-");
  };
  std::vector<std::string> cells = {row.method,
          format("%g", row.target_sparsity),
          format("%.2f", 100.0 * row.sparsity),
          std::to_string(row.nnz),
          format("%.3f", static_cast<double>(row.file_bytes) / 1e6),
          format("%.4f", row.bleu4),
          format("%.4f", row.meteor),
          format("%.4f", row.rouge_l),
          format("%.4f", row.cider_d),
          format("%.1f", row.percent_unique),
          format("%.2f", row.average_length),
          format("%.0f", row.training_seconds)};
  if (with_grounded)
    cells.insert(cells.end(),
                 {percent(row.color_shape_precision), percent(row.color_shape_recall), percent(row.shape_recall)});
  return cells;
}

std::vector<std::string> table_header(bool with_grounded) {
  std::vector<std::string> header = {"method",  "target",  "sparsity %", "NNZ",      "file MB",    "BLEU-4",
                                     "METEOR", "ROUGE-L", "CIDEr-D",    "% unique", "avg length", "training s"};
  if (with_grounded) header.insert(header.end(), {"colour+shape P %", "colour+shape R %", "shape R %"});
  return header;
}

std::string joined(const std::vector<std::string>& cells, const std::string& separator) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? separator : "") + cells[i];
  return line;
}

std::string markdown_line(const std::vector<std::string>& cells) { return "| " + joined(cells, " | ") + " |\n"; }

}  // namespace

std::string format_sweep_table_markdown(const std::vector<SweepRow>& rows) {
  const bool grounded = any_grounded(rows);
  std::string out = markdown_line(table_header(grounded));
  out += markdown_line(std::vector<std::string>(table_header(grounded).size(), "---"));
  for (const SweepRow& row : rows) out += markdown_line(table_cells(row, grounded));
  return out;
}

std::string format_sweep_table_csv(const std::vector<SweepRow>& rows) {
  const bool grounded = any_grounded(rows);
  std::string out = joined(table_header(grounded), ",") + "\n";
  for (const SweepRow& row : rows) out += joined(table_cells(row, grounded), ",") + "\n";
  return out;
}

void write_sweep_tables(const SweepPlan& plan, const std::vector<SweepRow>& rows) {
  write_file_atomically(plan.out / "table.md", format_sweep_table_markdown(rows));
  write_file_atomically(plan.out / "table.csv", format_sweep_table_csv(rows));
}

}  // namespace sparsecap::train
