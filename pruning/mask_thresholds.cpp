#include "pruning/mask_thresholds.h"

#include <bit>
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace sparsecap::pruning {

MaskScope parse_mask_scope(const std::string& name, const std::string& key) {
  if (name == "blind") return MaskScope::Blind;
  if (name == "uniform") return MaskScope::Uniform;
  if (name == "distribution") return MaskScope::Distribution;
  throw Error(key + ": unknown scope \"" + name + "\" (known: blind, uniform, distribution)");
}

std::string mask_scope_name(MaskScope scope) {
  switch (scope) {
    case MaskScope::Blind: return "blind";
    case MaskScope::Uniform: return "uniform";
    case MaskScope::Distribution: return "distribution";
  }
  return "?";
}

int64_t count_above(const std::vector<Tensor>& scores, double threshold) {
  NoGradGuard no_grad;
  int64_t count = 0;
  for (const Tensor& score : scores) count += std::llround(sum(greater_than(score, threshold)).item());
  return count;
}

double keep_threshold(const std::vector<Tensor>& scores, int64_t keep) {
  int64_t total = 0;
  for (const Tensor& score : scores) {
    SPARSECAP_CHECK(score.dtype() == DType::F32, "keep_threshold: scores must be float32, got ",
                    dtype_name(score.dtype()));
    total += score.numel();
  }
  SPARSECAP_CHECK(keep >= 0, "keep_threshold: cannot keep ", keep, " scores");
  if (keep >= total) return -1.0;
  // Non-negative float32 values order as their bit patterns do, so bisecting over the patterns
  // in [0, +inf] finds the exact boundary value in at most 31 probes.
  uint32_t low = 0, high = std::bit_cast<uint32_t>(std::numeric_limits<float>::infinity());
  if (count_above(scores, 0.0) <= keep) return 0.0;
  while (high - low > 1) {  // invariant: count_above(low) > keep >= count_above(high)
    const uint32_t middle = low + (high - low) / 2;
    if (count_above(scores, std::bit_cast<float>(middle)) <= keep)
      high = middle;
    else
      low = middle;
  }
  return std::bit_cast<float>(high);
}

int64_t kept_count(int64_t total, double sparsity) {
  SPARSECAP_CHECK(sparsity >= 0 && sparsity <= 1, "sparsity ", sparsity, " outside [0, 1]");
  return std::llround((1.0 - sparsity) * static_cast<double>(total));
}

std::vector<Tensor> magnitude_scores(const std::vector<nn::ParameterPtr>& weights, MaskScope scope) {
  NoGradGuard no_grad;
  std::vector<Tensor> scores;
  for (const nn::ParameterPtr& weight : weights) {
    const Tensor& w = weight->value();
    if (scope != MaskScope::Distribution) {
      scores.push_back(abs(w));
      continue;
    }
    const double mean_value = mean(w).item();
    const Tensor centred = add_scalar(w, -mean_value);
    const double std_value = std::sqrt(mean(mul(centred, centred)).item());  // population std
    scores.push_back(std_value > 0 ? mul_scalar(abs(centred), 1.0 / std_value) : mul_scalar(abs(centred), 0.0));
  }
  return scores;
}

std::vector<Tensor> masks_from_scores(const std::vector<Tensor>& scores, double sparsity, bool global) {
  NoGradGuard no_grad;
  std::vector<Tensor> masks;
  if (global) {
    int64_t total = 0;
    for (const Tensor& score : scores) total += score.numel();
    const double threshold = keep_threshold(scores, kept_count(total, sparsity));
    for (const Tensor& score : scores) masks.push_back(greater_than(score, threshold));
    return masks;
  }
  for (const Tensor& score : scores)
    masks.push_back(greater_than(score, keep_threshold({score}, kept_count(score.numel(), sparsity))));
  return masks;
}

std::vector<Tensor> magnitude_masks(const std::vector<nn::ParameterPtr>& weights, double sparsity, MaskScope scope) {
  return masks_from_scores(magnitude_scores(weights, scope), sparsity, scope != MaskScope::Uniform);
}

}  // namespace sparsecap::pruning
