#include "data/shapes_caption_parser.h"

#include <algorithm>

#include "data/shapes_words.h"

namespace sparsecap::data {

namespace {

bool in_list(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// The object total a caption states at token i, if it does there: a number followed by a generic
// noun ("three shapes", "one shape"), or "single" followed by one ("a single object").
std::optional<int> total_stated_at(const std::vector<std::string>& tokens, size_t i) {
  if (i + 1 >= tokens.size()) return std::nullopt;
  const std::string& next = tokens[i + 1];
  const bool generic = in_list(generic_object_words(), next) || in_list(generic_object_plural_words(), next);
  if (!generic) return std::nullopt;
  if (tokens[i] == "single") return 1;
  return number_of_word(tokens[i]);
}

}  // namespace

std::optional<ShapeKind> shape_of_word(const std::string& word) {
  for (int s = 0; s < kShapeKindCount; ++s) {
    const auto shape = static_cast<ShapeKind>(s);
    if (in_list(shape_words(shape), word) || in_list(shape_plural_words(shape), word)) return shape;
  }
  return std::nullopt;
}

std::optional<ColorName> color_of_word(const std::string& word) {
  for (int c = 0; c < kColorNameCount; ++c)
    if (in_list(color_words(static_cast<ColorName>(c)), word)) return static_cast<ColorName>(c);
  return std::nullopt;
}

std::optional<SizeClass> size_of_word(const std::string& word) {
  for (int s = 0; s < kSizeClassCount; ++s)
    if (in_list(size_words(static_cast<SizeClass>(s)), word)) return static_cast<SizeClass>(s);
  return std::nullopt;
}

std::optional<int> number_of_word(const std::string& word) {
  const std::vector<std::string>& numbers = count_words();
  const auto found = std::find(numbers.begin() + 1, numbers.end(), word);  // "zero" names no object
  if (found == numbers.end()) return std::nullopt;
  return static_cast<int>(found - numbers.begin());
}

ShapesCaptionClaims parse_shapes_caption(const std::vector<std::string>& tokens) {
  ShapesCaptionClaims claims;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (const std::optional<int> total = total_stated_at(tokens, i)) claims.object_total = total;
    const std::optional<ShapeKind> shape = shape_of_word(tokens[i]);
    if (!shape) continue;
    ObjectMention mention;
    mention.shape = *shape;
    size_t first = i;  // the phrase's words are read right to left from the shape word
    if (first > 0 && color_of_word(tokens[first - 1])) mention.color = color_of_word(tokens[--first]);
    if (first > 0 && size_of_word(tokens[first - 1])) mention.size = size_of_word(tokens[--first]);
    if (first > 0) mention.count = number_of_word(tokens[first - 1]).value_or(1);
    claims.mentions.push_back(mention);
  }
  return claims;
}

}  // namespace sparsecap::data
