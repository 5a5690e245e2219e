#include "apps/report_tables.h"

#include <cstdio>

namespace sparsecap::apps {

void print_evaluation(const train::SplitEvaluation& evaluation, const pruning::SparsityReport& sparsity) {
  const eval::CaptionScores& s = evaluation.scores;
  std::printf("  BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f\n", s.metric("BLEU_1").corpus,
              s.metric("BLEU_2").corpus, s.metric("BLEU_3").corpus, s.metric("BLEU_4").corpus);
  std::printf("  %s %.4f (%s)  ROUGE-L %.4f  CIDEr-D %.4f\n", s.meteor_name.c_str(), s.meteor().corpus,
              s.meteor_modules.c_str(), s.metric("ROUGE_L").corpus, s.metric("CIDEr_D").corpus);
  const eval::CaptionStatistics& c = evaluation.statistics;
  std::printf("  captions %zu, unique %.1f%%, novel %.1f%%, average length %.2f words, vocabulary used %zu/%zu (%.1f%%)\n",
              c.caption_count, c.percent_unique, c.percent_novel, c.average_length, c.distinct_words, c.vocabulary_size,
              100.0 * c.vocabulary_fraction);
  std::printf("  prunable weights: %lld non-zero of %lld (sparsity %.2f%%)\n", static_cast<long long>(sparsity.kept),
              static_cast<long long>(sparsity.total), 100.0 * sparsity.sparsity());
}


void print_export_report(const sparse::ExportReport& report) {
  std::printf("%-40s %-6s %-20s %10s %12s %12s %8s\n", "tensor", "layout", "shape", "nnz", "bytes", "dense f32",
              "ratio");
  for (const sparse::ExportedTensor& t : report.tensors)
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

std::string grounded_columns_header() {
  char line[160];
  std::snprintf(line, sizeof line, "%8s %8s %8s %8s %8s %8s %8s", "shape P", "shape R", "col+sh P", "col+sh R",
                "size+ P", "count", "exact");
  return line;
}

std::string grounded_columns(const data::GroundedScores& s) {
  char line[160];
  std::snprintf(line, sizeof line, "%7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%%", 100 * s.shape.precision(),
                100 * s.shape.recall(), 100 * s.color_shape.precision(), 100 * s.color_shape.recall(),
                100 * s.size_color_shape.precision(), 100 * s.count_accuracy(), 100 * s.exact_set_share());
  return line;
}

void print_grounded_evaluation(const train::GroundedEvaluation& grounded) {
  std::printf("  grounded in the scenes (P: claims that are in the picture, R: objects named, count: stated totals\n"
              "  right, exact: captions naming exactly the picture's objects)\n");
  std::printf("  %-26s %s\n", "", grounded_columns_header().c_str());
  std::printf("  %-26s %s\n", "model", grounded_columns(grounded.model).c_str());
  if (grounded.blank_image)
    std::printf("  %-26s %s\n", "model, blank image", grounded_columns(*grounded.blank_image).c_str());
  std::printf("  %-26s %s\n", "random training caption", grounded_columns(grounded.random_training_caption).c_str());
  std::printf("  %-26s %s\n", "one of its own references", grounded_columns(grounded.own_reference).c_str());
  if (grounded.blank_image) std::printf("  the model's caption of a blank image: \"%s\"\n", grounded.blank_image_caption.c_str());
}

}  // namespace sparsecap::apps
