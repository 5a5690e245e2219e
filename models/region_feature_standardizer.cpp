#include "models/region_feature_standardizer.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::models {

RegionFeatureStandardizer::RegionFeatureStandardizer(int64_t feature_size) : feature_size_(feature_size) {
  mean_ = register_buffer("mean", zeros({feature_size}));
  std_ = register_buffer("std", full({feature_size}, 1.0));
}

Tensor RegionFeatureStandardizer::forward(const Tensor& x) const {
  SPARSECAP_CHECK(x.dim() >= 1 && x.size(x.dim() - 1) == feature_size_, "region feature standardizer: expected [..., ",
                  feature_size_, "], got ", shape_str(x.shape()));
  const Tensor mean = mean_->to(x.dtype()).to(x.device());
  const Tensor std = std_->to(x.dtype()).to(x.device());
  return div(sub(x, mean), std);
}

void RegionFeatureStandardizer::set_statistics(const std::vector<double>& mean, const std::vector<double>& std) {
  const auto size = static_cast<size_t>(feature_size_);
  SPARSECAP_CHECK(mean.size() == size && std.size() == size, "region feature statistics: expected ", size,
                  " means and stds, got ", mean.size(), " and ", std.size());
  std::vector<double> floored(std);
  for (double& value : floored) value = std::max(value, kMinimumStd);
  NoGradGuard no_grad;
  mean_->copy_(from_vector(mean, {feature_size_}).to(mean_->dtype()).to(mean_->device()));
  std_->copy_(from_vector(floored, {feature_size_}).to(std_->dtype()).to(std_->device()));
}

}  // namespace sparsecap::models
