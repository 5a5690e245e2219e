#include "data/synthetic_shapes.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numbers>
#include <thread>

#include "data/file_io.h"
#include "data/npy.h"
#include "data/tokenize.h"
#include "engine/rng.h"

namespace sparsecap::data {

namespace {

namespace fs = std::filesystem;

// Every image draws from its own Philox streams, one per purpose, so changing how captions are
// worded never changes the pixels, and image i never depends on images before it.
enum StreamPurpose : uint64_t { kSceneStream = 0, kRenderStream = 1, kCaptionStream = 2, kRegionStream = 3 };
constexpr uint64_t kStreamsPerImage = 8;

Generator image_generator(uint64_t seed, int64_t index, StreamPurpose purpose) {
  return Generator(seed, static_cast<uint64_t>(index) * kStreamsPerImage + purpose);
}

float uniform(Generator& random, float low, float high) {
  return low + static_cast<float>(random.next_uniform()) * (high - low);
}

template <typename T>
const T& pick(Generator& random, const std::vector<T>& choices) {
  return choices[random.next_below(choices.size())];
}

// Canonical word with probability 0.6, otherwise any synonym: the model must learn that several
// words name the same thing, as with real captions.
const std::string& pick_word(Generator& random, const std::vector<std::string>& synonyms) {
  if (synonyms.size() == 1 || random.next_uniform() < 0.6) return synonyms.front();
  return synonyms[1 + random.next_below(synonyms.size() - 1)];
}

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Caption building blocks.

const std::vector<std::string> kCountWords = {"zero", "one", "two", "three", "four", "five", "six"};

bool starts_with_vowel(const std::string& word) {
  return !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
}

std::string with_article(const std::string& phrase) { return (starts_with_vowel(phrase) ? "an " : "a ") + phrase; }

std::string join_list(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += i + 1 == items.size() ? " and " : ", ";
    text += items[i];
  }
  return text;
}

size_t word_count(const std::string& caption) { return tokenize_caption(caption).size(); }

std::string finish_sentence(std::string caption) {
  if (!caption.empty()) caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(caption[0])));
  return caption + ".";
}

// Captions stay within the default maximum length so that no reference is cut during training.
constexpr size_t kMaxCaptionWords = 16;

class SceneDescriber {
 public:
  SceneDescriber(const Scene& scene, Generator& random) : scene_(scene), random_(random) {}

  // "[size] colour shape" without article, `with_size` forcing the size adjective.
  std::string bare_phrase(const SceneObject& object, bool with_size) {
    std::string phrase;
    if (with_size) phrase = pick_word(random_, size_words(object.size)) + " ";
    return phrase + pick_word(random_, color_words(object.color)) + " " + pick_word(random_, shape_words(object.shape));
  }

  // Whether an object is the only one with its colour and shape (then it can be named without its
  // size), or at least the only one with its colour, shape and size.
  bool unique_by_color_shape(size_t index) const { return matching(index, false) == 1; }
  bool unique_by_color_shape_size(size_t index) const { return matching(index, true) == 1; }

  // A phrase that names exactly this object, or "" when none can (two identical objects).
  std::string identifying_phrase(size_t index) {
    const SceneObject& object = scene_.objects[index];
    if (unique_by_color_shape(index)) return with_article(bare_phrase(object, random_.next_uniform() < 0.4));
    if (unique_by_color_shape_size(index)) return with_article(bare_phrase(object, true));
    return "";
  }

