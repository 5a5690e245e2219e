#pragma once
// Box geometry appended to each region feature, for captioners on detector regions that should
// know where each region is (the `use_box` option of the self-critical.pytorch data loader that
// the Up-Down and ORT reference code build on). Region features and attention cannot tell left
// from right otherwise: the ORT box relation uses |cx_i - cx_j|, without its sign.
#include <cstdint>

#include "engine/tensor.h"

namespace sparsecap::models {

// Values appended per region without a sinusoidal encoding: x0, y0, x1, y1 (relative to the
// image) and the box's area fraction.
inline constexpr int64_t kRegionBoxFeatureCount = 5;

// The values appended per region with `frequencies` sinusoidal frequencies: the five above, then
// for each of the box's centre x, centre y, width and height g (relative to the image) and each
// k < frequencies, sin(pi 2^k g) and cos(pi 2^k g).
int64_t region_box_feature_count(int64_t frequencies);

// features [B, R, D], boxes [B, R, 4] (x0 y0 x1 y1 divided by the image width and height)
// -> [B, R, D + region_box_feature_count(frequencies)]. The box values are data: no gradient
// flows to them. Padded regions (zero boxes) get the values of a zero box; the masks ignore them.
// Why the encoding: a linear layer reads "left of" from x0 directly, but the attention that lists
// objects left to right must also pick the one next to the right of the last named, and a few
// sines of the position let it peak at any place (a Fourier-feature position code).
Tensor append_region_box_features(const Tensor& features, const Tensor& boxes, int64_t frequencies = 0);

}  // namespace sparsecap::models
