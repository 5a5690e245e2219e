#include "eval/caption_stats.h"

#include <string>
#include <unordered_set>

namespace sparsecap::eval {

CaptionStatistics caption_statistics(const std::vector<Tokens>& captions, const std::vector<Tokens>& training_captions,
                                     std::size_t vocabulary_size) {
  CaptionStatistics stats;
  stats.caption_count = captions.size();
  stats.vocabulary_size = vocabulary_size;
  if (captions.empty()) return stats;

  std::unordered_set<std::string> training;
  training.reserve(training_captions.size());
  for (const Tokens& caption : training_captions) training.insert(join_tokens(caption));

  std::unordered_set<std::string> distinct_captions;
  std::unordered_set<std::string> words;
  std::size_t novel = 0;
  std::size_t total_words = 0;
  for (const Tokens& caption : captions) {
    const std::string joined = join_tokens(caption);
    distinct_captions.insert(joined);
    if (!training.contains(joined)) ++novel;
    total_words += caption.size();
    words.insert(caption.begin(), caption.end());
  }
  const auto count = static_cast<double>(captions.size());
  stats.percent_unique = 100.0 * static_cast<double>(distinct_captions.size()) / count;
  stats.percent_novel = 100.0 * static_cast<double>(novel) / count;
  stats.average_length = static_cast<double>(total_words) / count;
  stats.distinct_words = words.size();
  if (vocabulary_size > 0) stats.vocabulary_fraction = static_cast<double>(words.size()) / static_cast<double>(vocabulary_size);
  return stats;
}

}  // namespace sparsecap::eval