  // Every object, identical ones grouped with their count: "two red circles and a small blue star".
  std::string inventory(bool allow_sizes) {
    struct Group {
      std::vector<size_t> members;
      float leftmost = 0;
    };
    std::map<std::pair<int, int>, Group> groups;
    for (size_t i = 0; i < scene_.objects.size(); ++i) {
      const auto& object = scene_.objects[i];
      auto& group = groups[{static_cast<int>(object.shape), static_cast<int>(object.color)}];
      if (group.members.empty() || object.center_x < group.leftmost) group.leftmost = object.center_x;
      group.members.push_back(i);
    }
    std::vector<Group> ordered;
    for (auto& entry : groups) ordered.push_back(entry.second);
    std::sort(ordered.begin(), ordered.end(), [](const Group& a, const Group& b) { return a.leftmost < b.leftmost; });

    std::vector<std::string> items;
    for (const Group& group : ordered) {
      const SceneObject& first = scene_.objects[group.members.front()];
      const bool same_size = std::all_of(group.members.begin(), group.members.end(),
                                         [&](size_t m) { return scene_.objects[m].size == first.size; });
      const bool with_size = allow_sizes && same_size && random_.next_uniform() < 0.5;
      if (group.members.size() == 1) {
        items.push_back(with_article(bare_phrase(first, with_size)));
      } else {
        std::string phrase = kCountWords[group.members.size()] + " ";
        if (with_size) phrase += pick_word(random_, size_words(first.size)) + " ";
        phrase += pick_word(random_, color_words(first.color)) + " " +
                  pick_word(random_, shape_plural_words(first.shape));
        items.push_back(phrase);
      }
    }
    const std::string list = join_list(items);
    if (word_count(list) > kMaxCaptionWords && allow_sizes) return inventory(false);
    const bool plural_start = items.front().rfind("a ", 0) != 0 && items.front().rfind("an ", 0) != 0;
    const std::vector<std::string> prefixes = {"", plural_start ? "there are " : "there is ", "a picture of ",
                                               "an image with ", "i can see "};
    const std::vector<std::string> suffixes = {"", " on a noisy background", " on a textured background"};
    std::string caption = pick(random_, prefixes) + list + pick(random_, suffixes);
    if (word_count(caption) > kMaxCaptionWords) caption = list;
    return caption;
  }

  std::string count_sentence() {
    const size_t count = scene_.objects.size();
    if (count == 1) {
      const std::string phrase = with_article(bare_phrase(scene_.objects[0], random_.next_uniform() < 0.5));
      return pick(random_, std::vector<std::string>{"only one shape, ", "a single object, ", "just one shape: "}) +
             phrase;
    }
    const std::string generic = pick(random_, std::vector<std::string>{"shapes", "objects"});
    std::string caption = pick(random_, std::vector<std::string>{"", "there are "}) + kCountWords[count] + " " + generic;
    if (random_.next_uniform() < 0.6) {
      const auto& object = scene_.objects[random_.next_below(count)];
      caption += " including " + with_article(bare_phrase(object, random_.next_uniform() < 0.3));
    } else {
      std::vector<std::string> endings = {" on a noisy background", " on a textured background", ""};
      if (all_colors_differ()) endings.push_back(" of different colors");
      caption += pick(random_, endings);
    }
    return caption;
  }

  std::string position_sentence() {
    std::vector<size_t> nameable;
    for (size_t i = 0; i < scene_.objects.size(); ++i)
      if (matching(i, true) == 1) nameable.push_back(i);
    if (nameable.empty()) return "";
    const size_t index = pick(random_, nameable);
    const std::string phrase = identifying_phrase(index);
    if (phrase.empty()) return "";
    const std::string where = position_phrase(scene_.objects[index]);
    switch (random_.next_below(3)) {
      case 0: return "there is " + phrase + " " + where;
      case 1: return phrase + " " + where;
      default: return phrase + " is " + where;
    }
  }

  std::string relation_sentence() {
    std::vector<std::pair<size_t, size_t>> pairs;
    for (size_t a = 0; a < scene_.objects.size(); ++a)
      for (size_t b = 0; b < scene_.objects.size(); ++b)
        if (a != b && matching(a, true) == 1 && matching(b, true) == 1) pairs.push_back({a, b});
    if (pairs.empty()) return "";
    const auto [a, b] = pick(random_, pairs);
    const std::string first = identifying_phrase(a), second = identifying_phrase(b);
    std::string caption = first + " " + relation_phrase(a, b) + " " + second;
    if (random_.next_uniform() < 0.3 && word_count(caption) + 2 <= kMaxCaptionWords) caption = "there is " + caption;
    return caption;
  }

