#pragma once
// Hand-built .npy and .npz bytes, independent of the library's own writer, so the reader is tested
// against the format and not against itself.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sparsecap::data::testing_support {

// A .npy file with the given header dict and raw data, format version `major` (1 or 2).
inline std::vector<uint8_t> make_npy(const std::string& dict, const std::vector<uint8_t>& data, int major = 1) {
  std::string header = dict;
  const size_t preamble = major == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const auto length = static_cast<uint32_t>(header.size());
  bytes.push_back(static_cast<uint8_t>(length & 0xff));
  bytes.push_back(static_cast<uint8_t>((length >> 8) & 0xff));
  if (major != 1) {
    bytes.push_back(static_cast<uint8_t>((length >> 16) & 0xff));
    bytes.push_back(static_cast<uint8_t>(length >> 24));
  }
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

template <typename T>
std::vector<uint8_t> raw_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  // An empty vector's data() may be null, which memcpy must not be given even for 0 bytes.
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

inline std::vector<uint8_t> make_float32_npy(const std::string& shape_tuple, const std::vector<float>& values) {
  return make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple + ", }", raw_bytes(values));
}

struct ZipMember {
  std::string name;
  std::vector<uint8_t> data;
  bool deflate = false;
  // As NumPy writes with force_zip64: 0xffffffff sizes in the local header plus a ZIP64 extra field.
  bool zip64_local_header = false;
  // Sizes and offset as 0xffffffff in the central directory, the real values in a ZIP64 extra field.
  bool zip64_central_entry = false;
};

// A minimal zip archive as Python's zipfile writes it (local headers, central directory, end record).
inline std::vector<uint8_t> make_zip(const std::vector<ZipMember>& members) {
  std::vector<uint8_t> out, central;
  auto put16 = [](std::vector<uint8_t>& v, uint32_t x) {
    v.push_back(static_cast<uint8_t>(x));
    v.push_back(static_cast<uint8_t>(x >> 8));
  };
  auto put32 = [&](std::vector<uint8_t>& v, uint32_t x) {
    put16(v, x & 0xffff);
    put16(v, x >> 16);
  };
  for (const auto& member : members) {
    std::vector<uint8_t> stored = member.data;
    if (member.deflate) {
      z_stream stream{};
      deflateInit2(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      stored.resize(deflateBound(&stream, static_cast<uLong>(member.data.size())));
      stream.next_in = const_cast<Bytef*>(member.data.data());
      stream.avail_in = static_cast<uInt>(member.data.size());
      stream.next_out = stored.data();
      stream.avail_out = static_cast<uInt>(stored.size());
      deflate(&stream, Z_FINISH);
      stored.resize(stream.total_out);
      deflateEnd(&stream);
    }
    const auto crc = static_cast<uint32_t>(crc32(0L, member.data.data(), static_cast<uInt>(member.data.size())));
    const auto offset = static_cast<uint32_t>(out.size());
    const uint16_t method = member.deflate ? 8 : 0;
    auto put64 = [&](std::vector<uint8_t>& v, uint64_t x) {
      put32(v, static_cast<uint32_t>(x));
      put32(v, static_cast<uint32_t>(x >> 32));
    };
    std::vector<uint8_t> local_extra, central_extra;
    if (member.zip64_local_header) {
      put16(local_extra, 0x0001); put16(local_extra, 16);
      put64(local_extra, member.data.size()); put64(local_extra, stored.size());
    }
    if (member.zip64_central_entry) {
      put16(central_extra, 0x0001); put16(central_extra, 24);
      put64(central_extra, member.data.size()); put64(central_extra, stored.size()); put64(central_extra, offset);
    }
    const uint32_t local_stored = member.zip64_local_header ? 0xffffffffu : static_cast<uint32_t>(stored.size());
    const uint32_t local_size = member.zip64_local_header ? 0xffffffffu : static_cast<uint32_t>(member.data.size());
    put32(out, 0x04034b50); put16(out, 45); put16(out, 0); put16(out, method); put16(out, 0); put16(out, 0);
    put32(out, crc); put32(out, local_stored); put32(out, local_size);
    put16(out, static_cast<uint32_t>(member.name.size())); put16(out, static_cast<uint32_t>(local_extra.size()));
    out.insert(out.end(), member.name.begin(), member.name.end());
    out.insert(out.end(), local_extra.begin(), local_extra.end());
    out.insert(out.end(), stored.begin(), stored.end());
    const bool z64 = member.zip64_central_entry;
    put32(central, 0x02014b50); put16(central, 45); put16(central, 45); put16(central, 0); put16(central, method);
    put16(central, 0); put16(central, 0); put32(central, crc);
    put32(central, z64 ? 0xffffffffu : static_cast<uint32_t>(stored.size()));
    put32(central, z64 ? 0xffffffffu : static_cast<uint32_t>(member.data.size()));
    put16(central, static_cast<uint32_t>(member.name.size()));
    put16(central, static_cast<uint32_t>(central_extra.size())); put16(central, 0); put16(central, 0); put16(central, 0);
    put32(central, 0); put32(central, z64 ? 0xffffffffu : offset);
    central.insert(central.end(), member.name.begin(), member.name.end());
    central.insert(central.end(), central_extra.begin(), central_extra.end());
  }
  const auto central_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  put32(out, 0x06054b50); put16(out, 0); put16(out, 0);
  put16(out, static_cast<uint32_t>(members.size())); put16(out, static_cast<uint32_t>(members.size()));
  put32(out, static_cast<uint32_t>(central.size())); put32(out, central_offset); put16(out, 0);
  return out;
}

}  // namespace sparsecap::data::testing_support
