#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "data/data_error.h"
#include "data/file_io.h"
#include "data/npy.h"
#include "npy_fixtures.h"
#include "temporary_directory.h"

namespace sparsecap::data {
namespace {

using testing_support::make_float32_npy;
using testing_support::make_npy;
using testing_support::raw_bytes;
using testing_support::TemporaryDirectory;

// The message must name the file and contain the expected words.
template <typename Function>
void expect_data_error(Function&& function, const std::string& name, const std::string& words) {
  try {
    function();
    ADD_FAILURE() << "no error; expected one containing '" << words << "'";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_NE(message.find(words), std::string::npos) << message;
  }
}

TEST(Npy, ReadsFloat32Matrix) {
  const auto bytes = make_float32_npy("(2, 3)", {1, 2, 3, 4, 5, 6.5f});
  const FloatArray array = parse_npy(bytes, "m.npy");
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.values, (std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
  EXPECT_EQ(array.stored_as, NpyElementType::Float32);
}

TEST(Npy, ReadsFloat64AndFloat16) {
  const auto f64 = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                            raw_bytes(std::vector<double>{0.25, -1e10, 3.0}));
  const FloatArray wide = parse_npy(f64, "d.npy");
  EXPECT_EQ(wide.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(wide.values, (std::vector<float>{0.25f, -1e10f, 3.0f}));
  // 0x3c00 = 1, 0xc000 = -2, 0x3555 = 0.333251953125, 0x0001 = 2^-24 (smallest subnormal), 0x7bff = 65504
  const auto f16 = make_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }",
                            raw_bytes(std::vector<uint16_t>{0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff}));
  const FloatArray narrow = parse_npy(f16, "h.npy");
  EXPECT_EQ(narrow.stored_as, NpyElementType::Float16);
  EXPECT_EQ(narrow.values, (std::vector<float>{1.0f, -2.0f, 0.333251953125f, std::ldexp(1.0f, -24), 65504.0f}));
}

TEST(Npy, HalfSpecialValues) {
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
}

TEST(Npy, ReadsVersion2HeadersScalarsAndFortranVectors) {
  const auto v2 = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                           raw_bytes(std::vector<float>{7, 8}), 2);
  EXPECT_EQ(parse_npy(v2, "v2.npy").values, (std::vector<float>{7, 8}));
  const auto scalar = make_float32_npy("()", {42});
  EXPECT_TRUE(parse_npy(scalar, "s.npy").shape.empty());
  EXPECT_EQ(parse_npy(scalar, "s.npy").values, (std::vector<float>{42}));
  // A 1-d array is the same in both orders, so NumPy may write fortran_order True for it.
  const auto vector = make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                               raw_bytes(std::vector<float>{1, 2}));
  EXPECT_EQ(parse_npy(vector, "v.npy").values, (std::vector<float>{1, 2}));
}

