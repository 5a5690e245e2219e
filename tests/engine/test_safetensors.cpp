// safetensors read/write, atomic file replacement and the checkpoint layer. Corrupt files are
// written byte by byte so each test states exactly which rule of the format it breaks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/rng.h"
#include "engine/serialize/atomic_file.h"
#include "engine/serialize/checkpoint.h"
#include "engine/serialize/safetensors.h"
#include "engine/tensor.h"

namespace sparsecap {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::temp_directory_path() /
                 ("sparsecap_test_safetensors_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  fs::path file(const std::string& name) const { return directory_ / name; }

  // Every entry of the test directory, to prove no temp file is left behind.
  std::vector<std::string> directory_entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path directory_;
};

std::string read_file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string little_endian_u64(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

// A file with the given header text and data bytes; the length prefix is the header's size.
std::string safetensors_file_bytes(const std::string& header, const std::string& data) {
  return little_endian_u64(header.size()) + header + data;
}

template <typename T>
Tensor tensor_from_values(const std::vector<T>& values, const Shape& shape, DType dtype) {
  EXPECT_EQ(values.size() * sizeof(T), static_cast<size_t>(numel_of(shape)) * dtype_size(dtype));
  return from_host(values.data(), shape, dtype);
}

template <typename T>
T bits_as(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

std::string tensor_bytes(const Tensor& tensor) {
  std::string bytes(tensor.nbytes(), '\0');
  tensor.copy_to_host(bytes.data(), bytes.size());
  return bytes;
}

// The message of the sparsecap::Error that `action` throws, or a test failure when it throws none.
template <typename Action>
std::string error_message_of(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a sparsecap::Error";
  return "";
}

// Reading `path` (full read and header-only read) throws an error that names the file and
// contains every one of `expected_parts`.
void expect_read_error(const fs::path& path, std::initializer_list<std::string> expected_parts) {
  for (bool header_only : {false, true}) {
    const std::string message = error_message_of([&] {
      if (header_only) {
        (void)read_safetensors_header(path);
      } else {
        (void)read_safetensors(path);
      }
    });
    EXPECT_NE(message.find(path.string()), std::string::npos) << "message does not name the file: " << message;
    for (const std::string& part : expected_parts)
      EXPECT_NE(message.find(part), std::string::npos) << "message lacks '" << part << "': " << message;
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(SafetensorsTest, RoundTripsEveryDTypeBitExact) {
  // Special values ride along: NaN payloads, signed zero, infinities, subnormals, extremes.
  const std::vector<uint16_t> half_bits{0x0000, 0x8000, 0x3C00, 0x7C00, 0xFC00, 0x7E01, 0x0001, 0x7BFF};
  const std::vector<float> floats{0.0f, -0.0f, 1.5f, bits_as<float>(0x7FC00001u), bits_as<float>(0x00000001u),
                                  -3.4028235e38f};
  const std::vector<double> doubles{bits_as<double>(0x7FF8000000000123ull), -0.0, 1e-310, 3.141592653589793};
  const std::vector<int32_t> int32s{INT32_MIN, -1, 0, INT32_MAX};
  const std::vector<int64_t> int64s{INT64_MIN, -1, 0, INT64_MAX, 1234567890123456789LL, 7};
  std::vector<uint8_t> uint8s(256);
  for (size_t i = 0; i < uint8s.size(); ++i) uint8s[i] = static_cast<uint8_t>(255 - i);
  const std::vector<uint16_t> uint16s{0, 1, 255, 256, 65534, 65535};
  const std::vector<uint8_t> bools{1, 0, 0, 1, 1};

  const NamedTensors written{
      {"half", tensor_from_values(half_bits, {2, 4}, DType::F16)},
      {"single", tensor_from_values(floats, {3, 2}, DType::F32)},
      {"double", tensor_from_values(doubles, {4}, DType::F64)},
      {"int32", tensor_from_values(int32s, {2, 1, 2}, DType::I32)},
      {"int64", tensor_from_values(int64s, {6}, DType::I64)},
      {"uint8", tensor_from_values(uint8s, {16, 16}, DType::U8)},
      {"uint16", tensor_from_values(uint16s, {3, 2}, DType::U16)},
      {"mask", tensor_from_values(bools, {5}, DType::Bool)},
  };
  const SafetensorsMetadata metadata{{"format", "pt"}, {"quote\"and\\slash", "line\nbreak"}, {"utf8", "é ü 日本"}};
  const fs::path path = file("all_dtypes.safetensors");
  write_safetensors(path, written, metadata);

  const SafetensorsContents read = read_safetensors(path);
  EXPECT_EQ(read.metadata, metadata);
  ASSERT_EQ(read.tensors.size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    SCOPED_TRACE(written[i].first);
    EXPECT_EQ(read.tensors[i].first, written[i].first);
    EXPECT_EQ(read.tensors[i].second.dtype(), written[i].second.dtype());
    EXPECT_EQ(read.tensors[i].second.shape(), written[i].second.shape());
    EXPECT_TRUE(read.tensors[i].second.device().is_cpu());
    EXPECT_EQ(tensor_bytes(read.tensors[i].second), tensor_bytes(written[i].second));
  }
  // Typed values, not just bytes, for a few of them.
  EXPECT_EQ(read.tensors[4].second.to_vector<int64_t>(), int64s);
  EXPECT_EQ(read.tensors[6].second.to_vector<uint16_t>(), uint16s);
  EXPECT_EQ(read.tensors[2].second.to_vector<double>()[3], 3.141592653589793);
}

TEST_F(SafetensorsTest, RoundTripsScalarsAndZeroSizeShapesInTheOrderGiven) {
  const float scalar_value = 2.5f;
  const int64_t last_value = -9;
  const NamedTensors written{
      {"zeta.scalar", from_host(&scalar_value, {}, DType::F32)},
      {"empty_vector", Tensor::empty({0}, DType::F64)},
      {"alpha.empty_3d", Tensor::empty({3, 0, 2}, DType::U16)},
      {"middle.empty_again", Tensor::empty({0, 5}, DType::Bool)},
      {"last", from_host(&last_value, {1, 1}, DType::I64)},
  };
  const fs::path path = file("shapes.safetensors");
  write_safetensors(path, written);

  const SafetensorsContents read = read_safetensors(path);
  EXPECT_TRUE(read.metadata.empty());
  ASSERT_EQ(read.tensors.size(), 5u);
  const std::vector<std::string> expected_names{"zeta.scalar", "empty_vector", "alpha.empty_3d", "middle.empty_again",
                                                "last"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(read.tensors[i].first, expected_names[i]);
    EXPECT_EQ(read.tensors[i].second.shape(), written[i].second.shape());
    EXPECT_EQ(read.tensors[i].second.dtype(), written[i].second.dtype());
  }
  EXPECT_EQ(read.tensors[0].second.dim(), 0);
  EXPECT_EQ(read.tensors[0].second.item(), 2.5);
  EXPECT_EQ(read.tensors[2].second.numel(), 0);
  EXPECT_EQ(read.tensors[4].second.to_vector<int64_t>(), std::vector<int64_t>{-9});
}

TEST_F(SafetensorsTest, EmptyFileListRoundTrips) {
  const fs::path path = file("nothing.safetensors");
  write_safetensors(path, {}, {{"step", "0"}});
  const SafetensorsContents read = read_safetensors(path);
  EXPECT_TRUE(read.tensors.empty());
  EXPECT_EQ(read.metadata.at("step"), "0");
}

TEST_F(SafetensorsTest, WritesTheExactByteLayoutOfTheFormat) {
  const std::vector<float> values{1.0f, -2.0f};
  const fs::path path = file("layout.safetensors");
  write_safetensors(path, {{"w", tensor_from_values(values, {2}, DType::F32)}}, {{"k", "v"}});

  // Compact JSON, metadata first, padded with spaces to a multiple of 8 bytes.
  std::string header = R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(header.size(), 79u);
  header.append(1, ' ');
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);  // 1.0f, -2.0f little-endian
  EXPECT_EQ(read_file_bytes(path), little_endian_u64(80) + header + data);
}

TEST_F(SafetensorsTest, HeaderOnlyReadDescribesTheFile) {
  const std::vector<int32_t> values{1, 2, 3, 4, 5, 6};
  const std::vector<uint16_t> indices{7, 8, 9};
  const fs::path path = file("header.safetensors");
  write_safetensors(path,
                    {{"a", tensor_from_values(values, {2, 3}, DType::I32)},
                     {"b", tensor_from_values(indices, {3}, DType::U16)}},
                    {{"note", "x"}});
  const SafetensorsHeader header = read_safetensors_header(path);
  EXPECT_EQ(header.header_size % 8, 0u);
  EXPECT_EQ(header.file_size, fs::file_size(path));
  EXPECT_EQ(header.data_section_size(), 24u + 6u);
  EXPECT_EQ(header.metadata.at("note"), "x");
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[0].name, "a");
  EXPECT_EQ(header.tensors[0].dtype, DType::I32);
  EXPECT_EQ(header.tensors[0].shape, (Shape{2, 3}));
  EXPECT_EQ(header.tensors[0].data_begin, 0u);
  EXPECT_EQ(header.tensors[0].data_end, 24u);
  EXPECT_EQ(header.tensors[1].name, "b");
  EXPECT_EQ(header.tensors[1].dtype, DType::U16);
  EXPECT_EQ(header.tensors[1].data_begin, 24u);
  EXPECT_EQ(header.tensors[1].data_end, 30u);
}

TEST_F(SafetensorsTest, ReadsFilesWrittenByOtherToolsInDataOrder) {
  // As other writers may produce it: no padding, JSON key order unlike the data order.
  const std::string header =
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"shape":[1],"data_offsets":[2,6],"dtype":"I32"},)"
      R"("__metadata__":{"format":"pt"}})";
  const std::string data("\x05\x06\x2a\x00\x00\x00", 6);
  const fs::path path = file("foreign.safetensors");
  write_file_bytes(path, safetensors_file_bytes(header, data));
  const SafetensorsContents read = read_safetensors(path);
  ASSERT_EQ(read.tensors.size(), 2u);
  EXPECT_EQ(read.tensors[0].first, "b");
  EXPECT_EQ(read.tensors[0].second.to_vector<uint8_t>(), (std::vector<uint8_t>{5, 6}));
  EXPECT_EQ(read.tensors[1].first, "a");
  EXPECT_EQ(read.tensors[1].second.to_vector<int32_t>(), std::vector<int32_t>{42});
  EXPECT_EQ(read.metadata.at("format"), "pt");
}

TEST(SafetensorsDTypeNames, MapBothWays) {
  for (DType dtype : {DType::F16, DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::U16, DType::Bool})
    EXPECT_EQ(dtype_from_safetensors_name(safetensors_dtype_name(dtype)), dtype);
  EXPECT_EQ(safetensors_dtype_name(DType::Bool), "BOOL");
  EXPECT_EQ(safetensors_dtype_name(DType::U16), "U16");
  EXPECT_EQ(dtype_from_safetensors_name("BF16"), std::nullopt);
  EXPECT_EQ(dtype_from_safetensors_name("f32"), std::nullopt);  // names are case-sensitive
}

// ---------------------------------------------------------------------------------------------
// Corrupt files

constexpr const char* kValidEntryA = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

TEST_F(SafetensorsTest, RejectsFileShorterThanTheLengthPrefix) {
  const fs::path path = file("short.safetensors");
  write_file_bytes(path, std::string("\x10\x00\x00", 3));
  expect_read_error(path, {"3 bytes", "shorter than the 8-byte header length"});
  write_file_bytes(path, "");
  expect_read_error(path, {"0 bytes"});
}

TEST_F(SafetensorsTest, RejectsHeaderLengthPastTheEndOfFile) {
  const fs::path path = file("long_header.safetensors");
  write_file_bytes(path, little_endian_u64(1000) + "{}");
  expect_read_error(path, {"header length 1000", "past the end of the file", "10 bytes"});
  // A length near 2^64 must not wrap around in the bounds arithmetic.
  write_file_bytes(path, little_endian_u64(UINT64_MAX - 2) + "{}");
  expect_read_error(path, {"header length 18446744073709551613", "past the end"});
}

TEST_F(SafetensorsTest, RejectsBadJson) {
  const fs::path path = file("bad_json.safetensors");
  write_file_bytes(path, safetensors_file_bytes(R"({"a": {"dtype": "F32", )", ""));
  expect_read_error(path, {"not valid JSON"});
  write_file_bytes(path, safetensors_file_bytes(std::string("{\"a\xff\":1}"), ""));  // not UTF-8
  expect_read_error(path, {"not valid JSON"});
}

TEST_F(SafetensorsTest, RejectsHeaderThatIsNotAnObject) {
  const fs::path path = file("array_header.safetensors");
  write_file_bytes(path, safetensors_file_bytes("[1, 2, 3]", ""));
  expect_read_error(path, {"header must be a JSON object", "array"});
}

TEST_F(SafetensorsTest, RejectsUnknownAndUnsupportedDTypesNamingTheTensor) {
  const fs::path path = file("dtype.safetensors");
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"layer.weight":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_read_error(path, {"tensor 'layer.weight'", "unknown dtype 'F33'"});
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"layer.weight":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_read_error(path, {"tensor 'layer.weight'", "unsupported dtype 'BF16'"});
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"layer.weight":{"dtype":7,"shape":[4],"data_offsets":[0,8]}})", std::string(8, '\0')));
  expect_read_error(path, {"tensor 'layer.weight'", "dtype must be a string"});
}

