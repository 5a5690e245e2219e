#pragma once
// Reading what a caption of the synthetic shapes set claims about its picture, with the words the
// generator uses (data/shapes_words.h). The set's noun phrases are
//   [a | an | count word] [size word] [colour word] shape word
// ("two red circles", "a small blue star", "an orange dot"), and a caption may also state how many
// objects the picture holds ("three shapes", "four objects including ...", "only one shape",
// "just one shape", "a single object"). Positions, relations and extremes ("to the left of",
// "the biggest shape is") name objects through the same noun phrases. Generated captions need
// not be grammatical: a shape word always makes a mention, and the colour, size and count words
// directly before it (in that order) are attached to it.
#include <optional>
#include <string>
#include <vector>

#include "data/shapes_scene.h"

namespace sparsecap::data {

struct ObjectMention {
  ShapeKind shape = ShapeKind::Circle;
  std::optional<ColorName> color;
  std::optional<SizeClass> size;
  int count = 1;  // a count word before the phrase ("two red circles"), else 1
  bool operator==(const ObjectMention&) const = default;
};

struct ShapesCaptionClaims {
  std::vector<ObjectMention> mentions;  // in caption order
  std::optional<int> object_total;      // "three shapes", "only one shape", ...
};

// `tokens` as data/tokenize.h splits a caption (lower case, no punctuation).
ShapesCaptionClaims parse_shapes_caption(const std::vector<std::string>& tokens);

// Word lookups in the set's synonym lists; nullopt for any other word.
std::optional<ShapeKind> shape_of_word(const std::string& word);  // singular or plural
std::optional<ColorName> color_of_word(const std::string& word);
std::optional<SizeClass> size_of_word(const std::string& word);
std::optional<int> number_of_word(const std::string& word);  // "one" .. "six"

}  // namespace sparsecap::data
