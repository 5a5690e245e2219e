#pragma once
// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON, then the raw little-endian row-major tensor data. The JSON maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the first
// data byte) and may hold a "__metadata__" object of string -> string. The format is what lets a
// sparsecap checkpoint load in the Python ecosystem (torch, numpy, jax) unchanged.
//
// Reading trusts nothing in the file: every failure throws sparsecap::Error naming the file and,
// where one is involved, the tensor.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/tensor.h"

namespace sparsecap {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using SafetensorsMetadata = std::map<std::string, std::string>;

// One tensor's entry in the header.
struct SafetensorsTensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t data_begin = 0;  // byte range relative to the start of the data section
  uint64_t data_end = 0;
  uint64_t byte_count() const { return data_end - data_begin; }
};

// The validated header of a file, for inspection without reading the data.
struct SafetensorsHeader {
  std::vector<SafetensorsTensorInfo> tensors;  // in data order (ascending offsets)
  SafetensorsMetadata metadata;
  uint64_t header_size = 0;  // N: the JSON bytes including padding
  uint64_t file_size = 0;
  uint64_t data_section_offset() const { return 8 + header_size; }
  uint64_t data_section_size() const { return file_size - data_section_offset(); }
};

struct SafetensorsContents {
  NamedTensors tensors;  // CPU tensors, in data order (for files we write: the order given)
  SafetensorsMetadata metadata;
};

// Writes `tensors` in the order given (tensors may live on any device; they are copied to the
// host) with `metadata` as "__metadata__" (omitted when empty). The header is padded with spaces
// to a multiple of 8 bytes so every tensor's data starts 8-byte aligned in the file. The write is
// atomic (see atomic_file.h): on any error the file at `path` is left as it was.
// Throws for an undefined tensor, an empty, duplicated or reserved ("__metadata__") name.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata = {});

// Reads and validates a whole file into CPU tensors.
SafetensorsContents read_safetensors(const std::filesystem::path& path);

// Reads and validates the header only (header length, JSON, names, dtypes, shapes against byte
// ranges, ranges tiling the data section exactly against the file size); the data is not read.
SafetensorsHeader read_safetensors_header(const std::filesystem::path& path);

// "F32", "BOOL", ... as the format spells them.
std::string_view safetensors_dtype_name(DType dtype);
// The DType for a format name, or nullopt for names sparsecap has no dtype for (BF16, I8, ...).
std::optional<DType> dtype_from_safetensors_name(std::string_view name);

}  // namespace sparsecap
