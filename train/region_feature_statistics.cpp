#include "train/region_feature_statistics.h"

#include <cmath>
#include <string>

#include "data/data_error.h"
#include "engine/error.h"
#include "models/region_feature_standardizer.h"

namespace sparsecap::train {

RegionFeatureMoments measure_region_features(const data::KarpathyDataset& dataset,
                                             const data::RegionFeatureLayout& layout, int64_t max_images) {
  SPARSECAP_CHECK(max_images > 0, "region feature statistics: max_images must be positive, got ", max_images);
  const std::vector<size_t> train = dataset.indices_of_split(data::Split::Train);
  SPARSECAP_CHECK(!train.empty(), "region feature statistics: the dataset has no training images");
  const size_t count = std::min(train.size(), static_cast<size_t>(max_images));
  RegionFeatureMoments moments;
  std::vector<double> sum, sum_of_squares;
  for (size_t k = 0; k < count; ++k) {
    const data::KarpathyImage& image = dataset.images[train[k * train.size() / count]];
    const data::RegionFeatures features = data::load_region_features(layout, image.feature_id());
    if (sum.empty()) {
      sum.assign(static_cast<size_t>(features.feature_dim), 0.0);
      sum_of_squares = sum;
    }
    if (features.feature_dim != static_cast<int64_t>(sum.size()))
      throw data::DataError(layout.att_dir.string(), "image id " + std::to_string(image.feature_id()) + " has " +
                                                         std::to_string(features.feature_dim) + "-d features, image " +
                                                         "ids before it " + std::to_string(sum.size()) + "-d");
    for (size_t i = 0; i < features.att.size(); ++i) {
      const double value = features.att[i];
      sum[i % sum.size()] += value;
      sum_of_squares[i % sum.size()] += value * value;
    }
    moments.regions += features.region_count;
    ++moments.images;
  }
  const double n = static_cast<double>(std::max<int64_t>(moments.regions, 1));
  for (size_t d = 0; d < sum.size(); ++d) {
    const double mean = sum[d] / n;
    moments.mean.push_back(mean);
    moments.std.push_back(std::sqrt(std::max(0.0, sum_of_squares[d] / n - mean * mean)));
  }
  return moments;
}

RegionFeatureMoments standardize_region_features(models::Captioner& model, const data::KarpathyDataset& dataset,
                                                 const data::RegionFeatureLayout& layout, int64_t max_images) {
  models::RegionFeatureStandardizer* standardizer = model.region_feature_standardizer();
  if (standardizer == nullptr) return {};
  RegionFeatureMoments moments = measure_region_features(dataset, layout, max_images);
  const auto width = static_cast<int64_t>(moments.mean.size());
  if (width != standardizer->feature_size())
    throw data::DataError(layout.att_dir.string(),
                          "the region features are " + std::to_string(width) + "-d and model.feature_size is " +
                              std::to_string(standardizer->feature_size()) +
                              "; set model.feature_size to the features' width (a synthetic set written before "
                              "384-d became the default has 256-d features: delete it to regenerate it)");
  standardizer->set_statistics(moments.mean, moments.std);
  return moments;
}

}  // namespace sparsecap::train
