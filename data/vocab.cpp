#include "data/vocab.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/data_error.h"
#include "engine/json_input.h"
#include "data/file_io.h"

namespace sparsecap::data {

namespace {
// Spelled with angle brackets so they can never collide with a tokenised word (the tokenizer
// deletes punctuation).
const std::vector<std::string> kSpecialWords = {"<pad>", "<unk>", "<bos>", "<eos>"};
constexpr const char* kVocabularyFormat = "sparsecap-vocabulary";
constexpr int kVocabularyVersion = 1;
}  // namespace

Vocabulary::Vocabulary() {
  for (const auto& word : kSpecialWords) add_word(word);
}

void Vocabulary::add_word(const std::string& word) {
  if (word.empty()) throw std::invalid_argument("vocabulary: empty word");
  if (!word_to_index_.emplace(word, size()).second)
    throw std::invalid_argument("vocabulary: duplicate word '" + word + "'");
  index_to_word_.push_back(word);
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& training_captions,
                             const VocabularyOptions& options) {
  std::map<std::string, int64_t> counts;  // ordered: the tie-break below is alphabetical
  for (const auto& caption : training_captions)
    for (const auto& word : caption) ++counts[word];

  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [word, count] : counts)
    if (count >= options.min_count && std::find(kSpecialWords.begin(), kSpecialWords.end(), word) ==
                                          kSpecialWords.end())
      kept.emplace_back(word, count);
  std::stable_sort(kept.begin(), kept.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (options.max_size > 0 && static_cast<int64_t>(kept.size()) > options.max_size)
    kept.resize(static_cast<size_t>(options.max_size));

  Vocabulary vocabulary;
  for (const auto& entry : kept) vocabulary.add_word(entry.first);
  return vocabulary;
}

Vocabulary Vocabulary::from_words(const std::vector<std::string>& words) {
  Vocabulary vocabulary;
  for (const auto& word : words) vocabulary.add_word(word);
  return vocabulary;
}

int64_t Vocabulary::index_of(const std::string& word) const {
  const auto found = word_to_index_.find(word);
  return found == word_to_index_.end() ? kUnknown : found->second;
}

const std::string& Vocabulary::word_at(int64_t index) const {
  if (index < 0 || index >= size())
    throw std::out_of_range("vocabulary: index " + std::to_string(index) + " outside [0, " +
                            std::to_string(size()) + ")");
  return index_to_word_[static_cast<size_t>(index)];
}

std::vector<int64_t> Vocabulary::encode(const std::vector<std::string>& words,
                                        const CaptionEncodingOptions& options) const {
  if (options.max_words < 1)
    throw std::invalid_argument("caption encoding: max_words must be >= 1, got " +
                                std::to_string(options.max_words));
  const size_t kept = std::min(words.size(), static_cast<size_t>(options.max_words));
  std::vector<int64_t> indices;
  indices.reserve(kept + 2);
  indices.push_back(kBegin);
  for (size_t i = 0; i < kept; ++i) indices.push_back(index_of(words[i]));
  indices.push_back(kEnd);
  return indices;
}

std::vector<std::string> Vocabulary::decode(const std::vector<int64_t>& indices) const {
  std::vector<std::string> words;
  for (const int64_t index : indices) {
    if (index == kEnd) break;
    if (index == kBegin || index == kPad) continue;
    words.push_back(word_at(index));
  }
  return words;
}

void Vocabulary::save_json(const std::filesystem::path& path) const {
  nlohmann::json document;
  document["format"] = kVocabularyFormat;
  document["version"] = kVocabularyVersion;
  document["special_tokens"] = kSpecialWords;
  document["words"] = std::vector<std::string>(index_to_word_.begin() + kSpecialCount,
                                               index_to_word_.end());
  write_file_text(path, document.dump(1) + "\n");  // via a temporary file and a rename
}

Vocabulary Vocabulary::load_json(const std::filesystem::path& path) {
  nlohmann::json document;
  try {
    document = read_json_file(path);
  } catch (const Error& error) {  // already "<file>: ..."
    throw DataError(path.string(), std::string(error.what()).substr(path.string().size() + 2));
  }
  if (!document.is_object() || document.value("format", "") != kVocabularyFormat)
    throw DataError(path.string(), std::string("not a sparsecap vocabulary (expected \"format\": \"") +
                                       kVocabularyFormat + "\")");
  if (document.value("version", 0) != kVocabularyVersion)
    throw DataError(path.string(), "unsupported vocabulary version " +
                                       document.value("version", nlohmann::json()).dump());
  if (document.value("special_tokens", nlohmann::json()) != nlohmann::json(kSpecialWords))
    throw DataError(path.string(), "special tokens differ from " + nlohmann::json(kSpecialWords).dump());
  const auto& words = document.value("words", nlohmann::json());
  if (!words.is_array()) throw DataError(path.string(), "\"words\" must be an array of strings");
  std::vector<std::string> word_list;
  for (const auto& word : words) {
    if (!word.is_string()) throw DataError(path.string(), "non-string word " + word.dump());
    word_list.push_back(word.get<std::string>());
  }
  try {
    return from_words(word_list);
  } catch (const std::invalid_argument& error) {
    throw DataError(path.string(), error.what());
  }
}

}  // namespace sparsecap::data
