#include "engine/sparse/compression.h"

#include <zlib.h>
#include <zstd.h>

#include "engine/error.h"

namespace sparsecap::sparse {

namespace {

constexpr int kZstdLevel = 19;  // exports are written once and read many times: favour size
// Decompressed sizes above this are refused: a corrupt header must not make us allocate wildly.
constexpr unsigned long long kMaxDecompressedBytes = 1ull << 36;

}  // namespace

bool has_zstd_magic(std::string_view bytes) {
  return bytes.size() >= 4 && static_cast<unsigned char>(bytes[0]) == 0x28 &&
         static_cast<unsigned char>(bytes[1]) == 0xB5 && static_cast<unsigned char>(bytes[2]) == 0x2F &&
         static_cast<unsigned char>(bytes[3]) == 0xFD;
}

bool has_gzip_magic(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1F &&
         static_cast<unsigned char>(bytes[1]) == 0x8B;
}

std::string zstd_compress(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t size = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), kZstdLevel);
  if (ZSTD_isError(size)) throw Error(detail::concat("zstd compression failed: ", ZSTD_getErrorName(size)));
  out.resize(size);
  return out;
}

std::string zstd_decompress(std::string_view bytes, const std::string& what) {
  const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  SPARSECAP_CHECK(size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN, what,
                  ": not a zstd frame with a recorded content size");
  SPARSECAP_CHECK(size <= kMaxDecompressedBytes, what, ": zstd frame claims ", size, " bytes");
  std::string out(static_cast<size_t>(size), '\0');
  const size_t written = ZSTD_decompress(out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(written)) throw Error(detail::concat(what, ": zstd decompression failed: ", ZSTD_getErrorName(written)));
  SPARSECAP_CHECK(written == size, what, ": zstd produced ", written, " bytes, the frame declares ", size);
  return out;
}

std::string gzip_compress(std::string_view bytes) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper rather than raw zlib.
  SPARSECAP_CHECK(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
                  "gzip: deflateInit2 failed");
  std::string out(deflateBound(&stream, static_cast<uLong>(bytes.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  deflateEnd(&stream);
  SPARSECAP_CHECK(status == Z_STREAM_END, "gzip compression failed (zlib status ", status, ")");
  out.resize(stream.total_out);
  return out;
}

std::string gzip_decompress(std::string_view bytes, const std::string& what) {
  z_stream stream{};
  SPARSECAP_CHECK(inflateInit2(&stream, 15 + 16) == Z_OK, what, ": gzip: inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  char chunk[1 << 16];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) break;
    out.append(chunk, sizeof(chunk) - stream.avail_out);
    if (out.size() > kMaxDecompressedBytes) status = Z_MEM_ERROR;
  }
  inflateEnd(&stream);
  SPARSECAP_CHECK(status == Z_STREAM_END, what, ": gzip decompression failed (zlib status ", status,
                  status == Z_BUF_ERROR ? ": truncated" : "", ")");
  return out;
}

}  // namespace sparsecap::sparse
