#pragma once
// Our own NumPy .npy reader and writer, for region features. Reads float16, float32 and float64
// little-endian C-order arrays (format versions 1.0, 2.0 and 3.0) into float32; anything else (big
// endian, integers, Fortran order, a truncated body) is a DataError naming the file and the problem.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace sparsecap::data {

enum class NpyElementType { Float16, Float32, Float64 };

const char* npy_element_type_name(NpyElementType type);  // "float16", "float32", "float64"
size_t npy_element_size(NpyElementType type);

struct NpyHeader {
  NpyElementType element_type = NpyElementType::Float32;
  std::vector<int64_t> shape;  // empty for a 0-d array
  size_t data_offset = 0;      // where the array's bytes start in the file

  int64_t element_count() const;
};

// A float32 array with its shape, as read from a .npy file or an .npz member.
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
  NpyElementType stored_as = NpyElementType::Float32;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
};

std::string shape_to_string(const std::vector<int64_t>& shape);  // "[36, 2048]"

// `name` is used in error messages only (the file path, or "archive.npz:member.npy").
NpyHeader parse_npy_header(std::span<const uint8_t> bytes, const std::string& name);
FloatArray parse_npy(std::span<const uint8_t> bytes, const std::string& name);

FloatArray read_npy_file(const std::filesystem::path& path);
// Only the header: cheap when only shapes are wanted (dataset statistics).
NpyHeader read_npy_file_header(const std::filesystem::path& path);

std::vector<uint8_t> encode_npy_float32(const std::vector<int64_t>& shape, std::span<const float> values);
void write_npy_float32(const std::filesystem::path& path, const std::vector<int64_t>& shape,
                       std::span<const float> values);

// DataError naming the first non-finite element (flat index and value) when there is one.
void require_all_finite(const FloatArray& array, const std::string& name);

// IEEE binary16 to binary32, exact (every half is representable as a float).
float half_to_float(uint16_t half);

}  // namespace sparsecap::data
