#include "data/region_features.h"

#include "data/data_error.h"
#include "data/npy.h"
#include "data/npz.h"

namespace sparsecap::data {

namespace {

namespace fs = std::filesystem;

// <dir>/<id>.npy, else <dir>/<id>.npz; DataError when neither exists.
fs::path find_feature_file(const fs::path& dir, int64_t feature_id, const char* kind) {
  const fs::path npy = dir / (std::to_string(feature_id) + ".npy");
  if (fs::exists(npy)) return npy;
  const fs::path npz = dir / (std::to_string(feature_id) + ".npz");
  if (fs::exists(npz)) return npz;
  throw DataError(npy.string(), std::string("no ") + kind + " features for image id " + std::to_string(feature_id) +
                                    " (neither " + npy.filename().string() + " nor " + npz.filename().string() +
                                    " exists in " + dir.string() + ")");
}

FloatArray read_feature_array(const fs::path& path) {
  if (path.extension() == ".npy") return read_npy_file(path);
  NamedArrays arrays = read_npz_file(path);
  for (const char* name : {"feat", "att", "x"})
    if (arrays.count(name)) return std::move(arrays[name]);
  if (arrays.size() == 1) return std::move(arrays.begin()->second);
  std::string names;
  for (const auto& entry : arrays) names += (names.empty() ? "" : ", ") + entry.first;
  throw DataError(path.string(), "cannot tell which array holds the features (expected one named \"feat\" or "
                                 "\"att\", found: " + names + ")");
}

}  // namespace

RegionFeatureLayout RegionFeatureLayout::under_root(const fs::path& root, const std::string& prefix) {
  RegionFeatureLayout layout;
  layout.att_dir = root / (prefix + "_att");
  if (fs::is_directory(root / (prefix + "_fc"))) layout.fc_dir = root / (prefix + "_fc");
  if (fs::is_directory(root / (prefix + "_box"))) layout.box_dir = root / (prefix + "_box");
  return layout;
}

RegionFeatures load_region_features(const RegionFeatureLayout& layout, int64_t feature_id) {
  RegionFeatures features;
  const fs::path att_path = find_feature_file(layout.att_dir, feature_id, "region");
  FloatArray att = read_feature_array(att_path);
  if (att.rank() != 2 || att.shape[0] < 1 || att.shape[1] < 1)
    throw DataError(att_path.string(), "region features must have shape [regions >= 1, dim >= 1], got " +
                                           shape_to_string(att.shape));
  require_all_finite(att, att_path.string());
  features.region_count = att.shape[0];
  features.feature_dim = att.shape[1];
  features.att = std::move(att.values);

  if (!layout.fc_dir.empty()) {
    const fs::path fc_path = find_feature_file(layout.fc_dir, feature_id, "fc");
    FloatArray fc = read_feature_array(fc_path);
    const bool row_vector = fc.rank() == 2 && fc.shape[0] == 1;
    if (!((fc.rank() == 1 || row_vector) && fc.shape.back() == features.feature_dim))
      throw DataError(fc_path.string(), "fc feature must have shape [" + std::to_string(features.feature_dim) +
                                            "] to match " + att_path.filename().string() + ", got " +
                                            shape_to_string(fc.shape));
    require_all_finite(fc, fc_path.string());
    features.fc = std::move(fc.values);
  } else {
    features.fc.assign(static_cast<size_t>(features.feature_dim), 0.0f);
    for (int64_t region = 0; region < features.region_count; ++region)
      for (int64_t d = 0; d < features.feature_dim; ++d)
        features.fc[d] += features.att[region * features.feature_dim + d];
    for (float& value : features.fc) value /= static_cast<float>(features.region_count);
  }

  if (!layout.box_dir.empty()) {
    const fs::path box_path = find_feature_file(layout.box_dir, feature_id, "box");
    FloatArray boxes = read_feature_array(box_path);
    if (boxes.rank() != 2 || boxes.shape[0] != features.region_count || boxes.shape[1] != 4)
      throw DataError(box_path.string(), "boxes must have shape [" + std::to_string(features.region_count) +
                                             ", 4] to match " + att_path.filename().string() + ", got " +
                                             shape_to_string(boxes.shape));
    require_all_finite(boxes, box_path.string());
    for (int64_t region = 0; region < features.region_count; ++region) {
      const float* box = boxes.values.data() + region * 4;
      if (box[2] < box[0] || box[3] < box[1])
        throw DataError(box_path.string(), "box " + std::to_string(region) + " has x1 < x0 or y1 < y0: [" +
                                               std::to_string(box[0]) + ", " + std::to_string(box[1]) + ", " +
                                               std::to_string(box[2]) + ", " + std::to_string(box[3]) + "]");
    }
    features.boxes = std::move(boxes.values);
  }
  return features;
}

int64_t read_region_count(const RegionFeatureLayout& layout, int64_t feature_id) {
  const fs::path att_path = find_feature_file(layout.att_dir, feature_id, "region");
  if (att_path.extension() == ".npy") {
    const NpyHeader header = read_npy_file_header(att_path);
    if (header.shape.size() != 2)
      throw DataError(att_path.string(), "region features must have shape [regions, dim], got " +
                                             shape_to_string(header.shape));
    return header.shape[0];
  }
  const FloatArray att = read_feature_array(att_path);
  if (att.rank() != 2) throw DataError(att_path.string(), "region features must have shape [regions, dim], got " +
                                                              shape_to_string(att.shape));
  return att.shape[0];
}

}  // namespace sparsecap::data
