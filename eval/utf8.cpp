#include "eval/utf8.h"

#include <cstdint>
#include <stdexcept>

namespace sparsecap::eval {
namespace {

struct DecodedCodePoint {
  char32_t value = 0;
  std::size_t length = 0;  // 0 means invalid
};

DecodedCodePoint decode_at(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  std::size_t length = 0;
  char32_t value = 0;
  if (lead < 0x80) return {lead, 1};
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
  } else {
    return {};
  }
  if (pos + length > text.size()) return {};
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char continuation = byte(pos + i);
    if ((continuation & 0xC0) != 0x80) return {};
    value = (value << 6) | (continuation & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  const bool overlong = (length == 3 && value < 0x800) || (length == 4 && value < 0x10000);
  const bool surrogate = value >= 0xD800 && value <= 0xDFFF;
  if (overlong || surrogate || value > 0x10FFFF) return {};
  return {value, length};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t lower_code_point(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 32;  // Latin-1 capitals
  if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x138 && cp != 0x149 && cp != 0x178) {
    // Latin Extended-A pairs capitals with the next code point; the ranges flip parity at U+0139.
    const bool odd_is_capital = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    const bool is_capital = odd_is_capital ? (cp % 2 == 1) : (cp % 2 == 0);
    return is_capital ? cp + 1 : cp;
  }
  if (cp == 0x178) return 0xFF;
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;  // Greek
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;                  // Cyrillic
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const DecodedCodePoint decoded = decode_at(text, pos);
    if (decoded.length == 0) return pos;
    pos += decoded.length;
  }
  return std::string_view::npos;
}

void require_valid_utf8(std::string_view text, std::string_view where) {
  const std::size_t bad = find_invalid_utf8(text);
  if (bad == std::string_view::npos) return;
  throw std::runtime_error("invalid UTF-8 at byte " + std::to_string(bad) + " of " +
                           std::string(where) + ": \"" + std::string(text.substr(0, 80)) + "\"");
}

std::string to_lower_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const DecodedCodePoint decoded = decode_at(text, pos);
    if (decoded.length == 0) {  // callers validate first; copy stray bytes rather than lose them
      out.push_back(text[pos]);
      ++pos;
      continue;
    }
    append_utf8(out, lower_code_point(decoded.value));
    pos += decoded.length;
  }
  return out;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string code_points;
  code_points.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const DecodedCodePoint decoded = decode_at(text, pos);
    code_points.push_back(decoded.length == 0 ? U'\uFFFD' : decoded.value);
    pos += decoded.length == 0 ? 1 : decoded.length;
  }
  return code_points;
}

std::string encode_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t cp : code_points) append_utf8(out, cp);
  return out;
}

}  // namespace sparsecap::eval
