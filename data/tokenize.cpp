#include "data/tokenize.h"

#include <cctype>

namespace sparsecap::data {

std::vector<std::string> tokenize_caption(std::string_view raw_caption) {
  std::vector<std::string> tokens;
  std::string current;
  for (const char character : raw_caption) {
    const auto byte = static_cast<unsigned char>(character);
    if (std::isspace(byte)) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else if (std::ispunct(byte)) {
      // Deleted, not replaced by a space: Python's str.translate(None, string.punctuation).
      continue;
    } else {
      current.push_back(static_cast<char>(std::tolower(byte)));
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string joined;
  for (const auto& token : tokens) {
    if (!joined.empty()) joined.push_back(' ');
    joined += token;
  }
  return joined;
}

}  // namespace sparsecap::data
