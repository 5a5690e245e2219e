#pragma once
// METEOR 1.5's English paraphrase table (paraphrase-en.gz, distributed with METEOR 1.5 and with
// the pycocoevalcap package): a gzip text file of triples of lines, "probability", "phrase",
// "paraphrase", phrases being lower-case words separated by single spaces. METEOR matches two
// phrases when either is listed as a paraphrase of the other; the probability does not enter the
// score, so it is not kept.
//
// In memory each distinct phrase is stored once (bytes in one arena, found through an
// open-addressing hash table) and the pairs as one compressed-sparse-row list per phrase.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sparsecap::eval {

class MeteorParaphraseTable {
 public:
  using PhraseId = std::uint32_t;
  static constexpr PhraseId kNotAPhrase = 0xFFFFFFFFu;

  // Reads a gzip (or plain) table. Throws std::runtime_error naming the file and the line for an
  // unreadable, truncated or malformed file.
  static MeteorParaphraseTable load(const std::filesystem::path& path);
  // The same from triples already in memory (tests, tools).
  static MeteorParaphraseTable from_text(std::string_view text, const std::string& source_name = "<memory>");

  // The id of a phrase (words joined by single spaces), or kNotAPhrase.
  PhraseId find(std::string_view phrase) const;
  // Paraphrases listed for `phrase` in the file (one direction: callers check both), sorted.
  std::span<const PhraseId> paraphrases_of(PhraseId phrase) const;
  // Whether the file lists `paraphrase` for `phrase` (binary search in the sorted row).
  bool lists(PhraseId phrase, PhraseId paraphrase) const;
  std::string_view phrase_text(PhraseId phrase) const;

  std::size_t phrase_count() const { return phrase_starts_.empty() ? 0 : phrase_starts_.size() - 1; }
  std::size_t pair_count() const { return paraphrases_.size(); }
  int longest_phrase_words() const { return longest_phrase_words_; }
  std::size_t memory_bytes() const;

 private:
  class Builder;

  std::string phrase_bytes_;                  // all distinct phrases, back to back
  std::vector<std::uint32_t> phrase_starts_;  // phrase id -> offset in phrase_bytes_ (+ end sentinel)
  std::vector<std::uint64_t> slots_;  // open addressing: hash << 32 | (phrase id + 1), 0 = empty
  std::vector<std::uint32_t> paraphrase_starts_;  // phrase id -> first entry in paraphrases_
  std::vector<PhraseId> paraphrases_;
  int longest_phrase_words_ = 0;
};

}  // namespace sparsecap::eval
