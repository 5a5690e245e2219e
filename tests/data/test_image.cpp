#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <algorithm>
#include <fstream>

#include "data/data_error.h"
#include "data/file_io.h"
#include "data/image.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::TemporaryDirectory;

RgbImage gradient_image(int width, int height) {
  RgbImage image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.pixel(x, y);
      p[0] = static_cast<uint8_t>(x * 255 / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>(y * 255 / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>((x * 7 + y * 13) % 256);
    }
  return image;
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

std::vector<uint8_t> encode_jpeg(const RgbImage& image) {
  std::vector<uint8_t> bytes;
  stbi_write_jpg_to_func(&append, &bytes, image.width, image.height, 3, image.pixels.data(), 95);
  return bytes;
}

TEST(Image, PngRoundTripIsExact) {
  TemporaryDirectory dir;
  const RgbImage image = gradient_image(37, 21);
  write_png_file(dir / "g.png", image);
  const RgbImage decoded = read_image_file(dir / "g.png");
  EXPECT_EQ(decoded.width, 37);
  EXPECT_EQ(decoded.height, 21);
  EXPECT_EQ(decoded.pixels, image.pixels);
  const ImageSize size = read_image_size(dir / "g.png");
  EXPECT_EQ(size.width, 37);
  EXPECT_EQ(size.height, 21);
}

TEST(Image, DecodesJpegCloseToTheOriginal) {
  const RgbImage image = gradient_image(32, 32);
  const RgbImage decoded = decode_image(encode_jpeg(image), "g.jpg");
  ASSERT_EQ(decoded.width, 32);
  ASSERT_EQ(decoded.height, 32);
  double error = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i) error += std::abs(decoded.pixels[i] - image.pixels[i]);
  EXPECT_LT(error / static_cast<double>(image.pixels.size()), 6.0);  // lossy, but close at quality 95
}

TEST(ImageErrors, MissingImageNamesThePath) {
  TemporaryDirectory dir;
  try {
    read_image_file(dir / "train2014" / "missing.jpg");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("missing.jpg: file does not exist"), std::string::npos) << error.what();
  }
}

TEST(ImageErrors, UnreadableJpeg) {
  TemporaryDirectory dir;
  auto bytes = encode_jpeg(gradient_image(16, 16));
  bytes.resize(20);  // the SOI marker survives, the rest is gone
  write_file_bytes(dir / "cut.jpg", bytes);
  try {
    read_image_file(dir / "cut.jpg");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("cut.jpg: cannot decode image"), std::string::npos) << error.what();
  }
  write_file_bytes(dir / "text.jpg", std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'});
  EXPECT_THROW(read_image_file(dir / "text.jpg"), DataError);
  write_file_bytes(dir / "empty.png", std::vector<uint8_t>{});
  EXPECT_THROW(read_image_file(dir / "empty.png"), DataError);
}

// A 3x2 grey progressive JPEG (PIL, quality 75): Huffman tables defined between scans, and a DC
// refinement scan that decodes with no table at all.
const std::vector<uint8_t> kProgressiveJpeg = {
    // SOI
    0xFF, 0xD8,
    // APP0 (JFIF)
    0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00,
    // DQT
    0xFF, 0xDB, 0x00, 0x43, 0x00, 0x06, 0x04, 0x05, 0x06, 0x05, 0x04, 0x06, 0x06, 0x05, 0x06, 0x07,
    0x07, 0x06, 0x08, 0x0A, 0x10, 0x0A, 0x0A, 0x09, 0x09, 0x0A, 0x14, 0x0E, 0x0F, 0x0C, 0x10, 0x17,
    0x14, 0x18, 0x18, 0x17, 0x14, 0x16, 0x16, 0x1A, 0x1D, 0x25, 0x1F, 0x1A, 0x1B, 0x23, 0x1C, 0x16,
    0x16, 0x20, 0x2C, 0x20, 0x23, 0x26, 0x27, 0x29, 0x2A, 0x29, 0x19, 0x1F, 0x2D, 0x30, 0x2D, 0x28,
    0x30, 0x25, 0x28, 0x29, 0x28,
    // SOF2: progressive, 3x2, one component
    0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00,
    // DHT
    0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    // SOS, DC first pass, and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x71,
    // DHT
    0xFF, 0xC4, 0x00, 0x15, 0x10, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x14,
    // SOS, AC, and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x05, 0x02, 0x19, 0x4F, 0x37,
    // DHT
    0xFF, 0xC4, 0x00, 0x19, 0x10, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x23, 0x31, 0x52,
    // SOS, AC, and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x3F, 0x02, 0x1C, 0x02, 0xAC, 0x32,
    // DHT
    0xFF, 0xC4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // SOS, AC, and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x21, 0x28, 0x1F,
    // SOS, DC refinement (no table), and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00, 0x10, 0xFF, 0x00,
    // DHT
    0xFF, 0xC4, 0x00, 0x17, 0x10, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x71, 0x91,
    // SOS, AC, and its entropy-coded data
    0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x10, 0x57, 0xFA, 0x43,
    // EOI
    0xFF, 0xD9,
};

