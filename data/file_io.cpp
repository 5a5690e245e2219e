#include "data/file_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "data/data_error.h"

namespace sparsecap::data {

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw DataError(path.string(), "file does not exist");
  if (std::filesystem::is_directory(path, error))
    throw DataError(path.string(), "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw DataError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  const std::streamsize size = in.tellg();
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw DataError(path.string(), "read failed after " + std::to_string(in.gcount()) + " of " +
                                       std::to_string(size) + " bytes");
  return bytes;
}

void write_file_bytes(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw DataError(temporary.string(), std::string("cannot open for writing: ") + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw DataError(temporary.string(), "write failed");
  }
  std::filesystem::rename(temporary, path);
}

void write_file_bytes_in_place(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw DataError(path.string(), std::string("cannot open for writing: ") + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw DataError(path.string(), "write failed");
}

void write_file_text(const std::filesystem::path& path, std::string_view text) {
  write_file_bytes(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace sparsecap::data
