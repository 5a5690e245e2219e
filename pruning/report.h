#pragma once
// Sparsity and NNZ over prunable weights only (weights and embeddings; biases and normalisation
// parameters excluded, as the papers count them), per layer and overall.
#include <string>
#include <vector>

#include "engine/nn/parameter.h"

namespace sparsecap::pruning {

struct LayerSparsity {
  std::string name;
  Shape shape;
  int64_t kept = 0;
  int64_t total = 0;
  double sparsity() const { return total ? 1.0 - static_cast<double>(kept) / static_cast<double>(total) : 0.0; }
};

struct SparsityReport {
  std::vector<LayerSparsity> layers;
  int64_t kept = 0;   // NNZ
  int64_t total = 0;
  double sparsity() const { return total ? 1.0 - static_cast<double>(kept) / static_cast<double>(total) : 0.0; }
  void add(LayerSparsity layer);
};

// Non-zeros of the stored values of `weights` (a captioner's prunable parameters; after
// finalize(), the pruned model).
SparsityReport weight_sparsity(const std::vector<nn::ParameterPtr>& weights);

// The per-layer table: name, shape, kept, total, sparsity; then the overall line.
std::string format_sparsity_table(const SparsityReport& report);

}  // namespace sparsecap::pruning
