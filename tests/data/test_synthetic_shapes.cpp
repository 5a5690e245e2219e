#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/file_io.h"
#include "data/karpathy.h"
#include "data/npy.h"
#include "data/region_features.h"
#include "data/synthetic_shapes.h"
#include "data/tokenize.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

namespace fs = std::filesystem;
using testing_support::TemporaryDirectory;

// ---- a small parser of the caption grammar, built on the generator's public word lists ----------

struct Mention {
  ShapeKind shape;
  std::optional<ColorName> color;
  std::optional<SizeClass> size;
  int count = 1;  // 1 for "a"/"an"/"one" or a bare singular; n for a number word
  bool explicit_number = false;
};

struct ParsedCaption {
  std::vector<Mention> mentions;
  std::optional<int> total_claimed;  // "three shapes", "only one shape"
  std::vector<std::string> stray_words;  // colour/size words not attached to a shape
};

const std::map<std::string, int> kNumbers = {{"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}};

std::optional<std::pair<ShapeKind, bool>> as_shape(const std::string& word) {  // (shape, plural)
  for (int s = 0; s < kShapeKindCount; ++s) {
    const auto shape = static_cast<ShapeKind>(s);
    for (const auto& w : shape_words(shape)) if (w == word) return std::pair{shape, false};
    for (const auto& w : shape_plural_words(shape)) if (w == word) return std::pair{shape, true};
  }
  return std::nullopt;
}
std::optional<ColorName> as_color(const std::string& word) {
  for (int c = 0; c < kColorNameCount; ++c)
    for (const auto& w : color_words(static_cast<ColorName>(c))) if (w == word) return static_cast<ColorName>(c);
  return std::nullopt;
}
std::optional<SizeClass> as_size(const std::string& word) {
  for (const SizeClass size : {SizeClass::Small, SizeClass::Large})
    for (const auto& w : size_words(size)) if (w == word) return size;
  return std::nullopt;
}

ParsedCaption parse_caption(const std::vector<std::string>& tokens) {
  ParsedCaption parsed;
  std::vector<bool> used(tokens.size(), false);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if ((tokens[i] == "shapes" || tokens[i] == "objects") && i > 0 && kNumbers.count(tokens[i - 1]))
      parsed.total_claimed = kNumbers.at(tokens[i - 1]);
    if ((tokens[i] == "shape" || tokens[i] == "object") && i > 0 && (tokens[i - 1] == "one" || tokens[i - 1] == "single"))
      parsed.total_claimed = 1;
    const auto shape = as_shape(tokens[i]);
    if (!shape) continue;
    Mention mention{shape->first, std::nullopt, std::nullopt, 1, false};
    used[i] = true;
    size_t j = i;
    if (j > 0 && as_color(tokens[j - 1])) mention.color = as_color(tokens[--j]), used[j] = true;
    if (j > 0 && as_size(tokens[j - 1])) mention.size = as_size(tokens[--j]), used[j] = true;
    if (j > 0 && kNumbers.count(tokens[j - 1])) mention.count = kNumbers.at(tokens[j - 1]), mention.explicit_number = true;
    EXPECT_EQ(shape->second, mention.count > 1) << "plural must go with a number: " << join_tokens(tokens);
    parsed.mentions.push_back(mention);
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!used[i] && (as_color(tokens[i]) || as_size(tokens[i]))) parsed.stray_words.push_back(tokens[i]);
  return parsed;
}

bool matches(const SceneObject& object, const Mention& mention) {
  return object.shape == mention.shape && (!mention.color || object.color == *mention.color) &&
         (!mention.size || object.size == *mention.size);
}

int count_matching(const Scene& scene, const Mention& mention) {
  return static_cast<int>(std::count_if(scene.objects.begin(), scene.objects.end(),
                                        [&](const SceneObject& o) { return matches(o, mention); }));
}

std::string describe(const Scene& scene) {
  std::string text;
  for (const auto& o : scene.objects)
    text += size_words(o.size)[0] + " " + color_words(o.color)[0] + " " + shape_words(o.shape)[0] + " at (" +
            std::to_string(o.center_x) + ", " + std::to_string(o.center_y) + "); ";
  return text;
}

bool contains(const std::vector<std::string>& tokens, const std::string& word) {
  return std::find(tokens.begin(), tokens.end(), word) != tokens.end();
}

// ---- determinism --------------------------------------------------------------------------------

std::map<std::string, std::vector<uint8_t>> all_files(const fs::path& root) {
  std::map<std::string, std::vector<uint8_t>> files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).string()] = read_file_bytes(entry.path());
  return files;
}

