// The words of the shapes set's captions (data/shapes_words.h).
#include "data/shapes_words.h"

namespace sparsecap::data {

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

const std::vector<std::string>& count_words() {
  static const std::vector<std::string> kWords = {"zero", "one", "two", "three", "four", "five", "six"};
  return kWords;
}

const std::vector<std::string>& generic_object_words() {
  static const std::vector<std::string> kWords = {"shape", "object"};
  return kWords;
}

const std::vector<std::string>& generic_object_plural_words() {
  static const std::vector<std::string> kWords = {"shapes", "objects"};
  return kWords;
}

}  // namespace sparsecap::data
