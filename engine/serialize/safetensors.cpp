#include "engine/serialize/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/crash_point.h"
#include "engine/json_input.h"
#include "engine/serialize/atomic_file.h"

namespace sparsecap {

// The format is little-endian and sparsecap copies tensor bytes straight to and from memory.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses headers above 100 MB; so do we, before allocating a buffer
// for a length read from a possibly corrupt file.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr uint64_t kHeaderLengthBytes = 8;

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr std::array<DTypeName, 8> kDTypeNames{{{DType::Bool, "BOOL"},
                                                {DType::U8, "U8"},
                                                {DType::U16, "U16"},
                                                {DType::F16, "F16"},
                                                {DType::F32, "F32"},
                                                {DType::F64, "F64"},
                                                {DType::I32, "I32"},
                                                {DType::I64, "I64"}}};
// Valid in the format but without a sparsecap dtype: reported as "unsupported", not "unknown".
constexpr std::array<const char*, 9> kUnsupportedDTypeNames{"I8",  "I16",    "U32",     "U64",     "BF16",
                                                            "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4"};

std::string file_prefix(const std::filesystem::path& path) { return "safetensors file '" + path.string() + "'"; }

template <typename... Parts>
[[noreturn]] void fail_file(const std::filesystem::path& path, const Parts&... parts) {
  throw Error(detail::concat(file_prefix(path), ": ", parts...));
}

template <typename... Parts>
[[noreturn]] void fail_tensor(const std::filesystem::path& path, const std::string& tensor_name,
                              const Parts&... parts) {
  throw Error(detail::concat(file_prefix(path), ": tensor '", tensor_name, "': ", parts...));
}

std::string errno_text() { return std::strerror(errno); }

// ordered_json keeps the header's key order, so tensors that share an offset (zero-size ones)
// come back in the order they were written.
using HeaderJson = nlohmann::ordered_json;

// An open read-only file descriptor, closed on scope exit.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::filesystem::path& path) : path_(path) {
    descriptor_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor_ < 0) fail_file(path, "cannot open: ", errno_text());
    struct stat status {};
    const bool stat_ok = ::fstat(descriptor_, &status) == 0;
    const std::string stat_error = stat_ok ? "" : errno_text();
    if (!stat_ok || !S_ISREG(status.st_mode)) {
      ::close(descriptor_);  // the destructor does not run for a throwing constructor
      if (!stat_ok) fail_file(path, "cannot stat: ", stat_error);
      fail_file(path, "is not a regular file");
    }
    size_ = static_cast<uint64_t>(status.st_size);
  }
  ~ReadOnlyFile() { ::close(descriptor_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t size() const { return size_; }

  // Reads exactly `byte_count` bytes at `offset`; `what` names the part being read for errors.
  void read_exactly(void* destination, uint64_t byte_count, uint64_t offset, const std::string& what) const {
    char* cursor = static_cast<char*>(destination);
    while (byte_count > 0) {
      const ssize_t got = ::pread(descriptor_, cursor, byte_count, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        fail_file(path_, "reading ", what, " at byte ", offset, " failed: ", errno_text());
      }
      if (got == 0) fail_file(path_, "unexpected end of file reading ", what, " at byte ", offset);
      cursor += got;
      byte_count -= static_cast<uint64_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  }

 private:
  std::filesystem::path path_;
  int descriptor_ = -1;
  uint64_t size_ = 0;
};

// nlohmann keeps the last of duplicated object keys silently; a duplicated tensor name would then
// hide a tensor, so keys are checked per object while parsing.
HeaderJson parse_header_json(const std::filesystem::path& path, const std::string& header_text) {
  std::vector<std::set<std::string>> keys_per_open_object;
  auto reject_duplicate_keys = [&](int /*depth*/, HeaderJson::parse_event_t event, HeaderJson& parsed) {
    using Event = HeaderJson::parse_event_t;
    if (event == Event::object_start) {
      keys_per_open_object.emplace_back();
    } else if (event == Event::object_end) {
      keys_per_open_object.pop_back();
    } else if (event == Event::key) {
      const std::string key = parsed.get<std::string>();
      if (!keys_per_open_object.back().insert(key).second) {
        if (keys_per_open_object.size() == 1) fail_tensor(path, key, "name appears twice in the header");
        fail_file(path, "header JSON has the key '", key, "' twice in one object");
      }
    }
    return true;
  };
  check_json_depth(header_text, path.string() + " header");
  try {
    return HeaderJson::parse(header_text, reject_duplicate_keys);
  } catch (const nlohmann::json::exception& error) {
    fail_file(path, "header (", header_text.size(), " bytes) is not valid JSON: ", json_error_text(error));
  }
}

std::string json_type_text(const HeaderJson& value) {
  if (value.is_number_unsigned()) return "integer " + value.dump();
  if (value.is_number_integer()) return "negative integer " + value.dump();
  return std::string(value.type_name()) + " " + value.dump();
}

// Reads a non-negative JSON integer; `what` says what it is, for the message.
uint64_t read_unsigned(const std::filesystem::path& path, const std::string& tensor_name, const HeaderJson& value,
                       const std::string& what) {
  if (!value.is_number_unsigned()) fail_tensor(path, tensor_name, what, " must be a non-negative integer, got ",
                                               json_type_text(value));
  return value.get<uint64_t>();
}

SafetensorsTensorInfo parse_tensor_entry(const std::filesystem::path& path, const std::string& name,
                                         const HeaderJson& entry, uint64_t data_section_size) {
  if (name.empty()) fail_file(path, "header has a tensor with an empty name");
  if (!entry.is_object()) fail_tensor(path, name, "header entry must be an object, got ", json_type_text(entry));
  for (const auto& [key, unused] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail_tensor(path, name, "unexpected field '", key, "' (expected dtype, shape, data_offsets)");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) fail_tensor(path, name, "missing field '", field, "'");
  }

  SafetensorsTensorInfo info;
  info.name = name;

  const HeaderJson& dtype_value = entry["dtype"];
  if (!dtype_value.is_string()) fail_tensor(path, name, "dtype must be a string, got ", json_type_text(dtype_value));
  const std::string dtype_text = dtype_value.get<std::string>();
  const std::optional<DType> dtype = dtype_from_safetensors_name(dtype_text);
  if (!dtype) {
    const bool known_to_format = std::find_if(kUnsupportedDTypeNames.begin(), kUnsupportedDTypeNames.end(),
                                              [&](const char* known) { return dtype_text == known; }) !=
                                 kUnsupportedDTypeNames.end();
    fail_tensor(path, name, known_to_format ? "unsupported dtype '" : "unknown dtype '", dtype_text,
                "' (sparsecap reads BOOL, U8, U16, F16, F32, F64, I32, I64)");
  }
  info.dtype = *dtype;

  const HeaderJson& shape_value = entry["shape"];
  if (!shape_value.is_array()) fail_tensor(path, name, "shape must be an array, got ", json_type_text(shape_value));
  // Element count with overflow checks: a corrupt shape must not wrap around to a small size
  // that happens to match the byte range.
  uint64_t element_count = 1;
  bool overflowed = false;
  for (const HeaderJson& extent_value : shape_value) {
    const uint64_t extent = read_unsigned(path, name, extent_value, "shape " + shape_value.dump() + " entry");
    if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_tensor(path, name, "shape ", shape_value.dump(), " has a dimension larger than 2^63-1");
    info.shape.push_back(static_cast<int64_t>(extent));
    overflowed = overflowed || __builtin_mul_overflow(element_count, extent, &element_count);
  }
  uint64_t expected_bytes = 0;
  overflowed = overflowed || __builtin_mul_overflow(element_count, dtype_size(info.dtype), &expected_bytes);
  if (overflowed) fail_tensor(path, name, "shape ", shape_value.dump(), " of ", dtype_text, " overflows 64-bit sizes");

  const HeaderJson& offsets_value = entry["data_offsets"];
  if (!offsets_value.is_array() || offsets_value.size() != 2)
    fail_tensor(path, name, "data_offsets must be an array [begin, end], got ", json_type_text(offsets_value));
  info.data_begin = read_unsigned(path, name, offsets_value[0], "data_offsets begin");
  info.data_end = read_unsigned(path, name, offsets_value[1], "data_offsets end");
  if (info.data_begin > info.data_end)
    fail_tensor(path, name, "data_offsets ", offsets_value.dump(), " have begin > end");
  if (info.byte_count() != expected_bytes)
    fail_tensor(path, name, "shape ", shape_str(info.shape), " of ", dtype_text, " needs ", expected_bytes,
                " bytes but data_offsets ", offsets_value.dump(), " span ", info.byte_count());
  if (info.data_end > data_section_size)
    fail_tensor(path, name, "data_offsets ", offsets_value.dump(), " end past the data section, which holds ",
                data_section_size, " bytes (file truncated?)");
  return info;
}

// The spec requires the byte ranges to tile the data section exactly: no overlap (two tensors
// aliasing bytes), no hole, nothing after the last tensor.
void check_ranges_tile_data_section(const std::filesystem::path& path,
                                    const std::vector<SafetensorsTensorInfo>& tensors_in_data_order,
                                    uint64_t data_section_size) {
  uint64_t covered_until = 0;
  const SafetensorsTensorInfo* previous = nullptr;
  for (const SafetensorsTensorInfo& info : tensors_in_data_order) {
    if (info.data_begin < covered_until)
      fail_tensor(path, info.name, "data_offsets [", info.data_begin, ", ", info.data_end,
                  "] overlap tensor '", previous->name, "' at [", previous->data_begin, ", ", previous->data_end, "]");
    if (info.data_begin > covered_until) {
      if (previous == nullptr)
        fail_tensor(path, info.name, "data_offsets [", info.data_begin, ", ", info.data_end,
                    "] leave a gap: the data section starts at 0 and no tensor covers [0, ", info.data_begin, ")");
      fail_tensor(path, info.name, "data_offsets [", info.data_begin, ", ", info.data_end,
                  "] leave a gap of ", info.data_begin - covered_until, " bytes after tensor '", previous->name,
                  "' which ends at ", covered_until);
    }
    covered_until = info.data_end;
    previous = &info;
  }
  if (covered_until != data_section_size)
    fail_file(path, "the data section holds ", data_section_size, " bytes but the tensors cover only ",
              covered_until, " (trailing bytes after ",
              previous == nullptr ? std::string("the header") : "tensor '" + previous->name + "'", ")");
}

SafetensorsHeader read_header(const std::filesystem::path& path, const ReadOnlyFile& file) {
  SafetensorsHeader header;
  header.file_size = file.size();
  if (header.file_size < kHeaderLengthBytes)
    fail_file(path, "is ", header.file_size, " bytes, shorter than the 8-byte header length");
  std::array<unsigned char, kHeaderLengthBytes> length_bytes{};
  file.read_exactly(length_bytes.data(), kHeaderLengthBytes, 0, "the header length");
  for (size_t i = 0; i < kHeaderLengthBytes; ++i) header.header_size |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (header.header_size > header.file_size - kHeaderLengthBytes)
    fail_file(path, "header length ", header.header_size, " runs past the end of the file (", header.file_size,
              " bytes, so at most ", header.file_size - kHeaderLengthBytes, " header bytes)");
  if (header.header_size > kMaxHeaderSize)
    fail_file(path, "header length ", header.header_size, " exceeds the ", kMaxHeaderSize, "-byte limit");

  std::string header_text(header.header_size, '\0');
  file.read_exactly(header_text.data(), header.header_size, kHeaderLengthBytes, "the header");
  const HeaderJson header_json = parse_header_json(path, header_text);
  if (!header_json.is_object()) fail_file(path, "header must be a JSON object, got ", header_json.type_name());

  for (const auto& [key, value] : header_json.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) fail_file(path, "__metadata__ must be an object, got ", json_type_text(value));
      for (const auto& [metadata_key, metadata_value] : value.items()) {
        if (!metadata_value.is_string())
          fail_file(path, "__metadata__ key '", metadata_key, "' must map to a string, got ",
                    json_type_text(metadata_value));
        header.metadata.emplace(metadata_key, metadata_value.get<std::string>());
      }
      continue;
    }
    header.tensors.push_back(parse_tensor_entry(path, key, value, header.data_section_size()));
  }
  // Stable: ties (zero-size tensors at one offset) keep the header's order.
  std::stable_sort(header.tensors.begin(), header.tensors.end(),
                   [](const SafetensorsTensorInfo& a, const SafetensorsTensorInfo& b) {
                     return std::tie(a.data_begin, a.data_end) < std::tie(b.data_begin, b.data_end);
                   });
  check_ranges_tile_data_section(path, header.tensors, header.data_section_size());
  return header;
}

