#include "eval/snowball_english_stemmer.h"

#include <array>
#include <utility>

namespace sparsecap::eval {
namespace {

// 'Y' marks a consonant y (set in the prelude); it is not a vowel.
bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'; }

bool ends_with(const std::string& word, std::string_view suffix) {
  return word.size() >= suffix.size() && word.compare(word.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void replace_suffix(std::string& word, std::size_t suffix_length, std::string_view replacement) {
  word.resize(word.size() - suffix_length);
  word += replacement;
}

bool has_vowel(const std::string& word, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    if (is_vowel(word[i])) return true;
  }
  return false;
}

struct Regions {
  std::size_t r1 = 0;
  std::size_t r2 = 0;
};

// Start of the region after the first non-vowel that follows a vowel, searching from `from`.
std::size_t region_start(const std::string& word, std::size_t from) {
  for (std::size_t i = from + 1; i < word.size(); ++i) {
    if (!is_vowel(word[i]) && is_vowel(word[i - 1])) return i + 1;
  }
  return word.size();
}

Regions mark_regions(const std::string& word) {
  Regions regions;
  static constexpr std::array<std::string_view, 3> prefixes{"gener", "commun", "arsen"};
  bool prefixed = false;
  for (std::string_view prefix : prefixes) {
    if (word.starts_with(prefix)) {
      regions.r1 = prefix.size();
      prefixed = true;
      break;
    }
  }
  if (!prefixed) regions.r1 = region_start(word, 0);
  regions.r2 = regions.r1 >= word.size() ? word.size() : region_start(word, regions.r1);
  if (regions.r1 > word.size()) regions.r1 = word.size();
  if (regions.r2 > word.size()) regions.r2 = word.size();
  return regions;
}

// A short syllable ending at the end of `word`: non-vowel, vowel, non-vowel other than w, x, Y;
// or vowel, non-vowel at the start of the word.
bool ends_with_short_syllable(const std::string& word) {
  const std::size_t n = word.size();
  if (n == 2) return is_vowel(word[0]) && !is_vowel(word[1]);
  if (n < 3) return false;
  const char last = word[n - 1];
  return !is_vowel(word[n - 3]) && is_vowel(word[n - 2]) && !is_vowel(last) && last != 'w' && last != 'x' &&
         last != 'Y';
}

// Finds the longest listed suffix of word; returns its index or -1.
template <std::size_t N>
int longest_suffix(const std::string& word, const std::array<std::string_view, N>& suffixes) {
  int best = -1;
  for (std::size_t i = 0; i < N; ++i) {
    if (ends_with(word, suffixes[i]) && (best < 0 || suffixes[i].size() > suffixes[static_cast<std::size_t>(best)].size())) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

bool apply_exception1(const std::string& word, std::string& out) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> exceptions{{
      {"skis", "ski"}, {"skies", "sky"}, {"dying", "die"}, {"lying", "lie"}, {"tying", "tie"},
      {"idly", "idl"}, {"gently", "gentl"}, {"ugly", "ugli"}, {"early", "earli"}, {"only", "onli"},
      {"singly", "singl"}, {"sky", "sky"}, {"news", "news"}, {"howe", "howe"}, {"atlas", "atlas"},
      {"cosmos", "cosmos"}, {"bias", "bias"}, {"andes", "andes"},
  }};
  for (const auto& [from, to] : exceptions) {
    if (word == from) {
      out = to;
      return true;
    }
  }
  return false;
}

void step0(std::string& word) {
  if (ends_with(word, "'s'")) {
    word.resize(word.size() - 3);
  } else if (ends_with(word, "'s")) {
    word.resize(word.size() - 2);
  } else if (ends_with(word, "'")) {
    word.resize(word.size() - 1);
  }
}

void step1a(std::string& word) {
  if (ends_with(word, "sses")) {
    replace_suffix(word, 4, "ss");
  } else if (ends_with(word, "ied") || ends_with(word, "ies")) {
    replace_suffix(word, 3, word.size() > 4 ? "i" : "ie");
  } else if (ends_with(word, "us") || ends_with(word, "ss")) {
    // unchanged
  } else if (ends_with(word, "s")) {
    // Delete if a vowel occurs before the letter preceding the s.
    if (word.size() >= 3 && has_vowel(word, 0, word.size() - 2)) word.pop_back();
  }
}

bool is_exception2(const std::string& word) {
  static constexpr std::array<std::string_view, 8> invariant{"inning", "outing", "canning", "herring",
                                                             "earring", "proceed", "exceed", "succeed"};
  for (std::string_view w : invariant) {
    if (word == w) return true;
  }
  return false;
}

void step1b(std::string& word, const Regions& regions) {
  static constexpr std::array<std::string_view, 6> suffixes{"eed", "eedly", "ed", "edly", "ing", "ingly"};
  const int found = longest_suffix(word, suffixes);
  if (found < 0) return;
  const std::string_view suffix = suffixes[static_cast<std::size_t>(found)];
  const std::size_t stem_length = word.size() - suffix.size();
  if (suffix == "eed" || suffix == "eedly") {
    if (stem_length >= regions.r1) replace_suffix(word, suffix.size(), "ee");
    return;
  }
  if (!has_vowel(word, 0, stem_length)) return;
  word.resize(stem_length);
  if (ends_with(word, "at") || ends_with(word, "bl") || ends_with(word, "iz")) {
    word += 'e';
    return;
  }
  static constexpr std::array<std::string_view, 9> doubles{"bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt"};
  for (std::string_view d : doubles) {
    if (ends_with(word, d)) {
      word.pop_back();
      return;
    }
  }
  // "Short word": R1 (of the original word) is empty and it ends in a short syllable.
  if (regions.r1 >= word.size() && ends_with_short_syllable(word)) word += 'e';
}

void step1c(std::string& word) {
  const std::size_t n = word.size();
  if (n >= 3 && (word[n - 1] == 'y' || word[n - 1] == 'Y') && !is_vowel(word[n - 2])) word[n - 1] = 'i';
}

void step2(std::string& word, const Regions& regions) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24> rules{{
      {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"abli", "able"}, {"entli", "ent"},
      {"izer", "ize"}, {"ization", "ize"}, {"ational", "ate"}, {"ation", "ate"}, {"ator", "ate"},
      {"alism", "al"}, {"aliti", "al"}, {"alli", "al"}, {"fulness", "ful"}, {"ousli", "ous"},
      {"ousness", "ous"}, {"iveness", "ive"}, {"iviti", "ive"}, {"biliti", "ble"}, {"bli", "ble"},
      {"ogi", "og"}, {"fulli", "ful"}, {"lessli", "less"}, {"li", ""},
  }};
  int best = -1;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (ends_with(word, rules[i].first) &&
        (best < 0 || rules[i].first.size() > rules[static_cast<std::size_t>(best)].first.size())) {
      best = static_cast<int>(i);
    }
  }
  if (best < 0) return;
  const auto& [suffix, replacement] = rules[static_cast<std::size_t>(best)];
  const std::size_t stem_length = word.size() - suffix.size();
  if (stem_length < regions.r1) return;
  if (suffix == "ogi" && (stem_length == 0 || word[stem_length - 1] != 'l')) return;
  if (suffix == "li") {
    static constexpr std::string_view valid_li_endings = "cdeghkmnrt";
    if (stem_length == 0 || valid_li_endings.find(word[stem_length - 1]) == std::string_view::npos) return;
  }
  replace_suffix(word, suffix.size(), replacement);
}

void step3(std::string& word, const Regions& regions) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> rules{{
      {"tional", "tion"}, {"ational", "ate"}, {"alize", "al"}, {"icate", "ic"}, {"iciti", "ic"},
      {"ical", "ic"}, {"ful", ""}, {"ness", ""}, {"ative", ""},
  }};
  int best = -1;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (ends_with(word, rules[i].first) &&
        (best < 0 || rules[i].first.size() > rules[static_cast<std::size_t>(best)].first.size())) {
      best = static_cast<int>(i);
    }
  }
  if (best < 0) return;
  const auto& [suffix, replacement] = rules[static_cast<std::size_t>(best)];
  const std::size_t stem_length = word.size() - suffix.size();
  if (stem_length < regions.r1) return;
  if (suffix == "ative" && stem_length < regions.r2) return;
  replace_suffix(word, suffix.size(), replacement);
}

