#pragma once
// The words of the synthetic shapes set's captions, in one place: the generator words its
// captions with them and the caption parser (data/shapes_caption_parser.h) reads captions with
// them, so the two cannot drift apart. In every synonym list the first entry is the canonical,
// most frequent word.
#include <string>
#include <vector>

#include "data/shapes_scene.h"

namespace sparsecap::data {

const std::vector<std::string>& shape_words(ShapeKind shape);         // singular synonyms
const std::vector<std::string>& shape_plural_words(ShapeKind shape);  // plurals, same order
const std::vector<std::string>& color_words(ColorName color);
const std::vector<std::string>& size_words(SizeClass size);

// "zero" .. "six": count_words()[n] names n (groups of identical objects, objects in a scene).
const std::vector<std::string>& count_words();
// The nouns that stand for any object: "shape", "object" and their plurals, same order.
const std::vector<std::string>& generic_object_words();
const std::vector<std::string>& generic_object_plural_words();

}  // namespace sparsecap::data