TEST_F(SafetensorsTest, RejectsShapeThatDoesNotMatchTheByteRange) {
  const fs::path path = file("mismatch.safetensors");
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"decoder.w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::string(20, '\0')));
  expect_read_error(path, {"tensor 'decoder.w'", "shape [2, 3] of F32 needs 24 bytes", "span 20"});
  // A shape whose element count overflows 64 bits must not wrap to a matching size.
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"huge":{"dtype":"F64","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", ""));
  expect_read_error(path, {"tensor 'huge'", "overflows"});
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"negative":{"dtype":"U8","shape":[-2],"data_offsets":[0,0]}})", ""));
  expect_read_error(path, {"tensor 'negative'", "non-negative integer", "negative integer -2"});
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"fractional":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}})", ""));
  expect_read_error(path, {"tensor 'fractional'", "non-negative integer"});
}

TEST_F(SafetensorsTest, RejectsOverlappingOffsetsNamingBothTensors) {
  const fs::path path = file("overlap.safetensors");
  write_file_bytes(path, safetensors_file_bytes(R"({"first":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                                R"("second":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                                std::string(24, '\0')));
  expect_read_error(path, {"tensor 'second'", "overlap tensor 'first'", "[8, 24]", "[0, 16]"});
  // Two tensors aliasing the very same bytes.
  write_file_bytes(path, safetensors_file_bytes(R"({"x":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
                                                R"("y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                                std::string(8, '\0')));
  expect_read_error(path, {"tensor 'y'", "overlap tensor 'x'"});
}

TEST_F(SafetensorsTest, RejectsGapsAndTrailingBytes) {
  const fs::path path = file("gap.safetensors");
  write_file_bytes(path, safetensors_file_bytes(R"({"first":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                                R"("second":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                                                std::string(10, '\0')));
  expect_read_error(path, {"tensor 'second'", "gap of 2 bytes after tensor 'first'"});
  write_file_bytes(path, safetensors_file_bytes(R"({"late":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                                                std::string(8, '\0')));
  expect_read_error(path, {"tensor 'late'", "no tensor covers [0, 4)"});
  write_file_bytes(path, safetensors_file_bytes(std::string("{") + kValidEntryA + "}", std::string(12, '\0')));
  expect_read_error(path, {"data section holds 12 bytes", "cover only 8", "after tensor 'a'"});
}

TEST_F(SafetensorsTest, RejectsOffsetsPastTheEndOfFile) {
  const fs::path path = file("past_end.safetensors");
  write_file_bytes(path, safetensors_file_bytes(
                             R"({"embedding":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}})", std::string(16, '\0')));
  expect_read_error(path, {"tensor 'embedding'", "[0,1000]", "past the data section", "16 bytes"});
}

TEST_F(SafetensorsTest, RejectsBeginAfterEnd) {
  const fs::path path = file("reversed.safetensors");
  write_file_bytes(path, safetensors_file_bytes(R"({"r":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})",
                                                std::string(8, '\0')));
  expect_read_error(path, {"tensor 'r'", "[8,0]", "begin > end"});
}

TEST_F(SafetensorsTest, RejectsTruncatedDataSection) {
  const std::vector<double> small_values{0.5, -0.5};
  const std::vector<double> big_values(16, 1.25);
  const fs::path path = file("truncated.safetensors");
  write_safetensors(path, {{"small", tensor_from_values(small_values, {2}, DType::F64)},
                           {"model.big", tensor_from_values(big_values, {16}, DType::F64)}});
  const uint64_t full_size = fs::file_size(path);
  fs::resize_file(path, full_size - 5);
  expect_read_error(path, {"tensor 'model.big'", "past the data section", "file truncated?"});
}

TEST_F(SafetensorsTest, RejectsMissingAndMalformedFields) {
  const fs::path path = file("fields.safetensors");
  const std::string data(8, '\0');
  write_file_bytes(path, safetensors_file_bytes(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", data));
  expect_read_error(path, {"tensor 'w'", "missing field 'dtype'"});
  write_file_bytes(path, safetensors_file_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", data));
  expect_read_error(path, {"tensor 'w'", "missing field 'shape'"});
  write_file_bytes(path, safetensors_file_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", data));
  expect_read_error(path, {"tensor 'w'", "missing field 'data_offsets'"});
  write_file_bytes(path, safetensors_file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data));
  expect_read_error(path, {"tensor 'w'", "data_offsets must be an array [begin, end]"});
  write_file_bytes(path, safetensors_file_bytes(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", data));
  expect_read_error(path, {"tensor 'w'", "shape must be an array"});
  write_file_bytes(path, safetensors_file_bytes(R"({"w":[1,2]})", data));
  expect_read_error(path, {"tensor 'w'", "header entry must be an object"});
  write_file_bytes(path,
                   safetensors_file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", data));
  expect_read_error(path, {"tensor 'w'", "unexpected field 'extra'"});
}

TEST_F(SafetensorsTest, RejectsDuplicateNamesAndBadMetadata) {
  const fs::path path = file("duplicates.safetensors");
  const std::string data(8, '\0');
  write_file_bytes(path, safetensors_file_bytes(std::string("{") + kValidEntryA + "," + kValidEntryA + "}", data));
  expect_read_error(path, {"tensor 'a'", "appears twice"});
  write_file_bytes(path, safetensors_file_bytes(std::string("{\"__metadata__\":{\"step\":3},") + kValidEntryA + "}",
                                                data));
  expect_read_error(path, {"__metadata__ key 'step' must map to a string"});
  write_file_bytes(path, safetensors_file_bytes(std::string("{\"__metadata__\":[],") + kValidEntryA + "}", data));
  expect_read_error(path, {"__metadata__ must be an object"});
}

TEST_F(SafetensorsTest, RejectsBoolBytesOtherThanZeroAndOne) {
  const fs::path path = file("bool.safetensors");
  write_file_bytes(path, safetensors_file_bytes(R"({"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                                                std::string("\x01\x00\x02", 3)));
  const std::string message = error_message_of([&] { (void)read_safetensors(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("tensor 'mask'"), std::string::npos) << message;
  EXPECT_NE(message.find("element 2 holds byte 2"), std::string::npos) << message;
}

TEST_F(SafetensorsTest, RejectsMissingFilesAndDirectories) {
  expect_read_error(file("does_not_exist.safetensors"), {"cannot open"});
  expect_read_error(directory_, {"not a regular file"});
}

// ---------------------------------------------------------------------------------------------
// Failed writes leave existing files alone

TEST_F(SafetensorsTest, FailedWritesLeaveTheExistingFileUntouched) {
  const fs::path path = file("model.safetensors");
  const std::vector<float> values{1.0f, 2.0f, 3.0f};
  write_safetensors(path, {{"w", tensor_from_values(values, {3}, DType::F32)}}, {{"step", "10"}});
  const std::string original_bytes = read_file_bytes(path);

  std::string message = error_message_of([&] {
    write_safetensors(path, {{"w", tensor_from_values(values, {3}, DType::F32)}, {"broken", Tensor()}});
  });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("tensor 'broken'"), std::string::npos) << message;
  EXPECT_NE(message.find("undefined tensor"), std::string::npos) << message;

  message = error_message_of([&] {
    write_safetensors(path, {{"w", tensor_from_values(values, {3}, DType::F32)},
                             {"w", tensor_from_values(values, {3}, DType::F32)}});
  });
  EXPECT_NE(message.find("tensor 'w': name given twice"), std::string::npos) << message;

  message = error_message_of([&] { write_safetensors(path, {{"__metadata__", Tensor::empty({1})}}); });
  EXPECT_NE(message.find("reserved"), std::string::npos) << message;

  message = error_message_of([&] { write_safetensors(path, {}, {{"bad", std::string("\xff\xfe", 2)}}); });
  EXPECT_NE(message.find("cannot encode the header"), std::string::npos) << message;

  EXPECT_EQ(read_file_bytes(path), original_bytes);
  EXPECT_EQ(directory_entries(), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(read_safetensors(path).metadata.at("step"), "10");
}

TEST_F(SafetensorsTest, WriteIntoMissingDirectoryNamesThePath) {
  const fs::path path = directory_ / "no_such_directory" / "model.safetensors";
  const std::string message = error_message_of([&] { write_safetensors(path, {{"w", Tensor::empty({2})}}); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(directory_ / "no_such_directory"));
}

TEST_F(SafetensorsTest, FailedRenameRemovesTheTempFile) {
  // The target is a non-empty directory: all data is written, then rename() fails.
  const fs::path target = file("occupied");
  fs::create_directories(target / "inside");
  const std::string message = error_message_of([&] { write_safetensors(target, {{"w", zeros({4})}}); });
  EXPECT_NE(message.find("cannot replace '" + target.string() + "'"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(directory_entries(), std::vector<std::string>{"occupied"});
}

TEST_F(SafetensorsTest, AbandonedAtomicWriteKeepsTheOldContents) {
  const fs::path path = file("state.txt");
  write_file_atomically(path, "old contents");
  EXPECT_EQ(read_file_bytes(path), "old contents");
  {
    AtomicFileWriter writer(path);
    EXPECT_EQ(writer.temp_path().string(), path.string() + ".tmp." + std::to_string(::getpid()));
    writer.write("half of the new");
    EXPECT_TRUE(fs::exists(writer.temp_path()));
    EXPECT_EQ(read_file_bytes(path), "old contents");  // nothing visible before commit()
    // Leaving the scope without commit() is what an exception mid-write does.
  }
  EXPECT_EQ(read_file_bytes(path), "old contents");
  EXPECT_EQ(directory_entries(), std::vector<std::string>{"state.txt"});

  AtomicFileWriter writer(path);
  writer.write("new ");
  writer.write("contents");
  EXPECT_EQ(writer.bytes_written(), 12u);
  writer.commit();
  EXPECT_EQ(read_file_bytes(path), "new contents");
  EXPECT_THROW(writer.write("more"), Error);
  EXPECT_EQ(directory_entries(), std::vector<std::string>{"state.txt"});
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

TEST_F(SafetensorsTest, CheckpointRoundTripsTensorsStepAndGeneratorState) {
  Generator generator(1234, 7);
  const Tensor weights = rand({3, 4}, generator);
  (void)generator.next_u32();
  (void)generator.next_uniform();

  Checkpoint checkpoint;
  checkpoint.add_tensor("decoder.w", weights);
  const std::vector<float> moment_values{0.5f, -0.25f};
  checkpoint.add_tensor("optim.adam.exp_avg.decoder.b", tensor_from_values(moment_values, {2}, DType::F32));
  set_metadata_uint64(checkpoint, "step", 18446744073709551615ull);
  set_generator_state(checkpoint, "rng.dropout", generator);
  EXPECT_THROW(checkpoint.add_tensor("decoder.w", weights), Error);

  const fs::path path = file("train.ckpt.safetensors");
  save_checkpoint(path, checkpoint);
  const Checkpoint loaded = load_checkpoint(path);

  EXPECT_EQ(loaded.source_path, path);
  ASSERT_EQ(loaded.tensors.size(), 2u);
  EXPECT_EQ(loaded.tensors[0].first, "decoder.w");
  EXPECT_EQ(loaded.tensor("decoder.w").to_vector<float>(), weights.to_vector<float>());
  EXPECT_EQ(loaded.tensor("optim.adam.exp_avg.decoder.b").to_vector<float>(), moment_values);
  EXPECT_EQ(loaded.find_tensor("absent"), nullptr);
  EXPECT_EQ(get_metadata_uint64(loaded, "step"), 18446744073709551615ull);
  EXPECT_EQ(loaded.metadata.at("rng.dropout.seed"), "1234");

  Generator restored = get_generator_state(loaded, "rng.dropout");
  EXPECT_EQ(restored.seed(), 1234u);
  EXPECT_EQ(restored.stream(), 7u);
  EXPECT_EQ(restored.offset(), generator.offset());
  // The resumed generator continues exactly where the saved one left off.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(restored.next_u32(), generator.next_u32());
  EXPECT_EQ(rand({5}, restored).to_vector<float>(), rand({5}, generator).to_vector<float>());
}

TEST_F(SafetensorsTest, CheckpointLookupsNameTheFileAndKey) {
  Checkpoint checkpoint;
  checkpoint.add_tensor("w", zeros({1}));
  set_generator_state(checkpoint, "rng", Generator(5, 1));
  const fs::path path = file("lookup.safetensors");

  const std::vector<std::pair<std::string, std::string>> garbled{
      {"", "''"}, {"12abc", "'12abc'"}, {"-1", "'-1'"}, {"+5", "'+5'"}, {" 7", "' 7'"},
      {"18446744073709551616", "'18446744073709551616'"}, {"0x10", "'0x10'"}};
  for (const auto& [value, quoted] : garbled) {
    checkpoint.metadata["rng.offset"] = value;
    save_checkpoint(path, checkpoint);
    const Checkpoint loaded = load_checkpoint(path);
    const std::string message = error_message_of([&] { (void)get_generator_state(loaded, "rng"); });
    EXPECT_NE(message.find("checkpoint '" + path.string() + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("metadata key 'rng.offset' holds " + quoted), std::string::npos) << message;
  }

  checkpoint.metadata.erase("rng.stream");
  save_checkpoint(path, checkpoint);
  const Checkpoint loaded = load_checkpoint(path);
  std::string message = error_message_of([&] { (void)get_generator_state(loaded, "rng"); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("metadata key 'rng.stream' is missing"), std::string::npos) << message;

  message = error_message_of([&] { (void)loaded.tensor("decoder.missing"); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("no tensor 'decoder.missing'"), std::string::npos) << message;
}

}  // namespace
}  // namespace sparsecap
