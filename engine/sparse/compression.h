#pragma once
// Whole-buffer zstd and gzip (zlib) compression for sparse exports.
#include <string>
#include <string_view>

namespace sparsecap::sparse {

std::string zstd_compress(std::string_view bytes);
std::string gzip_compress(std::string_view bytes);
// `what` (the file name) appears in errors.
std::string zstd_decompress(std::string_view bytes, const std::string& what);
std::string gzip_decompress(std::string_view bytes, const std::string& what);

bool has_zstd_magic(std::string_view bytes);  // 28 B5 2F FD
bool has_gzip_magic(std::string_view bytes);  // 1F 8B

}  // namespace sparsecap::sparse
