#pragma once
// Detector ("bottom-up") region features on disk, one file per image, named by the image's feature
// id (cocoid for COCO, imgid otherwise):
//   <root>/cocobu_att/<id>.npy  [N, D]  one feature per region (or <id>.npz holding it; the array
//                                       named "feat" or "att", or the archive's only array)
//   <root>/cocobu_fc/<id>.npy   [D]     the global feature (optional: the mean of att when absent)
//   <root>/cocobu_box/<id>.npy  [N, 4]  x0, y0, x1, y1 in pixels (optional; needed by the Object
//                                       Relation Transformer)
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sparsecap::data {

struct RegionFeatureLayout {
  std::filesystem::path att_dir;
  std::filesystem::path fc_dir;   // empty: fc is the mean of the region features
  std::filesystem::path box_dir;  // empty: no boxes

  // <root>/<prefix>_att, _fc, _box; fc and box only when those folders exist.
  static RegionFeatureLayout under_root(const std::filesystem::path& root, const std::string& prefix = "cocobu");
};

struct RegionFeatures {
  int64_t region_count = 0;
  int64_t feature_dim = 0;
  std::vector<float> att;    // [region_count, feature_dim]
  std::vector<float> fc;     // [feature_dim]
  std::vector<float> boxes;  // [region_count, 4] absolute pixels; empty without a box folder
};

// DataError naming the file when a file is missing ("no features for image id ..."), unreadable,
// has the wrong shape, or holds NaN/Inf.
RegionFeatures load_region_features(const RegionFeatureLayout& layout, int64_t feature_id);

// Number of regions of one image from the att file's header alone (for statistics).
int64_t read_region_count(const RegionFeatureLayout& layout, int64_t feature_id);

}  // namespace sparsecap::data
