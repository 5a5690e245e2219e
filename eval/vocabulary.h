#pragma once
// Words interned as dense integer ids so the metrics compare and hash integers, not strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eval/tokenize.h"

namespace sparsecap::eval {

using WordId = std::uint32_t;
using EncodedCaption = std::vector<WordId>;

class Vocabulary {
 public:
  WordId intern(std::string_view word);
  std::optional<WordId> find(std::string_view word) const;
  const std::string& word(WordId id) const { return words_.at(id); }
  std::size_t size() const { return words_.size(); }

  EncodedCaption encode(const Tokens& tokens);

 private:
  std::unordered_map<std::string, WordId> ids_;
  std::vector<std::string> words_;
};

// References and candidate of every image, aligned by index (image i: references[i], candidates[i]).
struct TokenizedCaptionSet {
  std::vector<std::string> image_ids;
  std::vector<std::vector<Tokens>> references;
  std::vector<Tokens> candidates;
};

struct EncodedCaptionSet {
  std::vector<std::vector<EncodedCaption>> references;
  std::vector<EncodedCaption> candidates;
};

// Throws std::runtime_error if the three vectors of `set` differ in length or an image has no
// reference (the toolkit asserts the same).
void require_consistent(const TokenizedCaptionSet& set);

EncodedCaptionSet encode_caption_set(const TokenizedCaptionSet& set, Vocabulary& vocabulary);

}  // namespace sparsecap::eval
