#include "models/region_box_features.h"

#include <vector>

#include "engine/error.h"
#include "engine/ops.h"

namespace sparsecap::models {

Tensor append_region_box_features(const Tensor& features, const Tensor& boxes) {
  SPARSECAP_CHECK(features.dim() == 3, "expected region features [B, R, D], got ", shape_str(features.shape()));
  check_shape(boxes, {features.size(0), features.size(1), 4}, "region boxes");
  const std::vector<double> b = boxes.to_vector<double>();
  std::vector<double> geometry;
  geometry.reserve(b.size() / 4 * kRegionBoxFeatureCount);
  for (size_t i = 0; i < b.size(); i += 4) {
    const double x0 = b[i], y0 = b[i + 1], x1 = b[i + 2], y1 = b[i + 3];
    geometry.insert(geometry.end(), {x0, y0, x1, y1, (x1 - x0) * (y1 - y0)});
  }
  const Tensor extra = from_vector(geometry, {features.size(0), features.size(1), kRegionBoxFeatureCount})
                           .to(features.dtype())
                           .to(features.device());
  return concat({features, extra}, 2);
}

}  // namespace sparsecap::models
