#pragma once
// Reading JSON from disk with limits, so that a hostile or broken file becomes one error line that
// names the file instead of a crash: a size limit before anything is read into memory, a nesting
// limit checked on the raw bytes before nlohmann builds (and later recursively destroys or dumps)
// the tree, and nlohmann's exceptions translated into "<file>: <what is wrong> at byte N".
// Used for run configs, Karpathy splits, COCO results and references, vocabularies, CIDEr
// document frequencies, scene files and safetensors headers.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace sparsecap {

// No JSON file sparsecap reads comes close: the Karpathy split of COCO is about 140 MB.
inline constexpr std::uintmax_t kMaxJsonFileBytes = std::uintmax_t{1} << 30;
// Configs nest 3 levels, Karpathy files 4; 64 leaves room and keeps recursion shallow.
inline constexpr int kMaxJsonDepth = 64;

// The first `limit` characters of a value's JSON text, for error messages about values that may be
// arbitrarily large.
inline std::string json_excerpt(const nlohmann::json& value, std::size_t limit = 120) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > limit) text = text.substr(0, limit) + "... (" + std::to_string(text.size()) + " characters)";
  return text;
}

// nlohmann's what() without its "[json.exception.parse_error.101] " prefix.
inline std::string json_error_text(const nlohmann::json::exception& error) {
  std::string text = error.what();
  if (text.rfind("[json.exception.", 0) == 0) {
    const std::size_t close = text.find("] ");
    if (close != std::string::npos) text = text.substr(close + 2);
  }
  return text;
}

// Throws when arrays and objects nest deeper than `max_depth` (strings are skipped, escapes too).
inline void check_json_depth(std::string_view text, const std::string& source, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw Error(detail::concat(source, ": JSON nests deeper than ", max_depth, " levels at byte ", i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

// Reads a whole text file, refusing one larger than `max_bytes`.
inline std::string read_text_file(const std::filesystem::path& path, std::uintmax_t max_bytes = kMaxJsonFileBytes) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) throw Error(path.string() + ": file does not exist or cannot be read");
  if (std::filesystem::is_directory(status)) throw Error(path.string() + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open");
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > max_bytes)
    throw Error(detail::concat(path.string(), ": ", size, " bytes, more than the limit of ", max_bytes, " for this file"));
  std::string text;
  if (!error) text.reserve(static_cast<std::size_t>(size));
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes)
      throw Error(detail::concat(path.string(), ": more than the limit of ", max_bytes, " bytes for this file"));
  }
  if (in.bad()) throw Error(path.string() + ": read failed after " + std::to_string(text.size()) + " bytes");
  return text;
}

// Parses JSON text with the depth limit; errors read "<source>: not valid JSON: <where and why>".
template <typename Json = nlohmann::json>
Json parse_json_text(std::string_view text, const std::string& source,
                     typename Json::parser_callback_t callback = nullptr) {
  check_json_depth(text, source);
  try {
    return Json::parse(text, std::move(callback));
  } catch (const Error&) {
    throw;
  } catch (const nlohmann::json::exception& error) {
    throw Error(source + ": not valid JSON (or not UTF-8): " + json_error_text(error));
  }
}

inline nlohmann::json read_json_file(const std::filesystem::path& path, std::uintmax_t max_bytes = kMaxJsonFileBytes) {
  return parse_json_text(read_text_file(path, max_bytes), path.string());
}

}  // namespace sparsecap
