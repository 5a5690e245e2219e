#include "data/image.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "data/data_error.h"
#include "data/file_io.h"
#include "data/jpeg_structure.h"

namespace sparsecap::data {

namespace {
constexpr int kChannels = 3;
// Larger than any photograph a captioner is trained on; 64 Mpixel decode to 192 MB of RGB.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

uint32_t read_big_endian_32(std::span<const uint8_t> bytes, size_t offset) {
  return (uint32_t{bytes[offset]} << 24) | (uint32_t{bytes[offset + 1]} << 16) | (uint32_t{bytes[offset + 2]} << 8) |
         uint32_t{bytes[offset + 3]};
}

// stb_image ignores chunk CRCs, so a PNG damaged on disk would decode to wrong pixels silently:
// every chunk up to IEND must be whole and match its CRC.
void check_png_chunks(std::span<const uint8_t> bytes, const std::string& name) {
  size_t offset = 8;  // after the signature
  while (true) {
    if (bytes.size() - offset < 12)
      throw DataError(name, "cannot decode image: PNG truncated at byte " + std::to_string(offset) + " (no IEND chunk)");
    const uint32_t length = read_big_endian_32(bytes, offset);
    if (length > bytes.size() - offset - 12)
      throw DataError(name, "cannot decode image: PNG chunk at byte " + std::to_string(offset) + " claims " + std::to_string(length) +
                                " bytes, past the end of the file (" + std::to_string(bytes.size()) + " bytes)");
    const std::string type(reinterpret_cast<const char*>(bytes.data() + offset + 4), 4);
    const uLong crc = crc32(0L, bytes.data() + offset + 4, static_cast<uInt>(length) + 4);
    if (crc != read_big_endian_32(bytes, offset + 8 + length))
      throw DataError(name, "cannot decode image: PNG chunk '" + type + "' at byte " + std::to_string(offset) +
                                " fails its CRC check (the file is damaged)");
    if (type == "IEND") return;
    offset += 12 + static_cast<size_t>(length);
  }
}
}  // namespace

RgbImage::RgbImage(int image_width, int image_height)
    : width(image_width), height(image_height),
      pixels(static_cast<size_t>(image_width) * static_cast<size_t>(image_height) * kChannels, 0) {
  if (image_width <= 0 || image_height <= 0)
    throw std::invalid_argument("image size must be positive, got " + std::to_string(image_width) + "x" +
                                std::to_string(image_height));
}

RgbImage decode_image(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.empty()) throw DataError(name, "cannot decode image: the file is empty");
  // stb_image decodes a dozen formats and has a history of memory bugs on hostile files: only the
  // two formats sparsecap documents reach it, and only with a size checked from the header first.
  static constexpr uint8_t kPngSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const bool png = bytes.size() >= sizeof kPngSignature && std::memcmp(bytes.data(), kPngSignature, 8) == 0;
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (!png && !jpeg) throw DataError(name, "cannot decode image: not a PNG or JPEG file (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw DataError(name, "cannot decode image: file of " + std::to_string(bytes.size()) + " bytes is too large to decode");
  if (png) check_png_chunks(bytes, name);
  if (jpeg) check_jpeg_structure(bytes, name);
  int width = 0, height = 0, channels_in_file = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels_in_file)) {
    const char* reason = stbi_failure_reason();
    throw DataError(name, std::string("cannot decode image: cannot read its header (") + (reason ? reason : "unknown reason") + ")");
  }
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide ||
      static_cast<int64_t>(width) * height > kMaxImagePixels)
    throw DataError(name, "cannot decode image: " + std::to_string(width) + "x" + std::to_string(height) +
                              " pixels is outside the limits (sides up to " + std::to_string(kMaxImageSide) +
                              ", at most " + std::to_string(kMaxImagePixels) + " pixels)");
  std::unique_ptr<stbi_uc, decltype(&stbi_image_free)> decoded(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels_in_file,
                            kChannels),
      &stbi_image_free);
  if (!decoded) {
    const char* reason = stbi_failure_reason();
    throw DataError(name, std::string("cannot decode image (") + (reason ? reason : "unknown reason") +
                              "); expected a JPEG or PNG file of " + std::to_string(bytes.size()) + " bytes");
  }
  RgbImage image(width, height);
  std::memcpy(image.pixels.data(), decoded.get(), image.pixels.size());
  return image;
}

RgbImage read_image_file(const std::filesystem::path& path) {
  return decode_image(read_file_bytes(path), path.string());
}

ImageSize read_image_size(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  ImageSize size;
  int channels = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &size.width, &size.height, &channels))
    throw DataError(path.string(), std::string("cannot read image header (") +
                                       (stbi_failure_reason() ? stbi_failure_reason() : "unknown reason") + ")");
  return size;
}