// NumPy writes arrays with a zero dimension (np.zeros((1, 0))) with an empty body; found by fuzz_npy,
// which caught the reader passing the empty vector's null pointer to memcpy.
TEST(Npy, ReadsEmptyArrays) {
  const auto empty = make_float32_npy("(1, 0)", {});
  const FloatArray array = parse_npy(empty, "e.npy");
  EXPECT_EQ(array.shape, (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(array.values.empty());
}

TEST(Npy, WriterRoundTripsAndPadsTheHeaderTo64Bytes) {
  TemporaryDirectory dir;
  const std::vector<float> values = {0.5f, -1, 2, 3, 4, 5};
  write_npy_float32(dir / "w.npy", {3, 2}, values);
  const auto bytes = read_file_bytes(dir / "w.npy");
  EXPECT_EQ(parse_npy_header(bytes, "w.npy").data_offset % 64, 0u);
  const std::string text(bytes.begin() + 10, bytes.begin() + 70);
  EXPECT_NE(text.find("'shape': (3, 2)"), std::string::npos) << text;
  const FloatArray array = read_npy_file(dir / "w.npy");
  EXPECT_EQ(array.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(array.values, values);
  write_npy_float32(dir / "v.npy", {2}, std::vector<float>{1, 2});
  EXPECT_EQ(read_npy_file_header(dir / "v.npy").shape, (std::vector<int64_t>{2}));
  EXPECT_THROW(encode_npy_float32({4}, values), std::invalid_argument);
}

TEST(NpyErrors, BadMagic) {
  std::vector<uint8_t> bytes = make_float32_npy("(1,)", {1});
  bytes[1] = 'X';
  expect_data_error([&] { parse_npy(bytes, "magic.npy"); }, "magic.npy", "not a .npy file");
}

TEST(NpyErrors, UnsupportedDtypes) {
  const auto big_endian = make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", {0, 0, 0, 0});
  expect_data_error([&] { parse_npy(big_endian, "big.npy"); }, "big.npy", "big-endian");
  const auto integers = make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", std::vector<uint8_t>(8));
  expect_data_error([&] { parse_npy(integers, "int.npy"); }, "int.npy", "'<i8' is not supported");
}

TEST(NpyErrors, FortranOrderMatrix) {
  const auto bytes = make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", std::vector<uint8_t>(16));
  expect_data_error([&] { parse_npy(bytes, "f.npy"); }, "f.npy", "Fortran-order");
}

TEST(NpyErrors, MalformedHeaderDict) {
  const auto no_shape = make_npy("{'descr': '<f4', 'fortran_order': False, }", {});
  expect_data_error([&] { parse_npy(no_shape, "noshape.npy"); }, "noshape.npy", "no tuple 'shape'");
  const auto garbage = make_npy("{'descr': '<f4', 'shape': [1, 2]}", {});
  expect_data_error([&] { parse_npy(garbage, "garbage.npy"); }, "garbage.npy", "bad .npy header");
  std::vector<uint8_t> short_header = make_float32_npy("(1,)", {1});
  short_header.resize(30);  // cut inside the header
  expect_data_error([&] { parse_npy(short_header, "cut.npy"); }, "cut.npy", "truncated .npy header");
}

TEST(NpyErrors, TruncatedBodyNamesFileAndSizes) {
  TemporaryDirectory dir;
  auto bytes = make_float32_npy("(10, 4)", std::vector<float>(40, 1.0f));
  bytes.erase(bytes.end() - 6, bytes.end());
  {
    std::ofstream out(dir / "short.npy", std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  expect_data_error([&] { read_npy_file(dir / "short.npy"); }, "short.npy", "needs 160 bytes of data, file has 154");
}

TEST(NpyErrors, ImpossiblyLargeShape) {
  const auto bytes = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999999999), }", {});
  expect_data_error([&] { parse_npy(bytes, "huge.npy"); }, "huge.npy", "impossibly large");
}

TEST(NpyErrors, TrailingBytesAreCorruption) {
  auto bytes = make_float32_npy("(1,)", {1});
  bytes.push_back(0);
  expect_data_error([&] { parse_npy(bytes, "long.npy"); }, "long.npy", "1 bytes beyond the data");
}

TEST(NpyErrors, MissingFile) {
  TemporaryDirectory dir;
  expect_data_error([&] { read_npy_file(dir / "nothing.npy"); }, "nothing.npy", "does not exist");
}

TEST(NpyErrors, NonFiniteValuesAreNamedByIndex) {
  const auto bytes = make_float32_npy("(2, 2)", {1, 2, std::numeric_limits<float>::quiet_NaN(), 4});
  const FloatArray array = parse_npy(bytes, "nan.npy");  // reading is fine; validation is separate
  expect_data_error([&] { require_all_finite(array, "nan.npy"); }, "nan.npy", "at flat index 2");
  const auto infinite = parse_npy(make_float32_npy("(1,)", {-std::numeric_limits<float>::infinity()}), "inf.npy");
  expect_data_error([&] { require_all_finite(infinite, "inf.npy"); }, "inf.npy", "non-finite value -inf");
  EXPECT_NO_THROW(require_all_finite(parse_npy(make_float32_npy("(1,)", {3}), "ok.npy"), "ok.npy"));
}

}  // namespace
}  // namespace sparsecap::data
