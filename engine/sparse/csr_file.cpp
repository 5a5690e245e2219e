#include "engine/sparse/csr_file.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>

#include "engine/error.h"
#include "engine/serialize/atomic_file.h"
#include "engine/sparse/compression.h"

namespace sparsecap::sparse {

namespace {

const char* const kRowPtr = ".row_ptr";
const char* const kColIdx = ".col_idx";
const char* const kValues = ".values";
const char* const kShape = ".shape";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  SPARSECAP_CHECK(in.good(), "cannot open ", path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_file_prefix(const std::filesystem::path& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  SPARSECAP_CHECK(in.good(), "cannot open ", path.string());
  std::string prefix(bytes, '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(bytes));
  prefix.resize(static_cast<size_t>(in.gcount()));
  return prefix;
}

// A private path beside the system temp files for the uncompressed stage of a compressed file.
std::filesystem::path staging_path(const std::string& role) {
  static std::atomic<int> counter{0};
  return std::filesystem::temp_directory_path() /
         ("sparsecap-" + role + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".safetensors");
}

// Removes the staging file however the scope ends.
struct StagingFile {
  std::filesystem::path path;
  ~StagingFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

std::filesystem::path with_extension(const std::filesystem::path& path, Compression compression) {
  const std::string extension = compression_extension(compression);
  if (extension.empty() || ends_with(path.string(), extension)) return path;
  return path.string() + extension;
}

Tensor shape_tensor(const Shape& shape) {
  return from_vector<int64_t>(std::vector<int64_t>(shape.begin(), shape.end()), {static_cast<int64_t>(shape.size())});
}

void append_csr(const std::string& name, const Tensor& value, DType value_dtype, NamedTensors& tensors,
                ExportReport& report) {
  const int64_t rows = value.size(0);
  const CsrMatrix matrix = csr_from_dense(value.reshape({rows, value.numel() / rows}), value_dtype);
  tensors.emplace_back(name + kRowPtr, matrix.row_ptr);
  tensors.emplace_back(name + kColIdx, matrix.col_idx);
  tensors.emplace_back(name + kValues, matrix.values);
  tensors.emplace_back(name + kShape, shape_tensor(value.shape()));
  report.tensors.push_back(ExportedTensor{name, true, value.shape(), matrix.nnz(),
                                          matrix.stored_bytes() + 8 * value.shape().size(),
                                          static_cast<uint64_t>(value.numel()) * 4});
}

void append_dense(const std::string& name, const Tensor& value, bool as_float32, NamedTensors& tensors,
                  ExportReport& report) {
  const bool is_float = value.dtype() == DType::F32 || value.dtype() == DType::F64 || value.dtype() == DType::F16;
  const Tensor stored = as_float32 && is_float ? value.to(DType::F32) : value;
  tensors.emplace_back(name, stored);
  report.tensors.push_back(ExportedTensor{name, false, value.shape(), value.numel(), stored.nbytes(),
                                          is_float ? static_cast<uint64_t>(value.numel()) * 4 : value.nbytes()});
}

SafetensorsMetadata export_metadata(const nlohmann::json& run_config, const std::vector<std::string>& vocabulary) {
  return SafetensorsMetadata{{"format", kFormatName},
                             {"config", run_config.dump()},
                             {"vocabulary", nlohmann::json(vocabulary).dump()}};
}

void write_file(const std::filesystem::path& path, const NamedTensors& tensors, const SafetensorsMetadata& metadata,
                Compression compression, ExportReport& report) {
  if (compression == Compression::None) {
    write_safetensors(path, tensors, metadata);
    report.uncompressed_bytes = report.file_bytes = std::filesystem::file_size(path);
    return;
  }
  const StagingFile staging{staging_path("export")};
  write_safetensors(staging.path, tensors, metadata);
  const std::string bytes = read_file_bytes(staging.path);
  report.uncompressed_bytes = bytes.size();
  write_file_atomically(path, compression == Compression::Zstd ? zstd_compress(bytes) : gzip_compress(bytes));
  report.file_bytes = std::filesystem::file_size(path);
}

// The safetensors contents of `path`, decompressed first when it starts with a zstd or gzip magic.
SafetensorsContents read_possibly_compressed(const std::filesystem::path& path) {
  const std::string prefix = read_file_prefix(path, 4);
  const bool zstd = has_zstd_magic(prefix), gzip = has_gzip_magic(prefix);
  if (!zstd && !gzip) return read_safetensors(path);
  const std::string compressed = read_file_bytes(path);
  const std::string bytes = zstd ? zstd_decompress(compressed, path.string()) : gzip_decompress(compressed, path.string());
  const StagingFile staging{staging_path("import")};
  write_file_atomically(staging.path, bytes);
  try {
    return read_safetensors(staging.path);
  } catch (const Error& error) {  // name the file the user gave, not the staging copy
    throw Error(detail::concat(path.string(), " (", zstd ? "zstd" : "gzip", "-decompressed): ", error.what()));
  }
}

const Tensor& required_tensor(const std::map<std::string, Tensor>& tensors, const std::string& name,
                              const std::string& file) {
  const auto it = tensors.find(name);
  SPARSECAP_CHECK(it != tensors.end(), file, ": CSR tensor '", name, "' is missing");
  return it->second;
}

// 2^31 elements: larger than any weight matrix of a captioner (Up-Down's output layer has 10^7).
constexpr int64_t kMaxDenseElements = int64_t{1} << 31;

// The dense shape of CSR weight `name` from its ".shape" tensor, checked against the matrix view.
Shape csr_dense_shape(const Tensor& stored, const std::string& what) {
  SPARSECAP_CHECK(stored.dtype() == DType::I64 && stored.dim() == 1 && stored.numel() >= 1, what,
                  ": shape must be a non-empty I64 vector, got ", dtype_name(stored.dtype()), " ",
                  shape_str(stored.shape()));
  const std::vector<int64_t> dims = stored.to_vector<int64_t>();
  const Shape shape(dims.begin(), dims.end());
  // The product is checked as it is formed: a corrupt file's dimensions may overflow int64 (found
  // by fuzz_csr_export), and the matrix's column count is the product of all but the first.
  int64_t elements = 1;
  for (int64_t d : dims) {
    SPARSECAP_CHECK(d >= 0, what, ": negative dimension in shape ", shape_str(shape));
    SPARSECAP_CHECK(!__builtin_mul_overflow(elements, d, &elements) && elements <= kMaxDenseElements, what,
                    ": shape ", shape_str(shape), " is impossibly large (over ", kMaxDenseElements, " elements)");
  }
  return shape;
}

CsrMatrix csr_group(const std::map<std::string, Tensor>& tensors, const std::string& name, const std::string& file,
                    Shape& dense_shape) {
  const std::string what = file + ": " + name;
  dense_shape = csr_dense_shape(required_tensor(tensors, name + kShape, file), what + kShape);
  const int64_t rows = dense_shape[0];
  int64_t cols = 1;
  for (size_t d = 1; d < dense_shape.size(); ++d) cols *= dense_shape[d];
  CsrMatrix matrix{rows, cols, required_tensor(tensors, name + kRowPtr, file),
                   required_tensor(tensors, name + kColIdx, file), required_tensor(tensors, name + kValues, file)};
  validate_csr(matrix, what);
  return matrix;
}

}  // namespace

Compression parse_compression(const std::string& name) {
  if (name == "none") return Compression::None;
  if (name == "zstd") return Compression::Zstd;
  if (name == "gzip") return Compression::Gzip;
  throw Error("unknown compression '" + name + "' (expected none, zstd or gzip)");
}

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::Zstd: return "zstd";
    case Compression::Gzip: return "gzip";
    case Compression::None: break;
  }
  return "none";
}

const char* compression_extension(Compression compression) {
  switch (compression) {
    case Compression::Zstd: return ".zst";
    case Compression::Gzip: return ".gz";
    case Compression::None: break;
  }
  return "";
}

uint64_t ExportReport::dense_f32_bytes() const {
  uint64_t total = 0;
  for (const ExportedTensor& t : tensors) total += t.dense_f32_bytes;
  return total;
}

uint64_t ExportReport::stored_bytes() const {
  uint64_t total = 0;
  for (const ExportedTensor& t : tensors) total += t.stored_bytes;
  return total;
}

std::string metadata_entry(const SafetensorsMetadata& metadata, const std::string& key, const std::string& file) {
  const auto it = metadata.find(key);
  SPARSECAP_CHECK(it != metadata.end(), file, ": metadata has no '", key, "' (not a sparsecap export?)");
  return it->second;
}

ExportReport export_model(const nn::Module& model, const std::set<std::string>& csr_weights,
                          const nlohmann::json& run_config,
                          const std::vector<std::string>& vocabulary, const std::filesystem::path& path,
                          const ExportOptions& options) {
  SPARSECAP_CHECK(options.value_dtype == DType::F32 || options.value_dtype == DType::F16,
                  "export: CSR values must be F32 or F16, got ", dtype_name(options.value_dtype));
  const nn::StateDict state = model.state_dict();
  for (const std::string& name : csr_weights) {
    const auto found = state.find(name);
    SPARSECAP_CHECK(found != state.end() && found->second.dim() >= 2, "export: CSR weight '", name,
                    found == state.end() ? "' is not a tensor of the model" : "' has fewer than two dimensions");
  }
  ExportReport report;
  report.path = with_extension(path, options.compression);
  NamedTensors tensors;
  for (const auto& [name, value] : state) {
    const Tensor host = value.to(Device::cpu());
    const bool csr = !options.dense && csr_weights.contains(name);
    if (csr)
      append_csr(name, host.dtype() == DType::F32 ? host : host.to(DType::F32), options.value_dtype, tensors, report);
    else
      append_dense(name, host, options.dense, tensors, report);
  }
  write_file(report.path, tensors, export_metadata(run_config, vocabulary), options.compression, report);
  return report;
}

SparseModelFile read_model_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  SafetensorsContents contents = read_possibly_compressed(path);
  const std::map<std::string, Tensor> tensors(contents.tensors.begin(), contents.tensors.end());
  SparseModelFile result;
  result.metadata = std::move(contents.metadata);
  for (const auto& [name, tensor] : tensors) {
    if (!ends_with(name, kRowPtr)) continue;
    const std::string base = name.substr(0, name.size() - std::string(kRowPtr).size());
    Shape dense_shape;
    result.csr.emplace(base, csr_group(tensors, base, file, dense_shape));
    result.csr_shapes.emplace(base, dense_shape);
  }
  for (const auto& [name, tensor] : tensors) {
    bool part_of_csr = false;
    for (const char* suffix : {kRowPtr, kColIdx, kValues, kShape}) {
      if (!ends_with(name, suffix)) continue;
      const std::string base = name.substr(0, name.size() - std::string(suffix).size());
      SPARSECAP_CHECK(result.csr.count(base) != 0, file, ": '", name, "' has no matching '", base, kRowPtr, "'");
      part_of_csr = true;
    }
    if (!part_of_csr) result.dense.emplace(name, tensor);
  }
  return result;
}

}  // namespace sparsecap::sparse
