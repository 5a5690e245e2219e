#include "eval/wordnet_synonyms.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sparsecap::eval {
namespace {

constexpr std::array<std::string_view, 4> kPartsOfSpeech{"noun", "verb", "adj", "adv"};

std::ifstream open_database_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open WordNet file " + path.string());
  return in;
}

}  // namespace

bool WordNetSynonyms::available(const std::filesystem::path& wordnet_dir) {
  std::error_code error;
  for (std::string_view pos : kPartsOfSpeech) {
    if (!std::filesystem::is_regular_file(wordnet_dir / ("index." + std::string(pos)), error)) return false;
  }
  return true;
}

WordNetSynonyms WordNetSynonyms::load(const std::filesystem::path& wordnet_dir) {
  WordNetSynonyms wordnet;
  for (std::size_t pos_code = 0; pos_code < kPartsOfSpeech.size(); ++pos_code) {
    const std::string pos(kPartsOfSpeech[pos_code]);
    std::ifstream index = open_database_file(wordnet_dir / ("index." + pos));
    std::string line;
    while (std::getline(index, line)) {
      if (line.empty() || line[0] == ' ') continue;  // licence header lines start with spaces
      // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
      std::istringstream fields(line);
      std::string lemma;
      std::string pos_letter;
      std::size_t synset_count = 0;
      std::size_t pointer_count = 0;
      fields >> lemma >> pos_letter >> synset_count >> pointer_count;
      std::string skipped;
      for (std::size_t i = 0; i < pointer_count + 2; ++i) fields >> skipped;
      std::vector<SynsetId>& synsets = wordnet.lemma_synsets_[lemma];
      for (std::size_t i = 0; i < synset_count; ++i) {
        SynsetId offset = 0;
        if (!(fields >> offset)) {
          throw std::runtime_error("malformed line in " + (wordnet_dir / ("index." + pos)).string() + ": " + line);
        }
        synsets.push_back(offset);
      }
    }
    std::ifstream exceptions = open_database_file(wordnet_dir / (pos + ".exc"));
    while (std::getline(exceptions, line)) {
      std::istringstream fields(line);
      std::string inflected;
      std::string base;
      fields >> inflected;
      while (fields >> base) wordnet.exception_bases_[inflected].push_back(base);
    }
  }
  for (auto& [lemma, synsets] : wordnet.lemma_synsets_) {
    std::sort(synsets.begin(), synsets.end());
    synsets.erase(std::unique(synsets.begin(), synsets.end()), synsets.end());
  }
  if (wordnet.lemma_synsets_.empty()) throw std::runtime_error("no lemmas found in WordNet directory " + wordnet_dir.string());
  return wordnet;
}

const std::vector<SynsetId>* WordNetSynonyms::synsets_of(const std::string& lemma) const {
  auto found = lemma_synsets_.find(lemma);
  return found == lemma_synsets_.end() ? nullptr : &found->second;
}

std::string WordNetSynonyms::detach_suffix(const std::string& word) const {
  // WordNet's detachment rules in the order METEOR tries them: noun, verb, adjective.
  struct Rule {
    std::string_view suffix;
    std::string_view ending;
  };
  static constexpr std::array<Rule, 20> rules{{
      {"s", ""},    {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"},
      {"ies", "y"}, {"s", ""},    {"ies", "y"}, {"es", "e"},  {"es", ""},    {"ed", "e"},    {"ed", ""},
      {"ing", "e"}, {"ing", ""},  {"er", ""},   {"est", ""},  {"er", "e"},   {"est", "e"},
  }};
  if (word.ends_with("ss") || word.size() <= 2) return word;
  for (const Rule& rule : rules) {
    if (!word.ends_with(rule.suffix)) continue;
    std::string candidate = word.substr(0, word.size() - rule.suffix.size());
    candidate += rule.ending;
    if (lemma_synsets_.contains(candidate)) return candidate;
  }
  return {};
}

std::vector<SynsetId> WordNetSynonyms::synsets_with_base_forms(std::string_view word_view) const {
  const std::string word(word_view);
  std::vector<SynsetId> result;
  auto add = [&](const std::string& lemma) {
    if (const std::vector<SynsetId>* synsets = synsets_of(lemma)) result.insert(result.end(), synsets->begin(), synsets->end());
  };
  add(word);
  // METEOR consults the exception lists first and only falls back to the rules without a hit.
  if (auto found = exception_bases_.find(word); found != exception_bases_.end()) {
    for (const std::string& base : found->second) add(base);
  } else {
    const std::string base = detach_suffix(word);
    if (!base.empty()) add(base);
  }
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

}  // namespace sparsecap::eval
