#include "data/npy.h"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>

#include "data/data_error.h"
#include "data/file_io.h"

namespace sparsecap::data {

namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kPreambleSize = 8;  // magic + two version bytes

static_assert(std::endian::native == std::endian::little,
              "the .npy reader copies little-endian data directly; a big-endian host needs byte swaps");

// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (36, 2048), }
// This parser accepts exactly the values NumPy writes there: strings, True/False, tuples of ints.
class HeaderDictParser {
 public:
  HeaderDictParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  struct Value {
    std::optional<std::string> string;
    std::optional<bool> boolean;
    std::optional<std::vector<int64_t>> tuple;
  };

  std::map<std::string, Value> parse() {
    std::map<std::string, Value> entries;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      entries[key] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++position_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    return entries;
  }

 private:
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_space() {
    while (position_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[position_]))) ++position_;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(name_, "bad .npy header (" + what + " at character " + std::to_string(position_) +
                               "): " + std::string(text_));
  }
  void expect(char wanted) {
    if (peek() != wanted) fail(std::string("expected '") + wanted + "'");
    ++position_;
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    ++position_;
    const size_t end = text_.find(quote, position_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(position_, end - position_));
    position_ = end + 1;
    return value;
  }
  int64_t parse_integer() {
    const size_t start = position_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++position_;
    if (start == position_) fail("expected a non-negative integer");
    if (position_ - start > 15) fail("dimension too large");
    const int64_t value = std::stoll(std::string(text_.substr(start, position_ - start)));
    if (peek() == 'L') ++position_;  // Python 2 longs
    return value;
  }
  Value parse_value() {
    Value value;
    const char first = peek();
    if (first == '\'' || first == '"') {
      value.string = parse_string();
    } else if (text_.substr(position_, 4) == "True") {
      value.boolean = true;
      position_ += 4;
    } else if (text_.substr(position_, 5) == "False") {
      value.boolean = false;
      position_ += 5;
    } else if (first == '(') {
      ++position_;
      std::vector<int64_t> tuple;
      while (true) {
        skip_space();
        if (peek() == ')') break;
        tuple.push_back(parse_integer());
        skip_space();
        if (peek() == ',') ++position_;
        else if (peek() != ')') fail("expected ',' or ')' in shape");
      }
      ++position_;
      value.tuple = std::move(tuple);
    } else {
      fail("unsupported value");
    }
    return value;
  }

  std::string_view text_;
  const std::string& name_;
  size_t position_ = 0;
};

NpyElementType element_type_from_descr(const std::string& descr, const std::string& name) {
  if (descr == "<f4") return NpyElementType::Float32;
  if (descr == "<f2") return NpyElementType::Float16;
  if (descr == "<f8") return NpyElementType::Float64;
  if (descr.size() == 3 && descr[0] == '>' && descr[1] == 'f')
    throw DataError(name, "big-endian dtype '" + descr +
                              "' is not supported; save with arr.astype('<f" + descr.substr(2) + "')");
  throw DataError(name, "dtype '" + descr +
                            "' is not supported; only little-endian float16/float32/float64 ('<f2', '<f4', "
                            "'<f8') arrays can be read");
}

uint32_t read_u16_le(const uint8_t* bytes) { return bytes[0] | (uint32_t{bytes[1]} << 8); }
uint32_t read_u32_le(const uint8_t* bytes) {
  return bytes[0] | (uint32_t{bytes[1]} << 8) | (uint32_t{bytes[2]} << 16) | (uint32_t{bytes[3]} << 24);
}

}  // namespace

const char* npy_element_type_name(NpyElementType type) {
  switch (type) {
    case NpyElementType::Float16: return "float16";
    case NpyElementType::Float32: return "float32";
    case NpyElementType::Float64: return "float64";
  }
  return "unknown";
}

size_t npy_element_size(NpyElementType type) {
  switch (type) {
    case NpyElementType::Float16: return 2;
    case NpyElementType::Float32: return 4;
    case NpyElementType::Float64: return 8;
  }
  return 0;
}

int64_t NpyHeader::element_count() const {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

NpyHeader parse_npy_header(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kPreambleSize || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    throw DataError(name, "not a .npy file (missing the \\x93NUMPY magic; file has " +
                              std::to_string(bytes.size()) + " bytes)");
  const int major_version = bytes[6];
  size_t header_length = 0, header_start = 0;
  if (major_version == 1) {
    if (bytes.size() < 10) throw DataError(name, "truncated .npy preamble");
    header_length = read_u16_le(bytes.data() + 8);
    header_start = 10;
  } else if (major_version == 2 || major_version == 3) {
    if (bytes.size() < 12) throw DataError(name, "truncated .npy preamble");
    header_length = read_u32_le(bytes.data() + 8);
    header_start = 12;
  } else {
    throw DataError(name, "unsupported .npy format version " + std::to_string(major_version) + "." +
                              std::to_string(bytes[7]));
  }
  if (header_start + header_length > bytes.size())
    throw DataError(name, "truncated .npy header: needs " + std::to_string(header_length) +
                              " bytes, file has " + std::to_string(bytes.size() - header_start));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_start), header_length);
  const auto entries = HeaderDictParser(text, name).parse();

  const auto descr = entries.find("descr");
  const auto fortran_order = entries.find("fortran_order");
  const auto shape = entries.find("shape");
  if (descr == entries.end() || !descr->second.string)
    throw DataError(name, "bad .npy header: no string 'descr': " + std::string(text));
  if (fortran_order == entries.end() || !fortran_order->second.boolean)
    throw DataError(name, "bad .npy header: no boolean 'fortran_order': " + std::string(text));
  if (shape == entries.end() || !shape->second.tuple)
    throw DataError(name, "bad .npy header: no tuple 'shape': " + std::string(text));

  NpyHeader header;
  header.element_type = element_type_from_descr(*descr->second.string, name);
  header.shape = *shape->second.tuple;
  if (*fortran_order->second.boolean && header.shape.size() > 1)
    throw DataError(name, "Fortran-order (column-major) arrays are not supported; save with "
                          "np.ascontiguousarray(arr)");
  header.data_offset = header_start + header_length;
  return header;
}