TEST(SyntheticShapes, SameSeedGivesSameBytesWhateverTheThreadCount) {
  TemporaryDirectory first, second, other;
  SyntheticShapesOptions options;
  options.image_count = 24;
  options.seed = 11;
  options.threads = 1;
  write_synthetic_shapes(first.path(), options);
  options.threads = 3;
  write_synthetic_shapes(second.path(), options);
  const auto files = all_files(first.path());
  EXPECT_EQ(files.size(), 24u * 4 + 2);  // png + att + fc + box per image, the split JSON, the scenes
  EXPECT_TRUE(files == all_files(second.path()));

  options.seed = 12;
  write_synthetic_shapes(other.path(), options);
  const auto different = all_files(other.path());
  EXPECT_NE(files.at("images/shapes_000000.png"), different.at("images/shapes_000000.png"));
  EXPECT_NE(files.at("dataset_shapes.json"), different.at("dataset_shapes.json"));
}

TEST(SyntheticShapes, ImageDependsOnlyOnSeedAndIndex) {
  SyntheticShapesOptions small, large;
  small.image_count = 10;
  large.image_count = 10000;
  const SyntheticImage a = generate_synthetic_image(small, 3), b = generate_synthetic_image(large, 3);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_EQ(a.region_features, b.region_features);
  ASSERT_EQ(a.captions.size(), b.captions.size());
  for (size_t i = 0; i < a.captions.size(); ++i) EXPECT_EQ(a.captions[i].raw, b.captions[i].raw);
  EXPECT_NE(generate_synthetic_image(small, 4).image.pixels, a.image.pixels);
}

// ---- scenes ------------------------------------------------------------------------------------

TEST(SyntheticShapes, ScenesCoverTheVocabularyAndStayInside) {
  std::set<ShapeKind> shapes;
  std::set<ColorName> colors;
  std::set<SizeClass> sizes;
  std::map<size_t, int> object_counts;
  int overlapping_scenes = 0, repeated_kind_scenes = 0;
  for (int64_t index = 0; index < 300; ++index) {
    const Scene scene = sample_scene(5, index, 64);
    ++object_counts[scene.objects.size()];
    bool overlap = false, repeated = false;
    for (size_t a = 0; a < scene.objects.size(); ++a) {
      const SceneObject& o = scene.objects[a];
      shapes.insert(o.shape), colors.insert(o.color), sizes.insert(o.size);
      EXPECT_GE(o.center_x - o.radius, 0.0f);
      EXPECT_LE(o.center_x + o.radius, 64.0f);
      EXPECT_GE(o.center_y - o.radius, 0.0f);
      EXPECT_LE(o.center_y + o.radius, 64.0f);
      for (size_t b = a + 1; b < scene.objects.size(); ++b) {
        const SceneObject& p = scene.objects[b];
        const float distance = std::hypot(o.center_x - p.center_x, o.center_y - p.center_y);
        EXPECT_GE(distance, 0.7f * (o.radius + p.radius) - 1e-4f) << "an object would be hidden";
        overlap |= distance < o.radius + p.radius;
        repeated |= o.shape == p.shape && o.color == p.color;
      }
    }
    overlapping_scenes += overlap;
    repeated_kind_scenes += repeated;
  }
  EXPECT_EQ(shapes.size(), static_cast<size_t>(kShapeKindCount));
  EXPECT_EQ(colors.size(), static_cast<size_t>(kColorNameCount));
  EXPECT_EQ(sizes.size(), 2u);
  for (size_t count = 1; count <= 4; ++count) EXPECT_GT(object_counts[count], 20) << count << " objects";
  EXPECT_EQ(object_counts.size(), 4u);
  EXPECT_GT(overlapping_scenes, 10);
  EXPECT_GT(repeated_kind_scenes, 10);
}

