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

}  // namespace sparsecap::apps
