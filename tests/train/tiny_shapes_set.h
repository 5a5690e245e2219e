#pragma once
// The tiny synthetic shapes set the training tests run on: 32-pixel images with 16-d region
// features, generated on one thread (the same files on every machine), in `dir`.
#include <cstdint>
#include <filesystem>

#include "data/synthetic_shapes.h"

namespace sparsecap::train {

inline void write_tiny_shapes_set(const std::filesystem::path& dir, uint64_t seed, int64_t image_count = 40) {
  data::SyntheticShapesOptions options;
  options.image_count = image_count;
  options.seed = seed;
  options.image_size = 32;
  options.feature_dim = 16;
  options.threads = 1;
  data::write_synthetic_shapes(dir, options);
}

}  // namespace sparsecap::train