TEST(SyntheticShapes, TheTopObjectIsDrawnInItsColourAtItsCentre) {
  for (int64_t index = 0; index < 60; ++index) {
    Scene scene = sample_scene(2, index, 64);
    const RgbImage image = render_scene(scene, 2, index);
    const SceneObject& top = scene.objects.back();  // drawn last, so nothing covers it
    if (top.shape == ShapeKind::Ring) continue;      // a ring's centre is background
    const uint8_t* pixel = image.pixel(static_cast<int>(top.center_x), static_cast<int>(top.center_y));
    for (int c = 0; c < 3; ++c)  // lighting changes a colour by at most 15% over the radius, noise by 10
      EXPECT_NEAR(pixel[c], top.rgb[c], 0.16 * top.rgb[c] + 12) << "image " << index << " channel " << c;
    const PixelBox& extent = top.extent;
    EXPECT_LE(extent.x0, top.center_x);
    EXPECT_GE(extent.x1, top.center_x);
    EXPECT_NEAR(extent.width(), 2 * top.radius, 0.45 * 2 * top.radius + 2);
  }
}

// ---- captions ----------------------------------------------------------------------------------

TEST(SyntheticShapes, CaptionsMentionExactlyTheObjectsDrawn) {
  SyntheticShapesOptions options;
  options.seed = 21;
  int relations_checked = 0, positions_checked = 0, extremes_checked = 0, listings_checked = 0;
  for (int64_t index = 0; index < 120; ++index) {
    const SyntheticImage generated = generate_synthetic_image(options, index);
    const Scene& scene = generated.scene;
    ASSERT_EQ(generated.captions.size(), 5u);
    for (size_t k = 0; k < generated.captions.size(); ++k) {
      const auto& tokens = generated.captions[k].tokens;
      const std::string context = "image " + std::to_string(index) + " caption \"" + generated.captions[k].raw +
                                  "\" scene: " + describe(scene);
      EXPECT_LE(tokens.size(), 16u) << context;
      const ParsedCaption parsed = parse_caption(tokens);
      EXPECT_TRUE(parsed.stray_words.empty()) << context;
      EXPECT_FALSE(parsed.mentions.empty() && !parsed.total_claimed) << context;
      if (parsed.total_claimed) {
        EXPECT_EQ(*parsed.total_claimed, static_cast<int>(scene.objects.size())) << context;
      }
      const auto check = [&](bool holds, int& checked) {
        EXPECT_TRUE(holds) << context;
        ++checked;
      };
      for (const Mention& mention : parsed.mentions) {
        const int available = count_matching(scene, mention);
        // A number word claims an exact count; "a red circle" claims at least one.
        if (mention.explicit_number && mention.count > 1) {
          EXPECT_EQ(available, mention.count) << context;
        } else {
          EXPECT_GE(available, 1) << context;
        }
      }
      if (k == 0) {
        // The first caption lists every object: the mentioned counts per (colour, shape) add up to
        // the scene's exactly, and every mention names a colour.
        std::map<std::pair<int, int>, int> mentioned, drawn;
        for (const Mention& m : parsed.mentions) {
          ASSERT_TRUE(m.color.has_value()) << context;
          mentioned[{static_cast<int>(m.shape), static_cast<int>(*m.color)}] += m.count;
        }
        for (const SceneObject& o : scene.objects) ++drawn[{static_cast<int>(o.shape), static_cast<int>(o.color)}];
        EXPECT_EQ(mentioned, drawn) << context;
        // ... one by one, left to right: mention i names the i-th object from the left.
        std::vector<SceneObject> left_to_right = scene.objects;
        std::stable_sort(left_to_right.begin(), left_to_right.end(),
                         [](const SceneObject& a, const SceneObject& b) { return a.center_x < b.center_x; });
        ASSERT_EQ(parsed.mentions.size(), left_to_right.size()) << context;
        for (size_t i = 0; i < left_to_right.size(); ++i) {
          EXPECT_FALSE(parsed.mentions[i].explicit_number) << context;
          EXPECT_TRUE(matches(left_to_right[i], parsed.mentions[i])) << "mention " << i << " of " << context;
        }
        if (parsed.mentions.size() > 1) ++listings_checked;
      }
      // Spatial relations between two uniquely named objects hold in the picture.
      if (parsed.mentions.size() == 2 && count_matching(scene, parsed.mentions[0]) == 1 &&
          count_matching(scene, parsed.mentions[1]) == 1 && !parsed.total_claimed) {
        const auto find = [&](const Mention& m) {
          return *std::find_if(scene.objects.begin(), scene.objects.end(), [&](const SceneObject& o) { return matches(o, m); });
        };
        const SceneObject a = find(parsed.mentions[0]), b = find(parsed.mentions[1]);
        if (contains(tokens, "left")) check(a.center_x < b.center_x, relations_checked);
        if (contains(tokens, "right")) check(a.center_x > b.center_x, relations_checked);
        if (contains(tokens, "above") || contains(tokens, "over")) check(a.center_y < b.center_y, relations_checked);
        if (contains(tokens, "below") || contains(tokens, "under") || contains(tokens, "beneath"))
          check(a.center_y > b.center_y, relations_checked);
      }
      // Absolute positions of one uniquely named object.
      if (parsed.mentions.size() == 1 && !parsed.total_claimed && count_matching(scene, parsed.mentions[0]) == 1) {
        const SceneObject& o = *std::find_if(scene.objects.begin(), scene.objects.end(),
                                             [&](const SceneObject& x) { return matches(x, parsed.mentions[0]); });
        const float third = 64.0f / 3;
        if (contains(tokens, "top")) check(o.center_y < third, positions_checked);
        if (contains(tokens, "bottom")) check(o.center_y >= 2 * third, positions_checked);
        if (contains(tokens, "left")) check(o.center_x < third, positions_checked);
        if (contains(tokens, "right")) check(o.center_x >= 2 * third, positions_checked);
      }
      // "the biggest shape is a red circle": the biggest object is a red circle.
      if (contains(tokens, "biggest") || contains(tokens, "largest") || contains(tokens, "leftmost")) {
        ASSERT_EQ(parsed.mentions.size(), 1u) << context;
        const auto winner = std::max_element(scene.objects.begin(), scene.objects.end(),
                                             [&](const SceneObject& x, const SceneObject& y) {
                                               return contains(tokens, "leftmost") ? x.center_x > y.center_x
                                                                                   : x.radius < y.radius;
                                             });
        EXPECT_TRUE(matches(*winner, parsed.mentions[0])) << context;
        ++extremes_checked;
      }
    }
  }
  // The checks above must actually have run on a fair number of captions.
  EXPECT_GT(relations_checked, 30);
  EXPECT_GT(positions_checked, 30);
  EXPECT_GT(extremes_checked, 10);
  EXPECT_GT(listings_checked, 60);
}