// Our own PNG writer on zlib: stb_image_write's built-in deflate is several times slower, and the
// synthetic set writes ten thousand images. 8-bit RGB, every row with the "Sub" filter (it suits
// smooth backgrounds), zlib level 6.
std::vector<uint8_t> encode_png(const RgbImage& image) {
  const size_t row_bytes = static_cast<size_t>(image.width) * kChannels;
  std::vector<uint8_t> filtered((row_bytes + 1) * static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    uint8_t* out = filtered.data() + static_cast<size_t>(y) * (row_bytes + 1);
    const uint8_t* row = image.pixel(0, y);
    out[0] = 1;  // filter type Sub: each byte minus the byte one pixel to the left
    for (size_t i = 0; i < row_bytes; ++i)
      out[1 + i] = static_cast<uint8_t>(row[i] - (i >= kChannels ? row[i - kChannels] : 0));
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(filtered.size()));
  std::vector<uint8_t> compressed(compressed_size);
  if (compress2(compressed.data(), &compressed_size, filtered.data(), static_cast<uLong>(filtered.size()), 6) != Z_OK)
    throw std::runtime_error("PNG encoding: zlib compress2 failed for a " + std::to_string(image.width) + "x" +
                             std::to_string(image.height) + " image");
  compressed.resize(compressed_size);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto put_u32 = [](std::vector<uint8_t>& out, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
  };
  auto put_chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    put_u32(png, static_cast<uint32_t>(data.size()));
    const size_t type_start = png.size();
    png.insert(png.end(), type, type + 4);
    png.insert(png.end(), data.begin(), data.end());
    put_u32(png, static_cast<uint32_t>(crc32(0L, png.data() + type_start, static_cast<uInt>(png.size() - type_start))));
  };
  std::vector<uint8_t> header;
  put_u32(header, static_cast<uint32_t>(image.width));
  put_u32(header, static_cast<uint32_t>(image.height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8 bits, truecolour RGB, deflate, adaptive filters, no interlace
  put_chunk("IHDR", header);
  put_chunk("IDAT", compressed);
  put_chunk("IEND", {});
  return png;
}

void write_png_file(const std::filesystem::path& path, const RgbImage& image) {
  write_file_bytes(path, encode_png(image));
}

RgbImage resize_image(const RgbImage& image, int width, int height) {
  if (width == image.width && height == image.height) return image;
  RgbImage resized(width, height);
  if (!stbir_resize_uint8(image.pixels.data(), image.width, image.height, 0, resized.pixels.data(), width, height, 0,
                          kChannels))
    throw std::runtime_error("image resize from " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             " to " + std::to_string(width) + "x" + std::to_string(height) + " failed");
  return resized;
}

RgbImage crop_image(const RgbImage& image, int left, int top, int width, int height) {
  if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > image.width || top + height > image.height)
    throw std::invalid_argument("crop " + std::to_string(width) + "x" + std::to_string(height) + " at (" +
                                std::to_string(left) + ", " + std::to_string(top) + ") does not fit a " +
                                std::to_string(image.width) + "x" + std::to_string(image.height) + " image");
  RgbImage cropped(width, height);
  for (int y = 0; y < height; ++y)
    std::memcpy(cropped.pixel(0, y), image.pixel(left, top + y), static_cast<size_t>(width) * kChannels);
  return cropped;
}

RgbImage flip_horizontally(const RgbImage& image) {
  RgbImage flipped(image.width, image.height);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x)
      std::memcpy(flipped.pixel(image.width - 1 - x, y), image.pixel(x, y), kChannels);
  return flipped;
}

std::vector<float> normalize_to_chw(const RgbImage& image, const Normalization& normalization) {
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  std::vector<float> chw(plane * kChannels);
  for (int channel = 0; channel < kChannels; ++channel) {
    const float scale = 1.0f / (255.0f * normalization.std[channel]);
    const float shift = normalization.mean[channel] / normalization.std[channel];
    for (size_t i = 0; i < plane; ++i)
      chw[channel * plane + i] = static_cast<float>(image.pixels[i * kChannels + channel]) * scale - shift;
  }
  return chw;
}

PreparedImage prepare_image(const RgbImage& image, const ImageTransformOptions& options, Generator* random) {
  RgbImage current = image;
  if (options.resize_width > 0 && options.resize_height > 0)
    current = resize_image(current, options.resize_width, options.resize_height);
  if (options.crop_size > 0) {
    if (options.crop_size > current.width || options.crop_size > current.height)
      throw std::invalid_argument("crop size " + std::to_string(options.crop_size) + " exceeds the " +
                                  std::to_string(current.width) + "x" + std::to_string(current.height) +
                                  " image (set resize to at least the crop size)");
    int left = (current.width - options.crop_size) / 2, top = (current.height - options.crop_size) / 2;
    if (random && options.random_crop) {
      left = static_cast<int>(random->next_below(static_cast<uint64_t>(current.width - options.crop_size + 1)));
      top = static_cast<int>(random->next_below(static_cast<uint64_t>(current.height - options.crop_size + 1)));
    }
    current = crop_image(current, left, top, options.crop_size, options.crop_size);
  }
  if (random && options.random_flip && (random->next_u32() & 1u)) current = flip_horizontally(current);
  return PreparedImage{current.width, current.height, normalize_to_chw(current, options.normalization)};
}

}  // namespace sparsecap::data