  // "the biggest shape is a red circle": needs a clear winner, so size and position comparisons
  // are learnable and never ambiguous.
  std::string extreme_sentence() {
    if (scene_.objects.size() < 2) return "";
    struct Criterion {
      std::vector<std::string> words;
      std::function<float(const SceneObject&)> score;  // larger wins
      float margin;
    };
    const float size_margin = 0.5f, position_margin = 0.08f * static_cast<float>(scene_.width);
    const std::vector<Criterion> criteria = {
        {{"biggest", "largest"}, [](const SceneObject& o) { return o.radius; }, size_margin},
        {{"smallest"}, [](const SceneObject& o) { return -o.radius; }, size_margin},
        {{"leftmost"}, [](const SceneObject& o) { return -o.center_x; }, position_margin},
        {{"rightmost"}, [](const SceneObject& o) { return o.center_x; }, position_margin},
        {{"topmost", "highest"}, [](const SceneObject& o) { return -o.center_y; }, position_margin},
        {{"lowest", "bottommost"}, [](const SceneObject& o) { return o.center_y; }, position_margin},
    };
    const Criterion& criterion = pick(random_, criteria);
    std::vector<size_t> order(scene_.objects.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return criterion.score(scene_.objects[x]) > criterion.score(scene_.objects[y]);
    });
    if (criterion.score(scene_.objects[order[0]]) - criterion.score(scene_.objects[order[1]]) < criterion.margin)
      return "";
    const std::string generic = pick(random_, std::vector<std::string>{"shape", "object"});
    return "the " + pick_word(random_, criterion.words) + " " + generic + " is " +
           with_article(bare_phrase(scene_.objects[order[0]], false));
  }

 private:
  bool all_colors_differ() const {
    for (size_t a = 0; a < scene_.objects.size(); ++a)
      for (size_t b = a + 1; b < scene_.objects.size(); ++b)
        if (scene_.objects[a].color == scene_.objects[b].color) return false;
    return true;
  }

  size_t matching(size_t index, bool compare_size) const {
    const SceneObject& object = scene_.objects[index];
    return static_cast<size_t>(std::count_if(scene_.objects.begin(), scene_.objects.end(), [&](const SceneObject& o) {
      return o.shape == object.shape && o.color == object.color && (!compare_size || o.size == object.size);
    }));
  }

  // Thirds of the image: "in the top left corner", "near the top", "in the middle", ...
  std::string position_phrase(const SceneObject& object) {
    const float third_x = static_cast<float>(scene_.width) / 3, third_y = static_cast<float>(scene_.height) / 3;
    const int column = object.center_x < third_x ? 0 : object.center_x < 2 * third_x ? 1 : 2;
    const int row = object.center_y < third_y ? 0 : object.center_y < 2 * third_y ? 1 : 2;
    static const char* kRows[] = {"top", "", "bottom"};
    static const char* kColumns[] = {"left", "", "right"};
    if (row != 1 && column != 1)
      return std::string("in the ") + kRows[row] + " " + kColumns[column] + " corner";
    if (row == 1 && column == 1) return pick(random_, std::vector<std::string>{"in the middle", "in the center"});
    if (row != 1)
      return pick(random_, std::vector<std::string>{"near the ", "at the "}) + kRows[row];
    return pick(random_, std::vector<std::string>{"on the ", "near the "}) + kColumns[column];
  }

  // From a's point of view. Strongly overlapping objects are described by occlusion (later drawn
  // objects cover earlier ones); otherwise by the dominant direction.
  std::string relation_phrase(size_t a, size_t b) {
    const SceneObject& first = scene_.objects[a];
    const SceneObject& second = scene_.objects[b];
    const float dx = second.center_x - first.center_x, dy = second.center_y - first.center_y;
    const float distance = std::sqrt(dx * dx + dy * dy);
    if (distance < 0.85f * (first.radius + second.radius)) {
      if (a > b) return pick(random_, std::vector<std::string>{"in front of", "partly covering"});
      return pick(random_, std::vector<std::string>{"behind", "partly hidden by"});
    }
    if (std::abs(dx) >= std::abs(dy))
      return dx > 0 ? pick(random_, std::vector<std::string>{"to the left of", "left of"})
                    : pick(random_, std::vector<std::string>{"to the right of", "right of"});
    return dy > 0 ? pick(random_, std::vector<std::string>{"above", "over"})
                  : pick(random_, std::vector<std::string>{"below", "under", "beneath"});
  }

  const Scene& scene_;
  Generator& random_;
};

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

// ---------------------------------------------------------------------------------------------

void require_valid(const SyntheticShapesOptions& options) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("synthetic shapes: " + what); };
  if (options.image_count < 1) fail("image count must be >= 1, got " + std::to_string(options.image_count));
  if (options.image_size < 16) fail("image size must be >= 16 pixels, got " + std::to_string(options.image_size));
  if (options.feature_dim < 1) fail("feature dim must be >= 1, got " + std::to_string(options.feature_dim));
  if (options.captions_per_image < 1)
    fail("captions per image must be >= 1, got " + std::to_string(options.captions_per_image));
  if (options.train_fraction < 0 || options.val_fraction < 0 || options.train_fraction + options.val_fraction > 1)
    fail("train and val fractions must be >= 0 and sum to <= 1, got " + std::to_string(options.train_fraction) +
         " and " + std::to_string(options.val_fraction));
}

