// Rendering a scene of the synthetic shapes set: textured background, antialiased lit shapes,
// sensor noise.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "data/shapes_streams.h"
#include "data/synthetic_shapes.h"

namespace sparsecap::data {

namespace {

// Shapes, in object-local coordinates (u, v) scaled so the shape fits in the unit circle; v points
// down like image rows.

bool inside_polygon(float u, float v, const std::vector<std::array<float, 2>>& vertices) {
  bool inside = false;
  for (size_t i = 0, j = vertices.size() - 1; i < vertices.size(); j = i++) {
    const auto [ui, vi] = vertices[i];
    const auto [uj, vj] = vertices[j];
    if ((vi > v) != (vj > v) && u < (uj - ui) * (v - vi) / (vj - vi) + ui) inside = !inside;
  }
  return inside;
}

std::vector<std::array<float, 2>> star_vertices() {
  std::vector<std::array<float, 2>> vertices;
  for (int k = 0; k < 10; ++k) {
    const float angle = -std::numbers::pi_v<float> / 2 + static_cast<float>(k) * std::numbers::pi_v<float> / 5;
    const float radius = k % 2 == 0 ? 1.0f : 0.42f;
    vertices.push_back({radius * std::cos(angle), radius * std::sin(angle)});
  }
  return vertices;
}

bool inside_shape(ShapeKind shape, float u, float v) {
  static const std::vector<std::array<float, 2>> kStar = star_vertices();
  static const std::vector<std::array<float, 2>> kTriangle = {{0.0f, -1.0f}, {0.95f, 0.7f}, {-0.95f, 0.7f}};
  const float radius_squared = u * u + v * v;
  switch (shape) {
    case ShapeKind::Circle: return radius_squared <= 1.0f;
    case ShapeKind::Square: return std::max(std::abs(u), std::abs(v)) <= 0.78f;
    case ShapeKind::Triangle: return inside_polygon(u, v, kTriangle);
    case ShapeKind::Diamond: return std::abs(u) / 0.72f + std::abs(v) <= 1.0f;
    case ShapeKind::Star: return inside_polygon(u, v, kStar);
    case ShapeKind::Cross:
      return (std::abs(u) <= 0.3f && std::abs(v) <= 0.95f) || (std::abs(v) <= 0.3f && std::abs(u) <= 0.95f);
    case ShapeKind::Ring: return radius_squared <= 1.0f && radius_squared >= 0.55f * 0.55f;
  }
  return false;
}

}  // namespace

using shapes_streams::image_generator;
using shapes_streams::kRenderStream;
using shapes_streams::uniform;

RgbImage render_scene(Scene& scene, uint64_t seed, int64_t index) {
  Generator random = image_generator(seed, index, kRenderStream);
  const int width = scene.width, height = scene.height;
  std::vector<float> canvas(static_cast<size_t>(width * height * 3));

  // Background: a dark tint, smooth value noise, sometimes stripes.
  std::array<float, 3> tint;
  for (float& channel : tint) channel = uniform(random, 35.0f, 105.0f);
  constexpr int kNoiseGrid = 6;
  std::array<float, (kNoiseGrid + 1) * (kNoiseGrid + 1)> nodes;
  for (float& node : nodes) node = uniform(random, -28.0f, 28.0f);
  const bool striped = random.next_uniform() < 0.5;
  const float stripe_amplitude = striped ? uniform(random, 4.0f, 14.0f) : 0.0f;
  const float stripe_angle = uniform(random, 0.0f, std::numbers::pi_v<float>);
  const float stripe_frequency = uniform(random, 2.0f, 7.0f) * 2 * std::numbers::pi_v<float> / static_cast<float>(width);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const float gx = static_cast<float>(x) * kNoiseGrid / static_cast<float>(width);
      const float gy = static_cast<float>(y) * kNoiseGrid / static_cast<float>(height);
      const int ix = static_cast<int>(gx), iy = static_cast<int>(gy);
      const float ax = gx - static_cast<float>(ix), ay = gy - static_cast<float>(iy);
      auto node = [&](int i, int j) { return nodes[static_cast<size_t>(j * (kNoiseGrid + 1) + i)]; };
      const float smooth = (1 - ay) * ((1 - ax) * node(ix, iy) + ax * node(ix + 1, iy)) +
                           ay * ((1 - ax) * node(ix, iy + 1) + ax * node(ix + 1, iy + 1));
      const float stripe = stripe_amplitude * std::sin(stripe_frequency * (static_cast<float>(x) * std::cos(stripe_angle) +
                                                                            static_cast<float>(y) * std::sin(stripe_angle)));
      for (int c = 0; c < 3; ++c) canvas[(static_cast<size_t>(y) * width + x) * 3 + c] = tint[c] + smooth + stripe;
    }

