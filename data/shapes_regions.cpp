// Detector-style region proposals for a scene of the synthetic shapes set and the fixed box
// descriptor computed on each (docs/data.md, "Region features").
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/shapes_streams.h"
#include "data/synthetic_shapes.h"

namespace sparsecap::data {

namespace {

// ---------------------------------------------------------------------------------------------
// Box descriptor.

class BilinearSampler {
 public:
  explicit BilinearSampler(const RgbImage& image) : image_(image) {}

  // Channel value in [0, 1] at continuous pixel coordinates (pixel centres at integer + 0.5).
  float channel(float x, float y, int c) const {
    const float fx = std::clamp(x - 0.5f, 0.0f, static_cast<float>(image_.width - 1));
    const float fy = std::clamp(y - 0.5f, 0.0f, static_cast<float>(image_.height - 1));
    const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
    const int x1 = std::min(x0 + 1, image_.width - 1), y1 = std::min(y0 + 1, image_.height - 1);
    const float ax = fx - static_cast<float>(x0), ay = fy - static_cast<float>(y0);
    const float top = (1 - ax) * image_.pixel(x0, y0)[c] + ax * image_.pixel(x1, y0)[c];
    const float bottom = (1 - ax) * image_.pixel(x0, y1)[c] + ax * image_.pixel(x1, y1)[c];
    return ((1 - ay) * top + ay * bottom) * (1.0f / 255.0f);
  }
  float luminance(float x, float y) const {
    return 0.299f * channel(x, y, 0) + 0.587f * channel(x, y, 1) + 0.114f * channel(x, y, 2);
  }