void step4(std::string& word, const Regions& regions) {
  static constexpr std::array<std::string_view, 18> suffixes{"al",   "ance", "ence", "er",  "ic",  "able",
                                                             "ible", "ant",  "ement", "ment", "ent", "ism",
                                                             "ate",  "iti",  "ous",  "ive", "ize", "ion"};
  const int found = longest_suffix(word, suffixes);
  if (found < 0) return;
  const std::string_view suffix = suffixes[static_cast<std::size_t>(found)];
  const std::size_t stem_length = word.size() - suffix.size();
  if (stem_length < regions.r2) return;
  if (suffix == "ion" && (stem_length == 0 || (word[stem_length - 1] != 's' && word[stem_length - 1] != 't'))) return;
  word.resize(stem_length);
}

void step5(std::string& word, const Regions& regions) {
  if (word.empty()) return;
  const std::size_t stem_length = word.size() - 1;
  if (word.back() == 'e') {
    const bool in_r2 = stem_length >= regions.r2;
    const bool in_r1 = stem_length >= regions.r1;
    if (in_r2 || (in_r1 && !ends_with_short_syllable(word.substr(0, stem_length)))) word.pop_back();
  } else if (word.back() == 'l') {
    if (stem_length >= regions.r2 && stem_length > 0 && word[stem_length - 1] == 'l') word.pop_back();
  }
}

}  // namespace

std::string snowball_english_stem(std::string_view input) {
  std::string word(input);
  if (word.size() < 3) return word;
  std::string exceptional;
  if (apply_exception1(word, exceptional)) return exceptional;

  if (!word.empty() && word[0] == '\'') word.erase(0, 1);
  if (!word.empty() && word[0] == 'y') word[0] = 'Y';
  for (std::size_t i = 1; i < word.size(); ++i) {
    if (word[i] == 'y' && is_vowel(word[i - 1])) word[i] = 'Y';
  }
  const Regions regions = mark_regions(word);

  step0(word);
  step1a(word);
  if (is_exception2(word)) return word;
  step1b(word, regions);
  step1c(word);
  step2(word, regions);
  step3(word, regions);
  step4(word, regions);
  step5(word, regions);
  for (char& c : word) {
    if (c == 'Y') c = 'y';
  }
  return word;
}

}  // namespace sparsecap::eval
