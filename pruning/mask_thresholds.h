#pragma once
// Magnitude masks for the non-learned pruning methods (hard, gradual, lottery, iterative): the
// score of every weight, the threshold that keeps a given number of scores, and the 0/1 masks of
// the three scopes of the reference (shared/REFERENCE-NOTES.md, "Hard (one-shot) pruning"):
//   blind        one global threshold on |w| over every prunable weight;
//   uniform      every layer to the same sparsity by |w|;
//   distribution per layer |(w − mean) / std| (population std), then one global threshold.
// Thresholds are found on the device: a bisection over the bit patterns of float32 that only
// counts scores above a candidate (one reduction and one scalar read per probe), so no weight is
// copied to the host and no sort runs.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/parameter.h"
#include "engine/tensor.h"

namespace sparsecap::pruning {

enum class MaskScope { Blind, Uniform, Distribution };

// "blind", "uniform", "distribution"; an unknown name throws naming `key`.
MaskScope parse_mask_scope(const std::string& name, const std::string& key);
std::string mask_scope_name(MaskScope scope);

// Number of scores > threshold over all `scores` together.
int64_t count_above(const std::vector<Tensor>& scores, double threshold);

// The smallest threshold t with count_above(scores, t) <= keep, for non-negative float32 scores.
// With distinct scores exactly `keep` lie above t; scores tied with the boundary are all pruned.
// keep >= the number of scores gives -1 (everything kept).
double keep_threshold(const std::vector<Tensor>& scores, int64_t keep);

// How many of `total` weights a sparsity keeps: round((1 − sparsity) · total).
int64_t kept_count(int64_t total, double sparsity);

// The per-weight scores of a scope: |w| for blind and uniform, |(w − mean) / std| per layer for
// distribution (a constant layer scores 0 everywhere).
std::vector<Tensor> magnitude_scores(const std::vector<nn::ParameterPtr>& weights, MaskScope scope);

// 0/1 masks (float32, the weights' shapes and device) keeping the largest scores: one global
// threshold (blind, distribution) or one per layer (uniform).
std::vector<Tensor> masks_from_scores(const std::vector<Tensor>& scores, double sparsity, bool global);

// magnitude_scores then masks_from_scores, global for blind and distribution.
std::vector<Tensor> magnitude_masks(const std::vector<nn::ParameterPtr>& weights, double sparsity, MaskScope scope);

}  // namespace sparsecap::pruning