 private:
  const RgbImage& image_;
};

constexpr int kSamplesPerCellSide = 2;
constexpr int kOrientationBins = 8;

void append_color_histogram(const RgbImage& image, const PixelBox& box, std::vector<float>& out) {
  std::array<float, 64> histogram{};
  const int x_begin = std::clamp(static_cast<int>(std::floor(box.x0)), 0, image.width - 1);
  const int y_begin = std::clamp(static_cast<int>(std::floor(box.y0)), 0, image.height - 1);
  const int x_end = std::clamp(static_cast<int>(std::ceil(box.x1)), x_begin + 1, image.width);
  const int y_end = std::clamp(static_cast<int>(std::ceil(box.y1)), y_begin + 1, image.height);
  for (int y = y_begin; y < y_end; ++y)
    for (int x = x_begin; x < x_end; ++x) {
      const uint8_t* p = image.pixel(x, y);
      histogram[(p[0] >> 6) * 16 + (p[1] >> 6) * 4 + (p[2] >> 6)] += 1.0f;
    }
  const float total = static_cast<float>((x_end - x_begin) * (y_end - y_begin));
  for (const float count : histogram) out.push_back(count / total);
}

template <typename SampleFunction>
void for_each_cell_sample(const PixelBox& box, int grid, SampleFunction&& sample) {
  for (int row = 0; row < grid; ++row)
    for (int column = 0; column < grid; ++column)
      for (int sy = 0; sy < kSamplesPerCellSide; ++sy)
        for (int sx = 0; sx < kSamplesPerCellSide; ++sx) {
          const float x = box.x0 + box.width() * (static_cast<float>(column) + (sx + 0.5f) / kSamplesPerCellSide) / grid;
          const float y = box.y0 + box.height() * (static_cast<float>(row) + (sy + 0.5f) / kSamplesPerCellSide) / grid;
          sample(row * grid + column, x, y);
        }
}

void append_mean_color_grid(const BilinearSampler& sampler, const PixelBox& box, int grid, std::vector<float>& out) {
  std::vector<float> sums(static_cast<size_t>(grid * grid * 3), 0.0f);
  for_each_cell_sample(box, grid, [&](int cell, float x, float y) {
    for (int c = 0; c < 3; ++c) sums[cell * 3 + c] += sampler.channel(x, y, c);
  });
  for (const float sum : sums) out.push_back(sum / (kSamplesPerCellSide * kSamplesPerCellSide));
}

void append_orientation_grid(const BilinearSampler& sampler, const PixelBox& box, int grid, std::vector<float>& out) {
  std::vector<float> histogram(static_cast<size_t>(grid * grid * kOrientationBins), 0.0f);
  for_each_cell_sample(box, grid, [&](int cell, float x, float y) {
    const float gx = sampler.luminance(x + 1, y) - sampler.luminance(x - 1, y);
    const float gy = sampler.luminance(x, y + 1) - sampler.luminance(x, y - 1);
    const float magnitude = std::sqrt(gx * gx + gy * gy);
    if (magnitude <= 0) return;
    float angle = std::atan2(gy, gx);  // unsigned orientation: edges, not their polarity
    if (angle < 0) angle += std::numbers::pi_v<float>;
    const int bin = std::min(kOrientationBins - 1, static_cast<int>(angle / std::numbers::pi_v<float> * kOrientationBins));
    histogram[cell * kOrientationBins + bin] += magnitude;
  });
  float norm = 0;
  for (const float value : histogram) norm += value * value;
  norm = std::sqrt(norm) + 1e-6f;
  for (const float value : histogram) out.push_back(value / norm);
}

}  // namespace

using shapes_streams::image_generator;
using shapes_streams::kRegionStream;
using shapes_streams::uniform;

std::vector<Region> propose_regions(const Scene& scene, uint64_t seed, int64_t index) {
  Generator random = image_generator(seed, index, kRegionStream);
  const float width = static_cast<float>(scene.width), height = static_cast<float>(scene.height);
  auto clip = [&](PixelBox box) {
    box.x0 = std::clamp(box.x0, 0.0f, width - 2), box.y0 = std::clamp(box.y0, 0.0f, height - 2);
    box.x1 = std::clamp(box.x1, box.x0 + 2, width), box.y1 = std::clamp(box.y1, box.y0 + 2, height);
    return box;
  };
  std::vector<Region> regions;
  // A detector's box is never exact: each side moves by up to 10% of the object's size.
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    const PixelBox& extent = scene.objects[i].extent;
    const float jitter_x = 0.1f * extent.width(), jitter_y = 0.1f * extent.height();
    regions.push_back({clip({extent.x0 + uniform(random, -jitter_x, jitter_x), extent.y0 + uniform(random, -jitter_y, jitter_y),
                             extent.x1 + uniform(random, -jitter_x, jitter_x), extent.y1 + uniform(random, -jitter_y, jitter_y)}),
                       static_cast<int>(i)});
  }
  // Distractors: background patches, halves of objects, boxes around two objects.
  const int distractors = 2 + static_cast<int>(random.next_below(3));
  for (int k = 0; k < distractors; ++k) {
    const uint64_t kind = random.next_below(3);
    PixelBox box;
    if (kind == 1) {
      const PixelBox extent = scene.objects[random.next_below(scene.objects.size())].extent;
      box = extent;
      switch (random.next_below(4)) {
        case 0: box.x1 = extent.x0 + extent.width() / 2; break;
        case 1: box.x0 = extent.x0 + extent.width() / 2; break;
        case 2: box.y1 = extent.y0 + extent.height() / 2; break;
        default: box.y0 = extent.y0 + extent.height() / 2; break;
      }
    } else if (kind == 2 && scene.objects.size() >= 2) {
      const size_t a = random.next_below(scene.objects.size());
      const size_t b = (a + 1 + random.next_below(scene.objects.size() - 1)) % scene.objects.size();
      const PixelBox &first = scene.objects[a].extent, &second = scene.objects[b].extent;
      box = {std::min(first.x0, second.x0), std::min(first.y0, second.y0), std::max(first.x1, second.x1),
             std::max(first.y1, second.y1)};
    } else {
      const float box_width = uniform(random, 0.15f, 0.45f) * width, box_height = uniform(random, 0.15f, 0.45f) * height;
      const float x0 = uniform(random, 0.0f, width - box_width), y0 = uniform(random, 0.0f, height - box_height);
      box = {x0, y0, x0 + box_width, y0 + box_height};
    }
    regions.push_back({clip(box), -1});
  }
  // A detector lists regions by confidence, not by object: shuffle so position in the list says nothing.
  for (size_t i = regions.size() - 1; i > 0; --i) std::swap(regions[i], regions[random.next_below(i + 1)]);
  return regions;
}

std::vector<float> box_descriptor(const RgbImage& image, const PixelBox& box, int dim) {
  if (dim < 1) throw std::invalid_argument("box descriptor dim must be >= 1, got " + std::to_string(dim));
  const BilinearSampler sampler(image);
  std::vector<float> descriptor;
  descriptor.reserve(static_cast<size_t>(dim) + 2048);
  const size_t wanted = static_cast<size_t>(dim);
  // The blocks in their fixed order; later blocks are only computed when dim reaches them.
  append_color_histogram(image, box, descriptor);                                         // 64
  if (descriptor.size() < wanted) append_mean_color_grid(sampler, box, 8, descriptor);    // 192 -> 256
  if (descriptor.size() < wanted) append_orientation_grid(sampler, box, 4, descriptor);   // 128 -> 384
  if (descriptor.size() < wanted) append_orientation_grid(sampler, box, 8, descriptor);   // 512 -> 896
  if (descriptor.size() < wanted) append_mean_color_grid(sampler, box, 16, descriptor);   // 768 -> 1664
  if (descriptor.size() < wanted) append_orientation_grid(sampler, box, 16, descriptor);  // 2048 -> 3712
  descriptor.resize(wanted, 0.0f);
  return descriptor;
}

}  // namespace sparsecap::data
