// Sampling a scene of the synthetic shapes set: how many objects, their shapes, colours, sizes
// and places (docs/data.md, "Scenes").
#include <algorithm>
#include <cmath>
#include <numbers>

#include "data/shapes_streams.h"
#include "data/synthetic_shapes.h"

namespace sparsecap::data {

using shapes_streams::image_generator;
using shapes_streams::kSceneStream;
using shapes_streams::uniform;

std::array<uint8_t, 3> color_rgb(ColorName color) {
  static const std::array<std::array<uint8_t, 3>, kColorNameCount> kRgb = {{{220, 35, 35},
                                                                            {35, 175, 60},
                                                                            {40, 80, 230},
                                                                            {240, 220, 40},
                                                                            {140, 55, 200},
                                                                            {250, 135, 20},
                                                                            {250, 130, 190},
                                                                            {245, 245, 245},
                                                                            {40, 225, 225}}};
  return kRgb[static_cast<size_t>(color)];
}

Scene sample_scene(uint64_t seed, int64_t index, int image_size) {
  Generator random = image_generator(seed, index, kSceneStream);
  Scene scene;
  scene.width = scene.height = image_size;
  const float size = static_cast<float>(image_size);
  const double draw = random.next_uniform();
  const int wanted = draw < 0.15 ? 1 : draw < 0.45 ? 2 : draw < 0.75 ? 3 : 4;
  for (int k = 0; k < wanted; ++k) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      SceneObject object;
      // A quarter of later objects repeat an earlier colour and shape, so captions need counts.
      if (!scene.objects.empty() && random.next_uniform() < 0.25) {
        const SceneObject& model = scene.objects[random.next_below(scene.objects.size())];
        object.shape = model.shape;
        object.color = model.color;
      } else {
        object.shape = static_cast<ShapeKind>(random.next_below(kShapeKindCount));
        object.color = static_cast<ColorName>(random.next_below(kColorNameCount));
      }
      object.size = static_cast<SizeClass>(random.next_below(2));
      object.radius = object.size == SizeClass::Small ? uniform(random, 0.07f, 0.10f) * size
                                                      : uniform(random, 0.14f, 0.19f) * size;
      object.center_x = uniform(random, object.radius, size - object.radius);
      object.center_y = uniform(random, object.radius, size - object.radius);
      if (object.shape == ShapeKind::Star) object.rotation = uniform(random, 0.0f, 2 * std::numbers::pi_v<float> / 5);
      else if (object.shape != ShapeKind::Circle && object.shape != ShapeKind::Ring)
        object.rotation = uniform(random, -0.25f, 0.25f);  // small: a square must not become a diamond
      const auto base = color_rgb(object.color);
      for (int c = 0; c < 3; ++c)
        object.rgb[c] = static_cast<uint8_t>(std::clamp(static_cast<int>(base[c]) + static_cast<int>(random.next_below(37)) - 18, 0, 255));
      // Overlap is allowed (up to 30% of the radii) but no object may hide another.
      const bool placed = std::none_of(scene.objects.begin(), scene.objects.end(), [&](const SceneObject& other) {
        const float dx = other.center_x - object.center_x, dy = other.center_y - object.center_y;
        return std::sqrt(dx * dx + dy * dy) < 0.7f * (other.radius + object.radius);
      });
      if (placed) {
        scene.objects.push_back(object);
        break;
      }
    }
  }
  return scene;
}

}  // namespace sparsecap::data