// C++ bool is only defined for bytes 0 and 1; any other byte is corruption, not "true".
void check_bool_bytes(const std::filesystem::path& path, const std::string& name, const Tensor& tensor) {
  const auto* bytes = static_cast<const unsigned char*>(tensor.raw_data());
  for (size_t i = 0; i < tensor.nbytes(); ++i) {
    if (bytes[i] > 1) fail_tensor(path, name, "BOOL element ", i, " holds byte ", static_cast<int>(bytes[i]),
                                  " (only 0 and 1 are valid)");
  }
}

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) {
  for (const DTypeName& entry : kDTypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  throw Error(detail::concat("no safetensors name for dtype ", dtype_name(dtype)));
}

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const DTypeName& entry : kDTypeNames) {
    if (name == entry.name) return entry.dtype;
  }
  return std::nullopt;
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata) {
  // Everything that can be rejected is rejected before the temp file exists.
  nlohmann::ordered_json header_json = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json metadata_json = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) metadata_json[key] = value;
    header_json[kMetadataKey] = std::move(metadata_json);
  }
  uint64_t data_offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) fail_file(path, "cannot write a tensor with an empty name");
    if (name == kMetadataKey) fail_file(path, "cannot write a tensor named '", kMetadataKey, "' (reserved)");
    if (header_json.contains(name)) fail_tensor(path, name, "name given twice");
    if (!tensor.defined()) fail_tensor(path, name, "cannot write an undefined tensor");
    const uint64_t byte_count = tensor.nbytes();
    header_json[name] = {{"dtype", safetensors_dtype_name(tensor.dtype())},
                         {"shape", tensor.shape()},
                         {"data_offsets", {data_offset, data_offset + byte_count}}};
    data_offset += byte_count;
  }
  std::string header_text;
  try {
    header_text = header_json.dump();
  } catch (const nlohmann::json::exception& error) {  // a name or metadata string that is not UTF-8
    fail_file(path, "cannot encode the header: ", error.what());
  }
  // Padding to a multiple of 8 keeps every tensor's data 8-byte aligned in the file (for mmap).
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::array<unsigned char, kHeaderLengthBytes> length_bytes{};
  for (size_t i = 0; i < kHeaderLengthBytes; ++i)
    length_bytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(header_text.size()) >> (8 * i));

  AtomicFileWriter writer(path);
  writer.write(length_bytes.data(), length_bytes.size());
  writer.write(header_text);
  crash_point("checkpoint-write");  // tests: killed with the temp file half written
  for (const auto& [name, tensor] : tensors) {
    if (tensor.nbytes() == 0) continue;
    // detach(): copying to the host for a file must not add a node to an autograd graph.
    const Tensor host = tensor.device().is_cpu() ? tensor : tensor.detach().to(Device::cpu());
    writer.write(host.raw_data(), host.nbytes());
  }
  writer.commit();
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  const ReadOnlyFile file(path);
  return read_header(path, file);
}

SafetensorsContents read_safetensors(const std::filesystem::path& path) {
  const ReadOnlyFile file(path);
  const SafetensorsHeader header = read_header(path, file);
  SafetensorsContents contents;
  contents.metadata = header.metadata;
  contents.tensors.reserve(header.tensors.size());
  for (const SafetensorsTensorInfo& info : header.tensors) {
    Tensor tensor = Tensor::empty(info.shape, info.dtype, Device::cpu());
    if (info.byte_count() > 0)
      file.read_exactly(tensor.raw_data(), info.byte_count(), header.data_section_offset() + info.data_begin,
                        "tensor '" + info.name + "'");
    if (info.dtype == DType::Bool) check_bool_bytes(path, info.name, tensor);
    contents.tensors.emplace_back(info.name, std::move(tensor));
  }
  return contents;
}

}  // namespace sparsecap
