#include "eval/vocabulary.h"

#include <stdexcept>

namespace sparsecap::eval {

WordId Vocabulary::intern(std::string_view word) {
  auto found = ids_.find(std::string(word));
  if (found != ids_.end()) return found->second;
  const auto id = static_cast<WordId>(words_.size());
  words_.emplace_back(word);
  ids_.emplace(words_.back(), id);
  return id;
}

std::optional<WordId> Vocabulary::find(std::string_view word) const {
  auto found = ids_.find(std::string(word));
  if (found == ids_.end()) return std::nullopt;
  return found->second;
}

EncodedCaption Vocabulary::encode(const Tokens& tokens) {
  EncodedCaption encoded;
  encoded.reserve(tokens.size());
  for (const std::string& token : tokens) encoded.push_back(intern(token));
  return encoded;
}

void require_consistent(const TokenizedCaptionSet& set) {
  if (set.references.size() != set.candidates.size() || set.image_ids.size() != set.candidates.size()) {
    throw std::runtime_error("caption set has " + std::to_string(set.image_ids.size()) + " image ids, " +
                             std::to_string(set.references.size()) + " reference lists and " +
                             std::to_string(set.candidates.size()) + " candidates; they must match");
  }
  for (std::size_t i = 0; i < set.references.size(); ++i) {
    if (set.references[i].empty()) {
      throw std::runtime_error("image " + set.image_ids[i] + " has no reference captions");
    }
  }
}

EncodedCaptionSet encode_caption_set(const TokenizedCaptionSet& set, Vocabulary& vocabulary) {
  require_consistent(set);
  EncodedCaptionSet encoded;
  encoded.references.reserve(set.references.size());
  encoded.candidates.reserve(set.candidates.size());
  for (std::size_t i = 0; i < set.candidates.size(); ++i) {
    std::vector<EncodedCaption> references;
    references.reserve(set.references[i].size());
    for (const Tokens& reference : set.references[i]) references.push_back(vocabulary.encode(reference));
    encoded.references.push_back(std::move(references));
    encoded.candidates.push_back(vocabulary.encode(set.candidates[i]));
  }
  return encoded;
}

}  // namespace sparsecap::eval
