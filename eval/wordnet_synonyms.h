#pragma once
// WordNet 3.0 synonym lookup for METEOR's synonym module, read at run time from the database
// files of Debian's `wordnet` package (index.{noun,verb,adj,adv} and {noun,verb,adj,adv}.exc).
// Two words are synonyms when they share a synset, after mapping each word to its base forms the
// way METEOR 1.5 does (exception lists, else WordNet's detachment rules).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sparsecap::eval {

// The synset's byte offset in data.<pos>, without the part of speech: METEOR's synonym data keys
// synsets by offset alone, so a noun and a verb synset at the same offset count as shared
// ("low" ~ "catch" through 01215421). Reproduced because the official scores include such matches.
using SynsetId = std::uint64_t;

class WordNetSynonyms {
 public:
  // Throws std::runtime_error naming the directory or file when the database cannot be read.
  static WordNetSynonyms load(const std::filesystem::path& wordnet_dir);

  // True when `directory` holds the files load() needs.
  static bool available(const std::filesystem::path& wordnet_dir);

  // Synsets of the word itself plus those of its base forms, sorted and unique.
  std::vector<SynsetId> synsets_with_base_forms(std::string_view word) const;

  std::size_t lemma_count() const { return lemma_synsets_.size(); }

 private:
  const std::vector<SynsetId>* synsets_of(const std::string& lemma) const;
  // METEOR's English morphology: the first detachment rule whose result is a known lemma.
  std::string detach_suffix(const std::string& word) const;

  std::unordered_map<std::string, std::vector<SynsetId>> lemma_synsets_;
  std::unordered_map<std::string, std::vector<std::string>> exception_bases_;
};

}  // namespace sparsecap::eval
