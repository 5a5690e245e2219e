#pragma once
// The per-image random streams of the synthetic shapes set, shared by the files that sample,
// render, describe and box a scene. Every image draws from its own Philox streams, one per
// purpose, so changing how captions are worded never changes the pixels, and image i never
// depends on images before it.
#include <cstdint>

#include "engine/rng.h"

namespace sparsecap::data::shapes_streams {

enum StreamPurpose : uint64_t { kSceneStream = 0, kRenderStream = 1, kCaptionStream = 2, kRegionStream = 3 };
inline constexpr uint64_t kStreamsPerImage = 8;

inline Generator image_generator(uint64_t seed, int64_t index, StreamPurpose purpose) {
  return Generator(seed, static_cast<uint64_t>(index) * kStreamsPerImage + purpose);
}

inline float uniform(Generator& random, float low, float high) {
  return low + static_cast<float>(random.next_uniform()) * (high - low);
}

}  // namespace sparsecap::data::shapes_streams
