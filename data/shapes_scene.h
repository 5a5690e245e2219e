#pragma once
// What a picture of the synthetic shapes set holds: objects with a shape, a colour, a size and a
// place, in drawing order, and the detector-style regions proposed on it. The generator samples
// these (data/synthetic_shapes.h), the grounded scores compare captions with them
// (data/shapes_grounded_scores.h).
#include <array>
#include <cstdint>
#include <vector>

namespace sparsecap::data {

enum class ShapeKind { Circle, Square, Triangle, Diamond, Star, Cross, Ring };
enum class ColorName { Red, Green, Blue, Yellow, Purple, Orange, Pink, White, Cyan };
enum class SizeClass { Small, Large };

inline constexpr int kShapeKindCount = 7;
inline constexpr int kColorNameCount = 9;
inline constexpr int kSizeClassCount = 2;

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

}  // namespace sparsecap::data
