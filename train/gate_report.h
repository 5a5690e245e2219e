#pragma once
// The data behind `sparsecap gates`: how a pruned run's masks came about and where they ended,
// gathered from its log.jsonl and its evaluation checkpoint, for any pruning method (gates or
// fixed masks: the kept set is what finalize leaves non-zero). scripts/gates_report.py draws the
// figures from it.
#include <filesystem>

#include <nlohmann/json.hpp>

namespace sparsecap::train {

// {"run", "method", "target_sparsity",
//  "log": [{"step", "sparsity", "gating_average"?, "per_mask_sparsity": {..},
//           "per_mask_gating_average"?: {..}}, ...]   (records that carry per-layer sparsity)
//  "layers": [{"name", "shape", "kept", "total", "sparsity",
//              "heatmap": [[kept fraction]] (rows x columns averaged into at most 48 x 48 cells),
//              "gate_blocks"?: {"names": ["i","f","g","o"], "sparsity": [..]}}]  (LSTM/GRU weights)
//  "magnitude": {"edges": [..], "kept": [..], "pruned": [..]}}  (|w| before finalize, 60 bins)
// Errors name the run directory or file.
nlohmann::json gate_report_data(const std::filesystem::path& run_dir);

}  // namespace sparsecap::train
