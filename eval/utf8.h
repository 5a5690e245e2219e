#pragma once
// UTF-8 checks and the small amount of Unicode case folding the caption tokenizer needs.
#include <string>
#include <string_view>

namespace sparsecap::eval {

// Byte offset of the first invalid UTF-8 sequence in text, or std::string_view::npos if valid.
std::size_t find_invalid_utf8(std::string_view text);

// Throws std::runtime_error naming `where` and the byte offset if text is not valid UTF-8.
void require_valid_utf8(std::string_view text, std::string_view where);

// Lower-cases ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals; every other code
// point is copied unchanged. Input must be valid UTF-8.
std::string to_lower_utf8(std::string_view text);

// Code points of valid UTF-8 text (an invalid byte becomes U+FFFD), and back.
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view code_points);

}  // namespace sparsecap::eval
