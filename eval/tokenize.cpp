#include "eval/tokenize.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "eval/utf8.h"

namespace sparsecap::eval {
namespace {

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Typographic punctuation is mapped to its ASCII spelling first so one set of rules handles both:
// CoreNLP turns curly quotes into `` '' ` ' (removed later), dashes into "--", the ellipsis
// character into "...".
std::string normalize_typography(std::string_view caption) {
  struct Replacement {
    std::string_view from;
    std::string_view to;
  };
  static constexpr std::array<Replacement, 10> replacements{{
      {"\xE2\x80\x9C", "\""},     // “
      {"\xE2\x80\x9D", "\""},     // ”
      {"\xE2\x80\x98", "'"},      // ‘
      {"\xE2\x80\x99", "'"},      // ’
      {"\xE2\x80\x93", " -- "},   // – en dash
      {"\xE2\x80\x94", " -- "},   // — em dash
      {"\xE2\x80\xA6", " ... "},  // …
      {"\xC2\xA0", " "},          // no-break space
      {"\t", " "},
      {"\n", " "},
  }};
  std::string out;
  out.reserve(caption.size());
  std::size_t pos = 0;
  while (pos < caption.size()) {
    bool replaced = false;
    for (const Replacement& r : replacements) {
      if (caption.substr(pos, r.from.size()) == r.from) {
        out += r.to;
        pos += r.from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(caption[pos++]);
  }
  return out;
}

std::vector<std::string_view> split_on_spaces(std::string_view text) {
  std::vector<std::string_view> chunks;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\r')) ++pos;
    std::size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\r') ++end;
    if (end > pos) chunks.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return chunks;
}

std::string bracket_token(char c, bool opening_quote) {
  switch (c) {
    case '(': return "-LRB-";
    case ')': return "-RRB-";
    case '[': return "-LSB-";
    case ']': return "-RSB-";
    case '{': return "-LCB-";
    case '}': return "-RCB-";
    case '"': return opening_quote ? "``" : "''";
    case '`': return "`";
    case '\'': return opening_quote ? "`" : "'";
    default: return std::string(1, c);
  }
}

bool is_splitting_punctuation(char c) {
  return c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '(' || c == ')' ||
         c == '[' || c == ']' || c == '{' || c == '}' || c == '"';
}

// Words whose final period belongs to them (PTB keeps abbreviations whole).
bool keeps_final_period(std::string_view word_without_period) {
  static const std::array<std::string_view, 16> abbreviations{
      "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "co", "ltd", "mt", "ft", "no"};
  std::string lower;
  for (char c : word_without_period) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (std::find(abbreviations.begin(), abbreviations.end(), lower) != abbreviations.end()) return true;
  // Letter-period sequences such as "u.s" or "a.m".
  if (lower.size() >= 3 && lower.find('.') != std::string::npos) {
    for (std::size_t i = 0; i < lower.size(); ++i) {
      const bool letter_slot = i % 2 == 0;
      if (letter_slot ? !is_ascii_alpha(lower[i]) : lower[i] != '.') return false;
    }
    return true;
  }
  return false;
}

// Splits clitics the PTB way: "doesn't" -> "does" "n't", "dog's" -> "dog" "'s", "cannot" ->
// "can" "not", "gonna" -> "gon" "na".
void append_word_with_clitics(std::string_view word, Tokens& out) {
  std::string lower;
  for (char c : word) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  struct Split {
    std::string_view whole;
    std::size_t first_length;
  };
  static constexpr std::array<Split, 7> whole_word_splits{{{"cannot", 3},
                                                           {"gonna", 3},
                                                           {"gotta", 3},
                                                           {"wanna", 3},
                                                           {"gimme", 3},
                                                           {"lemme", 3},
                                                           {"d'ye", 2}}};
  for (const Split& split : whole_word_splits) {
    if (lower == split.whole) {
      out.emplace_back(word.substr(0, split.first_length));
      out.emplace_back(word.substr(split.first_length));
      return;
    }
  }
  if (lower.size() > 3 && lower.ends_with("n't")) {
    out.emplace_back(word.substr(0, word.size() - 3));
    out.emplace_back(word.substr(word.size() - 3));
    return;
  }
  static constexpr std::array<std::string_view, 6> suffixes{"'s", "'m", "'d", "'re", "'ve", "'ll"};
  for (std::string_view suffix : suffixes) {
    if (lower.size() > suffix.size() && lower.ends_with(suffix)) {
      out.emplace_back(word.substr(0, word.size() - suffix.size()));
      out.emplace_back(word.substr(word.size() - suffix.size()));
      return;
    }
  }
  out.emplace_back(word);
}

// A run of characters starting at pos that forms one punctuation token, or 0.
std::size_t punctuation_run_length(std::string_view chunk, std::size_t pos) {
  const char c = chunk[pos];
  if (c == '.' && chunk.substr(pos, 3) == "...") {
    std::size_t end = pos;
    while (end < chunk.size() && chunk[end] == '.') ++end;
    return end - pos;
  }
  if (c == '-' && chunk.substr(pos, 2) == "--") {
    std::size_t end = pos;
    while (end < chunk.size() && chunk[end] == '-') ++end;
    return end - pos;
  }
  if (c == '!' || c == '?') {  // "!!" and "?!" stay one token, as in CoreNLP
    std::size_t end = pos;
    while (end < chunk.size() && (chunk[end] == '!' || chunk[end] == '?')) ++end;
    return end - pos;
  }
  if (c == ',' || c == ':') {
    // Keep "1,000" and "10:30" whole.
    const bool between_digits = pos > 0 && pos + 1 < chunk.size() && is_ascii_digit(chunk[pos - 1]) &&
                                is_ascii_digit(chunk[pos + 1]);
    return between_digits ? 0 : 1;
  }
  return is_splitting_punctuation(c) ? 1 : 0;
}

void flush_word(std::string_view chunk, std::size_t begin, std::size_t end, Tokens& out) {
  if (end <= begin) return;
  std::string_view word = chunk.substr(begin, end - begin);
  // Leading and trailing single quotes are quotation marks, not part of the word.
  std::size_t leading_quotes = 0;
  while (leading_quotes < word.size() && (word[leading_quotes] == '\'' || word[leading_quotes] == '`')) {
    ++leading_quotes;
  }
  for (std::size_t i = 0; i < leading_quotes; ++i) out.push_back(bracket_token(word[i], true));
  word.remove_prefix(leading_quotes);
  if (word.empty()) return;
  // A lone trailing period ends the sentence unless the word is an abbreviation.
  bool final_period = false;
  if (word.size() > 1 && word.back() == '.' && !keeps_final_period(word.substr(0, word.size() - 1))) {
    final_period = true;
    word.remove_suffix(1);
  }
  std::size_t trailing_quotes = 0;
  while (trailing_quotes < word.size() && word[word.size() - 1 - trailing_quotes] == '\'') ++trailing_quotes;
  // "dogs'" -> "dogs" "'" ; but a word that is only quotes has been handled above.
  std::string_view core = word.substr(0, word.size() - trailing_quotes);
  if (!core.empty()) append_word_with_clitics(core, out);
  for (std::size_t i = 0; i < trailing_quotes; ++i) out.emplace_back("'");
  if (final_period) out.emplace_back(".");
}

void tokenize_chunk(std::string_view chunk, Tokens& out) {
  if (chunk == "." || chunk == "-") {
    out.emplace_back(chunk);
    return;
  }
  std::size_t word_begin = 0;
  std::size_t pos = 0;
  bool at_chunk_start = true;
  while (pos < chunk.size()) {
    const std::size_t run = punctuation_run_length(chunk, pos);
    if (run == 0) {
      ++pos;
      at_chunk_start = false;
      continue;
    }
    flush_word(chunk, word_begin, pos, out);
    std::string_view punctuation = chunk.substr(pos, run);
    const bool opening = at_chunk_start || pos == word_begin;
    if (run == 1) {
      out.push_back(bracket_token(punctuation[0], opening && pos + 1 < chunk.size()));
    } else if (punctuation[0] == '.') {
      out.emplace_back("...");
    } else if (punctuation[0] == '-') {
      out.emplace_back("--");
    } else {
      out.emplace_back(punctuation);
    }
    pos += run;
    word_begin = pos;
    at_chunk_start = false;
  }
  flush_word(chunk, word_begin, pos, out);
}

}  // namespace

const std::vector<std::string_view>& toolkit_removed_tokens() {
  static const std::vector<std::string_view> removed{"''",    "'",     "``",    "`", "-LRB-", "-RRB-",
                                                     "-LCB-", "-RCB-", ".",     "?", "!",     ",",
                                                     ":",     "-",     "--",    "...", ";"};
  return removed;
}

Tokens ptb_tokenize(std::string_view caption) {
  require_valid_utf8(caption, "caption");
  const std::string normalized = normalize_typography(caption);
  Tokens tokens;
  for (std::string_view chunk : split_on_spaces(normalized)) tokenize_chunk(chunk, tokens);
  return tokens;
}

Tokens tokenize_caption(std::string_view caption) {
  const std::vector<std::string_view>& removed = toolkit_removed_tokens();
  Tokens kept;
  for (const std::string& token : ptb_tokenize(caption)) {
    std::string lower = to_lower_utf8(token);
    if (std::find(removed.begin(), removed.end(), lower) == removed.end()) kept.push_back(std::move(lower));
  }
  return kept;
}

std::string join_tokens(const Tokens& tokens) {
  std::string joined;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) joined.push_back(' ');
    joined += tokens[i];
  }
  return joined;
}

}  // namespace sparsecap::eval