std::string image_filename(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "shapes_%06lld.png", static_cast<long long>(index));
  return name;
}

nlohmann::json box_to_json(const PixelBox& box) { return {box.x0, box.y0, box.x1, box.y1}; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Word lists.

const std::vector<std::string>& shape_words(ShapeKind shape) {
  static const std::vector<std::vector<std::string>> kWords = {
      {"circle", "disc", "dot"}, {"square", "block"}, {"triangle"}, {"diamond", "rhombus"},
      {"star"},                  {"cross", "plus"},   {"ring", "donut"}};
  return kWords[static_cast<size_t>(shape)];
}

const std::vector<std::string>& shape_plural_words(ShapeKind shape) {
  static const std::vector<std::vector<std::string>> kWords = {
      {"circles", "discs", "dots"}, {"squares", "blocks"}, {"triangles"}, {"diamonds", "rhombuses"},
      {"stars"},                    {"crosses", "pluses"}, {"rings", "donuts"}};
  return kWords[static_cast<size_t>(shape)];
}

const std::vector<std::string>& color_words(ColorName color) {
  static const std::vector<std::vector<std::string>> kWords = {
      {"red"}, {"green"}, {"blue"}, {"yellow"}, {"purple", "violet"}, {"orange"}, {"pink"}, {"white"}, {"cyan"}};
  return kWords[static_cast<size_t>(color)];
}

const std::vector<std::string>& size_words(SizeClass size) {
  static const std::vector<std::vector<std::string>> kWords = {{"small", "little", "tiny"}, {"large", "big"}};
  return kWords[static_cast<size_t>(size)];
}

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

// ---------------------------------------------------------------------------------------------

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

std::vector<std::string> describe_scene(const Scene& scene, uint64_t seed, int64_t index, int caption_count) {
  if (scene.objects.empty()) throw std::invalid_argument("describe_scene: the scene has no objects");
  Generator random = image_generator(seed, index, kCaptionStream);
  SceneDescriber describer(scene, random);
  std::vector<std::string> captions;
  captions.push_back(describer.inventory(true));  // always first: every object, with counts
  enum Kind { kInventory, kCount, kPosition, kRelation, kExtreme };
  const std::vector<Kind> kinds = {kInventory, kCount, kPosition, kRelation, kRelation, kExtreme};
  for (int attempt = 0; static_cast<int>(captions.size()) < caption_count; ++attempt) {
    std::string caption;
    switch (pick(random, kinds)) {
      case kInventory: caption = describer.inventory(true); break;
      case kCount: caption = describer.count_sentence(); break;
      case kPosition: caption = describer.position_sentence(); break;
      case kRelation: caption = describer.relation_sentence(); break;
      case kExtreme: caption = describer.extreme_sentence(); break;
    }
    if (caption.empty() || word_count(caption) > kMaxCaptionWords) continue;
    const bool repeated = std::find(captions.begin(), captions.end(), caption) != captions.end();
    if (repeated && attempt < 50) continue;  // prefer five different references
    captions.push_back(caption);
  }
  for (auto& caption : captions) caption = finish_sentence(caption);
  return captions;
}

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

Split split_of_index(const SyntheticShapesOptions& options, int64_t index) {
  const auto total = static_cast<double>(options.image_count);
  const auto train_end = static_cast<int64_t>(std::llround(total * options.train_fraction));
  const auto val_end = train_end + static_cast<int64_t>(std::llround(total * options.val_fraction));
  if (index < train_end) return Split::Train;
  if (index < val_end) return Split::Val;
  return Split::Test;
}

SyntheticImage generate_synthetic_image(const SyntheticShapesOptions& options, int64_t index) {
  require_valid(options);
  SyntheticImage result;
  result.index = index;
  result.split = split_of_index(options, index);
  result.scene = sample_scene(options.seed, index, options.image_size);
  result.image = render_scene(result.scene, options.seed, index);
  for (const auto& raw : describe_scene(result.scene, options.seed, index, options.captions_per_image))
    result.captions.push_back(Sentence{tokenize_caption(raw), raw});
  result.regions = propose_regions(result.scene, options.seed, index);
  const auto dim = static_cast<size_t>(options.feature_dim);
  result.fc_feature.assign(dim, 0.0f);
  for (const Region& region : result.regions) {
    const auto descriptor = box_descriptor(result.image, region.box, options.feature_dim);
    result.region_features.insert(result.region_features.end(), descriptor.begin(), descriptor.end());
    for (size_t d = 0; d < dim; ++d) result.fc_feature[d] += descriptor[d];
  }
  for (float& value : result.fc_feature) value /= static_cast<float>(result.regions.size());
  return result;
}

SynthesisSummary write_synthetic_shapes(const fs::path& out_dir, const SyntheticShapesOptions& options,
                                        const std::function<void(int64_t, int64_t)>& progress) {
  require_valid(options);
  for (const char* sub : {"images", "cocobu_att", "cocobu_fc", "cocobu_box"}) fs::create_directories(out_dir / sub);

  struct Written {
    Split split = Split::Train;
    std::vector<Sentence> captions;
    Scene scene;
    std::vector<Region> regions;
  };
  const int64_t total = options.image_count;
  std::vector<Written> written(static_cast<size_t>(total));
  std::atomic<int64_t> next_index{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;

  auto work = [&] {
    try {
      for (int64_t i = next_index++; i < total && !failed; i = next_index++) {
        SyntheticImage generated = generate_synthetic_image(options, i);
        const std::string id = std::to_string(i);
        const auto regions = static_cast<int64_t>(generated.regions.size());
        std::vector<float> boxes;
        for (const Region& region : generated.regions)
          boxes.insert(boxes.end(), {region.box.x0, region.box.y0, region.box.x1, region.box.y1});
        write_file_bytes_in_place(out_dir / "images" / image_filename(i), encode_png(generated.image));
        write_file_bytes_in_place(out_dir / "cocobu_att" / (id + ".npy"),
                                  encode_npy_float32({regions, options.feature_dim}, generated.region_features));
        write_file_bytes_in_place(out_dir / "cocobu_fc" / (id + ".npy"),
                                  encode_npy_float32({options.feature_dim}, generated.fc_feature));
        write_file_bytes_in_place(out_dir / "cocobu_box" / (id + ".npy"), encode_npy_float32({regions, 4}, boxes));
        written[static_cast<size_t>(i)] = Written{generated.split, std::move(generated.captions),
                                                  std::move(generated.scene), std::move(generated.regions)};
        ++done;
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  // Twice the cores by default: each image ends in four small file writes, and the extra threads
  // keep the cores busy while others wait on the file system.
  const int threads =
      options.threads > 0 ? options.threads : std::max(1, 2 * static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(work);
  while (done < total && !failed) {
    if (progress) progress(done, total);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& worker : workers) worker.join();
  if (first_error) std::rethrow_exception(first_error);
  if (progress) progress(done, total);

  KarpathyDataset dataset;
  dataset.dataset_name = "shapes";
  nlohmann::json scenes = nlohmann::json::array();
  SynthesisSummary summary;
  for (int64_t i = 0; i < total; ++i) {
    Written& entry = written[static_cast<size_t>(i)];
    KarpathyImage image;
    image.filepath = "images";
    image.filename = image_filename(i);
    image.split = entry.split;
    image.imgid = i;
    image.width = options.image_size;
    image.height = options.image_size;
    image.sentences = std::move(entry.captions);
    summary.captions += static_cast<int64_t>(image.sentences.size());
    summary.regions += static_cast<int64_t>(entry.regions.size());
    dataset.images.push_back(std::move(image));

    nlohmann::json objects = nlohmann::json::array(), regions = nlohmann::json::array();
    for (const SceneObject& object : entry.scene.objects)
      objects.push_back({{"shape", shape_words(object.shape).front()},
                         {"color", color_words(object.color).front()},
                         {"size", size_words(object.size).front()},
                         {"center", {object.center_x, object.center_y}},
                         {"radius", object.radius},
                         {"box", box_to_json(object.extent)}});
    for (const Region& region : entry.regions)
      regions.push_back({{"box", box_to_json(region.box)}, {"object", region.object_index}});
    scenes.push_back({{"imgid", i}, {"objects", std::move(objects)}, {"regions", std::move(regions)}});
  }
  summary.images = total;
  summary.json_path = out_dir / "dataset_shapes.json";
  write_karpathy_json(dataset, summary.json_path);
  write_file_text(out_dir / "shapes_scenes.json",
                  nlohmann::json({{"seed", options.seed}, {"image_size", options.image_size}, {"scenes", std::move(scenes)}}).dump());
  return summary;
}

}  // namespace sparsecap::data
