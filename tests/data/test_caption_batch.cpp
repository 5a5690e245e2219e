#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <set>
#include <stdexcept>

#include "data/caption_batch.h"
#include "data/data_error.h"
#include "data/file_io.h"
#include "data/npy.h"
#include "npy_fixtures.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

namespace fs = std::filesystem;
using testing_support::TemporaryDirectory;

constexpr int64_t kDim = 3;

// Region features whose values encode (image id, region, d), so every copy can be checked.
float feature_value(int64_t id, int64_t region, int64_t d) { return static_cast<float>(id * 100 + region * 10 + d); }

void write_features(const fs::path& root, int64_t id, int64_t regions) {
  std::vector<float> att, boxes, fc(kDim, 0.5f);
  for (int64_t r = 0; r < regions; ++r) {
    for (int64_t d = 0; d < kDim; ++d) att.push_back(feature_value(id, r, d));
    boxes.insert(boxes.end(), {static_cast<float>(r), 2.0f, static_cast<float>(r + 10), 20.0f});
  }
  fs::create_directories(root / "cocobu_att"), fs::create_directories(root / "cocobu_fc"),
      fs::create_directories(root / "cocobu_box");
  write_npy_float32(root / "cocobu_att" / (std::to_string(id) + ".npy"), {regions, kDim}, att);
  write_npy_float32(root / "cocobu_fc" / (std::to_string(id) + ".npy"), {kDim}, fc);
  write_npy_float32(root / "cocobu_box" / (std::to_string(id) + ".npy"), {regions, 4}, boxes);
}

KarpathyImage make_image(int64_t id, std::vector<std::vector<std::string>> captions, Split split = Split::Train) {
  KarpathyImage image;
  image.filepath = "images";
  image.filename = "img" + std::to_string(id) + ".png";
  image.split = split;
  image.imgid = id;
  image.width = 40;
  image.height = 20;
  for (auto& tokens : captions) image.sentences.push_back({tokens, ""});
  return image;
}

// Image 0: 2 regions, one 3-word caption; image 1: 3 regions, five captions of 1..5 words;
// image 2: 1 region, a 20-word caption (longer than the 16-word maximum).
struct Fixture {
  TemporaryDirectory dir;
  KarpathyDataset dataset;
  Vocabulary vocabulary = Vocabulary::from_words({"a", "red", "circle", "blue", "star"});

  Fixture() {
    dataset.images.push_back(make_image(0, {{"a", "red", "circle"}}));
    dataset.images.push_back(make_image(1, {{"a"}, {"a", "star"}, {"a", "blue", "star"}, {"a", "big", "blue", "star"},
                                            {"a", "red", "circle", "a", "star"}}));
    dataset.images.push_back(make_image(2, {std::vector<std::string>(20, "red")}));
    write_features(dir.path(), 0, 2);
    write_features(dir.path(), 1, 3);
    write_features(dir.path(), 2, 1);
  }

  // The first batch that `o` makes of the fixture.
  CaptionBatch first_batch(const CaptionBatchOptions& o) const {
    CaptionBatchLoader loader(dataset, vocabulary, o);
    std::optional<CaptionBatch> batch = loader.next_batch();
    if (!batch) throw std::runtime_error("the fixture's loader made no batch");
    return *batch;
  }

  // Word counts of image 1's five rows when seq_per_img is 5 (rows 5..9 of the first batch).
  static std::multiset<int64_t> image_one_lengths(const CaptionBatch& batch) {
    return {batch.caption_lengths.begin() + 5, batch.caption_lengths.begin() + 10};
  }

  CaptionBatchOptions options() const {
    CaptionBatchOptions o;
    o.images_per_batch = 3;
    o.seq_per_img = 2;
    o.shuffle = false;
    o.region_features = RegionFeatureLayout::under_root(dir.path());
    return o;
  }
};

