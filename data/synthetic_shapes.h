#pragma once
// The built-in synthetic captioning set, "shapes": small RGB scenes of 1-4 coloured shapes on a
// textured background, five captions per image about counts, colours, sizes, shapes and spatial
// relations, and detector-style region features (boxes + per-box descriptors). It is written in the
// same layout as real data (PNG images, a Karpathy-split JSON, cocobu_att/fc/box .npy files), so
// every loader, model and benchmark runs on it without special cases. docs/data.md describes the
// caption grammar and the box descriptor.
//
// Everything is a pure function of (seed, image index): image i is generated from its own Philox
// streams, so the set is byte-identical whatever the number of threads.
//
// One file per job: data/shapes_scene_sampling.cpp (sample_scene), data/shapes_rendering.cpp
// (render_scene), data/shapes_captions.cpp (describe_scene) with its words in
// data/shapes_words.cpp, data/shapes_regions.cpp (propose_regions, box_descriptor), and
// data/synthetic_shapes.cpp (one image, and writing the set).
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/karpathy.h"
#include "data/shapes_scene.h"
#include "data/shapes_words.h"

namespace sparsecap::data {

// The version of the caption grammar the generator writes, kept in shapes_scenes.json
// ("caption_grammar") so a set written by an older build is recognised: 1 (sets without the key)
// grouped identical objects with a count in the first reference ("two red circles and a star"); 2
// lists them one by one, left to right.
inline constexpr int kShapesCaptionGrammar = 2;

// The colour of a named colour before per-object jitter.
std::array<uint8_t, 3> color_rgb(ColorName color);

struct SyntheticShapesOptions {
  int64_t image_count = 10000;
  uint64_t seed = 0;
  int image_size = 64;      // square images
  // Per-box descriptor size; see box_descriptor. 384 is colour plus the 4x4 orientation grid: a
  // linear probe reads an object's shape from 95% of its regions against 90% at 256.
  int feature_dim = 384;
  int captions_per_image = 5;
  double train_fraction = 0.8;  // the rest is split evenly between val and test
  double val_fraction = 0.1;
  int threads = 0;  // 0: all hardware threads
};

struct SyntheticImage {
  int64_t index = 0;
  Split split = Split::Train;
  Scene scene;
  RgbImage image;
  std::vector<Sentence> captions;  // the first one always lists every object, left to right
  std::vector<Region> regions;
  std::vector<float> region_features;  // [regions, feature_dim]
  std::vector<float> fc_feature;       // [feature_dim], mean of region_features
};

// The steps, exposed for tests; generate_synthetic_image composes them.
Scene sample_scene(uint64_t seed, int64_t index, int image_size);
RgbImage render_scene(Scene& scene, uint64_t seed, int64_t index);  // also sets each object's extent
std::vector<std::string> describe_scene(const Scene& scene, uint64_t seed, int64_t index, int caption_count);
std::vector<Region> propose_regions(const Scene& scene, uint64_t seed, int64_t index);
// The fixed descriptor of the pixels inside `box` (see docs/data.md): a 4x4x4 joint colour
// histogram, then grids of mean colours and of gradient-orientation histograms, in a fixed order,
// cut (or zero-padded) to `dim` values.
std::vector<float> box_descriptor(const RgbImage& image, const PixelBox& box, int dim);

Split split_of_index(const SyntheticShapesOptions& options, int64_t index);
SyntheticImage generate_synthetic_image(const SyntheticShapesOptions& options, int64_t index);

struct SynthesisSummary {
  int64_t images = 0;
  int64_t captions = 0;
  int64_t regions = 0;
  std::filesystem::path json_path;
};

// Writes <out>/images/shapes_NNNNNN.png, <out>/dataset_shapes.json, <out>/cocobu_att|fc|box/<id>.npy
// and <out>/shapes_scenes.json (the scene descriptions). `progress(done, total)` is called from the
// calling thread while worker threads generate.
SynthesisSummary write_synthetic_shapes(const std::filesystem::path& out_dir, const SyntheticShapesOptions& options,
                                        const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sparsecap::data
