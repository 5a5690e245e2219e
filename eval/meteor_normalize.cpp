#include "eval/meteor_normalize.h"

#include <string>

#include "eval/utf8.h"

namespace sparsecap::eval {
namespace {

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

// Letters for the apostrophe rules: ASCII letters and the letters of the scripts captions use.
// Non-ASCII punctuation and symbols (Latin-1 signs, General Punctuation onwards) are not letters.
bool is_letter(char32_t c) {
  if ((c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z')) return true;
  if (c < 0xC0 || c == 0xD7 || c == 0xF7) return false;
  return c < 0x2000 || (c >= 0x3040 && c < 0xFE30);
}

bool is_mteval_symbol(char32_t c) {
  // The mteval-v13a class [\{-\~\[-\` -\&\(-\+\:-\@\/]: note that ' and - are not in it.
  return (c >= U'{' && c <= U'~') || (c >= U'[' && c <= U'`') || (c >= U' ' && c <= U'&') ||
         (c >= U'(' && c <= U'+') || (c >= U':' && c <= U'@') || c == U'/';
}

std::u32string unify_quotes(const std::u32string& line) {
  std::u32string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    char32_t c = line[i];
    if (c == U'\u2018' || c == U'\u2019') c = U'\'';
    if (c == U'\u201C' || c == U'\u201D') c = U'"';
    if (c == U'\'' && !out.empty() && out.back() == U'\'') {
      out.back() = U'"';
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::u32string split_mteval_symbols(const std::u32string& line) {
  std::u32string spaced;
  spaced.reserve(line.size() * 2);
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char32_t c = line[i];
    const char32_t previous = i > 0 ? line[i - 1] : U' ';
    const char32_t next = i + 1 < line.size() ? line[i + 1] : U' ';
    const bool split_symbol = c != U' ' && is_mteval_symbol(c);
    const bool split_period_or_comma = (c == U'.' || c == U',') && (!is_digit(previous) || !is_digit(next));
    const bool split_dash = c == U'-' && is_digit(previous);
    if (split_symbol || split_period_or_comma || split_dash) {
      spaced += U' ';
      spaced += c;
      spaced += U' ';
    } else {
      spaced += c;
    }
  }
  return spaced;
}

enum class ApostropheSplit { both_sides, before_only };

// One pass of a rule "left ' right": like a global regex substitution, the characters a match
// used (left, apostrophe, right) cannot start the next match.
template <typename LeftClass, typename RightClass>
std::u32string apply_apostrophe_rule(const std::u32string& line, LeftClass left_matches, RightClass right_matches,
                                     ApostropheSplit split) {
  std::u32string out;
  out.reserve(line.size() + 8);
  std::size_t i = 0;
  while (i < line.size()) {
    if (i + 2 < line.size() && line[i + 1] == U'\'' && left_matches(line[i]) && right_matches(line[i + 2])) {
      out += line[i];
      out += U' ';
      out += U'\'';
      if (split == ApostropheSplit::both_sides) out += U' ';
      out += line[i + 2];
      i += 3;
    } else {
      out += line[i];
      ++i;
    }
  }
  return out;
}

std::u32string split_apostrophes(std::u32string line) {
  const auto letter = [](char32_t c) { return is_letter(c); };
  const auto not_letter = [](char32_t c) { return !is_letter(c); };
  const auto not_alphanumeric = [](char32_t c) { return !is_letter(c) && !is_digit(c); };
  const auto digit = [](char32_t c) { return is_digit(c); };
  const auto letter_s = [](char32_t c) { return c == U's'; };
  line = apply_apostrophe_rule(line, not_letter, not_letter, ApostropheSplit::both_sides);
  line = apply_apostrophe_rule(line, not_alphanumeric, letter, ApostropheSplit::both_sides);
  line = apply_apostrophe_rule(line, letter, not_letter, ApostropheSplit::both_sides);
  line = apply_apostrophe_rule(line, letter, letter, ApostropheSplit::before_only);
  return apply_apostrophe_rule(line, digit, letter_s, ApostropheSplit::before_only);
}

Tokens split_on_spaces(const std::u32string& line) {
  Tokens tokens;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && line[pos] == U' ') ++pos;
    std::size_t end = pos;
    while (end < line.size() && line[end] != U' ') ++end;
    if (end > pos) tokens.push_back(encode_utf8(std::u32string_view(line).substr(pos, end - pos)));
    pos = end;
  }
  return tokens;
}

}  // namespace

Tokens meteor_normalize(const Tokens& tokens) {
  // Padded with spaces, as mteval pads the line, so that rules see a neighbour at both ends.
  const std::u32string line = decode_utf8(" " + join_tokens(tokens) + " ");
  return split_on_spaces(split_apostrophes(split_mteval_symbols(unify_quotes(line))));
}

}  // namespace sparsecap::eval
