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
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/karpathy.h"

namespace sparsecap::data {

enum class ShapeKind { Circle, Square, Triangle, Diamond, Star, Cross, Ring };
enum class ColorName { Red, Green, Blue, Yellow, Purple, Orange, Pink, White, Cyan };
enum class SizeClass { Small, Large };

inline constexpr int kShapeKindCount = 7;
inline constexpr int kColorNameCount = 9;

// The words captions use, first entry the canonical one. Tests parse captions with these lists.
const std::vector<std::string>& shape_words(ShapeKind shape);         // singular synonyms
const std::vector<std::string>& shape_plural_words(ShapeKind shape);  // plurals, same order
const std::vector<std::string>& color_words(ColorName color);
const std::vector<std::string>& size_words(SizeClass size);
std::array<uint8_t, 3> color_rgb(ColorName color);  // before per-object jitter

struct PixelBox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels, x1/y1 exclusive edges
  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
};

struct SceneObject {
  ShapeKind shape = ShapeKind::Circle;
  ColorName color = ColorName::Red;
  SizeClass size = SizeClass::Small;
  float center_x = 0, center_y = 0;  // pixels
  float radius = 0;                  // pixels: the shape fits in a circle of this radius
  float rotation = 0;                // radians
  std::array<uint8_t, 3> rgb{};      // the drawn colour (the named colour with jitter)
  PixelBox extent;                   // tight box around the drawn pixels, set by render_scene
};

struct Scene {
  int width = 0;
  int height = 0;
  std::vector<SceneObject> objects;  // in drawing order: later objects cover earlier ones
};

// A detector-style region: a box and the object it was proposed for (-1: background/distractor).
struct Region {
  PixelBox box;
  int object_index = -1;
};

struct SyntheticShapesOptions {
  int64_t image_count = 10000;
  uint64_t seed = 0;
  int image_size = 64;      // square images
  int feature_dim = 256;    // per-box descriptor size (256, 2048, ...); see box_descriptor
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
  std::vector<Sentence> captions;  // the first one always lists every object
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
