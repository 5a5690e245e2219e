#pragma once
// Images for the pixel-based captioners (Soft-Attention, show-and-tell): decode JPEG/PNG with stb,
// resize, crop, flip, normalise to a float CHW buffer. All host-side; the model uploads the result.
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "engine/rng.h"

namespace sparsecap::data {

// 8-bit RGB, row-major, channels interleaved (HWC): what decoders produce and PNG writers take.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3

  RgbImage() = default;
  RgbImage(int image_width, int image_height);
  uint8_t* pixel(int x, int y) { return pixels.data() + (static_cast<size_t>(y) * width + x) * 3; }
  const uint8_t* pixel(int x, int y) const { return pixels.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

struct ImageSize {
  int width = 0;
  int height = 0;
};

// Any format stb_image reads (JPEG, PNG, BMP, ...); grey and RGBA are converted to RGB.
// `name` appears in errors. DataError for bytes that do not decode.
RgbImage decode_image(std::span<const uint8_t> bytes, const std::string& name);
RgbImage read_image_file(const std::filesystem::path& path);
// Width and height from the file header, without decoding the pixels.
ImageSize read_image_size(const std::filesystem::path& path);

std::vector<uint8_t> encode_png(const RgbImage& image);
void write_png_file(const std::filesystem::path& path, const RgbImage& image);

RgbImage resize_image(const RgbImage& image, int width, int height);  // stb's filtered resampling
RgbImage crop_image(const RgbImage& image, int left, int top, int width, int height);
RgbImage flip_horizontally(const RgbImage& image);

// Per-channel (value / 255 - mean) / std; defaults are the ImageNet statistics every pretrained
// backbone expects.
struct Normalization {
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
};
// [3, height, width] floats, channel-major: the layout convolution layers take.
std::vector<float> normalize_to_chw(const RgbImage& image, const Normalization& normalization = {});

struct ImageTransformOptions {
  int resize_width = 0;   // 0: keep the decoded size
  int resize_height = 0;
  int crop_size = 0;      // square crop after resizing; 0: no crop
  bool random_crop = true;  // training: random position; otherwise (and at evaluation) centred
  bool random_flip = true;  // training: mirror left-right with probability 1/2
  Normalization normalization;
};

struct PreparedImage {
  int width = 0;
  int height = 0;
  std::vector<float> chw;  // [3, height, width]
};

// Resize, crop, flip, normalise. `random` null means evaluation: centre crop, no flip.
PreparedImage prepare_image(const RgbImage& image, const ImageTransformOptions& options, Generator* random);

}  // namespace sparsecap::data