// The bytes of a JPEG without the segments whose marker is `marker` (segments before the first
// scan only, which is where stb_image_write puts its tables).
std::vector<uint8_t> without_segments(const std::vector<uint8_t>& jpeg, uint8_t marker) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  size_t offset = 2;
  while (jpeg[offset + 1] != 0xDA) {
    const size_t length = (size_t{jpeg[offset + 2]} << 8) | jpeg[offset + 3];
    if (jpeg[offset + 1] != marker) out.insert(out.end(), jpeg.begin() + offset, jpeg.begin() + offset + 2 + length);
    offset += 2 + length;
  }
  out.insert(out.end(), jpeg.begin() + offset, jpeg.end());
  return out;
}

// The offset of the n-th (from 0) marker `marker` in these small files: entropy-coded data follows
// each 0xFF data byte with 0x00, and no table value here is 0xFF, so the pair 0xFF `marker` is it.
size_t nth_marker(const std::vector<uint8_t>& jpeg, uint8_t marker, int n) {
  for (size_t offset = 0; offset + 1 < jpeg.size(); ++offset)
    if (jpeg[offset] == 0xFF && jpeg[offset + 1] == marker && n-- == 0) return offset;
  ADD_FAILURE() << "no such marker";
  return 0;
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, "x.jpg");
  } catch (const DataError& error) {
    return error.what();
  }
  return "no error";
}

TEST(Image, DecodesAProgressiveJpeg) {
  const RgbImage decoded = decode_image(kProgressiveJpeg, "progressive.jpg");
  EXPECT_EQ(decoded.width, 3);
  EXPECT_EQ(decoded.height, 2);
}

TEST(ImageErrors, JpegScanWithAnUndefinedTableIsRefusedBeforeDecoding) {
  // stb_image would decode with uninitialised Huffman tables (an out-of-bounds read found by
  // fuzz_image) or quantisation tables (garbage pixels).
  const std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(16, 16));
  ASSERT_NO_THROW(decode_image(jpeg, "x.jpg"));
  EXPECT_NE(decode_error(without_segments(jpeg, 0xC4)).find("x.jpg: cannot decode image: JPEG scan at byte "),
            std::string::npos);
  EXPECT_NE(decode_error(without_segments(jpeg, 0xC4)).find("uses DC Huffman table 0, which no DHT segment defined"),
            std::string::npos)
      << decode_error(without_segments(jpeg, 0xC4));
  EXPECT_NE(decode_error(without_segments(jpeg, 0xDB)).find("quantisation table 0, which no DQT segment defined"),
            std::string::npos)
      << decode_error(without_segments(jpeg, 0xDB));
  // The progressive file with its first AC table (its second DHT) put in slot 3: the AC scan after
  // it asks for slot 0.
  std::vector<uint8_t> progressive = kProgressiveJpeg;
  progressive[nth_marker(progressive, 0xC4, 1) + 4] = 0x13;  // class 1, slot 3
  EXPECT_NE(decode_error(progressive).find("uses AC Huffman table 0, which no DHT segment defined"), std::string::npos)
      << decode_error(progressive);
}