FloatArray parse_npy(std::span<const uint8_t> bytes, const std::string& name) {
  const NpyHeader header = parse_npy_header(bytes, name);
  const size_t element_size = npy_element_size(header.element_type);
  const size_t available = bytes.size() - header.data_offset;
  // Multiply the dimensions with an overflow check: a corrupt header may claim 10^15 x 10^15.
  size_t count = 1;
  for (const int64_t dim : header.shape)
    if (__builtin_mul_overflow(count, static_cast<size_t>(dim), &count) || count > SIZE_MAX / element_size)
      throw DataError(name, "corrupt .npy header: shape " + shape_to_string(header.shape) + " is impossibly large");
  const size_t expected = count * element_size;
  if (available < expected)
    throw DataError(name, "truncated .npy body: shape " + shape_to_string(header.shape) + " " +
                              npy_element_type_name(header.element_type) + " needs " + std::to_string(expected) +
                              " bytes of data, file has " + std::to_string(available));
  if (available > expected)
    throw DataError(name, "corrupt .npy: " + std::to_string(available - expected) +
                              " bytes beyond the data that shape " + shape_to_string(header.shape) + " " +
                              npy_element_type_name(header.element_type) + " describes");

  FloatArray array;
  array.shape = header.shape;
  array.stored_as = header.element_type;
  array.values.resize(count);
  const uint8_t* data = bytes.data() + header.data_offset;
  switch (header.element_type) {
    case NpyElementType::Float32:
      // A shape with a zero dimension holds no data; memcpy must not see the empty vector's null pointer.
      if (expected > 0) std::memcpy(array.values.data(), data, expected);
      break;
    case NpyElementType::Float16:
      for (size_t i = 0; i < count; ++i)
        array.values[i] = half_to_float(static_cast<uint16_t>(read_u16_le(data + 2 * i)));
      break;
    case NpyElementType::Float64:
      for (size_t i = 0; i < count; ++i) {
        double value;
        std::memcpy(&value, data + 8 * i, 8);
        array.values[i] = static_cast<float>(value);
      }
      break;
  }
  return array;
}

FloatArray read_npy_file(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return parse_npy(bytes, path.string());
}

NpyHeader read_npy_file_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string(), "file does not exist or cannot be read");
  // NumPy pads headers to 64 bytes and rarely needs more than a few hundred; read generously.
  std::vector<uint8_t> bytes(4096);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return parse_npy_header(bytes, path.string());
}

std::vector<uint8_t> encode_npy_float32(const std::vector<int64_t>& shape, std::span<const float> values) {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  if (count != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("encode_npy_float32: shape " + shape_to_string(shape) + " holds " +
                                std::to_string(count) + " values, got " + std::to_string(values.size()));
  std::string dimensions;
  for (size_t i = 0; i < shape.size(); ++i) dimensions += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dimensions += ",";  // a one-element tuple, as Python prints it
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dimensions;
  dict += "), }";
  // Pad with spaces and a final newline so the data starts at a multiple of 64 bytes (NumPy's rule).
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::vector<uint8_t> bytes(kMagic, kMagic + sizeof(kMagic));
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<uint8_t>(dict.size() & 0xff));
  bytes.push_back(static_cast<uint8_t>(dict.size() >> 8));
  bytes.insert(bytes.end(), dict.begin(), dict.end());
  const auto* raw = reinterpret_cast<const uint8_t*>(values.data());
  bytes.insert(bytes.end(), raw, raw + values.size() * sizeof(float));
  return bytes;
}

void write_npy_float32(const std::filesystem::path& path, const std::vector<int64_t>& shape,
                       std::span<const float> values) {
  write_file_bytes(path, encode_npy_float32(shape, values));
}

void require_all_finite(const FloatArray& array, const std::string& name) {
  for (size_t i = 0; i < array.values.size(); ++i)
    if (!std::isfinite(array.values[i]))
      throw DataError(name, "non-finite value " + std::to_string(array.values[i]) + " at flat index " +
                                std::to_string(i) + " of shape " + shape_to_string(array.shape));
}

float half_to_float(uint16_t half) {
  const uint32_t sign = (half >> 15) & 1u, exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
  float magnitude;
  if (exponent == 0) magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero and subnormals
  else if (exponent == 31) magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN()
                                                : std::numeric_limits<float>::infinity();
  else magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  return sign ? -magnitude : magnitude;
}

}  // namespace sparsecap::data
