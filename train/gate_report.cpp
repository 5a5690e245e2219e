#include "train/gate_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/serialize/checkpoint.h"
#include "train/frozen_encoder.h"
#include "train/run_directory.h"
#include "train/frozen_encoder.h"
#include "train/trained_run.h"

namespace sparsecap::train {

namespace {

constexpr int kHeatmapCells = 48;
constexpr int kMagnitudeBins = 60;

nlohmann::json mask_history(const std::filesystem::path& log_path) {
  std::ifstream in(log_path);
  SPARSECAP_CHECK(in.good(), "cannot read the training log ", log_path.string());
  nlohmann::json history = nlohmann::json::array();
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.contains("per_mask_sparsity")) continue;
    nlohmann::json kept = {{"step", record.at("step")},
                           {"sparsity", record.value("sparsity", 0.0)},
                           {"per_mask_sparsity", record.at("per_mask_sparsity")}};
    for (const char* key : {"gating_average", "per_mask_gating_average"})
      if (record.contains(key)) kept[key] = record.at(key);
    history.push_back(kept);
  }
  return history;
}

// Kept fraction of `mask` (rows x columns, 0/1) averaged over a grid of at most kHeatmapCells².
nlohmann::json heatmap(const std::vector<float>& mask, int64_t rows, int64_t columns) {
  const int64_t grid_rows = std::min<int64_t>(rows, kHeatmapCells), grid_columns = std::min<int64_t>(columns, kHeatmapCells);
  std::vector<double> kept(static_cast<size_t>(grid_rows * grid_columns), 0.0), count(kept.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < columns; ++c) {
      const size_t cell = static_cast<size_t>((r * grid_rows / rows) * grid_columns + c * grid_columns / columns);
      kept[cell] += mask[static_cast<size_t>(r * columns + c)];
      count[cell] += 1;
    }
  nlohmann::json grid = nlohmann::json::array();
  for (int64_t r = 0; r < grid_rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t c = 0; c < grid_columns; ++c) {
      const size_t cell = static_cast<size_t>(r * grid_columns + c);
      row.push_back(count[cell] > 0 ? kept[cell] / count[cell] : 0.0);
    }
    grid.push_back(row);
  }
  return grid;
}

// The gates of a recurrent cell's stacked weight (w_ih, w_hh: [G * H, ...], PyTorch's gate
// order), read from the parameter name: a GRU's module is called "gru", anything else is an LSTM.
std::vector<std::string> gate_block_names(const std::string& name) {
  const bool recurrent = name.ends_with(".w_ih") || name.ends_with(".w_hh");
  if (!recurrent) return {};
  if (name.find("gru") != std::string::npos) return {"r", "z", "n"};
  return {"i", "f", "g", "o"};
}

nlohmann::json gate_blocks(const std::vector<std::string>& names, const std::vector<float>& mask, int64_t rows,
                           int64_t columns) {
  const int64_t blocks = static_cast<int64_t>(names.size());
  if (blocks == 0 || rows % blocks != 0) return nullptr;
  const int64_t block_rows = rows / blocks;
  nlohmann::json sparsity = nlohmann::json::array();
  for (int64_t b = 0; b < blocks; ++b) {
    double kept = 0;
    for (int64_t i = b * block_rows * columns; i < (b + 1) * block_rows * columns; ++i) kept += mask[static_cast<size_t>(i)];
    sparsity.push_back(1.0 - kept / static_cast<double>(block_rows * columns));
  }
  return {{"names", names}, {"sparsity", sparsity}};
}

}  // namespace

nlohmann::json gate_report_data(const std::filesystem::path& run_dir) {
  const RunDirectory run{run_dir};
  TrainedRun trained = load_trained_run(run_dir);  // finalized: pruned weights are zero
  const Checkpoint checkpoint = load_checkpoint(trained.checkpoint);
  nlohmann::json layers = nlohmann::json::array();
  std::vector<float> kept_magnitudes, pruned_magnitudes;
  NoGradGuard no_grad;
  for (const nn::ParameterPtr& weight : pruned_parameters(*trained.model, trained.config)) {
    const std::vector<float> finalized = weight->value().to_vector<float>();
    // The weight before finalize: magnitudes of the pruned ones too.
    const std::vector<float> raw = checkpoint.tensor("model." + weight->name()).to(DType::F32).to_vector<float>();
    const int64_t rows = weight->shape()[0], columns = weight->numel() / std::max<int64_t>(rows, 1);
    std::vector<float> mask(finalized.size());
    int64_t kept = 0;
    for (size_t i = 0; i < finalized.size(); ++i) {
      mask[i] = finalized[i] != 0.0f ? 1.0f : 0.0f;
      kept += mask[i] != 0.0f;
      (mask[i] != 0.0f ? kept_magnitudes : pruned_magnitudes).push_back(std::abs(raw[i]));
    }
    nlohmann::json layer = {{"name", weight->name()},
                            {"shape", weight->shape()},
                            {"kept", kept},
                            {"total", weight->numel()},
                            {"sparsity", 1.0 - static_cast<double>(kept) / static_cast<double>(weight->numel())},
                            {"heatmap", heatmap(mask, rows, columns)}};
    const nlohmann::json blocks = gate_blocks(gate_block_names(weight->name()), mask, rows, columns);
    if (!blocks.is_null()) layer["gate_blocks"] = blocks;
    layers.push_back(layer);
  }
  float largest = 0;
  for (const auto* values : {&kept_magnitudes, &pruned_magnitudes})
    for (float v : *values) largest = std::max(largest, v);
  std::vector<double> edges, kept_counts(kMagnitudeBins, 0.0), pruned_counts(kMagnitudeBins, 0.0);
  for (int i = 0; i <= kMagnitudeBins; ++i) edges.push_back(static_cast<double>(largest) * i / kMagnitudeBins);
  auto count_into = [&](const std::vector<float>& values, std::vector<double>& counts) {
    for (float v : values) {
      const int bin = largest > 0 ? static_cast<int>(v / largest * kMagnitudeBins) : 0;
      counts[static_cast<size_t>(std::clamp(bin, 0, kMagnitudeBins - 1))] += 1;
    }
  };
  count_into(kept_magnitudes, kept_counts);
  count_into(pruned_magnitudes, pruned_counts);
  return {{"run", run_dir.string()},
          {"method", trained.config.pruning.value("method", "none")},
          {"target_sparsity", trained.config.pruning.value("target_sparsity", 0.0)},
          {"log", mask_history(run.log())},
          {"layers", layers},
          {"magnitude", {{"edges", edges}, {"kept", kept_counts}, {"pruned", pruned_counts}}}};
}

}  // namespace sparsecap::train
