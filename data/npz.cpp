#include "data/npz.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "data/data_error.h"
#include "data/file_io.h"

namespace sparsecap::data {

namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kCentralDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalFileHeader = 0x04034b50;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflated = 8;
constexpr uint16_t kZip64ExtraField = 0x0001;
constexpr uint32_t kZip64Marker = 0xffffffffu;

// Bounds-checked little-endian reads: every offset in a zip file comes from the file itself, so a
// corrupt archive must produce an error, never a read past the buffer.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}
  uint64_t read(size_t offset, size_t width) const {
    if (offset + width > bytes_.size() || offset + width < offset)
      throw DataError(name_, "corrupt .npz (zip) archive: a record at byte " + std::to_string(offset) +
                                 " runs past the end of the " + std::to_string(bytes_.size()) + "-byte file");
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint64_t{bytes_[offset + i]} << (8 * i);
    return value;
  }
  uint16_t u16(size_t offset) const { return static_cast<uint16_t>(read(offset, 2)); }
  uint32_t u32(size_t offset) const { return static_cast<uint32_t>(read(offset, 4)); }
  uint64_t u64(size_t offset) const { return read(offset, 8); }
  std::span<const uint8_t> slice(uint64_t offset, uint64_t length) const {
    if (offset > bytes_.size() || length > bytes_.size() - offset)
      throw DataError(name_, "corrupt .npz (zip) archive: " + std::to_string(length) + " bytes at offset " +
                                 std::to_string(offset) + " run past the end of the " +
                                 std::to_string(bytes_.size()) + "-byte file");
    return bytes_.subspan(offset, length);
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
};

struct MemberEntry {
  std::string member_name;
  uint16_t method = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

struct CentralDirectory {
  uint64_t entry_count = 0;
  uint64_t offset = 0;
};

CentralDirectory find_central_directory(const ByteReader& reader, const std::string& name) {
  // The end record is 22 bytes plus a comment of at most 65535 bytes: search backwards for it.
  if (reader.size() < 22) throw DataError(name, "not a .npz (zip) archive: only " + std::to_string(reader.size()) + " bytes");
  const size_t lowest = reader.size() > 22 + 65535 ? reader.size() - 22 - 65535 : 0;
  for (size_t position = reader.size() - 22;; --position) {
    if (reader.u32(position) == kEndOfCentralDirectory) {
      CentralDirectory directory{reader.u16(position + 10), reader.u32(position + 16)};
      const bool needs_zip64 = directory.entry_count == 0xffff || directory.offset == kZip64Marker;
      if (needs_zip64 && position >= 20 && reader.u32(position - 20) == kZip64Locator) {
        const uint64_t record = reader.u64(position - 20 + 8);
        if (reader.u32(record) != kZip64EndOfCentralDirectory)
          throw DataError(name, "corrupt .npz (zip) archive: bad ZIP64 end-of-directory record");
        directory.entry_count = reader.u64(record + 32);
        directory.offset = reader.u64(record + 48);
      }
      return directory;
    }
    if (position == lowest) break;
  }
  throw DataError(name, "not a .npz (zip) archive: no end-of-central-directory record");
}

// ZIP64 extra field: the 64-bit values for whichever 32-bit fields hold 0xffffffff, in this order.
void apply_zip64_extra(const ByteReader& reader, size_t extra_start, size_t extra_length, MemberEntry& entry) {
  size_t position = extra_start;
  while (position + 4 <= extra_start + extra_length) {
    const uint16_t id = reader.u16(position), length = reader.u16(position + 2);
    size_t field = position + 4;
    if (id == kZip64ExtraField) {
      if (entry.uncompressed_size == kZip64Marker) { entry.uncompressed_size = reader.u64(field); field += 8; }
      if (entry.compressed_size == kZip64Marker) { entry.compressed_size = reader.u64(field); field += 8; }
      if (entry.local_header_offset == kZip64Marker) { entry.local_header_offset = reader.u64(field); }
    }
    position += 4 + length;
  }
}

std::vector<MemberEntry> read_member_entries(const ByteReader& reader, const std::string& name) {
  const CentralDirectory directory = find_central_directory(reader, name);
  std::vector<MemberEntry> entries;
  uint64_t position = directory.offset;
  for (uint64_t i = 0; i < directory.entry_count; ++i) {
    if (reader.u32(position) != kCentralDirectoryEntry)
      throw DataError(name, "corrupt .npz (zip) archive: central directory entry " + std::to_string(i) +
                                " has a bad signature");
    MemberEntry entry;
    entry.method = reader.u16(position + 10);
    entry.crc32 = reader.u32(position + 16);
    entry.compressed_size = reader.u32(position + 20);
    entry.uncompressed_size = reader.u32(position + 24);
    const uint16_t name_length = reader.u16(position + 28), extra_length = reader.u16(position + 30),
                   comment_length = reader.u16(position + 32);
    entry.local_header_offset = reader.u32(position + 42);
    const auto name_bytes = reader.slice(position + 46, name_length);
    entry.member_name.assign(name_bytes.begin(), name_bytes.end());
    apply_zip64_extra(reader, position + 46 + name_length, extra_length, entry);
    entries.push_back(std::move(entry));
    position += 46 + name_length + extra_length + comment_length;
  }
  return entries;
}

std::vector<uint8_t> inflate_raw(std::span<const uint8_t> compressed, uint64_t expected_size,
                                 const std::string& member_name) {
  // Deflate expands at most about 1032:1, so a larger claimed size is a corrupt or hostile header;
  // refused before the output is allocated (found by fuzz/fuzz_npz: 365 bytes asked for 4 GB).
  constexpr uint64_t kMaxDeflateRatio = 1032;
  if (expected_size > compressed.size() * kMaxDeflateRatio + 1024 || expected_size > UINT32_MAX)
    throw DataError(member_name, "corrupt .npz member: claims " + std::to_string(expected_size) +
                                     " bytes uncompressed from " + std::to_string(compressed.size()) +
                                     " compressed bytes");
  std::vector<uint8_t> output(expected_size);
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw DataError(member_name, "zlib inflateInit2 failed");
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = output.data();
  stream.avail_out = static_cast<uInt>(output.size());
  const int status = inflate(&stream, Z_FINISH);
  const uint64_t produced = stream.total_out;
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != expected_size)
    throw DataError(member_name, "cannot inflate deflated .npz member (zlib status " + std::to_string(status) +
                                     (message.empty() ? "" : ", " + message) + ", " + std::to_string(produced) +
                                     " of " + std::to_string(expected_size) + " bytes)");
  return output;
}

}  // namespace

