#include <gtest/gtest.h>
#include <stb_image_write.h>

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