TEST(SyntheticShapes, CaptionsAreVaried) {
  SyntheticShapesOptions options;
  std::set<std::string> distinct, first_words;
  for (int64_t index = 0; index < 50; ++index)
    for (const auto& caption : generate_synthetic_image(options, index).captions) {
      distinct.insert(caption.raw);
      first_words.insert(caption.tokens.front());
      EXPECT_EQ(caption.raw.back(), '.');
      EXPECT_TRUE(std::isupper(static_cast<unsigned char>(caption.raw.front())));
    }
  EXPECT_GT(distinct.size(), 230u);  // of 250
  EXPECT_GE(first_words.size(), 8u);
}

// ---- regions and features ------------------------------------------------------------------------

float distance(const std::vector<float>& a, const std::vector<float>& b) {
  float sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

TEST(SyntheticShapes, BoxFeaturesSeparateColourAndShape) {
  // Four large objects in the four quadrants: two identical red circles, a blue circle, a red star.
  Scene scene;
  scene.width = scene.height = 96;
  auto object = [](ShapeKind shape, ColorName color, float x, float y) {
    SceneObject o;
    o.shape = shape, o.color = color, o.size = SizeClass::Large, o.center_x = x, o.center_y = y, o.radius = 16;
    o.rgb = color_rgb(color);
    return o;
  };
  scene.objects = {object(ShapeKind::Circle, ColorName::Red, 24, 24), object(ShapeKind::Circle, ColorName::Red, 72, 72),
                   object(ShapeKind::Circle, ColorName::Blue, 72, 24), object(ShapeKind::Star, ColorName::Red, 24, 72)};
  const RgbImage image = render_scene(scene, 3, 0);
  for (const int dim : {256, 2048}) {
    std::vector<std::vector<float>> features;
    for (const auto& o : scene.objects) features.push_back(box_descriptor(image, o.extent, dim));
    const float same = distance(features[0], features[1]);
    EXPECT_LT(same, distance(features[0], features[2])) << "colour, dim " << dim;
    EXPECT_LT(same, distance(features[0], features[3])) << "shape, dim " << dim;
    EXPECT_LT(same, distance(features[1], features[2])) << "colour, dim " << dim;
    EXPECT_LT(same, distance(features[1], features[3])) << "shape, dim " << dim;
    // The colour histogram (first 64 values) alone separates red from blue.
    const std::vector<float> red(features[0].begin(), features[0].begin() + 64),
        blue(features[2].begin(), features[2].begin() + 64);
    EXPECT_GT(distance(red, blue), 0.5f);
  }
}

TEST(SyntheticShapes, DescriptorLayoutAndSize) {
  Scene scene = sample_scene(1, 0, 64);
  const RgbImage image = render_scene(scene, 1, 0);
  const PixelBox box = scene.objects[0].extent;
  const auto full = box_descriptor(image, box, 4000);
  ASSERT_EQ(full.size(), 4000u);
  // Blocks: histogram 64, 8x8 colours 192, 4x4 orientations 128, 8x8 orientations 512, 16x16 colours 768,
  // 16x16 orientations 2048 = 3712 values, then zeros.
  float histogram_sum = 0;
  for (int i = 0; i < 64; ++i) histogram_sum += full[i];
  EXPECT_NEAR(histogram_sum, 1.0f, 1e-5f);
  for (int i = 64; i < 256; ++i) EXPECT_TRUE(full[i] >= 0 && full[i] <= 1) << i;
  float orientation_norm = 0;
  for (int i = 256; i < 384; ++i) orientation_norm += full[i] * full[i];
  EXPECT_NEAR(orientation_norm, 1.0f, 1e-3f);
  for (size_t i = 3712; i < full.size(); ++i) EXPECT_EQ(full[i], 0.0f);
  // Shorter descriptors are prefixes of longer ones.
  for (const int dim : {1, 64, 256, 2048}) {
    const auto prefix = box_descriptor(image, box, dim);
    ASSERT_EQ(prefix.size(), static_cast<size_t>(dim));
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), full.begin())) << dim;
  }
  EXPECT_THROW(box_descriptor(image, box, 0), std::invalid_argument);
}

