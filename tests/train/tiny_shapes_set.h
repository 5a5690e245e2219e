#pragma once
// The tiny synthetic shapes set the training tests run on (32-pixel images, 16-d region features,
// generated on one thread: the same files on every machine) and a tiny Soft-Attention run config
// over it.
#include <cstdint>
#include <filesystem>

#include "data/synthetic_shapes.h"
#include "train/run_config.h"

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

// Data and model sections only (the optimizer and schedule keep their defaults); the encoder's
// second block has stride `last_stride` (2: a 4x4 memory, 1: 8x8).
inline RunConfig tiny_soft_attention_config(const std::filesystem::path& data_dir, int64_t last_stride = 2) {
  RunConfig config;
  config.data.dir = data_dir;
  config.data.image_size = 32;
  config.data.images_per_batch = 8;
  config.data.seq_per_img = 1;
  config.data.min_word_count = 1;
  config.model = {{"type", "soft_attention"},
                  {"encoder", {{"width_multiplier", 0.25}, {"blocks", {{32, 2}, {64, last_stride}}}}},
                  {"decoder", {{"hidden_size", 32}, {"embedding_size", 16}, {"attention_size", 16}}},
                  {"decoding", {{"max_words", 12}}}};
  return config;
}

}  // namespace sparsecap::train
