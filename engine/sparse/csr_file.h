#pragma once
// The sparse model file: a finalized model as one safetensors file that is small on disk and loads
// for CSR inference (docs/sparse.md has the format and Python loading). Which model it holds and
// how it is built again is train/exported_model.h's business; this is the format.
//
// The weights the caller names (a captioner's csr_weight_names()) are stored as CSR over their
// matrix view (a convolution kernel [O, C/g, kh, kw] as [O, C/g*kh*kw]):
//   "<name>.row_ptr"  I32 [rows + 1]
//   "<name>.col_idx"  U16 when cols <= 65 536, else I32, [nnz]
//   "<name>.values"   F16 or F32 [nnz]
//   "<name>.shape"    I64, the parameter's dense shape
// Every other tensor (biases, norms, batch-norm running statistics) is stored dense as is. The
// metadata holds "format" (kFormatName), "config" (the resolved run config JSON) and "vocabulary"
// (a JSON array of every word in index order, special tokens first). The whole file may be
// compressed with zstd (".zst") or gzip (".gz"); the reader detects compression by magic bytes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/module.h"
#include "engine/serialize/safetensors.h"
#include "engine/sparse/csr_matrix.h"

namespace sparsecap::sparse {

inline constexpr const char* kFormatName = "sparsecap-sparse-v1";

enum class Compression { None, Zstd, Gzip };
Compression parse_compression(const std::string& name);  // "none", "zstd", "gzip"; throws otherwise
const char* compression_name(Compression compression);
const char* compression_extension(Compression compression);  // "", ".zst", ".gz"

struct ExportOptions {
  DType value_dtype = DType::F32;  // of the CSR values: F32 or F16
  Compression compression = Compression::None;
  // Store every tensor dense float32 (the baseline a sparse file is compared with).
  bool dense = false;
};

// One stored tensor (a CSR weight counts as one, its four arrays together).
struct ExportedTensor {
  std::string name;
  bool csr = false;
  Shape shape;               // the parameter's dense shape
  int64_t nnz = 0;           // non-zeros (CSR), elements (dense)
  uint64_t stored_bytes = 0; // data bytes in the file (before compression)
  uint64_t dense_f32_bytes = 0;
};

struct ExportReport {
  std::filesystem::path path;  // with the compression extension appended when it was missing
  std::vector<ExportedTensor> tensors;
  uint64_t file_bytes = 0;          // on disk, after compression
  uint64_t uncompressed_bytes = 0;  // the safetensors file before compression
  uint64_t dense_f32_bytes() const;
  uint64_t stored_bytes() const;
};

// Writes `model`'s parameters and buffers to `path` (atomically), those named in `csr_weights` as
// CSR. `vocabulary` lists every word in index order. Throws for a non-float parameter or a CSR
// value dtype other than F32/F16.
ExportReport export_model(const nn::Module& model, const std::set<std::string>& csr_weights,
                          const nlohmann::json& run_config,
                          const std::vector<std::string>& vocabulary, const std::filesystem::path& path,
                          const ExportOptions& options);

// A read and validated export, all on the CPU.
struct SparseModelFile {
  std::map<std::string, CsrMatrix> csr;      // by parameter name
  std::map<std::string, Shape> csr_shapes;   // the parameters' dense shapes
  std::map<std::string, Tensor> dense;       // every other tensor
  SafetensorsMetadata metadata;
};

// Reads `path` (decompressing zstd or gzip), groups the CSR arrays and validates each matrix
// (validate_csr) and its shape. Errors name the file and the tensor.
SparseModelFile read_model_file(const std::filesystem::path& path);

// The metadata entry `key` of a sparse model file; errors name the file.
std::string metadata_entry(const SafetensorsMetadata& metadata, const std::string& key, const std::string& file);

}  // namespace sparsecap::sparse
