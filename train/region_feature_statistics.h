#pragma once
// The statistics a captioner's RegionFeatureStandardizer (models/region_feature_standardizer.h)
// is set with: each feature dimension's mean and standard deviation over the training split's
// regions, measured once when a run starts.
#include <cstdint>
#include <vector>

#include "data/karpathy.h"
#include "data/region_features.h"
#include "models/captioner.h"

namespace sparsecap::train {

struct RegionFeatureMoments {
  std::vector<double> mean, std;  // [D] each; std is the population standard deviation
  int64_t images = 0, regions = 0;
};

// Over every region of up to `max_images` training images, spread evenly over the split (all of
// them when the split is smaller). Throws a DataError naming the file of an image whose features
// are missing or broken, or whose width differs from the first image's.
RegionFeatureMoments measure_region_features(const data::KarpathyDataset& dataset,
                                             const data::RegionFeatureLayout& layout, int64_t max_images);

// For a model with a standardizer: measures (max_images as above) and sets its statistics.
// Returns the moments (images == 0 when the model has no standardizer). A DataError naming the
// feature folder when the features' width is not the model's feature_size.
RegionFeatureMoments standardize_region_features(models::Captioner& model, const data::KarpathyDataset& dataset,
                                                 const data::RegionFeatureLayout& layout, int64_t max_images);

}  // namespace sparsecap::train