float intersection_over_union(const PixelBox& a, const PixelBox& b) {
  const float w = std::max(0.0f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float h = std::max(0.0f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  return w * h / (a.width() * a.height() + b.width() * b.height() - w * h);
}

TEST(SyntheticShapes, OneRegionPerObjectPlusDistractors) {
  SyntheticShapesOptions options;
  for (int64_t index = 0; index < 40; ++index) {
    const SyntheticImage generated = generate_synthetic_image(options, index);
    std::vector<int> per_object(generated.scene.objects.size(), 0);
    int distractors = 0;
    for (const Region& region : generated.regions) {
      EXPECT_GE(region.box.x0, 0.0f);
      EXPECT_LE(region.box.x1, 64.0f);
      EXPECT_GE(region.box.width(), 2.0f);
      EXPECT_GE(region.box.height(), 2.0f);
      if (region.object_index < 0) {
        ++distractors;
        continue;
      }
      ++per_object[static_cast<size_t>(region.object_index)];
      EXPECT_GT(intersection_over_union(region.box, generated.scene.objects[static_cast<size_t>(region.object_index)].extent), 0.5f);
    }
    for (const int count : per_object) EXPECT_EQ(count, 1);
    EXPECT_GE(distractors, 2);
    EXPECT_LE(distractors, 4);
    const size_t dim = static_cast<size_t>(options.feature_dim);
    ASSERT_EQ(generated.region_features.size(), generated.regions.size() * dim);
    for (size_t d = 0; d < dim; d += 37) {
      float mean = 0;
      for (size_t r = 0; r < generated.regions.size(); ++r) mean += generated.region_features[r * dim + d];
      EXPECT_NEAR(generated.fc_feature[d], mean / static_cast<float>(generated.regions.size()), 1e-6f);
    }
  }
}

// ---- splits and files ----------------------------------------------------------------------------

TEST(SyntheticShapes, DefaultSplitIs8000_1000_1000) {
  SyntheticShapesOptions options;
  std::map<Split, int> counts;
  for (int64_t i = 0; i < options.image_count; ++i) ++counts[split_of_index(options, i)];
  EXPECT_EQ(counts[Split::Train], 8000);
  EXPECT_EQ(counts[Split::Val], 1000);
  EXPECT_EQ(counts[Split::Test], 1000);
}

TEST(SyntheticShapes, WritesTheRealDataLayout) {
  TemporaryDirectory dir;
  SyntheticShapesOptions options;
  options.image_count = 30;
  options.seed = 4;
  options.feature_dim = 64;
  const SynthesisSummary summary = write_synthetic_shapes(dir.path(), options);
  EXPECT_EQ(summary.images, 30);
  EXPECT_EQ(summary.captions, 150);
  const KarpathyDataset dataset = load_karpathy_json(dir / "dataset_shapes.json");
  EXPECT_EQ(dataset.dataset_name, "shapes");
  EXPECT_EQ(dataset.describe_split_counts(),
            "train: 24 images, 120 captions; val: 3 images, 15 captions; test: 3 images, 15 captions");
  const RegionFeatureLayout layout = RegionFeatureLayout::under_root(dir.path());
  int64_t regions = 0;
  for (const KarpathyImage& image : dataset.images) {
    const SyntheticImage expected = generate_synthetic_image(options, image.imgid);
    EXPECT_EQ(read_image_file(dir.path() / image.relative_image_path()).pixels, expected.image.pixels);
    ASSERT_EQ(image.sentences.size(), 5u);
    EXPECT_EQ(image.sentences[0].raw, expected.captions[0].raw);
    EXPECT_EQ(image.width, 64);
    const RegionFeatures features = load_region_features(layout, image.feature_id());
    EXPECT_EQ(features.region_count, static_cast<int64_t>(expected.regions.size()));
    EXPECT_EQ(features.feature_dim, 64);
    EXPECT_EQ(features.att, expected.region_features);
    EXPECT_EQ(features.fc, expected.fc_feature);
    EXPECT_EQ(features.boxes[0], expected.regions[0].box.x0);
    EXPECT_EQ(features.boxes[3], expected.regions[0].box.y1);
    regions += features.region_count;
  }
  EXPECT_EQ(regions, summary.regions);
  const auto scenes = nlohmann::json::parse(read_file_bytes(dir / "shapes_scenes.json"));
  ASSERT_EQ(scenes["scenes"].size(), 30u);
  EXPECT_EQ(scenes["scenes"][0]["objects"].size(), generate_synthetic_image(options, 0).scene.objects.size());
}

TEST(SyntheticShapes, RejectsBadOptions) {
  TemporaryDirectory dir;
  SyntheticShapesOptions options;
  options.image_count = 0;
  EXPECT_THROW(write_synthetic_shapes(dir.path(), options), std::invalid_argument);
  options.image_count = 5;
  options.image_size = 8;
  EXPECT_THROW(write_synthetic_shapes(dir.path(), options), std::invalid_argument);
}

}  // namespace
}  // namespace sparsecap::data
