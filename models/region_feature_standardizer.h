#pragma once
// Per-dimension standardisation of region features, (v - mean) / std, with the mean and standard
// deviation of the training set's regions as saved, untrained buffers ("mean", "std"), so a
// checkpoint or an export carries the statistics the model was trained with.
//
// Why: detector features (and the synthetic set's descriptors) mix dimensions of very different
// scale: a colour-histogram bin that is 0 in most regions says more than a background bin near
// 0.6. A linear att_embed on raw values learns the rare dimensions slowly. Standardised, Up-Down
// on the synthetic set named the right colour + shape 73% of the time instead of 64% after the
// same 1 200 steps (docs/captioners.md). The trainer measures the statistics once, for a fresh
// run (train/region_feature_statistics.h); until then the buffers are mean 0, std 1.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace sparsecap::models {

class RegionFeatureStandardizer : public nn::Module {
 public:
  explicit RegionFeatureStandardizer(int64_t feature_size);

  // [..., D] -> [..., D] in x's dtype and device; gradients flow to x.
  Tensor forward(const Tensor& x) const;

  // Sets the buffers; stds below kMinimumStd are raised to it (a dimension constant over the
  // training set must not blow up). Throws naming the sizes when either is not feature_size long.
  void set_statistics(const std::vector<double>& mean, const std::vector<double>& std);

  int64_t feature_size() const { return feature_size_; }

  static constexpr double kMinimumStd = 1e-3;

 private:
  int64_t feature_size_;
  std::shared_ptr<Tensor> mean_, std_;
};

}  // namespace sparsecap::models
