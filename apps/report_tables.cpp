#include "apps/report_tables.h"

#include <cstdio>

namespace sparsecap::apps {

void print_evaluation(const train::SplitEvaluation& evaluation, const pruning::SparsityReport& sparsity) {
  const eval::CaptionScores& s = evaluation.scores;
  std::printf("  BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f\n", s.metric("BLEU_1").corpus,
              s.metric("BLEU_2").corpus, s.metric("BLEU_3").corpus, s.metric("BLEU_4").corpus);
  std::printf("  METEOR %.4f (%s)  ROUGE-L %.4f  CIDEr-D %.4f\n", s.metric("METEOR").corpus, s.meteor_modules.c_str(),
              s.metric("ROUGE_L").corpus, s.metric("CIDEr_D").corpus);
  const eval::CaptionStatistics& c = evaluation.statistics;
  std::printf("  captions %zu, unique %.1f%%, novel %.1f%%, average length %.2f words, vocabulary used %zu/%zu (%.1f%%)\n",
              c.caption_count, c.percent_unique, c.percent_novel, c.average_length, c.distinct_words, c.vocabulary_size,
              100.0 * c.vocabulary_fraction);
  std::printf("  prunable weights: %lld non-zero of %lld (sparsity %.2f%%)\n", static_cast<long long>(sparsity.kept),
              static_cast<long long>(sparsity.total), 100.0 * sparsity.sparsity());
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