NamedArrays parse_npz(std::span<const uint8_t> bytes, const std::string& name) {
  const ByteReader reader(bytes, name);
  NamedArrays arrays;
  for (const MemberEntry& entry : read_member_entries(reader, name)) {
    const std::string member_label = name + ":" + entry.member_name;
    if (reader.u32(entry.local_header_offset) != kLocalFileHeader)
      throw DataError(member_label, "corrupt .npz (zip) archive: bad local header signature");
    // Sizes come from the central directory: NumPy's local headers may hold ZIP64 placeholders.
    const uint64_t data_start = entry.local_header_offset + 30 + reader.u16(entry.local_header_offset + 26) +
                                reader.u16(entry.local_header_offset + 28);
    const auto stored = reader.slice(data_start, entry.compressed_size);
    std::vector<uint8_t> member;
    if (entry.method == kMethodStored) {
      if (entry.compressed_size != entry.uncompressed_size)
        throw DataError(member_label, "corrupt .npz member: stored with differing sizes");
      member.assign(stored.begin(), stored.end());
    } else if (entry.method == kMethodDeflated) {
      member = inflate_raw(stored, entry.uncompressed_size, member_label);
    } else {
      throw DataError(member_label, "unsupported zip compression method " + std::to_string(entry.method) +
                                        " (only stored and deflated members can be read)");
    }
    const uint32_t actual_crc = static_cast<uint32_t>(crc32(0L, member.data(), static_cast<uInt>(member.size())));
    if (actual_crc != entry.crc32)
      throw DataError(member_label, "CRC-32 mismatch (archive says " + std::to_string(entry.crc32) +
                                        ", data gives " + std::to_string(actual_crc) + "): the archive is corrupt");
    std::string array_name = entry.member_name;
    if (array_name.size() > 4 && array_name.ends_with(".npy")) array_name.resize(array_name.size() - 4);
    arrays[array_name] = parse_npy(member, member_label);
  }
  return arrays;
}

NamedArrays read_npz_file(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return parse_npz(bytes, path.string());
}

}  // namespace sparsecap::data
