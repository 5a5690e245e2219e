#pragma once
// METEOR 1.5's English paraphrase table (paraphrase-en.gz, distributed with METEOR 1.5 and with
// the pycocoevalcap package): a gzip text file of triples of lines, "probability", "phrase",
// "paraphrase", phrases being lower-case words separated by single spaces. METEOR matches two
// phrases when either is listed as a paraphrase of the other; the probability does not enter the
// score, so it is not kept.
//
// In memory each distinct phrase is stored once (bytes in one arena, found through an
// open-addressing hash table) and the pairs as one sorted row of paraphrase ids per phrase.
// Reading the 62 MB table takes seconds, so load() also writes this index to a cache file and
// later loads map that file instead (milliseconds).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sparsecap::eval {

class MeteorParaphraseTable {
 public:
  using PhraseId = std::uint32_t;
  static constexpr PhraseId kNotAPhrase = 0xFFFFFFFFu;

  // ${XDG_CACHE_HOME:-~/.cache}/sparsecap/meteor, or nothing when neither variable is set.
  static std::optional<std::filesystem::path> default_index_directory();

  // Reads a gzip (or plain) table; throws std::runtime_error naming the file and the line for an
  // unreadable, truncated or malformed file. With an index directory, first maps the index cached
  // there for this file (same path, size and modification time); otherwise parses the table and
  // caches its index there (skipped silently when the directory is not writable).
  static MeteorParaphraseTable load(const std::filesystem::path& path,
                                    const std::optional<std::filesystem::path>& index_directory =
                                        default_index_directory());
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
  bool loaded_from_index() const { return loaded_from_index_; }

 private:
  struct Arrays;
  class Builder;
  class IndexFile;

  static MeteorParaphraseTable parse_file(const std::filesystem::path& path);
  void view(std::shared_ptr<const Arrays> arrays);

  std::shared_ptr<const void> storage_;  // owns what the views below point into
  std::string_view phrase_bytes_;                 // all distinct phrases, back to back
  std::span<const std::uint32_t> phrase_starts_;  // phrase id -> offset in phrase_bytes_ (+ end)
  std::span<const std::uint64_t> slots_;          // open addressing: hash << 32 | (id + 1), 0 = empty
  std::span<const std::uint32_t> paraphrase_starts_;  // phrase id -> first entry in paraphrases_
  std::span<const PhraseId> paraphrases_;
  int longest_phrase_words_ = 0;
  bool loaded_from_index_ = false;
};

}  // namespace sparsecap::eval