TEST(CaptionBatch, CaptionsArePaddedAndMasked) {
  Fixture fixture;
  CaptionBatchOptions options = fixture.options();
  CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, options);
  const auto batch = loader.next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->image_count, 3);
  EXPECT_EQ(batch->seq_per_img, 2);
  EXPECT_EQ(batch->sequence_length, 18);
  ASSERT_EQ(batch->captions.size(), 3u * 2 * 18);
  // Image 0 has one caption: both rows are "<bos> a red circle <eos>" then padding.
  const std::vector<int64_t> expected = {2, 4, 5, 6, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<float> expected_mask = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int row = 0; row < 2; ++row) {
    EXPECT_EQ(std::vector<int64_t>(batch->captions.begin() + row * 18, batch->captions.begin() + (row + 1) * 18), expected);
    EXPECT_EQ(std::vector<float>(batch->caption_mask.begin() + row * 18, batch->caption_mask.begin() + (row + 1) * 18),
              expected_mask);
    EXPECT_EQ(batch->caption_lengths[row], 3);
  }
  // Image 2's 20-word caption is cut to 16 words and still ends with EOS; no padding left.
  for (int row = 4; row < 6; ++row) {
    const auto begin = batch->captions.begin() + row * 18;
    EXPECT_EQ(begin[0], Vocabulary::kBegin);
    for (int t = 1; t <= 16; ++t) EXPECT_EQ(begin[t], 5);
    EXPECT_EQ(begin[17], Vocabulary::kEnd);
    EXPECT_EQ(batch->caption_lengths[row], 16);
    for (int t = 0; t < 18; ++t) EXPECT_EQ(batch->caption_mask[row * 18 + t], 1.0f);
  }
  // Image 1: two different captions out of five; "big" is unknown.
  ASSERT_EQ(batch->references.size(), 3u);
  EXPECT_EQ(batch->references[1].size(), 5u);
  EXPECT_EQ(batch->image_ids, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_FALSE(loader.next_batch().has_value());
}

TEST(CaptionBatch, SeqPerImgSamplesWithoutReplacementWhenThereAreEnough) {
  Fixture fixture;
  CaptionBatchOptions options = fixture.options();
  options.seq_per_img = 5;
  const CaptionBatch batch = fixture.first_batch(options);
  EXPECT_EQ(Fixture::image_one_lengths(batch), (std::multiset<int64_t>{1, 2, 3, 4, 5}));  // each caption once
  for (int row = 0; row < 5; ++row) EXPECT_EQ(batch.caption_lengths[row], 3);  // image 0: repeats
  // "big" is not in the vocabulary.
  bool found_unknown = false;
  for (int row = 5; row < 10; ++row)
    if (batch.caption_lengths[row] == 4) found_unknown = batch.captions[row * 18 + 2] == Vocabulary::kUnknown;
  EXPECT_TRUE(found_unknown);
}

TEST(CaptionBatch, LeadingReferencesLimitWhichCaptionsAreDrawn) {
  // Image 1's captions have 1..5 words: with the first two only, every row drawn for it has 1 or 2
  // words, both appear among five rows, and the batch's references still hold all five.
  Fixture fixture;
  CaptionBatchOptions options = fixture.options();
  options.seq_per_img = 5;
  options.leading_references = 2;
  const CaptionBatch batch = fixture.first_batch(options);
  const std::multiset<int64_t> lengths = Fixture::image_one_lengths(batch);
  EXPECT_EQ(std::set<int64_t>(lengths.begin(), lengths.end()), (std::set<int64_t>{1, 2}));
  EXPECT_EQ(batch.references[1].size(), 5u);
  options.leading_references = -1;
  EXPECT_THROW(CaptionBatchLoader(fixture.dataset, fixture.vocabulary, options), std::invalid_argument);
}

TEST(CaptionBatch, RegionsArePaddedAndMasked) {
  Fixture fixture;
  CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, fixture.options());
  const auto batch = loader.next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->max_regions, 3);
  EXPECT_EQ(batch->feature_dim, kDim);
  EXPECT_EQ(batch->region_counts, (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(batch->region_mask, (std::vector<float>{1, 1, 0, 1, 1, 1, 1, 0, 0}));
  ASSERT_EQ(batch->region_features.size(), 3u * 3 * kDim);
  for (int64_t image = 0; image < 3; ++image)
    for (int64_t region = 0; region < 3; ++region)
      for (int64_t d = 0; d < kDim; ++d) {
        const float value = batch->region_features[(image * 3 + region) * kDim + d];
        if (region < batch->region_counts[image]) EXPECT_EQ(value, feature_value(image, region, d));
        else EXPECT_EQ(value, 0.0f);
      }
  EXPECT_EQ(batch->fc_features, std::vector<float>(9, 0.5f));
  // Box 1 of image 1 is [1, 2, 11, 20] in a 40x20 image.
  const size_t slot = (1 * 3 + 1) * 4;
  EXPECT_EQ(std::vector<float>(batch->boxes.begin() + slot, batch->boxes.begin() + slot + 4),
            (std::vector<float>{1, 2, 11, 20}));
  EXPECT_EQ(std::vector<float>(batch->relative_boxes.begin() + slot, batch->relative_boxes.begin() + slot + 4),
            (std::vector<float>{1.0f / 40, 0.1f, 11.0f / 40, 1.0f}));
  EXPECT_EQ(batch->boxes[(2 * 3 + 2) * 4 + 2], 0.0f);  // padding
}

TEST(CaptionBatch, FcIsTheMeanOfRegionsWhenThereIsNoFcFolder) {
  Fixture fixture;
  fs::remove_all(fixture.dir / "cocobu_fc");
  CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, fixture.options());
  const auto batch = loader.next_batch();
  ASSERT_TRUE(batch.has_value());
  // Image 1, d = 2: mean of 102, 112, 122.
  EXPECT_FLOAT_EQ(batch->fc_features[1 * kDim + 2], 112.0f);
}