  // Objects, antialiased with 4x4 samples per pixel and lit from a random direction.
  constexpr int kSubsamples = 4;
  for (SceneObject& object : scene.objects) {
    const float light_angle = uniform(random, 0.0f, 2 * std::numbers::pi_v<float>);
    const float light_x = std::cos(light_angle), light_y = std::sin(light_angle);
    const float cos_r = std::cos(-object.rotation), sin_r = std::sin(-object.rotation);
    const int x_begin = std::max(0, static_cast<int>(std::floor(object.center_x - object.radius - 1)));
    const int x_end = std::min(width, static_cast<int>(std::ceil(object.center_x + object.radius + 1)));
    const int y_begin = std::max(0, static_cast<int>(std::floor(object.center_y - object.radius - 1)));
    const int y_end = std::min(height, static_cast<int>(std::ceil(object.center_y + object.radius + 1)));
    int min_x = width, min_y = height, max_x = -1, max_y = -1;
    for (int y = y_begin; y < y_end; ++y)
      for (int x = x_begin; x < x_end; ++x) {
        int covered = 0;
        for (int sy = 0; sy < kSubsamples; ++sy)
          for (int sx = 0; sx < kSubsamples; ++sx) {
            const float dx = (static_cast<float>(x) + (sx + 0.5f) / kSubsamples - object.center_x) / object.radius;
            const float dy = (static_cast<float>(y) + (sy + 0.5f) / kSubsamples - object.center_y) / object.radius;
            covered += inside_shape(object.shape, cos_r * dx - sin_r * dy, sin_r * dx + cos_r * dy);
          }
        if (covered == 0) continue;
        const float alpha = static_cast<float>(covered) / (kSubsamples * kSubsamples);
        if (alpha >= 0.5f) {
          min_x = std::min(min_x, x), max_x = std::max(max_x, x);
          min_y = std::min(min_y, y), max_y = std::max(max_y, y);
        }
        const float shade = 1.0f + 0.15f * ((static_cast<float>(x) - object.center_x) * light_x +
                                            (static_cast<float>(y) - object.center_y) * light_y) / object.radius;
        float* pixel = &canvas[(static_cast<size_t>(y) * width + x) * 3];
        for (int c = 0; c < 3; ++c) pixel[c] = (1 - alpha) * pixel[c] + alpha * object.rgb[c] * shade;
      }
    if (max_x < 0) {  // too small to cover half a pixel anywhere: fall back to the geometric box
      min_x = x_begin, max_x = x_end - 1, min_y = y_begin, max_y = y_end - 1;
    }
    object.extent = PixelBox{static_cast<float>(min_x), static_cast<float>(min_y), static_cast<float>(max_x + 1),
                             static_cast<float>(max_y + 1)};
  }

  // Sensor noise over everything, then quantise.
  RgbImage image(width, height);
  for (size_t i = 0; i < canvas.size(); i += 3) {
    const uint32_t bits = random.next_u32();
    for (int c = 0; c < 3; ++c) {
      const float noise = static_cast<float>((bits >> (8 * c)) & 0xffu) / 255.0f * 20.0f - 10.0f;
      image.pixels[i + c] = static_cast<uint8_t>(std::clamp(std::lround(canvas[i + c] + noise), 0L, 255L));
    }
  }
  return image;
}

}  // namespace sparsecap::data