TEST(ImageErrors, JpegHuffmanTableWithMoreThan256CodesIsRefused) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(16, 16));
  const size_t table = nth_marker(jpeg, 0xC4, 0);
  jpeg[table + 5 + 15] = 255;  // the counts of 16- and 15-bit codes: the counts now add up past 256
  jpeg[table + 5 + 14] = 255;
  EXPECT_NE(decode_error(jpeg).find("codes (at most 256, within its segment)"), std::string::npos) << decode_error(jpeg);
}

TEST(ImageErrors, JpegSegmentPastTheEndIsRefused) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(16, 16));
  jpeg.resize(30);
  EXPECT_NE(decode_error(jpeg).find("past the end of the file (30 bytes)"), std::string::npos) << decode_error(jpeg);
}

TEST(Image, CropAndFlipMoveTheRightPixels) {
  const RgbImage image = gradient_image(10, 8);
  const RgbImage crop = crop_image(image, 3, 2, 4, 5);
  EXPECT_EQ(crop.width, 4);
  EXPECT_EQ(crop.height, 5);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(crop.pixel(1, 3)[c], image.pixel(4, 5)[c]);
  EXPECT_THROW(crop_image(image, 8, 0, 4, 4), std::invalid_argument);
  const RgbImage flipped = flip_horizontally(image);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(flipped.pixel(0, 3)[c], image.pixel(9, 3)[c]);
  EXPECT_EQ(flip_horizontally(flipped).pixels, image.pixels);
}

TEST(Image, ResizeOfAConstantImageIsConstant) {
  RgbImage image(20, 10);
  for (size_t i = 0; i < image.pixels.size(); i += 3) image.pixels[i] = 200, image.pixels[i + 1] = 50, image.pixels[i + 2] = 7;
  const RgbImage resized = resize_image(image, 7, 13);
  ASSERT_EQ(resized.width, 7);
  ASSERT_EQ(resized.height, 13);
  for (size_t i = 0; i < resized.pixels.size(); i += 3) {
    EXPECT_NEAR(resized.pixels[i], 200, 1);
    EXPECT_NEAR(resized.pixels[i + 1], 50, 1);
    EXPECT_NEAR(resized.pixels[i + 2], 7, 1);
  }
}

TEST(Image, NormalizeGivesChannelMajorImagenetValues) {
  RgbImage image(2, 1);
  image.pixels = {255, 0, 51, 0, 255, 102};
  const auto chw = normalize_to_chw(image);
  ASSERT_EQ(chw.size(), 6u);
  EXPECT_NEAR(chw[0], (1.0f - 0.485f) / 0.229f, 1e-5);  // R of pixel 0
  EXPECT_NEAR(chw[1], (0.0f - 0.485f) / 0.229f, 1e-5);  // R of pixel 1
  EXPECT_NEAR(chw[2], (0.0f - 0.456f) / 0.224f, 1e-5);  // G of pixel 0
  EXPECT_NEAR(chw[5], (0.4f - 0.406f) / 0.225f, 1e-5);  // B of pixel 1
}

TEST(Image, EvaluationTransformIsACentreCropWithoutFlip) {
  const RgbImage image = gradient_image(12, 12);
  ImageTransformOptions options;
  options.crop_size = 8;
  options.normalization = {{0, 0, 0}, {1, 1, 1}};
  const PreparedImage prepared = prepare_image(image, options, nullptr);
  ASSERT_EQ(prepared.width, 8);
  // Top-left of the centre crop is pixel (2, 2).
  EXPECT_FLOAT_EQ(prepared.chw[0], image.pixel(2, 2)[0] / 255.0f);
}

TEST(Image, TrainingTransformIsDeterministicFromTheGenerator) {
  const RgbImage image = gradient_image(16, 16);
  ImageTransformOptions options;
  options.crop_size = 10;
  Generator first(7, 0), second(7, 0), other(8, 0);
  const auto a = prepare_image(image, options, &first).chw;
  EXPECT_EQ(a, prepare_image(image, options, &second).chw);
  bool any_differs = false;
  for (int k = 0; k < 8 && !any_differs; ++k) any_differs = prepare_image(image, options, &other).chw != a;
  EXPECT_TRUE(any_differs);
  options.crop_size = 20;
  EXPECT_THROW(prepare_image(image, options, &first), std::invalid_argument);
}

}  // namespace
}  // namespace sparsecap::data
