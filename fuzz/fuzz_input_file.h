#pragma once
// The readers that take a path get the fuzzer's bytes through a file of this process's own.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace sparsecap::fuzz {

inline std::filesystem::path write_input_file(const uint8_t* data, size_t size, const std::string& extension) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sparsecap_fuzz_" + std::to_string(::getpid()) + extension);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace sparsecap::fuzz
