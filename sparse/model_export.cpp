#include "sparse/model_export.h"

#include <cstdio>

namespace sparsecap::sparse {

std::vector<std::string> vocabulary_words(const data::Vocabulary& vocabulary) {
  std::vector<std::string> words;
  for (int64_t i = 0; i < vocabulary.size(); ++i) words.push_back(vocabulary.word_at(i));
  return words;
}

ExportReport export_trained_run(const train::TrainedRun& run, const std::filesystem::path& path,
                                const ExportOptions& options) {
  nlohmann::json config;
  train::to_json(config, run.config);
  return export_model(*run.model, config, vocabulary_words(run.data.vocabulary), path, options);
}

void print_export_report(const ExportReport& report) {
  std::printf("%-40s %-6s %-20s %10s %12s %12s %8s\n", "tensor", "layout", "shape", "nnz", "bytes", "dense f32",
              "ratio");
  for (const ExportedTensor& t : report.tensors)
    std::printf("%-40s %-6s %-20s %10lld %12llu %12llu %7.2f%%\n", t.name.c_str(), t.csr ? "csr" : "dense",
                shape_str(t.shape).c_str(), static_cast<long long>(t.nnz), static_cast<unsigned long long>(t.stored_bytes),
                static_cast<unsigned long long>(t.dense_f32_bytes),
                t.dense_f32_bytes ? 100.0 * static_cast<double>(t.stored_bytes) / static_cast<double>(t.dense_f32_bytes) : 0.0);
  const double dense = static_cast<double>(report.dense_f32_bytes());
  std::printf("%-40s %-6s %-20s %10s %12llu %12llu %7.2f%%\n", "total tensor data", "", "", "",
              static_cast<unsigned long long>(report.stored_bytes()), static_cast<unsigned long long>(report.dense_f32_bytes()),
              100.0 * static_cast<double>(report.stored_bytes()) / dense);
  std::printf("file %s: %llu bytes (%.2f%% of the dense float32 tensor data", report.path.c_str(),
              static_cast<unsigned long long>(report.file_bytes), 100.0 * static_cast<double>(report.file_bytes) / dense);
  if (report.file_bytes != report.uncompressed_bytes)
    std::printf("; %llu bytes before compression", static_cast<unsigned long long>(report.uncompressed_bytes));
  std::printf(")\n");
}

}  // namespace sparsecap::sparse
