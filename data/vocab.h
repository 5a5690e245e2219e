#pragma once
// The word vocabulary of a captioning run: built from the training captions, saved beside the
// checkpoints as JSON so a model is always decoded with the words it was trained with.
//
// Indices: PAD = 0 (so zero-filled buffers are padding), UNK = 1, BOS = 2, EOS = 3, then the words
// by descending training count, ties broken alphabetically (the same captions always give the same
// indices, whatever order they were read in).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace sparsecap::data {

struct VocabularyOptions {
  int64_t min_count = 5;  // a word seen fewer times than this in training becomes UNK
  int64_t max_size = 0;   // when > 0: keep at most this many words (special tokens not counted)
};

struct CaptionEncodingOptions {
  int64_t max_words = 16;  // words kept per caption, BOS and EOS not counted
};

class Vocabulary {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnknown = 1;
  static constexpr int64_t kBegin = 2;
  static constexpr int64_t kEnd = 3;
  static constexpr int64_t kSpecialCount = 4;

  // An empty vocabulary: only the four special tokens.
  Vocabulary();

  // From tokenised training captions (one vector of words per caption).
  static Vocabulary build(const std::vector<std::vector<std::string>>& training_captions,
                          const VocabularyOptions& options = {});
  // From a word list in index order, special tokens excluded (what save_json writes).
  static Vocabulary from_words(const std::vector<std::string>& words);

  int64_t size() const { return static_cast<int64_t>(index_to_word_.size()); }
  int64_t index_of(const std::string& word) const;  // kUnknown for a word not in the vocabulary
  const std::string& word_at(int64_t index) const;  // throws for an index out of range
  bool contains(const std::string& word) const { return word_to_index_.count(word) != 0; }

  // [BOS, w1 .. wn, EOS] with n <= max_words: a longer caption is cut after max_words words and
  // still ends with EOS, so the model always learns to stop.
  std::vector<int64_t> encode(const std::vector<std::string>& words,
                              const CaptionEncodingOptions& options = {}) const;
  // Words up to the first EOS; BOS and PAD are skipped.
  std::vector<std::string> decode(const std::vector<int64_t>& indices) const;

  void save_json(const std::filesystem::path& path) const;
  static Vocabulary load_json(const std::filesystem::path& path);

 private:
  void add_word(const std::string& word);

  std::vector<std::string> index_to_word_;
  std::unordered_map<std::string, int64_t> word_to_index_;
};

}  // namespace sparsecap::data
