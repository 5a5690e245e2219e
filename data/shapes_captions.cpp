// The captions of the synthetic shapes set: five sentences per scene from the templates of
// docs/data.md ("Caption grammar"), worded with the synonyms of data/shapes_words.h.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "data/shapes_streams.h"
#include "data/synthetic_shapes.h"
#include "data/tokenize.h"

namespace sparsecap::data {

namespace {

using shapes_streams::image_generator;
using shapes_streams::kCaptionStream;

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
// Caption building blocks.

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
        std::string phrase = count_words()[group.members.size()] + " ";
        if (with_size) phrase += pick_word(random_, size_words(first.size)) + " ";
        phrase += pick_word(random_, color_words(first.color)) + " " +
                  pick_word(random_, shape_plural_words(first.shape));
        items.push_back(phrase);
      }
    }
    const std::string list = join_list(items);
    if (word_count(list) > kMaxCaptionWords && allow_sizes) return inventory(false);
    const bool plural_start = items.front().rfind("a ", 0) != 0 && items.front().rfind("an ", 0) != 0;
    return with_opening_and_ending(list, plural_start);
  }

  // "[there is/are, a picture of, an image with, i can see] list [on a noisy/textured background]",
  // the bare list when that would be too long.
  std::string with_opening_and_ending(const std::string& list, bool plural_start) {
    const std::vector<std::string> prefixes = {"", plural_start ? "there are " : "there is ", "a picture of ",
                                               "an image with ", "i can see "};
    const std::vector<std::string> suffixes = {"", " on a noisy background", " on a textured background"};
    std::string caption = pick(random_, prefixes) + list + pick(random_, suffixes);
    if (word_count(caption) > kMaxCaptionWords) caption = list;
    return caption;
  }

  // Every object one by one, left to right: "a red circle, a small blue star and a red circle".
  // The first reference. A decoder can name each object as its attention reaches it; a grouped
  // count ("two red circles and ...") has to be committed to before the second red circle has been
  // looked at, and was the commonest error of a decoder trained on it (docs/data.md, "A decoder
  // that lists").
  std::string listing(bool allow_sizes) {
    std::vector<size_t> order(scene_.objects.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return scene_.objects[a].center_x < scene_.objects[b].center_x;
    });
    std::vector<std::string> items;
    for (size_t index : order)
      items.push_back(with_article(bare_phrase(scene_.objects[index], allow_sizes && random_.next_uniform() < 0.5)));
    const std::string list = join_list(items);
    if (word_count(list) > kMaxCaptionWords && allow_sizes) return listing(false);
    return with_opening_and_ending(list, false);
  }

  std::string count_sentence() {
    const size_t count = scene_.objects.size();
    if (count == 1) {
      const std::string phrase = with_article(bare_phrase(scene_.objects[0], random_.next_uniform() < 0.5));
      return pick(random_, std::vector<std::string>{"only one shape, ", "a single object, ", "just one shape: "}) +
             phrase;
    }
    const std::string generic = pick(random_, generic_object_plural_words());
    std::string caption = pick(random_, std::vector<std::string>{"", "there are "}) + count_words()[count] + " " + generic;
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
    const std::string generic = pick(random_, generic_object_words());
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

}  // namespace

std::vector<std::string> describe_scene(const Scene& scene, uint64_t seed, int64_t index, int caption_count) {
  if (scene.objects.empty()) throw std::invalid_argument("describe_scene: the scene has no objects");
  Generator random = image_generator(seed, index, kCaptionStream);
  SceneDescriber describer(scene, random);
  std::vector<std::string> captions;
  captions.push_back(describer.listing(true));  // always first: every object, one by one
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

}  // namespace sparsecap::data
