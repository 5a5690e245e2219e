#include "models/region_box_features.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::models {

int64_t region_box_feature_count(int64_t frequencies) { return kRegionBoxFeatureCount + 8 * frequencies; }

Tensor append_region_box_features(const Tensor& features, const Tensor& boxes, int64_t frequencies) {
  SPARSECAP_CHECK(features.dim() == 3, "expected region features [B, R, D], got ", shape_str(features.shape()));
  check_shape(boxes, {features.size(0), features.size(1), 4}, "region boxes");
  SPARSECAP_CHECK(frequencies >= 0, "box frequencies must be >= 0, got ", frequencies);
  const int64_t count = region_box_feature_count(frequencies);
  const std::vector<double> b = boxes.to_vector<double>();
  std::vector<double> geometry;
  geometry.reserve(b.size() / 4 * static_cast<size_t>(count));
  for (size_t i = 0; i < b.size(); i += 4) {
    const double x0 = b[i], y0 = b[i + 1], x1 = b[i + 2], y1 = b[i + 3];
    geometry.insert(geometry.end(), {x0, y0, x1, y1, (x1 - x0) * (y1 - y0)});
    for (const double g : {(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0})
      for (int64_t k = 0; k < frequencies; ++k) {
        const double angle = std::numbers::pi * std::ldexp(1.0, static_cast<int>(k)) * g;
        geometry.insert(geometry.end(), {std::sin(angle), std::cos(angle)});
      }
  }
  const Tensor extra =
      from_vector(geometry, {features.size(0), features.size(1), count}).to(features.dtype()).to(features.device());
  return concat({features, extra}, 2);
}

}  // namespace sparsecap::models
