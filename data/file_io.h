#pragma once
// Whole-file reads and crash-safe writes, with errors that name the file.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace sparsecap::data {

// The file's bytes; DataError when it does not exist or cannot be read.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

// Writes to "<path>.tmp" and renames, so a reader never sees a half-written file.
void write_file_bytes(const std::filesystem::path& path, std::span<const uint8_t> bytes);
// Writes in place, without the temporary file: for bulk output (the synthetic set's forty thousand
// files) where a rerun is the recovery from a crash and the extra rename per file costs time.
void write_file_bytes_in_place(const std::filesystem::path& path, std::span<const uint8_t> bytes);
void write_file_text(const std::filesystem::path& path, std::string_view text);

}  // namespace sparsecap::data