std::vector<int64_t> epoch_order(CaptionBatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<int64_t> order;
  while (const auto batch = loader.next_batch()) order.insert(order.end(), batch->image_ids.begin(), batch->image_ids.end());
  return order;
}

TEST(CaptionBatch, ShufflingIsAFunctionOfSeedAndEpoch) {
  TemporaryDirectory dir;
  KarpathyDataset dataset;
  for (int64_t id = 0; id < 12; ++id) dataset.images.push_back(make_image(id, {{"a"}}));
  CaptionBatchOptions options;
  options.images_per_batch = 5;
  options.seed = 99;
  CaptionBatchLoader loader(dataset, Vocabulary(), options), twin(dataset, Vocabulary(), options);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  const auto first = epoch_order(loader, 0);
  ASSERT_EQ(first.size(), 12u);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 12u);  // every image once
  EXPECT_EQ(first, epoch_order(twin, 0));
  EXPECT_NE(first, epoch_order(loader, 1));
  EXPECT_EQ(first, epoch_order(loader, 0));
  options.shuffle = false;
  options.drop_last = true;
  CaptionBatchLoader ordered(dataset, Vocabulary(), options);
  EXPECT_EQ(ordered.batches_per_epoch(), 2);
  const auto in_order = epoch_order(ordered, 0);
  EXPECT_EQ(in_order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(CaptionBatch, OnlyTheRequestedSplitIsLoaded) {
  KarpathyDataset dataset;
  dataset.images.push_back(make_image(0, {{"a"}}, Split::Train));
  dataset.images.push_back(make_image(1, {{"a"}}, Split::Val));
  CaptionBatchOptions options;
  options.split = Split::Val;
  CaptionBatchLoader loader(dataset, Vocabulary(), options);
  EXPECT_EQ(loader.image_count(), 1);
  EXPECT_EQ(loader.next_batch()->image_ids, (std::vector<int64_t>{1}));
  options.split = Split::Test;
  EXPECT_THROW(CaptionBatchLoader(dataset, Vocabulary(), options), DataError);
}

TEST(CaptionBatch, LoadsNormalisedPixels) {
  Fixture fixture;
  fs::create_directories(fixture.dir / "images");
  for (int64_t id = 0; id < 3; ++id) {
    RgbImage image(40, 20);
    for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(id * 50 + 10);
    write_png_file(fixture.dir / "images" / ("img" + std::to_string(id) + ".png"), image);
  }
  CaptionBatchOptions options = fixture.options();
  options.region_features.reset();
  options.image_root = fixture.dir.path();
  options.load_pixels = true;
  options.image_transform.crop_size = 16;
  options.image_transform.normalization = {{0, 0, 0}, {1, 1, 1}};
  CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, options);
  const auto batch = loader.next_batch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->image_width, 16);
  EXPECT_EQ(batch->image_height, 16);
  ASSERT_EQ(batch->pixels.size(), 3u * 3 * 16 * 16);
  EXPECT_FLOAT_EQ(batch->pixels[0], 10 / 255.0f);
  EXPECT_FLOAT_EQ(batch->pixels[2 * 3 * 16 * 16 + 5], 110 / 255.0f);
  EXPECT_TRUE(batch->region_features.empty());
}

// ---- bad input: one clear error naming the file, or skipped and counted with skip_bad ----------

