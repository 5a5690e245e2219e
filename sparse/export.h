#pragma once
// Sparse export: a finalized model as one safetensors file that is small on disk and loads for
// CSR inference (docs/sparse.md has the format and Python loading).
//
// Every prunable weight (kind weight or embedding) is stored as CSR over its matrix view (a
// convolution kernel [O, C/g, kh, kw] as [O, C/g*kh*kw]):
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
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/module.h"
#include "engine/serialize/safetensors.h"
#include "engine/sparse/csr_matrix.h"
#include "models/soft_attention.h"
#include "train/run_config.h"

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

// Writes `model`'s parameters and buffers to `path` (atomically). `vocabulary` lists every word
// in index order. Throws for a non-float parameter or a CSR value dtype other than F32/F16.
ExportReport export_model(const nn::Module& model, const nlohmann::json& run_config,
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

struct SparseCaptioner {
  train::RunConfig config;
  std::vector<std::string> vocabulary;  // every word in index order
  std::unique_ptr<models::SoftAttentionCaptioner> model;  // CPU, evaluation mode
  int64_t csr_weights = 0;  // decoder weights computing through CSR
};

// Builds the captioner from the file's config and loads every tensor. Decoder CSR weights are
// used through the sparse path (SoftAttentionCaptioner::use_sparse_weights); the parameters also
// hold their dense values so the model reports its sparsity and can be re-exported. The encoder's
// convolutions run dense: their CSR kernels are expanded on load.
SparseCaptioner load_captioner(const std::filesystem::path& path);

}  // namespace sparsecap::sparse
