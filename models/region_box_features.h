#pragma once
// Box geometry appended to each region feature, for captioners on detector regions that should
// know where each region is (the `use_box` option of the self-critical.pytorch data loader that
// the Up-Down and ORT reference code build on). Region features and attention cannot tell left
// from right otherwise: the ORT box relation uses |cx_i - cx_j|, without its sign.
#include <cstdint>

#include "engine/tensor.h"

namespace sparsecap::models {

// Values appended per region: x0, y0, x1, y1 (relative to the image) and the box's area fraction.
inline constexpr int64_t kRegionBoxFeatureCount = 5;

// features [B, R, D], boxes [B, R, 4] (x0 y0 x1 y1 divided by the image width and height)
// -> [B, R, D + 5]. The box values are data: no gradient flows to them. Padded regions (zero
// boxes) get zeros.
Tensor append_region_box_features(const Tensor& features, const Tensor& boxes);

}  // namespace sparsecap::models