void expect_load_error(Fixture& fixture, CaptionBatchOptions options, const std::string& file, const std::string& words) {
  {
    CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, options);
    try {
      while (loader.next_batch()) {
      }
      ADD_FAILURE() << "no error; expected '" << words << "'";
    } catch (const DataError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_NE(message.find(words), std::string::npos) << message;
    }
  }
  options.skip_bad = true;
  CaptionBatchLoader loader(fixture.dataset, fixture.vocabulary, options);
  int64_t images = 0;
  while (const auto batch = loader.next_batch()) images += batch->image_count;
  EXPECT_EQ(images, 2);
  EXPECT_EQ(loader.skipped_count(), 1);
  ASSERT_EQ(loader.skipped_reasons().size(), 1u);
  EXPECT_NE(loader.skipped_reasons()[0].find(file), std::string::npos);
}

TEST(CaptionBatchErrors, ImageIdWithNoFeatures) {
  Fixture fixture;
  fs::remove(fixture.dir / "cocobu_att" / "1.npy");
  expect_load_error(fixture, fixture.options(), "cocobu_att/1.npy", "no region features for image id 1");
}

TEST(CaptionBatchErrors, NanAndInfFeatures) {
  Fixture fixture;
  write_npy_float32(fixture.dir / "cocobu_att" / "2.npy", {1, kDim}, std::vector<float>{1, std::numeric_limits<float>::quiet_NaN(), 3});
  expect_load_error(fixture, fixture.options(), "cocobu_att/2.npy", "non-finite value nan at flat index 1");
  Fixture infinite;
  write_npy_float32(infinite.dir / "cocobu_fc" / "0.npy", {kDim}, std::vector<float>{std::numeric_limits<float>::infinity(), 0, 0});
  expect_load_error(infinite, infinite.options(), "cocobu_fc/0.npy", "non-finite value inf");
}

TEST(CaptionBatchErrors, TruncatedNpyBody) {
  Fixture fixture;
  auto bytes = read_file_bytes(fixture.dir / "cocobu_att" / "1.npy");
  bytes.erase(bytes.end() - 4, bytes.end());
  write_file_bytes(fixture.dir / "cocobu_att" / "1.npy", bytes);
  expect_load_error(fixture, fixture.options(), "cocobu_att/1.npy", "truncated .npy body");
}

TEST(CaptionBatchErrors, BadNpyHeader) {
  Fixture fixture;
  write_file_bytes(fixture.dir / "cocobu_box" / "0.npy",
                   testing_support::make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 4), }",
                                             std::vector<uint8_t>(32)));
  expect_load_error(fixture, fixture.options(), "cocobu_box/0.npy", "dtype '<i4' is not supported");
}

TEST(CaptionBatchErrors, FeatureShapesThatDoNotAgree) {
  Fixture fixture;
  write_npy_float32(fixture.dir / "cocobu_box" / "1.npy", {2, 4}, std::vector<float>(8, 1.0f));
  expect_load_error(fixture, fixture.options(), "cocobu_box/1.npy", "boxes must have shape [3, 4]");
}

TEST(CaptionBatchErrors, MissingImage) {
  Fixture fixture;
  fs::create_directories(fixture.dir / "images");
  for (const int64_t id : {0, 2}) write_png_file(fixture.dir / "images" / ("img" + std::to_string(id) + ".png"), RgbImage(40, 20));
  CaptionBatchOptions options = fixture.options();
  options.image_root = fixture.dir.path();
  options.load_pixels = true;
  expect_load_error(fixture, options, "images/img1.png", "file does not exist");
}

TEST(CaptionBatchErrors, UnreadableJpeg) {
  Fixture fixture;
  fs::create_directories(fixture.dir / "images");
  for (const int64_t id : {0, 2}) write_png_file(fixture.dir / "images" / ("img" + std::to_string(id) + ".png"), RgbImage(40, 20));
  fixture.dataset.images[1].filename = "img1.jpg";
  write_file_bytes(fixture.dir / "images" / "img1.jpg", std::vector<uint8_t>{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F'});
  CaptionBatchOptions options = fixture.options();
  options.image_root = fixture.dir.path();
  options.load_pixels = true;
  expect_load_error(fixture, options, "images/img1.jpg", "cannot decode image");
}

TEST(CaptionBatchErrors, ImageWithoutCaptions) {
  Fixture fixture;
  fixture.dataset.images[2].sentences.clear();
  expect_load_error(fixture, fixture.options(), "img2.png", "has no captions");
}

}  // namespace
}  // namespace sparsecap::data
